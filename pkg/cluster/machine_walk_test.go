package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// The walk drives the machine with long random sequences of every kind of event, in every state
// it can reach, and checks after each step the rules the handover protocol rests on. The choices
// come from a byte string, so the fuzzer can explore them too.

type walker struct {
	t   testing.TB
	h   *harness
	src func(n int) int
	// outstanding work the world owes the machine
	joins    int
	revokes  []int64
	renews   []actRenew
	acquires []actAcquire
	releases []actRelease
	spawns   []actSpawn
	running  []actSpawn
	reaps    []actReap
	kills    []actKill
	replies  map[*request]int
	reqs     []*request
	lease    int64
	guard    actGuard
	steps    int
	log      []string
}

func newWalker(t testing.TB, src func(int) int) *walker {
	h := &harness{m: newMachine(params{local: "s1", cfg: testConfig(), ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond}), now: 10 * time.Second}
	for i := range h.m.groups {
		h.m.groups[i].cfg.AutoStart = i != 1
	}
	return &walker{t: t, h: h, src: src, replies: map[*request]int{}, lease: 6}
}

func (w *walker) fail(format string, args ...any) {
	w.t.Helper()
	n := len(w.log)
	w.t.Fatalf("step %d: %s\nlast events:\n%s", w.steps, fmt.Sprintf(format, args...), joinLast(w.log[max(0, n-15):]))
}

func joinLast(s []string) string {
	out := ""
	for _, l := range s {
		out += "  " + l + "\n"
	}
	return out
}

func pick[T any](w *walker, s *[]T) (T, bool) {
	var zero T
	if len(*s) == 0 {
		return zero, false
	}
	i := w.src(len(*s))
	v := (*s)[i]
	*s = append((*s)[:i], (*s)[i+1:]...)
	return v, true
}

// next picks one event the world could deliver now.
func (w *walker) next() event {
	m := w.h.m
	groups := []string{"g1", "g2", "solo", "nosuch"}
	for tries := 0; tries < 20; tries++ {
		switch w.src(15) {
		case 14:
			if w.src(5) == 0 {
				return evGuardFenced{}
			}
		case 0, 1:
			w.h.now += time.Duration(w.src(400)) * time.Millisecond
			return evTick{}
		case 2:
			kinds := []reqKind{reqStartGroup, reqStopGroup, reqMoveGroup, reqCurrent, reqServiceStart, reqServiceStop, reqSuspend, reqResume}
			r := &request{kind: kinds[w.src(len(kinds))], group: groups[w.src(len(groups))], reply: make(chan reply, 1), from: "s1"}
			if r.kind == reqMoveGroup && w.src(2) == 0 {
				r.dest = []string{"s1", "s2", "s9"}[w.src(3)]
			}
			if r.kind == reqServiceStop {
				r.factor = []string{FactorServerShutdown, FactorClusterShutdown}[w.src(2)]
			}
			w.reqs = append(w.reqs, r)
			return evRequest{r: r}
		case 3:
			if w.joins > 0 {
				w.joins--
				if w.src(4) == 0 {
					return evJoined{err: errors.New("store down")}
				}
				w.lease++
				return evJoined{lease: store.Lease{ID: clientLease(w.lease)}, sent: w.h.now - time.Duration(w.src(50))*time.Millisecond, reattached: w.src(3) == 0}
			}
		case 4:
			if a, ok := pick(w, &w.renews); ok {
				switch w.src(5) {
				case 0:
					return evRenewed{lease: a.lease, sent: w.h.now, gone: true, err: store.ErrLeaseGone}
				case 1:
					return evRenewed{lease: a.lease, sent: w.h.now, err: errors.New("timeout")}
				}
				return evRenewed{lease: a.lease, sent: w.h.now - time.Duration(w.src(300))*time.Millisecond}
			}
		case 5:
			if l, ok := pick(w, &w.revokes); ok {
				if w.src(4) == 0 {
					return evRevoked{lease: l, err: errors.New("timeout")}
				}
				return evRevoked{lease: l}
			}
		case 6:
			online := []string{"s1"}
			if w.src(2) == 0 {
				online = append(online, "s2")
			}
			owners := map[string]store.Owner{}
			markers := map[string]store.Marker{}
			for _, g := range []string{"g1", "g2", "solo"} {
				switch w.src(4) {
				case 0:
					owners[g] = store.Owner{Server: "s2", Token: int64(w.src(100))}
				case 1:
					markers[g] = store.Marker{Server: []string{"s1", "s2"}[w.src(2)], State: []string{store.MarkerOnline, store.MarkerOrphaned, store.MarkerMoving, store.MarkerFailed, store.MarkerStarting}[w.src(5)], Target: []string{"s1", "s2"}[w.src(2)]}
				}
			}
			if w.src(6) == 0 {
				return evViewFailed{err: errors.New("timeout")}
			}
			lease := m.lease.id
			if w.src(5) == 0 {
				lease = w.lease - 1 // a read from before the last join
			}
			return evView{snap: snapL(lease, online, owners, markers)}
		case 7:
			if a, ok := pick(w, &w.acquires); ok {
				switch w.src(4) {
				case 0:
					return evAcquired{group: a.group, elsewhere: true, err: store.ErrOwnedElsewhere}
				case 1:
					return evAcquired{group: a.group, err: errors.New("timeout")}
				}
				return evAcquired{group: a.group, token: int64(100 + w.steps)}
			}
		case 8:
			if a, ok := pick(w, &w.releases); ok {
				if w.src(4) == 0 {
					return evReleased{group: a.group, token: a.token, err: errors.New("timeout")}
				}
				return evReleased{group: a.group, token: a.token}
			}
		case 9:
			if a, ok := pick(w, &w.spawns); ok {
				switch w.src(6) {
				case 0:
					return evSpawned{job: a.job, err: errors.New("no such script")}
				case 1:
					return evSpawned{job: a.job, fenced: true, err: store.ErrFenced}
				}
				w.running = append(w.running, a)
				return evSpawned{job: a.job, info: resource.JobInfo{ScriptPID: 3000 + int(a.job)}}
			}
		case 10, 11:
			if a, ok := pick(w, &w.running); ok {
				code := 0
				if w.src(4) == 0 {
					code = 1
				}
				return evExited{job: a.job, result: resource.Result{Code: code}}
			}
		case 12:
			if a, ok := pick(w, &w.reaps); ok {
				return evReaped{group: a.group, res: a.res}
			}
		case 13:
			if a, ok := pick(w, &w.kills); ok {
				w.h.now += time.Duration(w.src(100)) * time.Millisecond
				var err error
				if w.src(8) == 0 {
					err = errors.New("still populated")
				}
				// The kill ends every script of the group.
				keep := w.running[:0]
				for _, r := range w.running {
					if r.group != a.group {
						keep = append(keep, r)
					}
				}
				w.running = keep
				_ = m
				return evKilled{group: a.group, err: err}
			}
		}
	}
	w.h.now += 50 * time.Millisecond
	return evTick{}
}

