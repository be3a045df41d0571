package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/clustertest"
)

// The monitors, tried as an operator would: real clpd, real processes killed, the text clpstat,
// clpmonctrl and the alert log show, and what the scripts were told.

// monitorGroups has a %s for the process monitor's command line.
var monitorGroups = group("failover1") + execResource("exec1", "scripts/exec1", `start_mode = "async"`) + `
[[monitor]]
name = "pidw1"
type = "pidw"
target = "exec1"
recovery_target = "failover1"
recovery_script = "scripts/preaction.sh"
restart_threshold = 1
failover_threshold = 0
final_action = "stop-group"

[[monitor]]
name = "genw1"
type = "genw"
script = "scripts/genw.sh"
interval = "200ms"
timeout = "2s"
retry = 0

[[monitor]]
name = "psw1"
type = "process"
process_name = "sleep"
cmdline = "%s"
timing = "active"
target = "exec1"
interval = "200ms"
start_wait = "500ms"
failover_threshold = 0

[[monitor]]
name = "genw2"
type = "genw"
mode = "async"
script = "scripts/genw-async.sh"
interval = "200ms"

[[monitor]]
name = "userw"
type = "userw"
interval = "100ms"
timeout = "600ms"
`

func monitorCluster(t *testing.T) (*clustertest.Cluster, string, string) {
	s := setup(t)
	dir := t.TempDir()
	// A unique argument lets the process monitor find this test's sleep and nothing else.
	mark := fmt.Sprintf("4%d%d", os.Getpid(), time.Now().UnixNano()%100000)
	dumpScript(t, dir, "scripts/exec1/start.sh", "exec1-start", "exec sleep "+mark)
	dumpScript(t, dir, "scripts/exec1/stop.sh", "exec1-stop", "exit 0")
	clustertest.Script(t, dir, "scripts/preaction.sh", `d=`+dir+`/dumps; mkdir -p "$d"
echo "$CLP_ACTION $CLP_MONITORNAME $CLP_RECOVERYCOUNT $CLP_RESTARTCOUNT $CLP_FAILOVERCOUNT $CLP_OSNAME" >> "$d/preaction"
env | grep '^CLPKIT_' | sort > "$d/preaction.env"
exit 0
`)
	genwScript(t, dir)
	clustertest.Script(t, dir, "scripts/genw-async.sh", `while [ ! -e "`+dir+`/genw2-fail" ]; do sleep 0.05; done
exit 1
`)
	c := clustertest.New(t, s.bin, dir, fmt.Sprintf(monitorGroups, mark))
	c.Start(t)
	return c, dir, mark
}

// genwScript writes scripts/genw.sh, a custom monitor's script that fails while dir/genw-fail
// exists.
func genwScript(t *testing.T, dir string) {
	t.Helper()
	clustertest.Script(t, dir, "scripts/genw.sh", `[ -e "`+dir+`/genw-fail" ] && exit 1
exit 0
`)
}

// rebootCluster writes, not yet started, a cluster whose group failover1 runs exec1 (its scripts
// dump their environment), with the given [[monitor]] tables, and whose [os] reboot command
// records its call in dir/rebooted; it returns the cluster and dir.
func rebootCluster(t *testing.T, monitors string) (*clustertest.Cluster, string) {
	s := setup(t)
	dir := t.TempDir()
	dumpScript(t, dir, "scripts/exec1/start.sh", "exec1-start", "exit 0")
	dumpScript(t, dir, "scripts/exec1/stop.sh", "exec1-stop", "exit 0")
	clustertest.Script(t, dir, "scripts/reboot.sh", `echo "reboot $*" > "`+dir+`/rebooted"
`)
	osTable := `
[os]
reboot = ["` + filepath.Join(dir, "scripts", "reboot.sh") + `", "-r", "now"]
`
	return clustertest.New(t, s.bin, dir, osTable+group("failover1")+execResource("exec1", "scripts/exec1")+monitors), dir
}

// monitorLine returns the <monitor> line of name in plain clpstat.
func monitorLine(t *testing.T, c *clustertest.Cluster, name string) string {
	t.Helper()
	return clpstatLine(t, c, "    ", name)
}

func waitMonitor(t *testing.T, c *clustertest.Cluster, name, state string) {
	t.Helper()
	want := fmt.Sprintf("    %-17s: %-17s", name, state)
	clustertest.WaitFor(t, 10*time.Second, name+" "+state, func() bool { return monitorLine(t, c, name) == want })
}

