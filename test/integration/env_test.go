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

var envGroups = group("failover1", `servers = ["server1"]`, "auto_start = false") +
	execResource("exec1", "scripts/failover1/exec1") +
	group("failing", "auto_start = false") +
	execResource("base", "scripts/failing/base") +
	execResource("bad", "scripts/failing/bad", `depends = ["base"]`, "activation_retry = 2") +
	group("async1", "auto_start = false") +
	execResource("daemon1", "scripts/async1/daemon1", `start_mode = "async"`)

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

	// started is what a script of resource res of group g gets for the group's start, and
	// stopped what its stop.sh then gets; extra are more variables, name then value.
	started := func(g, res string, extra ...string) map[string]string {
		m := map[string]string{"CLP_DISK": "SUCCESS", "ARMS_DISK": "SUCCESS", "CLP_PRIORITY": "1", "CLP_SERVER": "HOME", "ARMS_SERVER": "HOME",
			"CLP_EVENT": "START", "ARMS_EVENT": "START", "CLP_GROUPNAME": g, "ARMS_GROUPNAME": g, "CLP_RESOURCENAME": res}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	stopped := func(g, res string, extra ...string) map[string]string {
		return started(g, res, append([]string{"CLP_FACTOR", "GROUPSTOP", "ARMS_FACTOR", "GROUPSTOP"}, extra...)...)
	}
	// ranOnce checks that script, whose runs dump as name, ran once, in scripts (relative to
	// dir) with vars.
	ranOnce := func(t *testing.T, script, name, scripts string, vars map[string]string) {
		t.Helper()
		d := dumps(t, dir, name)
		if len(d) != 1 {
			t.Fatalf("%s ran %d times, want 1", script, len(d))
		}
		if want := envLines(c, filepath.Join(dir, scripts), vars, selfOf(d[0])); d[0] != want {
			t.Errorf("%s environment:\n%s\nwant:\n%s", script, d[0], want)
		}
	}

	t.Run("group start", func(t *testing.T) {
		if out := c.MustRun(t, "clpgrp", "-s", "failover1"); out != "Command succeeded.\n" {
			t.Fatalf("clpgrp -s printed %q", out)
		}
		ranOnce(t, "start.sh", "exec1-start", "scripts/failover1/exec1", started("failover1", "exec1"))
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
		ranOnce(t, "stop.sh", "exec1-stop", "scripts/failover1/exec1", stopped("failover1", "exec1"))
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
			want := envLines(c, badDir, started("failing", "bad"), selfOf(got))
			if got != want {
				t.Errorf("attempt %d environment:\n%s\nwant:\n%s", i+1, got, want)
			}
		}
		// The final action (stop the group) stopped what had started, with the start's event.
		ranOnce(t, "base stop.sh", "base-stop", "scripts/failing/base", stopped("failing", "base"))
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
		pid := startAsync(t, c, dir)
		if err := syscall.Kill(pid, 0); err != nil {
			t.Fatalf("the async start script (pid %d) is not running: %v", pid, err)
		}
		c.MustRun(t, "clpgrp", "-t", "async1")
		ranOnce(t, "async stop.sh", "daemon1-stop", "scripts/async1/daemon1", stopped("async1", "daemon1", "CLP_PID", strconv.Itoa(pid)))
		clustertest.WaitFor(t, 5*time.Second, "the async start script to be gone", func() bool { return clustertest.Gone(pid) })
	})
}