func clientLease(id int64) clientv3.LeaseID { return clientv3.LeaseID(id) }

// step delivers one event and checks the rules.
func (w *walker) step() {
	w.t.Helper()
	w.steps++
	m := w.h.m
	ev := w.next()
	w.log = append(w.log, fmt.Sprintf("%v %T %+v -> svc %v", w.h.now, ev, ev, m.svc))
	before := m.svc
	acts := m.step(w.h.now, ev)
	w.log = append(w.log, "   "+dumpShort(acts))
	for _, a := range acts {
		switch a := a.(type) {
		case actJoin:
			w.joins++
			if w.joins > 1 {
				w.fail("two joins in flight")
			}
		case actRenew:
			if !m.holdsLease() && before != svcUp && before != svcLeaving {
				w.fail("renewal sent without a lease")
			}
			w.renews = append(w.renews, a)
		case actRevoke:
			w.revokes = append(w.revokes, a.lease)
		case actAcquire:
			w.acquires = append(w.acquires, a)
		case actRelease:
			w.releases = append(w.releases, a)
		case actSpawn:
			if a.kind == jobStart {
				// Rule: a start script is only ever asked for while the lease is proven alive,
				// with the spawn deadline before the fencing deadline.
				if !m.holdsLease() || w.h.now+spawnMargin >= m.fenceAt() || a.notAfter > m.fenceAt() || a.token == 0 {
					w.fail("start spawn at %v without a live lease (svc %v, fenceAt %v, notAfter %v, token %d)", w.h.now, m.svc, m.fenceAt(), a.notAfter, a.token)
				}
				if m.suspended {
					w.fail("start spawn while suspended")
				}
			}
			w.spawns = append(w.spawns, a)
		case actReap:
			w.reaps = append(w.reaps, a)
		case actKill:
			w.kills = append(w.kills, a)
		case actReply:
			w.replies[a.r]++
			if w.replies[a.r] > 1 {
				w.fail("request %v answered twice", a.r.kind)
			}
		case actGuard:
			w.guard = a
		}
	}
	// Rule: whenever a group another server could run is active here and the lease is held, the
	// guard is armed for it with the guard's deadline.
	if m.holdsLease() {
		for _, g := range m.groups {
			if g.canFailOver && g.active() {
				if !w.guard.armed || w.guard.fenceAt != m.guardAt() {
					w.fail("group %s active but the guard is %+v (guardAt %v)", g.cfg.Name, w.guard, m.guardAt())
				}
			}
		}
	}
	// Rule: once fenced (rejoining) or down, nothing of a group another server could run is
	// active here, except what is still being killed or cleaned up.
	if m.svc == svcRejoining || m.svc == svcDown {
		for _, g := range m.groups {
			if g.canFailOver && g.fence == nil && g.active() && m.svc == svcRejoining {
				w.fail("group %s still active after the fence", g.cfg.Name)
			}
		}
	}
	// Rule: status never panics and never calls another server Offline while cut off.
	st := m.status(w.h.now)
	if !m.connected(w.h.now) && m.svc != svcDown && st.Servers[1].State == status.Offline {
		w.fail("s2 shown Offline while this server cannot vouch for it")
	}
}

func dumpShort(acts []action) string {
	out := ""
	for _, a := range acts {
		out += fmt.Sprintf("%T ", a)
	}
	return out
}

func TestWalk(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		w := newWalker(t, func(n int) int { return r.IntN(n) })
		for range 400 {
			w.step()
		}
	}
}

func FuzzWalk(f *testing.F) {
	f.Add([]byte{2, 4, 3, 0, 6, 1, 9, 2, 10, 3, 7})
	f.Add([]byte("the machine must never spawn a start without a live lease"))
	f.Fuzz(func(t *testing.T, b []byte) {
		i := 0
		w := newWalker(t, func(n int) int {
			if len(b) == 0 {
				return 0
			}
			v := int(b[i%len(b)]) + i/len(b)
			i++
			return v % n
		})
		for range 300 {
			w.step()
		}
	})
}
