package netlab_test

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/procwatch"
	"clpkit/test/netlab"
)

// env is the test's environment without CLP_GROUPNAME, plus the given variables.
func env(vars ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLP_GROUPNAME=") {
			out = append(out, kv)
		}
	}
	return append(out, vars...)
}

// startGroup starts a shell script on h as if the cluster daemon ran it for group, in a process
// group of its own so the test can kill the script with everything it started.
func startGroup(t *testing.T, h *netlab.Host, group, script string) *netlab.Proc {
	t.Helper()
	cmd := h.Command("sh", "-c", script)
	if group != "" {
		cmd.Env = env("CLP_GROUPNAME=" + group)
	} else {
		cmd.Env = env()
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return h.StartCmd(t, cmd)
}

func killGroup(t *testing.T, p *netlab.Proc) {
	t.Helper()
	if err := syscall.Kill(-p.Pid(), syscall.SIGKILL); err != nil {
		t.Fatalf("killing process group %d: %v", p.Pid(), err)
	}
	<-p.Done()
}

// procState returns the state letter of pid ("" when it is gone).
func procState(pid int) string {
	st, err := procwatch.Stat("/proc", pid)
	if err != nil {
		return ""
	}
	return string(st.State)
}

// TestSampler: the sampler places each group's processes on their hosts, sees an overlap while
// two hosts run a group and its end, follows a daemon that double-forked away from its script,
// keeps groups apart, and ignores zombies and processes outside the lab.
func TestSampler(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, "server1", "server2", "client")
	s1, s2, client := lab.Host("server1"), lab.Host("server2"), lab.Host("client")
	s := lab.StartSampler(t, 10*time.Millisecond)
	hostsNow := func(g string) []string { return s.HostsAt(g, time.Now()) }
	is := func(g string, want ...string) func() bool {
		return func() bool { return slices.Equal(hostsNow(g), want) }
	}

	// A process of g1 outside the lab must not count.
	outside := exec.Command("sleep", "1000")
	outside.Env = env("CLP_GROUPNAME=g1")
	must(t, outside.Start())
	defer func() { _ = outside.Process.Kill(); _ = outside.Wait() }()

	p1 := startGroup(t, s1, "g1", "sleep 1000 & sleep 1000")
	waitFor(t, 5*time.Second, "g1 on server1", is("g1", "server1"))
	beforeOverlap := time.Now()
	startGroup(t, s2, "g1", "sleep 1000 & sleep 1000")
	waitFor(t, 5*time.Second, "g1 on both servers", is("g1", "server1", "server2"))
	time.Sleep(100 * time.Millisecond)
	killed := time.Now()
	killGroup(t, p1)
	waitFor(t, 5*time.Second, "g1 on server2 alone", is("g1", "server2"))
	afterOverlap := time.Now()

	// A daemon that double-forked away from its script, into a session of its own.
	daemon := startGroup(t, s1, "g2", "setsid sleep 1000 </dev/null >/dev/null 2>&1 & exit 0")
	<-daemon.Done()
	exited := time.Now()
	waitFor(t, 5*time.Second, "the double-forked g2 daemon on server1", func() bool {
		_, ok := s.FirstSeen("g2", "server1", exited)
		return ok
	})

	// Another group on server2 stays apart from g1.
	startGroup(t, s2, "g3", "exec sleep 1000")
	waitFor(t, 5*time.Second, "g3 on server2", is("g3", "server2"))

	// A child of group gz becomes a zombie: its parent (no group) exec'd a program that never
	// reaps it.
	z := startGroup(t, client, "", "CLP_GROUPNAME=gz sleep 0.3 & exec sleep 1000")
	waitFor(t, 5*time.Second, "gz on client", is("gz", "client"))
	var zombie int
	waitFor(t, 5*time.Second, "gz's process to become a zombie", func() bool {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(z.Pid()) + "/task/" + strconv.Itoa(z.Pid()) + "/children")
		f := strings.Fields(string(b))
		if len(f) == 1 {
			zombie, _ = strconv.Atoi(f[0])
		}
		return zombie != 0 && procState(zombie) == "Z"
	})
	becameZombie := time.Now()
	waitFor(t, 5*time.Second, "the sampler to drop the zombie", func() bool { return len(hostsNow("gz")) == 0 })
	time.Sleep(50 * time.Millisecond)
	if procState(zombie) != "Z" {
		t.Fatalf("pid %d is no longer a zombie: the check proves nothing", zombie)
	}
	if h := s.HostsAt("gz", time.Now()); len(h) != 0 {
		t.Fatalf("the zombie of gz counts on %v", h)
	}
	if last, ok := s.LastSeen("gz", "client", time.Now()); !ok || last.After(becameZombie) {
		t.Fatalf("gz last seen on client at %v (%t), after it became a zombie at %v", last, ok, becameZombie)
	}

	s.Stop()
	ov := s.Overlaps("g1")
	if len(ov) != 1 {
		t.Fatalf("g1 overlaps: %+v, want one", ov)
	}
	o := ov[0]
	if o.Start.Before(beforeOverlap) || o.End.Before(killed) || o.End.After(afterOverlap) ||
		!slices.Equal(o.Hosts, []string{"server1", "server2"}) {
		t.Fatalf("g1 overlap %v–%v on %v; want it within %v–%v, ending after the kill at %v",
			o.Start, o.End, o.Hosts, beforeOverlap, afterOverlap, killed)
	}
	if got := s.Final("g1"); !slices.Equal(got, []string{"server2"}) {
		t.Fatalf("g1 at the last scan: %v, want [server2]", got)
	}
	if got := s.Final("g2"); !slices.Equal(got, []string{"server1"}) {
		t.Fatalf("g2 at the last scan: %v, want [server1]", got)
	}
	if got := s.Final("g3"); !slices.Equal(got, []string{"server2"}) {
		t.Fatalf("g3 at the last scan: %v, want [server2]", got)
	}
	if got := s.Overlaps("g2"); len(got) != 0 {
		t.Fatalf("g2 overlaps: %+v", got)
	}
	if got, want := s.Groups(), []string{"g1", "g2", "g3", "gz"}; !slices.Equal(got, want) {
		t.Fatalf("groups seen: %v, want %v", got, want)
	}
	first, ok := s.FirstSeen("g1", "server2", beforeOverlap)
	if !ok || first != o.Start {
		t.Fatalf("g1 first seen on server2 at %v (%t), want the overlap's start %v", first, ok, o.Start)
	}
	last, ok := s.LastSeen("g1", "server1", time.Now())
	if !ok || !last.Before(o.End) || last.Before(o.Start) {
		t.Fatalf("g1 last seen on server1 at %v (%t); killed at %v, overlap ended %v", last, ok, killed, o.End)
	}
	st := s.Stats()
	t.Logf("overlap %s (%s from kill to end); %d scans, mean scan %s (CPU %s), max %s, max gap %s, %d lab processes at most",
		o.End.Sub(o.Start).Round(time.Millisecond), o.End.Sub(killed).Round(time.Millisecond),
		st.Scans, st.Mean.Round(time.Microsecond), st.MeanCPU.Round(time.Microsecond), st.Max.Round(time.Microsecond),
		st.MaxGap.Round(time.Microsecond), st.MaxLabProcs)
}

