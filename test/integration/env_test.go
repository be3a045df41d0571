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
	"clpkit/pkg/resource"
)

const envGroups = `
[[group]]
name = "failover1"
servers = ["server1"]
auto_start = false

[[group.resource]]
name = "exec1"
type = "exec"
start = "scripts/failover1/exec1/start.sh"
stop = "scripts/failover1/exec1/stop.sh"

[[group]]
name = "failing"
auto_start = false

[[group.resource]]
name = "base"
type = "exec"
start = "scripts/failing/base/start.sh"
stop = "scripts/failing/base/stop.sh"

[[group.resource]]
name = "bad"
type = "exec"
depends = ["base"]
start = "scripts/failing/bad/start.sh"
stop = "scripts/failing/bad/stop.sh"
activation_retry = 2

[[group]]
name = "async1"
auto_start = false

[[group.resource]]
name = "daemon1"
type = "exec"
start = "scripts/async1/daemon1/start.sh"
stop = "scripts/async1/daemon1/stop.sh"
start_mode = "async"
`

// TestScriptEnvironment dumps the environment every script received for a group start, a group
// stop, a refused move, an activation failure with retries, and an asynchronous start whose stop
// gets CLP_PID.
func TestScriptEnvironment(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	dumpScript(t, dir, "scripts/failover1/exec1/start.sh", "exec1-start", "exit 0")
	dumpScript(t, dir, "scripts/failover1/exec1/stop.sh", "exec1-stop", "exit 0")
	dumpScript(t, dir, "scripts/failing/base/start.sh", "base-start", "exit 0")
	dumpScript(t, dir, "scripts/failing/base/stop.sh", "base-stop", "exit 0")
	dumpScript(t, dir, "scripts/failing/bad/start.sh", "bad-start", "echo 'cannot start' >&2; exit 3")
	dumpScript(t, dir, "scripts/failing/bad/stop.sh", "bad-stop", "exit 0")
	// The asynchronous start script becomes the long-running service itself.
	dumpScript(t, dir, "scripts/async1/daemon1/start.sh", "daemon1-start", "exec sleep 600")
	dumpScript(t, dir, "scripts/async1/daemon1/stop.sh", "daemon1-stop", "exit 0")
	c := clustertest.New(t, s.bin, dir, envGroups)
	c.Start(t)

	base := map[string]string{"CLP_DISK": "SUCCESS", "ARMS_DISK": "SUCCESS", "CLP_PRIORITY": "1", "CLP_SERVER": "HOME", "ARMS_SERVER": "HOME"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	execDir := filepath.Join(dir, "scripts/failover1/exec1")

	t.Run("group start", func(t *testing.T) {
		if out := c.MustRun(t, "clpgrp", "-s", "failover1"); out != "Command succeeded.\n" {
			t.Fatalf("clpgrp -s printed %q", out)
		}
		d := dumps(t, dir, "exec1-start")
		if len(d) != 1 {
			t.Fatalf("start.sh ran %d times, want 1", len(d))
		}
		want := envLines(c, execDir, with(map[string]string{
			"CLP_EVENT": "START", "ARMS_EVENT": "START", "CLP_GROUPNAME": "failover1", "ARMS_GROUPNAME": "failover1",
			"CLP_RESOURCENAME": "exec1",
		}), selfOf(d[0]))
		if d[0] != want {
			t.Errorf("start.sh environment:\n%s\nwant:\n%s", d[0], want)
		}
	})

	t.Run("group move on a one-server cluster is refused", func(t *testing.T) {
		so, se, code := c.Run(t, "clpgrp", "-m", "failover1")
		if code != 1 || so != "" || se != "No server to move group failover1 to: no other server of its failover policy is Online.\n" {
			t.Fatalf("clpgrp -m: exit %d, stdout %q, stderr %q", code, so, se)
		}
		if d := dumps(t, dir, "exec1-stop"); len(d) != 0 {
			t.Fatalf("a refused move ran stop.sh:\n%s", d[0])
		}
		if cur := c.MustRun(t, "clpgrp", "-n", "failover1"); cur != "server1\n" {
			t.Fatalf("after the refused move clpgrp -n printed %q", cur)
		}
	})

	t.Run("group stop", func(t *testing.T) {
		c.MustRun(t, "clpgrp", "-t", "failover1")
		d := dumps(t, dir, "exec1-stop")
		if len(d) != 1 {
			t.Fatalf("stop.sh ran %d times, want 1", len(d))
		}
		want := envLines(c, execDir, with(map[string]string{
			"CLP_EVENT": "START", "ARMS_EVENT": "START", "CLP_GROUPNAME": "failover1", "ARMS_GROUPNAME": "failover1",
			"CLP_RESOURCENAME": "exec1", "CLP_FACTOR": "GROUPSTOP", "ARMS_FACTOR": "GROUPSTOP",
		}), selfOf(d[0]))
		if d[0] != want {
			t.Errorf("stop.sh environment:\n%s\nwant:\n%s", d[0], want)
		}
	})

	t.Run("activation failure with retry", func(t *testing.T) {
		so, se, code := c.Run(t, "clpgrp", "-s", "failing")
		if code != 1 || so != "" || se != "Failed to start one or more resources. Check the status of group failing.\n" {
			t.Fatalf("clpgrp -s failing: exit %d, stdout %q, stderr %q", code, so, se)
		}
		badDir := filepath.Join(dir, "scripts/failing/bad")
		d := dumps(t, dir, "bad-start")
		if len(d) != 3 {
			t.Fatalf("the failing start.sh ran %d times, want 1 + activation_retry 2 = 3", len(d))
		}
		for i, got := range d {
			want := envLines(c, badDir, with(map[string]string{
				"CLP_EVENT": "START", "ARMS_EVENT": "START", "CLP_GROUPNAME": "failing", "ARMS_GROUPNAME": "failing",
				"CLP_RESOURCENAME": "bad",
			}), selfOf(got))
			if got != want {
				t.Errorf("attempt %d environment:\n%s\nwant:\n%s", i+1, got, want)
			}
		}
		// The final action (stop the group) stopped what had started, with the start's event.
		bs := dumps(t, dir, "base-stop")
		if len(bs) != 1 {
			t.Fatalf("base stop.sh ran %d times, want 1", len(bs))
		}
		want := envLines(c, filepath.Join(dir, "scripts/failing/base"), with(map[string]string{
			"CLP_EVENT": "START", "ARMS_EVENT": "START", "CLP_GROUPNAME": "failing", "ARMS_GROUPNAME": "failing",
			"CLP_RESOURCENAME": "base", "CLP_FACTOR": "GROUPSTOP", "ARMS_FACTOR": "GROUPSTOP",
		}), selfOf(bs[0]))
		if bs[0] != want {
			t.Errorf("base stop.sh environment:\n%s\nwant:\n%s", bs[0], want)
		}
		if n := len(dumps(t, dir, "bad-stop")); n != 0 {
			t.Errorf("the stop.sh of the resource that never started ran %d times", n)
		}
		st := c.MustRun(t, "clpstat")
		for _, line := range []string{
			"    failing .........: Online Failure   \n",
			"      current        : server1\n",
			"      base           : Offline          \n",
			"      bad            : Online Failure   \n",
		} {
			if !strings.Contains(st, line) {
				t.Errorf("clpstat lacks %q:\n%s", line, st)
			}
		}
		log, _ := os.ReadFile(filepath.Join(c.LogDir, "failing.bad.log"))
		if resource.ScriptOutput(string(log)) != "cannot start\ncannot start\ncannot start\n" || strings.Count(string(log), " start.sh ended: pid ") != 3 {
			t.Errorf("the resource log holds %q", log)
		}
		// Stopping the failed group clears the failure.
		c.MustRun(t, "clpgrp", "-t", "failing")
		if st := c.MustRun(t, "clpstat"); !strings.Contains(st, "    failing .........: Offline          \n      current        : None\n") {
			t.Errorf("after clpgrp -t the failed group is not Offline:\n%s", st)
		}
	})

	t.Run("async start and CLP_PID", func(t *testing.T) {
		c.MustRun(t, "clpgrp", "-s", "async1")
		clustertest.WaitFor(t, 5*time.Second, "the async start script's dump", func() bool { return len(dumps(t, dir, "daemon1-start")) == 1 })
		start := dumps(t, dir, "daemon1-start")[0]
		pid, _ := strconv.Atoi(selfOf(start))
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("the async start script (pid %d) is not running: %v", pid, err)
		}
		c.MustRun(t, "clpgrp", "-t", "async1")
		d := dumps(t, dir, "daemon1-stop")
		if len(d) != 1 {
			t.Fatalf("stop.sh ran %d times, want 1", len(d))
		}
		want := envLines(c, filepath.Join(dir, "scripts/async1/daemon1"), with(map[string]string{
			"CLP_EVENT": "START", "ARMS_EVENT": "START", "CLP_GROUPNAME": "async1", "ARMS_GROUPNAME": "async1",
			"CLP_RESOURCENAME": "daemon1", "CLP_FACTOR": "GROUPSTOP", "ARMS_FACTOR": "GROUPSTOP",
			"CLP_PID": strconv.Itoa(pid),
		}), selfOf(d[0]))
		if d[0] != want {
			t.Errorf("async stop.sh environment:\n%s\nwant:\n%s", d[0], want)
		}
		clustertest.WaitFor(t, 5*time.Second, "the async start script to be gone", func() bool { return clustertest.Gone(pid) })
	})
}
