package ladder

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"clpkit/test/trials"
)

const tomcatMon = "genw_ps_tomcat_mon"

// TestSeed002Pcheck is seed 002's ProcessSaver construction (§5, §6, §7): pcheck runs as the
// asynchronous custom monitor genw_ps_tomcat_mon of exec_tomcat (timing active, recovery: failover
// of the group). Tomcat (here a copy of sleep, tomcatd) killed once is restarted by pcheck on the
// same server; killed again, past the pfile's retry count of 1, pcheck logs RETRY_OVER:EXIT and
// FATAL and exits, the monitor reports the error and the group fails over; on the standby pcheck
// watches the new Tomcat and the monitor is Normal with its counters at zero (seed 004:
// monitoring resumes).
func TestSeed002Pcheck(t *testing.T) {
	bin := build(t)
	pcheck := filepath.Join(bin, "pcheck")
	// ps holds what the seed keeps under /var/opt/HA/PS/conf/bin: the pfile, the restart script,
	// and here Tomcat's program too.
	ps := t.TempDir()
	tomcat := filepath.Join(ps, "tomcatd")
	copyFile(t, "/bin/sleep", tomcat, 0o755)
	// One process line per start: tomcatd in the background with a marker argument (sleep adds
	// it up), its pid in the server's run directory for stop.sh.
	startTomcat := tomcat + ` 100000 4242 > /dev/null 2>&1 &
echo $! > "$LAB_RUN/tomcat.pid"
`
	writeFile(t, filepath.Join(ps, "tomcat_start.sh"), 0o755, `#! /bin/sh
# Start script for Tomcat (seed 002 §5.2)

export LANG=C

# Tomcat Server process restart
`+startTomcat+`
#sleep
/bin/sleep 1

exit 0
`)
	pfile := filepath.Join(ps, "pfile_tomcat")
	writeFile(t, pfile, 0o644, fmt.Sprintf(`##### PARAM #####
IPCKEY  0x0000abcd
MSG_CHECK_INTERVAL 5
MONITOR_INTERVAL 3
SHM_DUMP_FILE %s/pfile_tomcat.dmp
##### PENT #####
%s:%s/tomcat_start.sh:86400:1:exit:include_strings=4242
`, ps, tomcat, ps))
	syslog := listenSyslog(t, filepath.Join(ps, "log.sock"))

	c := trials.New(t, bin, trials.Options{
		Resources: trials.AsyncExec("exec_tomcat"),
		Monitors: fmt.Sprintf(`
[[monitor]]
name = %q
type = "genw"
mode = "async"
script = %q
args = ["-f", %q]
target = "exec_tomcat"
timing = "active"
recovery_target = "failover1"
failover_threshold = 1
`, tomcatMon, pcheck, pfile),
		// pcheck's control sockets and syslog are this test's own, not the machine's.
		Env: []string{"CLPKIT_PCHECK_DIR=" + filepath.Join(ps, "pcheck"), "CLPKIT_SYSLOG_SOCKET=" + filepath.Join(ps, "log.sock")},
		Scripts: map[string]string{
			// The resource's script stays, as an asynchronous start does; Tomcat runs beside it.
			"scripts/exec_tomcat/start.sh": startTomcat + "exec sleep 100000\n",
			"scripts/exec_tomcat/stop.sh": `if [ -f "$LAB_RUN/tomcat.pid" ]; then kill "$(cat "$LAB_RUN/tomcat.pid")" 2>/dev/null; rm -f "$LAB_RUN/tomcat.pid"; fi
exit 0
`,
		},
	})
	a := c.WaitSteady(60 * time.Second)
	b := c.Other(a)
	t.Logf("failover1 runs on %s", a.Name)

	// one waits until exactly one process of exe runs on s, and none on the other server, and
	// returns it.
	one := func(what string, s *trials.Server, exe string, not int) int {
		t.Helper()
		var pid int
		waitFor(t, c, 20*time.Second, what+" running on "+s.Name+" only", func() bool {
			here, there := procsIn(s.Host, exe), procsIn(c.Other(s).Host, exe)
			if len(here) != 1 || len(there) != 0 || here[0] == not {
				return false
			}
			pid = here[0]
			return true
		})
		return pid
	}
	pc := one("pcheck", a, pcheck, 0)
	tc := one("tomcatd", a, tomcat, 0)
	waitFor(t, c, 20*time.Second, "pcheck watching tomcatd on "+a.Name, func() bool {
		return syslog.has(pc, upLine(tomcat, tc)) && monitorState(a, tomcatMon, a.Name) == "Online"
	})

	// Tomcat killed once: pcheck restarts it, on the same server, and the group stays.
	t0 := time.Now()
	kill(t, tc)
	tc2 := one("the restarted tomcatd", a, tomcat, tc)
	waitFor(t, c, 20*time.Second, "pcheck watching the restarted tomcatd on "+a.Name, func() bool {
		return syslog.has(pc, upLine(tomcat, tc2))
	})
	for _, line := range []*regexp.Regexp{downLine(tomcat, tc), literal("Try to restart ('" + tomcat + "')"), upLine(tomcat, tc2)} {
		if !syslog.has(pc, line) {
			t.Errorf("syslog lacks pcheck[%d]: %s", pc, line)
		}
	}
	if !strings.Contains(a.Alerts(), " pcheck 3 INFO Try to restart ('"+tomcat+"')") {
		t.Errorf("%s's alert log lacks pcheck's restart", a.Name)
	}
	if got := procsIn(a.Host, pcheck); !slices.Equal(got, []int{pc}) {
		t.Errorf("after the restart of tomcatd, pcheck on %s is %v, want the same [%d]", a.Name, got, pc)
	}
	if got := groupState(a, trials.Group); got != "Online "+a.Name {
		t.Errorf("after pcheck's restart, clpstat shows failover1 %q, want Online on %s", got, a.Name)
	}
	if at, ok := c.Sampler.FirstSeen(trials.Group, b.Name, t0); ok {
		t.Errorf("pcheck's restart on %s ran the group on %s at %s", a.Name, b.Name, at.Format(time.StampMilli))
	}
	if st := monitorState(a, tomcatMon, a.Name); st != "Online" {
		t.Errorf("after pcheck's restart, %s is %s on %s, want Online", tomcatMon, st, a.Name)
	}
	checkCounters(t, c, a, tomcatMon, wantCounters(tomcatMon, "Normal", 0, 0, 0, 1, 0, "none"))
	if t.Failed() {
		t.Fatalf("after the first kill:\n%s", dump(c))
	}

	// Killed again, past the retry count: pcheck gives up and exits, and the group fails over.
	kill(t, tc2)
	if got := c.WaitSteady(40 * time.Second); got != b {
		t.Fatalf("failover1 runs on %s after pcheck's retry-over on %s, want %s\n%s", got.Name, a.Name, b.Name, dump(c))
	}
	for _, line := range []*regexp.Regexp{downLine(tomcat, tc2), literal("(" + tomcat + ") RETRY_OVER:EXIT"), literal("(" + tomcat + ") FATAL")} {
		if !syslog.has(pc, line) {
			t.Errorf("syslog lacks pcheck[%d]: %s", pc, line)
		}
	}
	for _, text := range []string{
		" rm 9 ERR Detected an error in monitoring " + tomcatMon + ". (script " + pcheck + " ended with exit status 1)",
		" rm 14 WARN Recovery target failover1 fails over because an error was detected in monitoring " + tomcatMon + ".",
	} {
		if !strings.Contains(a.Alerts(), text) {
			t.Errorf("%s's alert log lacks %q", a.Name, text)
		}
	}
	if got := clientSees(c); len(got) != 1 || got[0] != b.Name {
		t.Errorf("after the failover the client reached the service on %v, want [%s]", got, b.Name)
	}

	// On the standby, now active: pcheck runs there (and no more on the first server), watches
	// the new Tomcat, and the monitor is Normal with its counters at zero.
	pcB := one("pcheck", b, pcheck, 0)
	tcB := one("tomcatd", b, tomcat, 0)
	waitFor(t, c, 20*time.Second, "pcheck watching tomcatd on "+b.Name, func() bool {
		return syslog.has(pcB, upLine(tomcat, tcB)) && monitorState(b, tomcatMon, b.Name) == "Online"
	})
	checkCounters(t, c, b, tomcatMon, wantCounters(tomcatMon, "Normal", 0, 0, 0, 1, 0, "none"))
	if got := clpstatMonitor(b, tomcatMon); got != "Normal" {
		t.Errorf("clpstat on %s shows %s %q in its <monitor> section, want Normal", b.Name, tomcatMon, got)
	}
	checkCounters(t, c, a, tomcatMon, wantCounters(tomcatMon, "Normal", 0, 0, 1, 1, 0, "none"))
	checkNoOverlap(t, c)
}