func startPID(t *testing.T, dir string, n int) int {
	t.Helper()
	var ds []string
	clustertest.WaitFor(t, 10*time.Second, fmt.Sprintf("start dump %d", n), func() bool {
		ds = dumps(t, dir, "exec1-start")
		return len(ds) >= n
	})
	pid, _ := strconv.Atoi(selfOf(ds[n-1]))
	return pid
}

// The demo's ladder on one server: kill the watched service → it restarts once (stop.sh saw
// RESOURCERESTART); kill it again → the final action stops the group; preaction.sh saw each step
// with its counters; clpmonctrl shows and clears them.
func TestPidMonitorRestartThenFinalAction(t *testing.T) {
	c, dir, _ := monitorCluster(t)
	waitMonitor(t, c, "pidw1", "Normal")
	pid := startPID(t, dir, 1)

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pid2 := startPID(t, dir, 2)
	if pid2 == pid {
		t.Fatal("the service was not restarted")
	}
	stop := dumps(t, dir, "exec1-stop")
	if len(stop) != 1 || !strings.Contains(stop[0], "CLP_FACTOR=RESOURCERESTART\n") {
		t.Fatalf("stop.sh dumps: %q", stop)
	}
	if !strings.Contains(dumps(t, dir, "exec1-start")[1], "CLP_EVENT=START\n") {
		t.Fatalf("the restart's start.sh: %s", dumps(t, dir, "exec1-start")[1])
	}
	waitMonitor(t, c, "pidw1", "Normal")
	out := c.MustRun(t, "clpmonctrl", "-v", "-m", "pidw1")
	want := "Monitor0 [pidw1 : Normal]\n" +
		"  -----------------------------------------------------------------\n" +
		"    RecoveryScriptCount : 0 / 0\n" +
		"    RestartCount        : 1 / 1\n" +
		"    FailoverCount       : 0 / 0\n" +
		"    FinalActionCount    : 0 / 1 (stop-group)\n" +
		strings.Repeat("=", 65) + "\n"
	if out != want {
		t.Fatalf("clpmonctrl -v:\n%s\nwant:\n%s", out, want)
	}

	if err := syscall.Kill(pid2, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 10*time.Second, "the group stopped by the final action", func() bool {
		return strings.Contains(c.MustRun(t, "clpstat"), "    failover1 .......: Offline          \n")
	})
	if stop := dumps(t, dir, "exec1-stop"); len(stop) != 2 || !strings.Contains(stop[1], "CLP_FACTOR=GROUPSTOP\n") {
		t.Fatalf("stop.sh dumps: %q", stop)
	}
	pre, _ := os.ReadFile(filepath.Join(dir, "dumps", "preaction"))
	if got, want := string(pre), "RESTART pidw1 0 1 0 Linux\nFINALACTION pidw1 0 1 0 Linux\n"; got != want {
		t.Fatalf("preaction.sh saw:\n%s\nwant:\n%s", got, want)
	}
	env, _ := os.ReadFile(filepath.Join(dir, "dumps", "preaction.env"))
	wantEnv := "CLPKIT_ALERT_LOG=" + c.AlertLog + "\nCLPKIT_SERVER=server1\nCLPKIT_SOCKET=" + c.Socket + "\n"
	if string(env) != wantEnv {
		t.Fatalf("preaction.sh's CLPKIT_* variables:\n%s\nwant:\n%s", env, wantEnv)
	}
	// The pid monitor stopped with its target; the counters say what happened, until cleared.
	if got := monitorLine(t, c, "pidw1"); got != "    pidw1            : Offline          " {
		t.Fatalf("pidw1 after the final action: %q", got)
	}
	if out := c.MustRun(t, "clpmonctrl", "-c", "-m", "pidw1"); out != "Command succeeded.\n" {
		t.Fatalf("clpmonctrl -c: %q", out)
	}
	if out := c.MustRun(t, "clpmonctrl", "-v", "-m", "pidw1"); !strings.Contains(out, "    RestartCount        : 0 / 1\n") || !strings.Contains(out, "    FinalActionCount    : 0 / 1 (stop-group)\n") {
		t.Fatalf("clpmonctrl -v after -c:\n%s", out)
	}
	alerts := readAlerts(t, c)
	for _, w := range []string{
		"rm 9 ERR Detected an error in monitoring pidw1.",
		"rm 13 WARN Recovery target failover1 will be restarted because an error was detected in monitoring pidw1.",
		"rm 12 ERR Recovery target failover1 will be stopped because an error was detected in monitoring pidw1.",
	} {
		if !strings.Contains(alerts, w) {
			t.Errorf("alert log lacks %q:\n%s", w, alerts)
		}
	}
}

