package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/clustertest"
)

var recoveryGroups = group("async1", "auto_start = false") +
	execResource("daemon1", "scripts/daemon1", `start_mode = "async"`) +
	group("slow1", "auto_start = false") +
	execResource("slowstart", "scripts/slowstart")

func recoveryCluster(t *testing.T) (*clustertest.Cluster, string) {
	s := setup(t)
	dir := t.TempDir()
	dumpScript(t, dir, "scripts/daemon1/start.sh", "daemon1-start", "exec sleep 600")
	dumpScript(t, dir, "scripts/daemon1/stop.sh", "daemon1-stop", "exit 0")
	// The synchronous start takes until a file appears, so the test decides when it ends.
	dumpScript(t, dir, "scripts/slowstart/start.sh", "slow-start", `while [ ! -e "`+dir+`/release" ]; do sleep 0.05; done; exit 0`)
	dumpScript(t, dir, "scripts/slowstart/stop.sh", "slow-stop", "exit 0")
	c := clustertest.New(t, s.bin, dir, recoveryGroups)
	c.Start(t)
	return c, dir
}

// resourceLine returns the line of resource name in plain clpstat.
func resourceLine(t *testing.T, c *clustertest.Cluster, name string) string {
	t.Helper()
	return clpstatLine(t, c, "      ", name)
}

// clpstatLine returns the line of plain clpstat that names name after indent.
func clpstatLine(t *testing.T, c *clustertest.Cluster, indent, name string) string {
	t.Helper()
	for _, l := range strings.Split(c.MustRun(t, "clpstat"), "\n") {
		if strings.HasPrefix(l, indent+name+" ") {
			return l
		}
	}
	t.Fatalf("clpstat has no line for %s", name)
	return ""
}

// startAsync starts the group async1 and returns the pid of daemon1's asynchronous start
// script once it has dumped its environment.
func startAsync(t *testing.T, c *clustertest.Cluster, dir string) int {
	t.Helper()
	c.MustRun(t, "clpgrp", "-s", "async1")
	clustertest.WaitFor(t, 5*time.Second, "the start dump", func() bool { return len(dumps(t, dir, "daemon1-start")) == 1 })
	pid, _ := strconv.Atoi(selfOf(dumps(t, dir, "daemon1-start")[0]))
	return pid
}

// stoppedOnce checks that daemon1's stop.sh ran once, told the pid of its start script.
func stoppedOnce(t *testing.T, dir string, pid int) {
	t.Helper()
	stops := dumps(t, dir, "daemon1-stop")
	if len(stops) != 1 || !strings.Contains(stops[0], "CLP_PID="+strconv.Itoa(pid)+"\n") {
		t.Fatalf("stop dumps: %q", stops)
	}
}

// A running asynchronous script survives clpd's SIGKILL and is adopted by the next clpd: shown
// Online with the same pid, never started a second time, and stopped with its CLP_PID.
func TestKillAdoptsRunningScript(t *testing.T) {
	c, dir := recoveryCluster(t)
	pid := startAsync(t, c, dir)

	c.Kill(t)
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the service died with clpd: %v", err)
	}
	c.Start(t)

	if got, want := resourceLine(t, c, "daemon1"), "      daemon1        : Online           "; got != want {
		t.Fatalf("after restart: %q, want %q", got, want)
	}
	if n := len(dumps(t, dir, "daemon1-start")); n != 1 {
		t.Fatalf("start.sh ran %d times across the restart, want 1", n)
	}
	if _, se, code := c.Run(t, "clpgrp", "-s", "async1"); code != 1 || se != "The group has already been started on the local server.\n" {
		t.Fatalf("clpgrp -s on the adopted group: exit %d, %q", code, se)
	}
	c.MustRun(t, "clpgrp", "-t", "async1")
	stoppedOnce(t, dir, pid)
	clustertest.WaitFor(t, 5*time.Second, "the adopted service to be stopped", func() bool { return clustertest.Gone(pid) })
}

// A script that died while clpd was down is not shown Online after the restart.
func TestKillNoGhostOnline(t *testing.T) {
	c, dir := recoveryCluster(t)
	pid := startAsync(t, c, dir)

	c.Kill(t)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.Start(t)

	clustertest.WaitFor(t, 10*time.Second, "the dead resource to be reported", func() bool {
		return resourceLine(t, c, "daemon1") == "      daemon1        : Online Failure   "
	})
	st := c.MustRun(t, "clpstat")
	if !strings.Contains(st, "    async1 ..........: Online Failure   \n") {
		t.Fatalf("group state after restart:\n%s", st)
	}
	if n := len(dumps(t, dir, "daemon1-start")); n != 1 {
		t.Fatalf("start.sh ran %d times, want 1: a dead service is not restarted behind the operator's back", n)
	}
	// Its stop script cleaned up, with the pid that died.
	stoppedOnce(t, dir, pid)
	alerts, _ := os.ReadFile(c.AlertLog)
	if !strings.Contains(string(alerts), " rc 32 ERR Resource daemon1 has failed.(asynchronous start script ended while clpd was not running)\n") {
		t.Fatalf("alert log lacks the failure:\n%s", alerts)
	}
}

// A synchronous start still running when clpd was killed is waited for by the next clpd, not run
// again; meanwhile the group is Online Pending.
func TestKillDuringSynchronousStart(t *testing.T) {
	c, dir := recoveryCluster(t)
	done := make(chan string, 1)
	go func() {
		so, se, _ := c.Run(t, "clpgrp", "-s", "slow1")
		done <- so + se
	}()
	clustertest.WaitFor(t, 5*time.Second, "the slow start to begin", func() bool { return len(dumps(t, dir, "slow-start")) == 1 })
	c.Kill(t)
	<-done
	c.Start(t)

	if got := resourceLine(t, c, "slowstart"); got != "      slowstart      : Online Pending   " {
		t.Fatalf("while the adopted start runs: %q", got)
	}
	touch(t, filepath.Join(dir, "release"))
	clustertest.WaitFor(t, 5*time.Second, "the adopted start to finish", func() bool {
		return resourceLine(t, c, "slowstart") == "      slowstart      : Online           "
	})
	if n := len(dumps(t, dir, "slow-start")); n != 1 {
		t.Fatalf("start.sh ran %d times, want 1", n)
	}
	if cur := c.MustRun(t, "clpgrp", "-n", "slow1"); cur != "server1\n" {
		t.Fatalf("clpgrp -n: %q", cur)
	}
}
