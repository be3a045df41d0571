package cluster

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// monHarness is the test cluster with one pid monitor on g1's asynchronous r2.
func monHarness(t *testing.T, m config.Monitor) *harness {
	cfg := testConfig()
	m.Name, m.Type, m.Target, m.Timing = "pidw1", config.MonitorPID, "r2", config.TimingActive
	if m.FinalAction == "" {
		m.FinalAction = config.ActionNone
	}
	cfg.Monitors = []config.Monitor{m}
	mc := newMachine(params{local: "s1", cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond})
	return &harness{t: t, m: mc, now: 10 * time.Second}
}

// asyncJob is the job of r2's running asynchronous start.
func (h *harness) asyncJob() jobID {
	h.t.Helper()
	j := h.m.groups[0].res[1].start
	if j == 0 {
		h.t.Fatalf("r2 has no running start script: %s", dump(h.out))
	}
	return j
}

// finishStops completes every stop script and reap of the latest step until the group's operation
// asks for something else.
func (h *harness) completeStop(wantFactor string) {
	h.t.Helper()
	sp := one[actSpawn](h, h.last)
	if sp.kind != jobStop || sp.ev.Factor != wantFactor {
		h.t.Fatalf("stop spawn: %+v", sp)
	}
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 3000}})
	h.step(evExited{job: sp.job, result: resource.Result{Code: 0}})
	rp := one[actReap](h, h.last)
	h.step(evReaped{group: rp.group, res: rp.res})
}

func TestMonitorLadderRestartFailover(t *testing.T) {
	h := monHarness(t, config.Monitor{RecoveryTarget: "g1", RecoveryKind: config.TargetGroup, RecoveryGroup: "g1",
		RecoveryScript: "/s/preaction.sh", RestartThreshold: 1, FailoverThreshold: 1, FinalAction: config.ActionStopGroup})
	h.up("s1", "s2")
	h.startG1()
	mo := h.m.mons[0]
	if !mo.running {
		t.Fatalf("the pid monitor does not run once r2 is Online: %s", dump(h.out))
	}

	// First failure: RESTART, after the recovery script.
	h.step(evExited{job: h.asyncJob(), result: resource.Result{Code: 1}})
	sc := one[actScript](h, h.last)
	if sc.action != stepRestart || sc.counts != (counters{restart: 1}) {
		t.Fatalf("script: %+v", sc)
	}
	if st := h.m.status(h.now).Monitors[0]; st.State != status.Error || st.Servers[0].State != status.Error {
		t.Fatalf("monitor status while recovering: %+v", st)
	}
	h.step(evScriptDone{job: sc.job, result: resource.Result{Code: 0}})
	// The whole group restarts: r2 then r1 stop with RESOURCERESTART, then both start with START.
	h.completeStop(FactorResourceRestart)
	h.completeStop(FactorResourceRestart)
	sp := one[actSpawn](h, h.last)
	if sp.kind != jobStart || sp.res != 0 || sp.ev.Event != "START" || sp.token != 42 {
		t.Fatalf("restart start: %+v", sp)
	}
	none[actAcquire](h, h.out[len(h.out)-len(h.last):])
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 1001}})
	h.step(evExited{job: sp.job, result: resource.Result{Code: 0}})
	sp = one[actSpawn](h, h.last)
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 2001}})
	if !mo.running || mo.failed || mo.recovering {
		t.Fatalf("after the restart the monitor should run normal again: %+v", mo)
	}

	// Second failure: the restart threshold is spent, so FAILOVER to s2.
	h.step(evExited{job: h.asyncJob(), result: resource.Result{Code: 1}})
	sc = one[actScript](h, h.last)
	if sc.action != stepFailover || sc.counts != (counters{restart: 1, failover: 1}) {
		t.Fatalf("script: %+v", sc)
	}
	h.step(evScriptDone{job: sc.job, result: resource.Result{Code: 1}})
	h.completeStop(FactorGroupFailover)
	h.completeStop(FactorGroupFailover)
	rel := one[actRelease](h, h.last)
	if rel.marker == nil || rel.marker.State != store.MarkerOrphaned || rel.marker.Server != "s1" {
		t.Fatalf("release: %+v", rel)
	}
	h.step(evReleased{group: 0, token: 42})
	if mo.running {
		t.Fatal("the monitor still runs on s1 after the failover")
	}
	want := []string{
		"rm 1 Monitoring pidw1 has started.",
		"rm 9 Detected an error in monitoring pidw1. (the process of r2 ended (exit status 1))",
		"rm 58 Recovery script (RESTART) upon failure in monitoring pidw1 has started.",
		"rm 59 Recovery script upon failure in monitoring pidw1 has completed.",
		"rm 13 Recovery target g1 will be restarted because an error was detected in monitoring pidw1.",
		"rm 2 Monitoring pidw1 has stopped.",
		"rm 1 Monitoring pidw1 has started.",
		"rm 9 Detected an error in monitoring pidw1. (the process of r2 ended (exit status 1))",
		"rm 58 Recovery script (FAILOVER) upon failure in monitoring pidw1 has started.",
		"rm 60 Recovery script upon failure in monitoring pidw1 has failed. (exit status 1)",
		"rm 14 Recovery target g1 fails over because an error was detected in monitoring pidw1.",
		"rm 2 Monitoring pidw1 has stopped.",
	}
	var got []string
	for _, a := range alerts(h.out) {
		if strings.HasPrefix(a, "rm ") {
			got = append(got, a)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rm alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c := h.m.monitorHere(mo).Counters
	if c.Restart != 1 || c.Failover != 1 || c.FinalAction != 0 || c.RestartMax != 1 || c.FailoverMax != 1 || c.FinalActionIs != config.ActionStopGroup {
		t.Fatalf("counters: %+v", c)
	}
	// clpmonctrl -c clears them.
	r := &request{kind: reqMonClear, reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	if err := h.replied(r).err; err != nil || mo.cnt != (counters{}) {
		t.Fatalf("clear: %v %+v", err, mo.cnt)
	}
}

// With no failover left (and none allowed), the final action follows the restarts.
func TestMonitorLadderFinalAction(t *testing.T) {
	h := monHarness(t, config.Monitor{RecoveryTarget: "r2", RecoveryKind: config.TargetResource, RecoveryGroup: "g1",
		RestartThreshold: 1, FailoverThreshold: 0, FinalAction: config.ActionStopGroup})
	h.up("s1", "s2")
	h.startG1()
	h.step(evExited{job: h.asyncJob(), result: resource.Result{Code: 0}})
	// Only r2 restarts (it is the recovery target; r1 does not depend on it).
	h.completeStop(FactorResourceRestart)
	sp := one[actSpawn](h, h.last)
	if sp.res != 1 || sp.kind != jobStart {
		t.Fatalf("restart: %+v", sp)
	}
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 2001}})
	h.step(evExited{job: h.asyncJob(), result: resource.Result{Code: 0}})
	// Final action: the group stops, with GROUPSTOP, and is not handed over.
	h.completeStop(FactorGroupStop)
	h.completeStop(FactorGroupStop)
	rel := one[actRelease](h, h.last)
	if rel.marker != nil {
		t.Fatalf("a final stop-group handed the group over: %+v", rel.marker)
	}
	h.step(evReleased{group: 0, token: 42})
	if got := h.m.status(h.now).Groups[0].State; got != status.Offline {
		t.Fatalf("group after the final action: %v", got)
	}
	if c := h.m.mons[0].cnt; c != (counters{restart: 1, final: 1}) {
		t.Fatalf("counters: %+v", c)
	}
}

