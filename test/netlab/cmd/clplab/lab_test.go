package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/pkg/cgroup"
)

// TestLab runs the lab as a user does, with the real commands: up, the service from the client,
// a cable cut (the group moves, the counter on the shared disk goes on), mend, down; then the
// machine must hold nothing of the lab.
func TestLab(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("clplab: network namespaces, loop devices and mounts need root")
	}
	if missing := checkRequirements(); len(missing) > 0 {
		t.Skipf("clplab: %s", missing[0])
	}
	for _, name := range allNS() {
		if nsExists(name) {
			t.Skipf("clplab: a lab is up already (namespace %s exists; make lab-stop)", name)
		}
	}
	bin := clustertest.Build(t, t.TempDir())
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "clplab"), ".").CombinedOutput(); err != nil {
		t.Fatalf("building clplab: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "lab")
	clplab := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "clplab"), args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		t.Logf("clplab %s:\n%s", strings.Join(args, " "), out.String())
		return out.String(), err
	}
	downDone := false
	t.Cleanup(func() {
		if !downDone {
			_, _ = clplab("down", dir)
		}
	})
	l := &lab{dir: dir, bin: bin}

	if _, err := clplab("up", dir); err != nil {
		t.Fatalf("clplab up: %v", err)
	}
	owner := groupOwner(t, l)
	other := map[string]string{"server1": "server2", "server2": "server1"}[owner]
	n := 0
	for i := 0; i < 3; i++ {
		host, count := get(t, l)
		if host != owner || count != n+1 {
			t.Fatalf("the service answered from %s with request %d, want %s and %d", host, count, owner, n+1)
		}
		n = count
	}

	out, err := clplab("cut", dir)
	if err != nil {
		t.Fatalf("clplab cut: %v", err)
	}
	if !strings.Contains(out, "cut "+owner+"'s cable") || !strings.Contains(out, "failover1 is Online on "+other) {
		t.Fatalf("clplab cut did not report the move from %s to %s", owner, other)
	}
	if up, err := cableUp(context.Background(), owner); err != nil || up {
		t.Fatalf("%s's cable after cut: up %t, %v", owner, up, err)
	}
	if o := groupOwner(t, l); o != other {
		t.Fatalf("after the cut, failover1 runs on %q, want %s", o, other)
	}
	// The counter was on the disk that moved with the group.
	if host, count := get(t, l); host != other || count != n+1 {
		t.Fatalf("after the cut the service answered from %s with request %d, want %s and %d", host, count, other, n+1)
	}

	if _, err := clplab("mend", dir); err != nil {
		t.Fatalf("clplab mend: %v", err)
	}
	for _, h := range hosts {
		if up, err := cableUp(context.Background(), h.name); err != nil || !up {
			t.Fatalf("%s's cable after mend: up %t, %v", h.name, up, err)
		}
	}
	for _, s := range servers {
		st, err := l.status(context.Background(), s)
		if err != nil || !st.serverOnline("server1") || !st.serverOnline("server2") || st.owner() != other {
			t.Fatalf("after mend, %s shows: %+v, %v (want both servers Online, failover1 on %s)", s, st, err, other)
		}
	}

	downDone = true
	if _, err := clplab("down", dir); err != nil {
		t.Fatalf("clplab down: %v", err)
	}
	assertClean(t, dir)
	// down is idempotent.
	if out, err := clplab("down", dir); err != nil || !strings.Contains(out, "nothing to do") {
		t.Fatalf("a second clplab down: %v\n%s", err, out)
	}
}

// groupOwner is where failover1 runs, as both servers agree.
func groupOwner(t *testing.T, l *lab) string {
	t.Helper()
	owner := ""
	for _, s := range servers {
		if st, err := l.status(context.Background(), s); err == nil && st.owner() != "" {
			if owner != "" && st.owner() != owner {
				t.Fatalf("the servers disagree where failover1 runs: %s and %s", owner, st.owner())
			}
			owner = st.owner()
		}
	}
	if owner == "" {
		t.Fatal("failover1 runs nowhere")
	}
	return owner
}

var answerRE = regexp.MustCompile(`^Hello from (server[12]): request ([0-9]+) `)

// get asks the service from the client host, as curl in the printed loop does.
func get(t *testing.T, l *lab) (string, int) {
	t.Helper()
	out, err := l.fetch(context.Background(), "/")
	m := answerRE.FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("the client got %q, %v", out, err)
	}
	n, _ := strconv.Atoi(m[2])
	return m[1], n
}

// assertClean fails unless nothing of the lab is left: namespaces, loop devices, mounts,
// processes, cgroups, the directory.
func assertClean(t *testing.T, dir string) {
	t.Helper()
	for _, name := range allNS() {
		if nsExists(name) {
			t.Errorf("namespace %s is left", name)
		}
	}
	if out, err := exec.Command("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE").Output(); err != nil {
		t.Errorf("losetup: %v", err)
	} else if strings.Contains(string(out), dir) {
		t.Errorf("a loop device of the lab is left:\n%s", out)
	}
	mi, err := mountinfo()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mi {
		if under(m.mountPoint, dir) {
			t.Errorf("%s is still mounted", m.mountPoint)
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		// Zombies have an empty command line: they are gone but for their exit status.
		if cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); bytes.Contains(cmdline, []byte(dir)) {
			t.Errorf("process %s is left: %s", e.Name(), bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
	if mount, err := cgroup.FindV2("/proc"); err == nil {
		if _, err := os.Stat(filepath.Join(mount, cgroupRoot)); err == nil {
			t.Errorf("cgroup %s is left", filepath.Join(mount, cgroupRoot))
		}
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%s is left", dir)
	}
}