// TestSamplerScanCost reports what a scan costs with a few hundred processes in the lab, on top
// of the machine's own. It does not run in parallel with the package's other tests, whose processes and
// CPU use would be part of the figure.
func TestSamplerScanCost(t *testing.T) {
	const n = 300
	lab := netlab.New(t, "server1", "server2")
	for i, h := range lab.Hosts() {
		startGroup(t, h, "load"+strconv.Itoa(i), "i=0; while [ $i -lt "+strconv.Itoa(n/2)+" ]; do sleep 1000 & i=$((i+1)); done; exec sleep 1000")
	}
	procs := func() int {
		d, _ := os.ReadDir("/proc")
		c := 0
		for _, e := range d {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				c++
			}
		}
		return c
	}
	s := lab.StartSampler(t, 10*time.Millisecond)
	waitFor(t, 20*time.Second, "the load processes", func() bool { return s.Stats().MaxLabProcs >= n+2 })
	s.Stop()
	warm := lab.StartSampler(t, 10*time.Millisecond)
	time.Sleep(time.Second)
	warm.Stop()
	st := warm.Stats()
	t.Logf("%d processes on the machine, %d in the lab: %d scans in 1s, mean scan %s (CPU %s), max %s, max gap %s",
		procs(), st.MaxLabProcs, st.Scans, st.Mean.Round(time.Microsecond), st.MeanCPU.Round(time.Microsecond),
		st.Max.Round(time.Microsecond), st.MaxGap.Round(time.Microsecond))
	// Reported, not asserted: on a machine busy with other test binaries a scan takes several
	// times longer, and BenchmarkScan is the measure.
	if st.Scans == 0 || st.MaxLabProcs < n {
		t.Errorf("the sampler saw %d lab processes in %d scans, want %d", st.MaxLabProcs, st.Scans, n)
	}
	if got := warm.Final("load0"); !slices.Equal(got, []string{"server1"}) {
		t.Errorf("load0 at the last scan: %v", got)
	}
}
