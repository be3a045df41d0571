package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// Every event in every state: the machine is brought into each service phase (and, while up,
// each phase of a group operation), then given each kind of event. The table says what must come
// out; every cell also checks the rules that hold everywhere (no start script without a live
// lease, one answer per request).

// state builders: each returns a harness in the named state and, where one runs, the start job.
type stateCase struct {
	name  string
	build func(t *testing.T) (*harness, jobID)
}

func stateCases() []stateCase {
	return []stateCase{
		{"down", func(t *testing.T) (*harness, jobID) { return newHarness(t, "s1"), 0 }},
		{"joining", func(t *testing.T) (*harness, jobID) {
			h := newHarness(t, "s1")
			h.req(reqServiceStart, "")
			return h, 0
		}},
		{"up, idle", func(t *testing.T) (*harness, jobID) {
			h := newHarness(t, "s1")
			h.up("s1", "s2")
			return h, 0
		}},
		{"up, acquiring", func(t *testing.T) (*harness, jobID) {
			h := newHarness(t, "s1")
			h.up("s1", "s2")
			h.req(reqStartGroup, "g1")
			return h, 0
		}},
		{"up, starting", func(t *testing.T) (*harness, jobID) {
			h := newHarness(t, "s1")
			h.up("s1", "s2")
			h.req(reqStartGroup, "g1")
			h.step(evAcquired{group: 0, token: 42})
			sp := one[actSpawn](h, h.last)
			h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 1000}})
			return h, sp.job
		}},
		{"up, online", func(t *testing.T) (*harness, jobID) {
			return runningG1(t), 0
		}},
		{"up, stopping", func(t *testing.T) (*harness, jobID) {
			h := runningG1(t)
			h.req(reqStopGroup, "g1")
			sp := one[actSpawn](h, h.last)
			h.step(evSpawned{job: sp.job})
			return h, sp.job
		}},
		{"leaving", func(t *testing.T) (*harness, jobID) {
			h := runningG1(t)
			h.step(evRequest{r: &request{kind: reqServiceStop, reply: make(chan reply, 1)}})
			sp := one[actSpawn](h, h.last)
			h.step(evSpawned{job: sp.job})
			return h, sp.job
		}},
		{"fencing", func(t *testing.T) (*harness, jobID) {
			h := newHarness(t, "s1")
			h.up("s1", "s2")
			h.startG1()
			h.at(h.m.fenceAt() - h.now)
			return h, 0
		}},
		{"rejoining", func(t *testing.T) (*harness, jobID) {
			h := newHarness(t, "s1")
			h.up("s1", "s2")
			h.at(h.m.fenceAt() - h.now)
			return h, 0
		}},
	}
}

// eventCases are the events each state is given. Payloads refer to what the state holds: the
// lease (7), g1, the running job.
func eventCases(job jobID) []struct {
	name string
	ev   func() (event, *request)
} {
	req := func(k reqKind, g string) func() (event, *request) {
		return func() (event, *request) {
			r := &request{kind: k, group: g, reply: make(chan reply, 1), from: "s1"}
			if k == reqMoveGroup {
				r.dest = "s2"
			}
			return evRequest{r: r}, r
		}
	}
	plain := func(e event) func() (event, *request) { return func() (event, *request) { return e, nil } }
	return []struct {
		name string
		ev   func() (event, *request)
	}{
		{"tick", plain(evTick{})},
		{"clpgrp -s", req(reqStartGroup, "g1")},
		{"clpgrp -t", req(reqStopGroup, "g1")},
		{"clpgrp -m", req(reqMoveGroup, "g1")},
		{"clpgrp -n", req(reqCurrent, "g1")},
		{"clpcl -s", req(reqServiceStart, "")},
		{"clpcl -t", req(reqServiceStop, "")},
		{"clpcl --suspend", req(reqSuspend, "")},
		{"clpcl --resume", req(reqResume, "")},
		{"joined", plain(evJoined{lease: store.Lease{ID: 9}, sent: 0})},
		{"joined fresh", plain(evJoined{lease: store.Lease{ID: 9}})},
		{"join failed", plain(evJoined{err: errors.New("store down")})},
		{"renewed", plain(evRenewed{lease: 7})},
		{"renewal failed", plain(evRenewed{lease: 7, err: errors.New("timeout")})},
		{"lease gone", plain(evRenewed{lease: 7, gone: true, err: store.ErrLeaseGone})},
		{"revoked", plain(evRevoked{lease: 7})},
		{"view", plain(evView{snap: snap([]string{"s1", "s2"}, nil, nil)})},
		{"view failed", plain(evViewFailed{err: errors.New("timeout")})},
		{"acquired", plain(evAcquired{group: 0, token: 43})},
		{"acquired elsewhere", plain(evAcquired{group: 0, elsewhere: true, err: store.ErrOwnedElsewhere})},
		{"released", plain(evReleased{group: 0, token: 42})},
		{"spawned", plain(evSpawned{job: job})},
		{"spawn refused: fenced", plain(evSpawned{job: job, fenced: true, err: store.ErrFenced})},
		{"script exited 0", plain(evExited{job: job})},
		{"script exited 1", plain(evExited{job: job, result: resource.Result{Code: 1}})},
		{"reaped", plain(evReaped{group: 0, res: 0})},
		{"killed", plain(evKilled{group: 0})},
	}
}