// readAlerts returns the alert log as "module id text" lines.
func readAlerts(t *testing.T, c *clustertest.Cluster) string {
	t.Helper()
	b, err := os.ReadFile(c.AlertLog)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A synchronous custom monitor's script returning 1 is an error; returning 0 again is normal.
// clpstat -m shows it the way monstat.sh greps it.
func TestCustomMonitorSync(t *testing.T) {
	c, dir, _ := monitorCluster(t)
	waitMonitor(t, c, "genw1", "Normal")
	touch(t, filepath.Join(dir, "genw-fail"))
	waitMonitor(t, c, "genw1", "Error")
	m := c.MustRun(t, "clpstat", "-m")
	if !strings.Contains(m, "[genw1 : Error]") || !strings.Contains(m, "    server0 [o] : Error\n") {
		t.Fatalf("clpstat -m:\n%s", m)
	}
	if err := os.Remove(filepath.Join(dir, "genw-fail")); err != nil {
		t.Fatal(err)
	}
	waitMonitor(t, c, "genw1", "Normal")
	if !strings.Contains(readAlerts(t, c), "genw1 status changed from error to normal.") {
		t.Fatalf("no recovery alert:\n%s", readAlerts(t, c))
	}
}

// An asynchronous custom monitor's script ending is an error; started again, it is normal again.
func TestCustomMonitorAsync(t *testing.T) {
	c, dir, _ := monitorCluster(t)
	waitMonitor(t, c, "genw2", "Normal")
	touch(t, filepath.Join(dir, "genw2-fail"))
	waitMonitor(t, c, "genw2", "Error")
	want := "rm 9 ERR Detected an error in monitoring genw2. (script " + filepath.Join(dir, "scripts", "genw-async.sh") + " ended with exit status 1)"
	if a := readAlerts(t, c); !strings.Contains(a, want) {
		t.Fatalf("alert log lacks %q:\n%s", want, a)
	}
	if err := os.Remove(filepath.Join(dir, "genw2-fail")); err != nil {
		t.Fatal(err)
	}
	waitMonitor(t, c, "genw2", "Normal")
}

// The process monitor finds the service by name and command line; clpmonctrl -s keeps a killed
// service from being acted on until -r.
func TestProcessMonitorAndSuspend(t *testing.T) {
	c, dir, _ := monitorCluster(t)
	waitMonitor(t, c, "psw1", "Normal")
	c.MustRun(t, "clpmonctrl", "-s", "-m", "pidw1")
	waitMonitor(t, c, "pidw1", "Suspend")
	pid := startPID(t, dir, 1)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitMonitor(t, c, "psw1", "Error")
	time.Sleep(300 * time.Millisecond)
	if n := len(dumps(t, dir, "exec1-start")); n != 1 {
		t.Fatalf("a suspended pid monitor acted: start.sh ran %d times", n)
	}
	// Resumed, the pid monitor finds the process gone and restarts it; the process monitor then
	// finds the new one.
	c.MustRun(t, "clpmonctrl", "-r", "-m", "pidw1")
	startPID(t, dir, 2)
	waitMonitor(t, c, "psw1", "Normal")
	waitMonitor(t, c, "pidw1", "Normal")
}

// A frozen clpd is seen by the user-space monitor once it runs again.
func TestUserMonitorSeesStall(t *testing.T) {
	c, _, _ := monitorCluster(t)
	waitMonitor(t, c, "userw", "Normal")
	pid := c.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 10*time.Second, "the stall in the alert log", func() bool {
		return strings.Contains(readAlerts(t, c), "Detected an error in monitoring userw. (the cluster event loop did not run for")
	})
	waitMonitor(t, c, "userw", "Normal")
}

