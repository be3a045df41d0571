package cluster

import (
	"testing"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// A disk that will not mount: the group's scripts that do not need it still run, told
// CLP_DISK=FAILURE (the templates' ERROR_DISK branches); one that needs it does not; then the
// failure takes its ladder (here, with no other server, the final action stops the group).
func TestDiskFailureTellsTheScripts(t *testing.T) {
	cfg := testConfig()
	res := cfg.Groups[2].Resources[0] // solo's exec r4
	cfg.Groups[2].Resources = []config.Resource{
		{Name: "d1", Type: config.TypeDisk, Device: "/dev/x", MountPoint: "/mnt/x", FSType: "ext4", StartMode: config.ModeSync, StopMode: config.ModeSync,
			StartTimeout: 30 * time.Second, StopTimeout: 30 * time.Second, ActivationFinalAction: config.ActionStopGroup, DeactivationFinalAction: config.ActionNone},
		res,
		func() config.Resource { r := res; r.Name, r.Depends = "r5", []string{"d1"}; return r }(),
	}
	h := &harness{t: t, m: newMachine(params{local: "s1", cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond}), now: 10 * time.Second}
	h.up("s1")
	r := h.req(reqStartGroup, "solo")
	h.step(evAcquired{group: 2, token: 42})
	sp := one[actSpawn](h, h.last)
	if sp.res != 0 || sp.ev.Disk != "SUCCESS" {
		t.Fatalf("disk start: %+v", sp)
	}
	h.step(evSpawned{job: sp.job})
	h.step(evExited{job: sp.job, result: resource.Result{Code: 1, Detail: "mounting /dev/x on /mnt/x: no such device"}})
	sp = one[actSpawn](h, h.last)
	if sp.res != 1 || sp.ev.Disk != "FAILURE" {
		t.Fatalf("the exec after the failed disk: %+v", sp)
	}
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 7}})
	// The template's ERROR_DISK branch exits 1... here it exits 0: the start completes but the
	// disk failure still takes its ladder; r5, which needs the disk, never started.
	h.step(evExited{job: sp.job, result: resource.Result{Code: 0}})
	st := h.m.status(h.now).Groups[2]
	if st.Resources[0].State != status.OfflinePending && st.Resources[0].State != status.Offline && st.Resources[0].State != status.OnlineFailure {
		t.Fatalf("disk state: %+v", st.Resources[0])
	}
	stop := one[actSpawn](h, h.last)
	if stop.kind != jobStop || stop.res != 1 || stop.ev.Disk != "FAILURE" || stop.ev.Factor != FactorGroupStop {
		t.Fatalf("final action stop: %+v", stop)
	}
	for _, a := range find[actSpawn](h.out) {
		if a.res == 2 {
			t.Fatalf("r5, which needs the failed disk, was run: %+v", a)
		}
	}
	_ = r
}

// Auto-start waits for the group's other servers, up to the start-up wait: g2's first server
// is s2, which is not up yet.
func TestStartupWait(t *testing.T) {
	cfg := testConfig()
	cfg.Timing.StartupWait = 10 * time.Second
	for i := range cfg.Groups {
		cfg.Groups[i].AutoStart = true
	}
	h := &harness{t: t, m: newMachine(params{local: "s1", cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond}), now: 10 * time.Second}
	h.up("s1")
	acq := find[actAcquire](h.out)
	for _, a := range acq {
		if a.group == 1 {
			t.Fatalf("g2 was started on s1 at once, while its first server s2 may be about to join")
		}
	}
	if h.m.autoStarted {
		t.Fatal("auto-start decided while waiting")
	}
	// g1 and solo, whose first server is s1, did not wait for s2... g1's policy includes s2, so
	// it waits as well; solo does not.
	started := map[int]bool{}
	for _, a := range acq {
		started[a.group] = true
	}
	if !started[2] || started[0] {
		t.Fatalf("started at once: %v (want solo only)", started)
	}
	// The wait runs out: the groups start here, the only Online server of their policies.
	for range 120 {
		h.now += interval
		h.step(evTick{})
		h.ack()
		h.step(evView{snap: snap([]string{"s1"}, nil, nil)})
	}
	for _, a := range find[actAcquire](h.out) {
		started[a.group] = true
	}
	if !started[0] || !started[1] || !h.m.autoStarted {
		t.Fatalf("after the wait: started %v, autoStarted %v", started, h.m.autoStarted)
	}
}

// Two groups of one exclusion set never start on one server: the second goes to the other.
func TestExclusion(t *testing.T) {
	cfg := testConfig()
	cfg.Groups[0].Exclusion, cfg.Groups[1].Exclusion = "x", "x"
	cfg.Groups[1].Servers = []string{"s1", "s2"}
	cfg.Groups[0].AutoStart, cfg.Groups[1].AutoStart = true, true
	h := &harness{t: t, m: newMachine(params{local: "s1", cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond}), now: 10 * time.Second}
	h.up("s1", "s2")
	started := map[int]bool{}
	for _, a := range find[actAcquire](h.out) {
		started[a.group] = true
	}
	if !started[0] || started[1] {
		t.Fatalf("s1 started %v: want g1 only, g2 excluded by g1", started)
	}
	if got := h.m.placeTarget(h.m.groups[1], "", map[string]bool{"s1": true, "s2": true}); got != "s2" {
		t.Fatalf("g2's place: %q, want s2", got)
	}
}

// Automatic failback: g1 runs on s2; when s1, first in its policy, is Online again, s2 hands it
// back with a move.
func TestFailback(t *testing.T) {
	cfg := testConfig()
	cfg.Groups[1].Servers = []string{"s1", "s2"}
	cfg.Groups[1].Failback = true
	h := &harness{t: t, m: newMachine(params{local: "s2", cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond}), now: 10 * time.Second}
	r := h.req(reqServiceStart, "")
	h.step(evJoined{lease: storeLease(7), sent: h.now})
	h.replied(r)
	s := snapL(7, []string{"s2"}, nil, nil)
	s.Servers = map[string]int64{"s2": 7}
	h.step(evView{snap: s})
	r = h.req(reqStartGroup, "g2")
	h.step(evAcquired{group: 1, token: 42})
	sp := one[actSpawn](h, h.last)
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 9}})
	h.step(evExited{job: sp.job, result: resource.Result{}})
	if err := h.replied(r).err; err != nil {
		t.Fatal(err)
	}
	none[actSpawn](h, h.last)
	// s1 comes back.
	s = snapL(7, []string{"s2"}, nil, nil)
	s.Servers = map[string]int64{"s2": 7, "s1": 8}
	h.step(evView{snap: s})
	stop := one[actSpawn](h, h.last)
	if stop.kind != jobStop || stop.ev.Factor != FactorGroupMove {
		t.Fatalf("failback stop: %+v", stop)
	}
	h.step(evSpawned{job: stop.job})
	h.step(evExited{job: stop.job, result: resource.Result{}})
	rp := one[actReap](h, h.last)
	h.step(evReaped{group: rp.group, res: rp.res})
	rel := one[actRelease](h, h.last)
	if rel.marker == nil || rel.marker.State != "moving" || rel.marker.Target != "s1" {
		t.Fatalf("failback release: %+v", rel.marker)
	}
}

func storeLease(id int64) store.Lease { return store.Lease{ID: clientLease(id), TTL: ttl} }
