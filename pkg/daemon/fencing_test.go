package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"clpkit/pkg/cgroup"
	"clpkit/pkg/procwatch"
	"clpkit/pkg/resource"
)

// A resource's scripts start again, in the same cgroup paths, after its group was killed by a
// fence: the cgroups are made anew (see cgroupTree.Dir), and a double-forked daemon of the
// killed run is gone.
func TestCgroupTreeRespawnAfterKill(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cgroups need root")
	}
	mount, err := cgroup.FindV2("/proc")
	if err != nil {
		t.Skipf("no cgroup v2: %v", err)
	}
	tree := cgroupTree{base: filepath.Join(mount, "clpkit-test", "daemon-"+strconv.Itoa(os.Getpid()))}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c := cgroup.Cgroup{Path: tree.base}
		_ = c.Kill(ctx)
		_ = c.Remove(ctx)
		_ = os.Remove(filepath.Dir(tree.base))
	})
	dir := t.TempDir()
	script := filepath.Join(dir, "start.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nsetsid sleep 600 &\necho $! > "+dir+"/daemon\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var daemons []int
	for run := range 3 {
		f, path, err := tree.Dir("g1", "r1", "start")
		if err != nil {
			t.Fatal(err)
		}
		j, err := resource.Spawn("/proc", resource.Spec{Script: script, Env: os.Environ(), Log: filepath.Join(dir, "log"), RCFile: filepath.Join(dir, "rc"), Cgroup: f, CgroupPath: path})
		f.Close()
		if err != nil {
			t.Fatalf("run %d after %d kills: %v", run, run, err)
		}
		if res := j.Wait(context.Background()); !res.OK() {
			t.Fatalf("run %d: %v", run, res)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "daemon"))
		pid, _ := strconv.Atoi(string(b[:len(b)-1]))
		daemons = append(daemons, pid)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = tree.KillGroup(ctx, "g1")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range daemons {
			if st, err := procwatch.Stat("/proc", d); err == nil && !st.Exited() {
				t.Fatalf("run %d: the double-forked daemon %d survived the kill", run, d)
			}
		}
	}
}
