package cluster

import (
	"testing"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
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