// want says, for a (state, event) cell, what its request must be answered with: "" = no request
// or no rule, "ok", "wait" (no answer yet), or an error code.
func want(state, event string) string {
	type cell struct{ s, e string }
	rules := map[cell]string{
		{"down", "clpgrp -s"}: string(status.CodeNotStarted), {"down", "clpgrp -t"}: string(status.CodeNotStarted),
		{"down", "clpgrp -m"}: string(status.CodeNotStarted), {"down", "clpcl -s"}: "wait", {"down", "clpcl -t"}: "ok",
		{"down", "clpcl --suspend"}: string(status.CodeNotStarted), {"down", "clpgrp -n"}: "ok",
		// While the service joins, group requests wait for it instead of failing.
		{"joining", "clpgrp -s"}: "wait", {"joining", "clpgrp -t"}: "wait", {"joining", "clpgrp -m"}: "wait",
		{"joining", "clpcl -s"}: "wait", {"joining", "clpcl --suspend"}: "wait",
		{"up, idle", "clpgrp -s"}: "wait", {"up, idle", "clpgrp -t"}: string(status.CodeAlreadyStopped),
		{"up, idle", "clpgrp -m"}: string(status.CodeAlreadyStopped), {"up, idle", "clpcl -s"}: "ok",
		{"up, idle", "clpcl --suspend"}: "ok", {"up, idle", "clpcl --resume"}: "ok", {"up, idle", "clpcl -t"}: "wait",
		// A group in the middle of an operation is busy; the service cannot be suspended then.
		{"up, acquiring", "clpgrp -s"}: string(status.CodeBusy), {"up, acquiring", "clpgrp -t"}: string(status.CodeBusy),
		{"up, acquiring", "clpcl --suspend"}: string(status.CodeBusy),
		{"up, starting", "clpgrp -s"}:        string(status.CodeBusy), {"up, starting", "clpgrp -t"}: string(status.CodeBusy),
		{"up, starting", "clpgrp -m"}: string(status.CodeBusy), {"up, starting", "clpcl --suspend"}: string(status.CodeBusy),
		{"up, online", "clpgrp -s"}: string(status.CodeAlreadyStarted), {"up, online", "clpgrp -t"}: "wait",
		{"up, online", "clpgrp -m"}: "wait", {"up, online", "clpcl --suspend"}: "ok",
		{"up, stopping", "clpgrp -s"}: string(status.CodeBusy), {"up, stopping", "clpgrp -t"}: string(status.CodeBusy),
		// A shutdown under way refuses new work.
		{"leaving", "clpgrp -s"}: string(status.CodeNotStarted), {"leaving", "clpgrp -t"}: string(status.CodeNotStarted),
		{"leaving", "clpcl -s"}: string(status.CodeBusy), {"leaving", "clpcl -t"}: "wait",
		{"leaving", "clpcl --suspend"}: string(status.CodeNotStarted),
		// A fenced server does nothing new until it has rejoined.
		{"fencing", "clpgrp -s"}: string(status.CodeBusy), {"fencing", "clpgrp -t"}: string(status.CodeBusy),
		{"fencing", "clpcl --suspend"}: string(status.CodeBusy), {"fencing", "clpcl -s"}: "wait",
		{"rejoining", "clpgrp -s"}: string(status.CodeBusy), {"rejoining", "clpgrp -m"}: string(status.CodeBusy),
		{"rejoining", "clpcl -s"}: "wait",
	}
	return rules[cell{state, event}]
}

func TestEveryEventInEveryState(t *testing.T) {
	for _, sc := range stateCases() {
		_, job := sc.build(t)
		for _, ec := range eventCases(job) {
			t.Run(sc.name+"/"+ec.name, func(t *testing.T) {
				h, _ := sc.build(t)
				before := h.m.svc
				ev, r := ec.ev()
				if j, ok := ev.(evJoined); ok && ec.name == "joined fresh" {
					// Sent just now: the grant proves the lease alive.
					j.sent = h.now
					ev = j
				}
				h.now += time.Millisecond
				acts := h.step(ev)
				// Rules that hold in every cell.
				replies := map[*request]int{}
				for _, a := range acts {
					switch a := a.(type) {
					case actSpawn:
						if a.kind == jobStart && (!h.m.holdsLease() || h.now+spawnMargin >= h.m.fenceAt() || a.token == 0) {
							t.Fatalf("start spawned without a live lease (svc %v -> %v): %+v", before, h.m.svc, a)
						}
					case actReply:
						replies[a.r]++
						if replies[a.r] > 1 {
							t.Fatalf("request answered twice: %s", dump(acts))
						}
					case actJoin:
						// A join that came back (failed, or too late to prove anything) ends the one
						// in flight: the next may go out.
						if before == svcJoining && ec.name != "join failed" && ec.name != "joined" && ec.name != "joined fresh" && h.m.lease.joinInFlight && countJoins(h.out) > 1 {
							t.Fatalf("a second join while one is in flight: %s", dump(h.out))
						}
					}
				}
				if r == nil {
					return
				}
				w := want(sc.name, ec.name)
				if w == "" {
					return
				}
				got := "wait"
				for _, a := range acts {
					if ar, ok := a.(actReply); ok && ar.r == r {
						got = "ok"
						if ar.err != nil {
							var oe *status.OpError
							if errors.As(ar.err, &oe) {
								got = string(oe.Code)
							} else {
								got = fmt.Sprint(ar.err)
							}
						}
					}
				}
				if got != w {
					t.Fatalf("answered %q, want %q; actions: %s", got, w, dump(acts))
				}
			})
		}
	}
}

func countJoins(acts []action) int { return len(find[actJoin](acts)) }
