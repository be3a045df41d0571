package ladder

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/test/trials"
)

const appMon = "pidw_app"

// TestLadderAcrossServers climbs a pid monitor's whole ladder (restart 1, failover 1, final
// action stop-group) on both servers: each kill of the watched process is one error, and each
// error takes the next step still open on the server where it happens.
//
//	server A: kill → restart on A          A: restart 1/1
//	server A: kill → failover to B         A: failover 1/1
//	server B: kill → restart on B          B: restart 1/1
//	server B: kill → failover back to A    B: failover 1/1
//	server A: kill → final action          A: both spent: the group stops
func TestLadderAcrossServers(t *testing.T) {
	c := trials.New(t, build(t), trials.Options{
		Resources: trials.AsyncExec("app"),
		Monitors: `
[[monitor]]
name = "` + appMon + `"
type = "pid"
target = "app"
restart_threshold = 1
failover_threshold = 1
final_action = "stop-group"
recovery_script = "{{dir}}/scripts/preaction.sh"
`,
		Scripts: map[string]string{
			"scripts/app/start.sh": dumpScript("start") + `echo $$ > "$LAB_RUN/app.pid"
exec sleep 100000
`,
			"scripts/app/stop.sh": dumpScript("stop") + `rm -f "$LAB_RUN/app.pid"
exit 0
`,
			"scripts/preaction.sh": `echo "$LAB_HOST $CLP_ACTION $CLP_RECOVERYCOUNT $CLP_RESTARTCOUNT $CLP_FAILOVERCOUNT" >> {{dir}}/preaction.log
exit 0
`,
		},
	})
	a := c.WaitSteady(60 * time.Second)
	b := c.Other(a)
	t.Logf("failover1 runs on %s", a.Name)
	var want []string // preaction.log, line by line
	wantRuns := map[string][]string{a.Name: {"start START"}, b.Name: nil}

	// checkStep checks what every step leaves: the scripts' environment on both servers, the
	// recovery script's lines, and that the group never ran on two hosts.
	checkStep := func(step string) {
		t.Helper()
		for _, s := range []*trials.Server{a, b} {
			got := summary(scriptRuns(c, s.Name))
			if !slices.Equal(got, wantRuns[s.Name]) {
				t.Errorf("%s: app's scripts on %s ran as %q, want %q", step, s.Name, got, wantRuns[s.Name])
			}
		}
		pre, _ := os.ReadFile(filepath.Join(c.Dir(), "preaction.log"))
		if got := strings.Split(strings.TrimSuffix(string(pre), "\n"), "\n"); !slices.Equal(got, want) {
			t.Errorf("%s: preaction.sh wrote %q, want %q (host, CLP_ACTION, CLP_RECOVERYCOUNT, CLP_RESTARTCOUNT, CLP_FAILOVERCOUNT)", step, got, want)
		}
		checkNoOverlap(t, c)
		if t.Failed() {
			t.Fatalf("after %s:\n%s", step, dump(c))
		}
	}

	// checkEnv checks the variables of host's last run of kind (start or stop).
	checkEnv := func(step, host, kind string, want map[string]string) {
		t.Helper()
		rs := scriptRuns(c, host)
		for i := len(rs) - 1; i >= 0; i-- {
			if rs[i].Kind != kind {
				continue
			}
			for k, v := range want {
				if rs[i].Env[k] != v {
					t.Errorf("%s: app's %s.sh on %s saw %s=%q, want %q", step, kind, host, k, rs[i].Env[k], v)
				}
			}
			return
		}
		t.Errorf("%s: app's %s.sh never ran on %s", step, kind, host)
	}
	pid := func(p int) string { return strconv.Itoa(p) }

	// restartOn kills the process that app's last start left on s (old before it), whose restart
	// step is still open: the group restarts on s, and nowhere else. started is the reason of the
	// run that the restart stops.
	restartOn := func(s, other *trials.Server, old int, started string) int {
		t.Helper()
		t0 := time.Now()
		old = killApp(t, c, s, old)
		waitRestarted(t, c, s, old, len(wantRuns[s.Name])+2)
		if at, ok := c.Sampler.FirstSeen(trials.Group, other.Name, t0); ok {
			t.Errorf("the restart on %s ran the group on %s at %s", s.Name, other.Name, at.Format(time.StampMilli))
		}
		wantRuns[s.Name] = append(wantRuns[s.Name], "stop "+started+" RESOURCERESTART", "start START")
		want = append(want, s.Name+" RESTART 0 1 0")
		return old
	}

	// failOver kills app's process on s, whose restart step is spent: the group fails over to to.
	failOver := func(s, to *trials.Server, old int) int {
		t.Helper()
		old = killApp(t, c, s, old)
		failedOver(t, c, to)
		wantRuns[s.Name] = append(wantRuns[s.Name], "stop START GROUPFAILOVER")
		wantRuns[to.Name] = append(wantRuns[to.Name], "start FAILOVER")
		want = append(want, s.Name+" FAILOVER 0 1 1")
		return old
	}

	// 1. On A, the first error restarts the group there.
	old := restartOn(a, b, 0, "START")
	checkEnv("the first kill on "+a.Name, a.Name, "stop", map[string]string{"CLP_PID": pid(old), "CLP_SERVER": where(a)})
	checkCounters(t, c, a, appMon, wantCounters(appMon, "Normal", 1, 1, 0, 1, 0, "stop-group"))
	checkStep("the first kill on " + a.Name)

	// 2. On A, the second error fails the group over to B.
	old = failOver(a, b, old)
	checkEnv("the second kill on "+a.Name, a.Name, "stop", map[string]string{"CLP_PID": pid(old)})
	checkEnv("the second kill on "+a.Name, b.Name, "start", map[string]string{"CLP_SERVER_PREV": a.Name, "CLP_GROUPNAME": trials.Group})
	checkCounters(t, c, a, appMon, wantCounters(appMon, "Normal", 1, 1, 1, 1, 0, "stop-group"))
	checkCounters(t, c, b, appMon, wantCounters(appMon, "Normal", 0, 1, 0, 1, 0, "stop-group"))
	checkStep("the second kill on " + a.Name)

	// 3. On B, whose counters are its own, the first error restarts the group there.
	old = restartOn(b, a, old, "FAILOVER")
	checkEnv("the first kill on "+b.Name, b.Name, "stop", map[string]string{"CLP_PID": pid(old)})
	checkCounters(t, c, b, appMon, wantCounters(appMon, "Normal", 1, 1, 0, 1, 0, "stop-group"))
	checkStep("the first kill on " + b.Name)

	// 4. On B, the second error fails the group back to A.
	old = failOver(b, a, old)
	checkEnv("the second kill on "+b.Name, b.Name, "stop", map[string]string{"CLP_PID": pid(old)})
	checkEnv("the second kill on "+b.Name, a.Name, "start", map[string]string{"CLP_SERVER_PREV": b.Name})
	checkCounters(t, c, b, appMon, wantCounters(appMon, "Normal", 1, 1, 1, 1, 0, "stop-group"))
	checkCounters(t, c, a, appMon, wantCounters(appMon, "Normal", 1, 1, 1, 1, 0, "stop-group"))
	checkStep("the second kill on " + b.Name)

	// 5. On A, restart and failover are spent: the next error takes the final action, and the
	// group stops (nowhere else: B does not take it).
	t2 := time.Now()
	old = killApp(t, c, a, old)
	waitFor(t, c, 30*time.Second, "failover1 stopped by the final action", func() bool {
		return groupState(a, trials.Group) == "Offline None" && groupState(b, trials.Group) == "Offline None" &&
			len(c.Sampler.Final(trials.Group)) == 0 && len(scriptRuns(c, a.Name)) == len(wantRuns[a.Name])+1
	})
	if at, ok := c.Sampler.FirstSeen(trials.Group, b.Name, t2); ok {
		t.Errorf("after the final action on %s, the group ran on %s at %s", a.Name, b.Name, at.Format(time.StampMilli))
	}
	wantRuns[a.Name] = append(wantRuns[a.Name], "stop FAILOVER GROUPSTOP")
	want = append(want, a.Name+" FINALACTION 0 1 1")
	checkEnv("the third kill on "+a.Name, a.Name, "stop", map[string]string{"CLP_PID": pid(old)})
	waitCounters(t, c, a, appMon, wantCounters(appMon, "Offline", 1, 1, 1, 1, 1, "stop-group"))
	checkCounters(t, c, b, appMon, wantCounters(appMon, "Offline", 1, 1, 1, 1, 0, "stop-group"))
	for _, text := range []string{
		" rm 13 WARN Recovery target failover1 will be restarted because an error was detected in monitoring " + appMon + ".",
		" rm 14 WARN Recovery target failover1 fails over because an error was detected in monitoring " + appMon + ".",
		" rm 12 ERR Recovery target failover1 will be stopped because an error was detected in monitoring " + appMon + ".",
	} {
		if !strings.Contains(a.Alerts(), text) {
			t.Errorf("%s's alert log lacks %q", a.Name, text)
		}
	}
	if strings.Contains(b.Alerts(), " rm 12 ") {
		t.Errorf("%s took a final action too", b.Name)
	}
	checkStep("the third kill on " + a.Name)

	// clpmonctrl -c clears A's counters, and only A's.
	if out, se, code := a.Run("clpmonctrl", "-c"); code != 0 || out != "Command succeeded.\n" {
		t.Fatalf("clpmonctrl -c on %s: exit %d: %s%s", a.Name, code, out, se)
	}
	checkCounters(t, c, a, appMon, wantCounters(appMon, "Offline", 0, 1, 0, 1, 0, "stop-group"))
	checkCounters(t, c, b, appMon, wantCounters(appMon, "Offline", 1, 1, 1, 1, 0, "stop-group"))
	pre, _ := os.ReadFile(filepath.Join(c.Dir(), "preaction.log"))
	t.Logf("preaction.sh wrote:\n%s", pre)
	for _, s := range []*trials.Server{a, b} {
		t.Logf("app's scripts on %s: %q", s.Name, summary(scriptRuns(c, s.Name)))

	}
}

