package cluster

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"clpkit/pkg/config"
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
	scripts  []actScript
	replies  map[*request]int
	reqs     []*request
	lease    int64
	guard    actGuard
	steps    int
	log      []string
	// calm: the store and the scripts mostly work, so groups get up and monitors get to act.
	calm bool
}

func newWalker(t testing.TB, src func(int) int) *walker {
	cfg := testConfig()
	cfg.Monitors = []config.Monitor{
		{Name: "pidw1", Type: config.MonitorPID, Target: "r2", Timing: config.TimingActive, RecoveryTarget: "g1", RecoveryKind: config.TargetGroup,
			RecoveryGroup: "g1", RecoveryScript: "/s/preaction.sh", RecoveryThreshold: 1, RestartThreshold: 1, FailoverThreshold: 1, FinalAction: config.ActionStopGroup},
		{Name: "genw1", Type: config.MonitorCustom, Timing: config.TimingAlways, RecoveryTarget: "r4", RecoveryKind: config.TargetResource,
			RecoveryGroup: "solo", RestartThreshold: 2, FailoverThreshold: 1, FinalAction: config.ActionNone, ResetAfter: time.Second},
	}
	h := &harness{m: newMachine(params{local: "s1", cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond}), now: 10 * time.Second}
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
		switch w.src(18) {
		case 17:
			if g := m.groups[0]; g.res[1].start != 0 && w.src(2) == 0 {
				// r2's asynchronous start ends: its pid monitor's business.
				for i, a := range w.running {
					if a.job == g.res[1].start {
						w.running = append(w.running[:i], w.running[i+1:]...)
						return evExited{job: a.job, result: resource.Result{Code: 1}}
					}
				}
			}
		case 15:
			// A monitor's word: mostly from its current run, sometimes from one long stopped.
			mo := m.mons[w.src(len(m.mons))]
			for _, x := range m.mons {
				if x.running && w.src(2) == 0 {
					mo = x
				}
			}
			gen := mo.gen
			if w.src(5) == 0 {
				gen--
			}
			var err error
			if w.src(2) == 0 {
				err = errors.New("check failed")
			}
			return evMonitor{mon: mo.idx, gen: gen, err: err, timeout: w.src(4) == 0}
		case 16:
			if a, ok := pick(w, &w.scripts); ok {
				return evScriptDone{job: a.job, result: resource.Result{Code: w.src(2)}}
			}
			kinds := []reqKind{reqMonSuspend, reqMonResume, reqMonClear, reqRscStart, reqRscStop}
			r := &request{kind: kinds[w.src(len(kinds))], reply: make(chan reply, 1), force: w.src(2) == 0,
				resource: []string{"r1", "r2", "r3", "r4", "rx"}[w.src(5)]}
			if w.src(2) == 0 {
				r.monitors = []string{[]string{"pidw1", "genw1", "nope"}[w.src(3)]}
			}
			w.reqs = append(w.reqs, r)
			return evRequest{r: r}
		case 14:
			if w.src(5) == 0 && !w.calm {
				return evGuardFenced{}
			}
		case 0, 1:
			if w.calm {
				w.h.now += time.Duration(w.src(80)) * time.Millisecond
				return evTick{}
			}
			w.h.now += time.Duration(w.src(400)) * time.Millisecond
			return evTick{}
		case 2:
			kinds := []reqKind{reqStartGroup, reqStopGroup, reqMoveGroup, reqCurrent, reqServiceStart, reqServiceStop, reqSuspend, reqResume}
			if w.calm && w.src(4) != 0 {
				kinds = kinds[:5]
			}
			r := &request{kind: kinds[w.src(len(kinds))], group: groups[w.src(len(groups))], reply: make(chan reply, 1), from: "s1"}
			if w.calm && r.kind == reqStopGroup && w.src(3) != 0 {
				r.kind = reqStartGroup
			}
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
				if w.calm {
					return evRenewed{lease: a.lease, sent: w.h.now}
				}
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
			if w.calm {
				owners, markers = nil, nil
			}
			if w.src(6) == 0 && !w.calm {
				return evViewFailed{err: errors.New("timeout")}
			}
			lease := m.lease.id
			if w.src(5) == 0 && !w.calm {
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
				switch w.src(6) + b2i(w.calm)*10 {
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
				if w.src(4) == 0 && (!w.calm || w.src(4) == 0) {
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

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
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
		case actScript:
			w.scripts = append(w.scripts, a)
		}
	}
	// Rule: a monitor runs exactly while it should, and one that is recovering has its step
	// under way (a recovery script, or an operation of its group that will clear it).
	for _, mo := range m.mons {
		if mo.running != m.monitorWanted(mo) {
			w.fail("monitor %s running=%v but wanted=%v", mo.cfg.Name, mo.running, m.monitorWanted(mo))
		}
		if mo.recovering && mo.script == 0 && mo.held == "" {
			if g := m.groups[mo.rgroup]; g.op == nil || g.op.monitor != mo {
				w.fail("monitor %s is recovering with nothing under way", mo.cfg.Name)
			}
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

// TestWalkCalm walks a cluster whose store and scripts mostly work: groups come up, so monitors
// run, fail, and climb their ladders while everything else still happens around them.
func TestWalkCalm(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 30
	}
	steps := 0
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		w := newWalker(t, func(n int) int { return r.IntN(n) })
		w.calm = true
		for range 400 {
			w.step()
		}
		for _, mo := range w.h.m.mons {
			steps += mo.cnt.recovery + mo.cnt.restart + mo.cnt.failover + mo.cnt.final
		}
	}
	// The walk is only worth something if the ladders were climbed.
	if steps < seeds/4 {
		t.Fatalf("the calm walk took only %d ladder steps in %d walks", steps, seeds)
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
		w.calm = len(b) > 0 && b[0]%2 == 0
		for range 300 {
			w.step()
		}
	})
}
