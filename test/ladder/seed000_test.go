package ladder

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"clpkit/test/trials"
)

// execo1Start is seed 000's monitor shell (pattern ③) for this lab: registered as the start.sh of
// an asynchronous exec resource, it checks the application in a loop and ends when it finds it
// failed, and the pid monitor on that resource turns its end into a failover. The seed's check
// (mdump_func, reading mdump's report of the Enterprise Server) becomes a GET of the service on
// the floating address; its answer must name this host. The seed's first sleep (10 s, while
// MFDS starts) is shortened to 2 s, and its sleep between checks (5 s) to 1 s.
const execo1Start = `
sleep 2
check_func()
{
    out=` + "`" + `labhttp -probe http://10.77.0.100:8080/ -interval 10s -timeout 1s -for 1s 2> /dev/null` + "`" + `
    tmp=` + "`" + `echo "$out" | fgrep " ok $LAB_HOST"` + "`" + `
    if [ ".$tmp" != "." ]; then
        return 0
    fi
    return 3
}
while : ; do
    # echo "monitoring"
    check_func
    res=$?
    if [ "$res" = "1" ]; then
        exit 0
    fi
    if [ "$res" = "3" ]; then
        exit 0
    fi
    sleep 1
done
`

// TestSeed000MonitorShell is seed 000's pattern ③: the application dies (there MFDS, killed
// with killall -9; here the service's HTTP responder), the monitor shell execo1 sees it and
// exits, the pid monitor pidw1 on execo1 detects that, and failover1 fails over to the other
// server, where the client reaches the service again.
func TestSeed000MonitorShell(t *testing.T) {
	c := trials.New(t, build(t), trials.Options{
		Resources: trials.AsyncExec("execo1"),
		Monitors: `
[[monitor]]
name = "pidw1"
type = "pidw"
target = "execo1"
failover_threshold = 1
`,
		Scripts: map[string]string{
			"scripts/execo1/start.sh": execo1Start,
			"scripts/execo1/stop.sh":  "exit 0\n",
		},
	})
	a := c.WaitSteady(60 * time.Second)
	b := c.Other(a)
	t.Logf("failover1 runs on %s", a.Name)
	waitFor(t, c, 15*time.Second, "pidw1 watching execo1 on "+a.Name, func() bool {
		return monitorState(a, "pidw1", a.Name) == "Online"
	})
	// Past the shell's first sleep, so that it is in its loop when the application dies.
	time.Sleep(3 * time.Second)
	if got := groupState(a, trials.Group); got != "Online "+a.Name {
		t.Fatalf("before the fault, clpstat shows failover1 %q, want Online on %s (execo1 ended by itself?)\n%s", got, a.Name, dump(c))
	}

	// killall -9 of the application.
	pid := pidFile(filepath.Join(a.Dir, "run", "labhttp.pid"))
	if pid == 0 || !inHost(a.Host, pid, "labhttp -listen") {
		t.Fatalf("no labhttp on %s to kill (pid file says %d)\n%s", a.Name, pid, dump(c))
	}
	kill(t, pid)

	if got := c.WaitSteady(30 * time.Second); got != b {
		t.Fatalf("failover1 runs on %s after the application died on %s, want %s\n%s", got.Name, a.Name, b.Name, dump(c))
	}
	if got := clientSees(c); len(got) != 1 || got[0] != b.Name {
		t.Errorf("after the failover the client reached the service on %v, want [%s]", got, b.Name)
	}
	for _, text := range []string{
		" rm 9 ERR Detected an error in monitoring pidw1. (the process of execo1 ended (exit status 0))",
		" rm 14 WARN Recovery target failover1 fails over because an error was detected in monitoring pidw1.",
	} {
		if !strings.Contains(a.Alerts(), text) {
			t.Errorf("%s's alert log lacks %q", a.Name, text)
		}
	}
	// The monitor shell runs again on the new server, watched by pidw1 there; the failover is
	// counted on the server it left.
	waitFor(t, c, 15*time.Second, "pidw1 watching execo1 on "+b.Name, func() bool {
		return monitorState(b, "pidw1", b.Name) == "Online"
	})
	if got := clpstatMonitor(b, "pidw1"); got != "Normal" {
		t.Errorf("clpstat on %s shows pidw1 %q in its <monitor> section, want Normal", b.Name, got)
	}
	checkCounters(t, c, a, "pidw1", wantCounters("pidw1", "Normal", 0, 0, 1, 1, 0, "none"))
	checkCounters(t, c, b, "pidw1", wantCounters("pidw1", "Normal", 0, 0, 0, 1, 0, "none"))
	checkNoOverlap(t, c)
}