// upLine and downLine are pcheck's syslog texts for a process found and a process gone (the pid
// right-aligned in a field of blanks, as the construction guide prints it).
func upLine(exe string, pid int) *regexp.Regexp {
	return regexp.MustCompile(`^\(` + regexp.QuoteMeta(exe) + ` *, *pid= *` + fmt.Sprint(pid) + `\) Up$`)
}

func downLine(exe string, pid int) *regexp.Regexp {
	return regexp.MustCompile(`^Process \[` + regexp.QuoteMeta(exe) + ` *, *pid= *` + fmt.Sprint(pid) + `\] Down$`)
}

func literal(s string) *regexp.Regexp { return regexp.MustCompile(`^` + regexp.QuoteMeta(s) + `$`) }

// syslogSink is a syslog socket of the test's own: it keeps every message, "pcheck[PID]: text".
type syslogSink struct {
	mu    sync.Mutex
	lines []string
}

var syslogTag = regexp.MustCompile(`(\S+\[\d+\]): (.*)$`)

func listenSyslog(t *testing.T, path string) *syslogSink {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &syslogSink{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 8192)
		for {
			n, err := conn.Read(buf)
			if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				continue
			}
			if m := syslogTag.FindStringSubmatch(strings.TrimRight(string(buf[:n]), "\n")); m != nil {
				s.mu.Lock()
				s.lines = append(s.lines, m[1]+": "+m[2])
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
		if t.Failed() {
			t.Logf("syslog:\n%s", strings.Join(s.all(), "\n"))
		}
	})
	return s
}

func (s *syslogSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

// has says whether pcheck with pid logged a message matching re.
func (s *syslogSink) has(pid int, re *regexp.Regexp) bool {
	prefix := fmt.Sprintf("pcheck[%d]: ", pid)
	for _, l := range s.all() {
		if text, ok := strings.CutPrefix(l, prefix); ok && re.MatchString(text) {
			return true
		}
	}
	return false
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, mode, string(b))
}

// writeFile writes a file with exactly mode (pcheck refuses files others may write).
func writeFile(t *testing.T, path string, mode os.FileMode, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