// where is CLP_SERVER on s: HOME on the group's first server, OTHER on the second.
func where(s *trials.Server) string {
	if s.Name == "server1" {
		return "HOME"
	}
	return "OTHER"
}

// killApp waits until the app's process runs on s (another than old, the one killed last) and
// the monitor watches it there, then kills it. It returns the pid killed.
func killApp(t *testing.T, c *trials.Cluster, s *trials.Server, old int) int {
	t.Helper()
	pf := filepath.Join(s.Dir, "run", "app.pid")
	var pid int
	waitFor(t, c, 30*time.Second, "app's process running on "+s.Name+" and watched by "+appMon, func() bool {
		pid = pidFile(pf)
		return pid != 0 && pid != old && inHost(s.Host, pid, "sleep 100000") && monitorState(s, appMon, s.Name) == "Online"
	})
	kill(t, pid)
	return pid
}

// waitRestarted waits for the restart on s: the group back Online there, its app script run runs
// more, a new app process watched again.
func waitRestarted(t *testing.T, c *trials.Cluster, s *trials.Server, old, runs int) {
	t.Helper()
	waitFor(t, c, 30*time.Second, "the restart of failover1 on "+s.Name, func() bool {
		pid := pidFile(filepath.Join(s.Dir, "run", "app.pid"))
		return len(scriptRuns(c, s.Name)) >= runs && pid != 0 && pid != old && groupState(s, trials.Group) == "Online "+s.Name &&
			monitorState(s, appMon, s.Name) == "Online"
	})
	if got := c.Sampler.Final(trials.Group); !slices.Equal(got, []string{s.Name}) {
		t.Errorf("after the restart the sampler sees failover1 on %v, want [%s]", got, s.Name)
	}
}

// failedOver waits until the group runs on to, as clpstat, the sampler and the client see it,
// with its monitor watching it there.
func failedOver(t *testing.T, c *trials.Cluster, to *trials.Server) {
	t.Helper()
	if got := c.WaitSteady(30 * time.Second); got != to {
		t.Fatalf("failover1 runs on %s, want %s\n%s", got.Name, to.Name, dump(c))
	}
	if got := clientSees(c); !slices.Equal(got, []string{to.Name}) {
		t.Errorf("the client reached the service on %v, want [%s]", got, to.Name)
	}
	waitFor(t, c, 15*time.Second, appMon+" watching app on "+to.Name, func() bool {
		return monitorState(to, appMon, to.Name) == "Online"
	})
}