// A suspended monitor does not act; its error on resume does.
func TestMonitorSuspendResume(t *testing.T) {
	h := monHarness(t, config.Monitor{RecoveryTarget: "g1", RecoveryKind: config.TargetGroup, RecoveryGroup: "g1", FinalAction: config.ActionStopGroup})
	h.up("s1")
	h.startG1()
	r := &request{kind: reqMonSuspend, monitors: []string{"pidw1"}, reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	if err := h.replied(r).err; err != nil {
		t.Fatal(err)
	}
	if st := h.m.status(h.now).Monitors[0]; st.State != status.Suspend {
		t.Fatalf("suspended monitor: %+v", st)
	}
	h.step(evExited{job: h.asyncJob(), result: resource.Result{Code: 0}})
	none[actSpawn](h, h.last)
	r = &request{kind: reqMonResume, monitors: []string{"pidw1"}, reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	// No other server: no failover; the final action stops the group at once.
	sp := one[actSpawn](h, h.last)
	if sp.kind != jobStop || sp.ev.Factor != FactorGroupStop {
		t.Fatalf("after resume: %+v", sp)
	}
	r = &request{kind: reqMonSuspend, monitors: []string{"nope"}, reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	if err := h.replied(r).err; err == nil || err.Error() != status.ErrInvalidMonitor("nope").Msg {
		t.Fatalf("unknown monitor: %v", err)
	}
}

// An activation failure fails the group over once per server before its final action.
func TestActivationFailover(t *testing.T) {
	h := newHarness(t, "s1")
	h.m.groups[0].cfg.Resources[0].ActivationFailover = 1
	h.up("s1", "s2")
	r := h.req(reqStartGroup, "g1")
	h.step(evAcquired{group: 0, token: 42})
	sp := one[actSpawn](h, h.last)
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 1000}})
	h.step(evExited{job: sp.job, result: resource.Result{Code: 3}})
	// Nothing of r1 runs; r2 never started: the release hands g1 to s2.
	rel := one[actRelease](h, h.last)
	if rel.marker == nil || rel.marker.State != store.MarkerOrphaned {
		t.Fatalf("release: %+v", rel)
	}
	h.step(evReleased{group: 0, token: 42})
	if err := h.replied(r).err; err == nil || err.Error() != status.ErrStartFailed("g1").Msg {
		t.Fatalf("caller: %v", err)
	}
	if h.m.groups[0].failovers != 1 {
		t.Fatalf("failovers = %d", h.m.groups[0].failovers)
	}
}

// What another server published comes from the store: any bytes must leave status whole.
func FuzzPublished(f *testing.F) {
	f.Add([]byte(`{"groups":[{"name":"g1","state":"Online","current":"s2"}],"monitors":[{"name":"pidw1","server":"x","state":"Error"}]}`))
	f.Add([]byte(`[{"name":"g1"}]`))
	f.Add([]byte(`{"monitors":[{"name":null}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := monHarness(t, config.Monitor{RecoveryTarget: "g1", RecoveryKind: config.TargetGroup, RecoveryGroup: "g1"})
		h.up("s1", "s2")
		s := snap([]string{"s1", "s2"}, map[string]store.Owner{"g1": {Server: "s2", Token: 5}}, nil)
		s.Statuses = map[string][]byte{"s2": b}
		h.step(evView{snap: s})
		st := h.m.status(h.now)
		if len(st.Monitors) != 1 || len(st.Monitors[0].Servers) != 2 || st.Monitors[0].Servers[1].Server != "s2" {
			t.Fatalf("monitors: %+v", st.Monitors)
		}
		if st.Groups[0].Current != "s2" {
			t.Fatalf("g1 current = %q", st.Groups[0].Current)
		}
	})
}