// clprsc stops and starts one resource and names where it runs.
func TestClprsc(t *testing.T) {
	c, dir, _ := monitorCluster(t)
	waitMonitor(t, c, "pidw1", "Normal")
	if out := c.MustRun(t, "clprsc", "-n", "exec1"); out != "server1\n" {
		t.Fatalf("clprsc -n: %q", out)
	}
	if out := c.MustRun(t, "clprsc", "-t", "exec1"); out != "Command succeeded.\n" {
		t.Fatalf("clprsc -t: %q", out)
	}
	if got := resourceLine(t, c, "exec1"); got != "      exec1          : Offline          " {
		t.Fatalf("exec1 after clprsc -t: %q", got)
	}
	if out := c.MustRun(t, "clprsc", "-n", "exec1"); out != "" {
		t.Fatalf("clprsc -n of a stopped resource: %q", out)
	}
	c.MustRun(t, "clprsc", "-s", "exec1")
	if got := resourceLine(t, c, "exec1"); got != "      exec1          : Online           " {
		t.Fatalf("exec1 after clprsc -s: %q", got)
	}
	// exec1 starts asynchronously: it is Online once its start.sh is launched, which may be
	// before the script has written its dump. A third run would still fail below.
	startPID(t, dir, 2)
	if n := len(dumps(t, dir, "exec1-start")); n != 2 {
		t.Fatalf("start.sh ran %d times, want 2", n)
	}
	if _, se, code := c.Run(t, "clprsc", "-s", "nope"); code != 3 || !strings.Contains(se, "Invalid resource name") {
		t.Fatalf("clprsc -s nope: %d %q", code, se)
	}
}

// A final action that ends with the machine: the cluster service stops (the group's stop.sh runs
// with SERVERSHUTDOWN), clpd exits, and the configured [os] reboot command runs, here a script
// that records its call.
func TestFinalActionReboot(t *testing.T) {
	c, dir := rebootCluster(t, `
[[monitor]]
name = "genw1"
type = "genw"
script = "scripts/genw.sh"
interval = "200ms"
retry = 0
failover_threshold = 0
final_action = "stop-cluster-reboot"
`)
	genwScript(t, dir)
	c.Start(t)
	waitMonitor(t, c, "genw1", "Normal")
	touch(t, filepath.Join(dir, "genw-fail"))
	code, err := c.Wait(30 * time.Second)
	if err != nil {
		t.Fatalf("clpd did not exit after the final action: %v\n%s", err, c.Output())
	}
	if code != 0 {
		t.Fatalf("clpd exited with %d after the final action:\n%s", code, c.Output())
	}
	b, err := os.ReadFile(filepath.Join(dir, "rebooted"))
	if err != nil || string(b) != "reboot -r now\n" {
		t.Fatalf("the reboot command: %q, %v", b, err)
	}
	stop := dumps(t, dir, "exec1-stop")
	if len(stop) != 1 || !strings.Contains(stop[0], "CLP_FACTOR=SERVERSHUTDOWN\n") {
		t.Fatalf("stop.sh dumps: %q", stop)
	}
	if a := readAlerts(t, c); !strings.Contains(a, "rm 17 ERR Rebooting the system has been required because an error was detected in monitoring genw1.") {
		t.Fatalf("alert log:\n%s", a)
	}
}

// clpdown -r: the cluster service stops (stop.sh with SERVERSHUTDOWN), clpd exits, and the
// [os] reboot command runs.
func TestClpdownReboot(t *testing.T) {
	c, dir := rebootCluster(t, "")
	c.Start(t)
	clustertest.WaitFor(t, 10*time.Second, "failover1 Online", func() bool {
		return strings.Contains(c.MustRun(t, "clpstat"), "    failover1 .......: Online ")
	})
	if out := c.MustRun(t, "clpdown", "-r"); out != "Command succeeded.\n" {
		t.Fatalf("clpdown -r: %q", out)
	}
	if code, err := c.Wait(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("clpd after clpdown: exit %d, %v\n%s", code, err, c.Output())
	}
	clustertest.WaitFor(t, 5*time.Second, "the reboot command", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "rebooted"))
		return string(b) == "reboot -r now\n"
	})
	if stop := dumps(t, dir, "exec1-stop"); len(stop) != 1 || !strings.Contains(stop[0], "CLP_FACTOR=SERVERSHUTDOWN\n") {
		t.Fatalf("stop.sh dumps: %q", stop)
	}
}
