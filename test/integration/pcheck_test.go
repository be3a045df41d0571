package integration

// Integration tests of pcheck and padmin: the real binaries, real processes killed with real
// signals, a syslog socket of the test's own, and the exact text an operator reads in syslog and
// in padmin's output. They reproduce seed 002 §7 and the behaviour pcheck(8) documents.

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/internal/clustertest"
	"clpkit/internal/proctest"
	"clpkit/pkg/alert"
	"clpkit/pkg/procwatch"
)

// pcheckBins builds only pcheck and padmin (not every command, so that these tests do not
// depend on the rest of the tree building), once per test binary, under the directory that
// TestMain removes.
var (
	pcheckBuild    sync.Once
	pcheckBinDir   string
	pcheckBuildErr error
	ipcKeys        atomic.Uint32
)

func pcheckBins(t *testing.T) string {
	t.Helper()
	pcheckBuild.Do(func() {
		dir := filepath.Join(binDir(), "pcheck-padmin")
		if pcheckBuildErr = clustertest.BuildCommands(dir, "./cmd/pcheck", "./cmd/padmin"); pcheckBuildErr == nil {
			pcheckBinDir = dir
		}
	})
	if pcheckBuildErr != nil {
		t.Fatal(pcheckBuildErr)
	}
	return pcheckBinDir
}

// syslogLine is one datagram as a syslog daemon receives it.
type syslogLine struct {
	pri  int
	tag  string // "pcheck" or "padmin"
	pid  int
	text string
}

// wireRE is log/syslog's local format: "<PRI>Mmm dd hh:mm:ss tag[pid]: text\n".
var wireRE = regexp.MustCompile(`^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\w+)\[(\d+)\]: (.*)\n$`)

// psEnv is one test's world: a directory, a run directory, a syslog socket, a "java" (a copy
// of perl, so that its /proc/PID/exe is its own) and a tag that only this test's processes carry.
type psEnv struct {
	t      *testing.T
	bin    string
	dir    string
	runDir string
	syslog string
	lines  chan syslogLine
	java   string
	tag    string
	key    uint32
}

func newPsEnv(t *testing.T) *psEnv {
	t.Helper()
	pl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl is not installed (.ci/run installs it)")
	}
	e := &psEnv{t: t, bin: pcheckBins(t), dir: t.TempDir(), lines: make(chan syslogLine, 1000)}
	e.runDir = filepath.Join(e.dir, "run")
	e.syslog = filepath.Join(e.dir, "log")
	e.tag = fmt.Sprintf("itest-%d-%s", os.Getpid(), t.Name())
	e.key = 0x5a000000 + ipcKeys.Add(1)
	e.java = filepath.Join(e.dir, "usr", "bin", "java")
	proctest.CopyProgram(t, pl, e.java)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: e.syslog, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			m := wireRE.FindStringSubmatch(string(buf[:n]))
			if m == nil {
				e.lines <- syslogLine{text: "MALFORMED " + strconv.Quote(string(buf[:n]))}
				continue
			}
			pri, _ := strconv.Atoi(m[1])
			pid, _ := strconv.Atoi(m[3])
			e.lines <- syslogLine{pri: pri, tag: m[2], pid: pid, text: m[4]}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		// Everything the test or its restart scripts started carries the tag.
		for _, prog := range []string{e.java, pl, "sh"} {
			ps, _ := procwatch.List("/proc", procwatch.Spec{Program: prog, Include: []string{e.tag}})
			for _, p := range ps {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
	})
	return e
}

func (e *psEnv) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLPKIT_") {
			env = append(env, kv)
		}
	}
	return append(env, "CLPKIT_PCHECK_DIR="+e.runDir, "CLPKIT_SYSLOG_SOCKET="+e.syslog,
		"CLPKIT_ALERT_LOG="+filepath.Join(e.dir, "no-alert.log"))
}

// file writes dir/name with mode (past the umask) and returns its path.
func (e *psEnv) file(name, text string, mode os.FileMode) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// javaArgs is the command line of a Tomcat-like process: the program, perl's "sleep", and the
// words, then the tag.
func (e *psEnv) javaArgs(words ...string) []string {
	return append([]string{e.java, "-e", "sleep 100000", "--"}, append(words, e.tag)...)
}

// start runs path with argv as a child of the test (reaped when it exits) and returns its pid.
func (e *psEnv) start(path string, argv ...string) int {
	e.t.Helper()
	// A process group of its own, killed whole at the end: `sh -c "sleep ..."` forks its sleep,
	// which would otherwise outlive the tests.
	cmd := &exec.Cmd{Path: path, Args: argv, SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	e.t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	// Start times have a resolution of one clock tick: keep them in the order of the calls.
	time.Sleep(20 * time.Millisecond)
	return cmd.Process.Pid
}

// tomcat writes a fake Tomcat: dir/tomcat/bin/catalina.sh whose "start" starts the Tomcat-like
// process in the background, as the real one does. It returns the Tomcat directory.
func (e *psEnv) tomcat(words ...string) string {
	e.t.Helper()
	args := e.javaArgs(words...)
	for i, a := range args {
		args[i] = "'" + a + "'"
	}
	e.file("tomcat/bin/catalina.sh", "#!/bin/sh\ncase \"$1\" in\nstart)\n  "+strings.Join(args, " ")+
		" </dev/null >/dev/null 2>&1 &\n  ;;\nesac\n", 0o755)
	return filepath.Join(e.dir, "tomcat")
}

// pcheck is a running pcheck.
type pcheck struct {
	*clustertest.Proc
	stderr string // file
}

func (e *psEnv) pcheck(args ...string) *pcheck {
	e.t.Helper()
	cmd := exec.Command(filepath.Join(e.bin, "pcheck"), args...)
	cmd.Env = e.env()
	p := &pcheck{stderr: filepath.Join(e.dir, fmt.Sprintf("pcheck.%d.stderr", time.Now().UnixNano()))}
	f, err := os.Create(p.stderr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	// A file, not a pipe: processes started by restart scripts must not hold our pipe open.
	cmd.Stdout, cmd.Stderr = f, f
	p.Proc = clustertest.StartProc(e.t, cmd)
	return p
}

func (p *pcheck) errText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// padmin runs padmin and returns stdout, stderr and the exit status.
func (e *psEnv) padmin(args ...string) (string, string, int) {
	e.t.Helper()
	return clustertest.Exec(e.t, "", e.env(), append([]string{filepath.Join(e.bin, "padmin")}, args...)...)
}

// show runs padmin -c show pent and fails the test unless it succeeds.
func (e *psEnv) show(pfile string) string {
	e.t.Helper()
	out, errs, code := e.padmin("-f", pfile, "-c", "show", "pent")
	if code != 0 || errs != "" {
		e.t.Fatalf("padmin show pent: exit %d, stderr %q", code, errs)
	}
	return out
}

// expect reads the next syslog lines and compares them with want, each "tag[pid]: text"; a pid
// of 0 in want ("padmin[0]") accepts any pid.
func (e *psEnv) expect(want ...string) []syslogLine {
	e.t.Helper()
	var got []syslogLine
	for i, w := range want {
		l, ok := e.next()
		if !ok {
			e.t.Fatalf("syslog line %d never came: want %q", i+1, w)
		}
		got = append(got, l)
		s := fmt.Sprintf("%s[%d]: %s", l.tag, l.pid, l.text)
		if strings.Contains(w, "[0]: ") {
			s = fmt.Sprintf("%s[0]: %s", l.tag, l.text)
		}
		if s != w {
			e.t.Fatalf("syslog line %d:\n got %q\nwant %q", i+1, s, w)
		}
	}
	return got
}

// next returns the next syslog line, or false when none comes within 15 s.
func (e *psEnv) next() (syslogLine, bool) {
	select {
	case l := <-e.lines:
		return l, true
	case <-time.After(15 * time.Second):
		return syslogLine{}, false
	}
}

// quiet checks that nothing reaches syslog for d.
func (e *psEnv) quiet(d time.Duration) {
	e.t.Helper()
	select {
	case l := <-e.lines:
		e.t.Fatalf("unexpected syslog line %s[%d]: %s", l.tag, l.pid, l.text)
	case <-time.After(d):
	}
}

// The seed's rules for the Up and Down lines, restated here: the pid right-aligned so that
// blanks and digits make 8 (Up) or 6 (Down).
func upLine(pc int, prog string, pid int) string {
	n := strconv.Itoa(pid)
	return fmt.Sprintf("pcheck[%d]: (%s%s,pid=%s) Up", pc, prog, strings.Repeat(" ", max(1, 8-len(n))), n)
}

// restartLine is pcheck's line when it runs the restart script of prog.
func restartLine(pc int, prog string) string {
	return fmt.Sprintf("pcheck[%d]: Try to restart ('%s')", pc, prog)
}

// retryOverExit kills pid, watched by pcheck pc, one time too many: pcheck says so and that it
// ends (its exit status is the caller's to check).
func (e *psEnv) retryOverExit(pc, pid int) {
	e.t.Helper()
	killPID(e.t, pid, syscall.SIGKILL)
	e.expect(downLine(pc, e.java, pid),
		fmt.Sprintf("pcheck[%d]: (%s) RETRY_OVER:EXIT", pc, e.java),
		fmt.Sprintf("pcheck[%d]: (%s) FATAL", pc, e.java))
}

func downLine(pc int, prog string, pid int) string {
	n := strconv.Itoa(pid)
	return fmt.Sprintf("pcheck[%d]: Process [%s ,%spid=%s] Down", pc, prog, strings.Repeat(" ", max(1, 6-len(n))), n)
}

// upPID is the pid of an Up line.
func upPID(t *testing.T, l syslogLine) int {
	t.Helper()
	m := regexp.MustCompile(`,pid=(\d+)\) Up$`).FindStringSubmatch(l.text)
	if m == nil {
		t.Fatalf("not an Up line: %q", l.text)
	}
	pid, _ := strconv.Atoi(m[1])
	return pid
}

// showText is padmin's show pent for one entry, in the seed's layout.
func showText(prog string, pid, retry, restart int, sts, act, rerun, options string, id int, monitor string) string {
	s := fmt.Sprintf("pname  = %s\npid  = %d\nretry_count = %d\nrestart_count = %d\nproc_sts  = %s\nretry_over_act = %s\nrerun_time = %s\n",
		prog, pid, retry, restart, sts, act, rerun)
	if options != "" {
		s += options + "\n"
	}
	return s + fmt.Sprintf("pent_id  = %d\nmonitor_sts = %s\n", id, monitor)
}

// rerunOf returns the rerun_time of the first entry of a show pent text, checking that it is an
// asctime between from and now.
func rerunOf(t *testing.T, text string, from time.Time) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^rerun_time = (.*)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no rerun_time in:\n%s", text)
	}
	ts, err := time.ParseInLocation(time.ANSIC, m[1], time.Local)
	if err != nil {
		t.Fatalf("rerun_time %q is not asctime: %v", m[1], err)
	}
	if ts.Before(from.Truncate(time.Second)) || ts.After(time.Now()) {
		t.Fatalf("rerun_time %v is not between %v and now", ts, from)
	}
	return m[1]
}

func alive(pid int) bool { return !clustertest.Gone(pid) }

func killPID(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}

// TestPcheckSeed002 reproduces seed 002 §7 (7.1.1.1 to 7.1.1.3): Tomcat found among look-alikes
// by include_strings, killed and restarted three times with padmin showing a new pid and the
// counters, then killed a fourth time: RETRY_OVER:EXIT, FATAL, and pcheck exits 1 so that the
// cluster monitor fails the group over.
func TestPcheckSeed002(t *testing.T) {
	e := newPsEnv(t)
	pl, _ := exec.LookPath("perl")
	// Look-alikes, all started before Tomcat so that "oldest first" would pick them if they
	// matched: Apache httpd (no "tomcat"), a shell with both words (another program), plain
	// perl with both words (same code, another executable file), a Tomcat-like process of
	// another instance (no tag).
	lookAlikes := []int{
		e.start(e.java, e.javaArgs("-Dhttpd.root=/etc/apache2", "org.apache.httpd.Main")...),
		e.start("/bin/sh", "sh", "-c", "sleep 100000", "sh", "apache", "tomcat", e.tag),
		e.start(pl, append([]string{"perl"}, e.javaArgs("apache", "tomcat")[1:]...)...),
		e.start(e.java, e.java, "-e", "sleep 100000", "--", "org.apache.catalina.startup.Bootstrap", "-Dcatalina.home=/usr/local/tomcat", "other-"+e.tag[:5]),
	}
	tomcatWords := []string{"-Dcatalina.base=/usr/local/tomcat", "-Dcatalina.home=/usr/local/tomcat", "org.apache.catalina.startup.Bootstrap", "start"}
	first := e.start(e.java, e.javaArgs(tomcatWords...)...)
	home := e.tomcat(tomcatWords...)
	// The seed's restart script (§5.2) without its "sleep 5", which pcheck does not need.
	script := e.file("conf/bin/tomcat_start.sh", "#! /bin/sh\n# Start script for Tomcat\n\nexport LANG=C\n\n"+
		"# Tomcat Server process restart\n"+home+"/bin/catalina.sh start\n\nexit 0\n", 0o755)
	dump := filepath.Join(e.dir, "conf", "bin", "pfile_tomcat.dmp")
	options := "apache&tomcat&" + e.tag
	pfile := e.file("conf/bin/pfile_tomcat", fmt.Sprintf("##### PARAM #####\nIPCKEY  0x%08x\nMSG_CHECK_INTERVAL 5\nMONITOR_INTERVAL 2\n"+
		"SHM_DUMP_FILE %s\n##### PENT #####\n%s:%s:86400:3:exit:include_strings=%s\n", e.key, dump, e.java, script, options), 0o644)

	pc := e.pcheck("-f", pfile)
	pcPID := pc.Cmd.Process.Pid
	e.expect(upLine(pcPID, e.java, first))
	opt := "include_strings = " + options
	// 7.1.1.1 (1): the process is watched, nothing restarted yet.
	if got, want := e.show(pfile), showText(e.java, first, 0, 0, "AVAIL", "exit", "--------", opt, 1, "on"); got != want {
		t.Fatalf("padmin before any kill:\n%s\nwant:\n%s", got, want)
	}
	// The seed's own padmin line, en dashes included.
	if out, _, code := e.padmin("\u2013f", pfile, "\u2013c", "show", "pent"); code != 0 || out != e.show(pfile) {
		t.Errorf("padmin with the seed's en dashes: exit %d\n%s", code, out)
	}

	pid := first
	var rerun string
	for n := 1; n <= 3; n++ {
		// 7.1.1.2 (1)-(2): kill it; it is restarted with a new pid and the counters move.
		t0 := time.Now()
		killPID(t, pid, syscall.SIGTERM)
		e.expect(downLine(pcPID, e.java, pid), restartLine(pcPID, e.java))
		next := e.expectUp(pcPID, e.java)
		if next == pid {
			t.Fatalf("restart %d: the same pid %d", n, pid)
		}
		pid = next
		text := e.show(pfile)
		rerun = rerunOf(t, text, t0)
		if want := showText(e.java, pid, n, n, "AVAIL", "exit", rerun, opt, 1, "on"); text != want {
			t.Fatalf("padmin after restart %d:\n%s\nwant:\n%s", n, text, want)
		}
		// The restarted process is the one the restart script started.
		if ps, _ := procwatch.List("/proc", procwatch.Spec{Program: e.java, Include: []string{e.tag, "Bootstrap"}}); len(ps) != 1 || ps[0].PID != pid {
			t.Fatalf("Tomcat-like processes after restart %d: %+v", n, ps)
		}
	}
	for _, p := range lookAlikes {
		if !alive(p) {
			t.Errorf("look-alike %d was killed", p)
		}
	}

	// 7.1.1.2 (4): the fourth death is a retry-over: pcheck logs and exits 1.
	e.retryOverExit(pcPID, pid)
	if code := pc.Exit(t, 10*time.Second); code != 1 {
		t.Fatalf("pcheck exit status %d after RETRY_OVER:EXIT, want 1", code)
	}
	if s := pc.errText(t); s != "" {
		t.Errorf("pcheck wrote on stderr: %q", s)
	}
	// Without clpd's alert log, pcheck does not create one.
	if _, err := os.Stat(filepath.Join(e.dir, "no-alert.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pcheck created an alert log: %v", err)
	}
	// The last state survives pcheck in SHM_DUMP_FILE, and padmin points there.
	final := showText(e.java, 0, 3, 3, "RETRY_OVER", "exit", rerun, opt, 1, "on")
	if b, err := os.ReadFile(dump); err != nil || string(b) != final {
		t.Errorf("SHM_DUMP_FILE after the exit: %v\n%s\nwant:\n%s", err, b, final)
	}
	sock := filepath.Join(e.runDir, fmt.Sprintf("0x%08x.sock", e.key))
	out, errs, code := e.padmin("-f", pfile, "-c", "show", "pent")
	if want := fmt.Sprintf("padmin: no pcheck is running for %s (IPCKEY 0x%08x: nothing listens on %s); its last state is in %s\n", pfile, e.key, sock, dump); code != 1 || out != "" || errs != want {
		t.Errorf("padmin after the exit: exit %d, stdout %q, stderr %q\nwant %q", code, out, errs, want)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the control socket outlived pcheck: %v", err)
	}
	e.quiet(200 * time.Millisecond)
}

// expectUp reads the next syslog line, checks it is an Up line of pcheck pc for prog in the
// seed's layout, and returns its pid.
func (e *psEnv) expectUp(pc int, prog string) int {
	e.t.Helper()
	l, ok := e.next()
	if !ok {
		e.t.Fatal("no Up line")
	}
	pid := upPID(e.t, l)
	if got, want := fmt.Sprintf("%s[%d]: %s", l.tag, l.pid, l.text), upLine(pc, prog, pid); got != want {
		e.t.Fatalf("Up line:\n got %q\nwant %q", got, want)
	}
	if l.pri != 30 {
		e.t.Errorf("Up line priority %d, want 30 (daemon.info)", l.pri)
	}
	return pid
}

// psEntry writes a restart script that starts a Tomcat-like process with the given words (or
// nothing, when words is nil) and returns it.
func (e *psEnv) restartScript(name string, words ...string) string {
	e.t.Helper()
	body := "exit 0\n"
	if words != nil {
		args := e.javaArgs(words...)
		for i, a := range args {
			args[i] = "'" + a + "'"
		}
		body = strings.Join(args, " ") + " </dev/null >/dev/null 2>&1 &\nexit 0\n"
	}
	return e.file(name, "#!/bin/sh\n"+body, 0o755)
}

// pfileText is a pfile with MONITOR_INTERVAL interval and the given PENT lines.
func (e *psEnv) pfileText(interval int, pents ...string) string {
	return fmt.Sprintf("IPCKEY 0x%08x\nMONITOR_INTERVAL %d\n%s\n", e.key, interval, strings.Join(pents, "\n"))
}

// TestPcheckContinue: with retry_over_action continue, the retry-over is logged and pcheck
// keeps restarting (paced by MONITOR_INTERVAL); SIGTERM then stops pcheck with the seed's two
// lines and status 0, leaving the process it watched running.
func TestPcheckContinue(t *testing.T) {
	e := newPsEnv(t)
	pid := e.start(e.java, e.javaArgs("=cont=")...)
	script := e.restartScript("start.sh", "=cont=")
	pfile := e.file("pfile", e.pfileText(1, e.java+":"+script+":86400:1:continue:include_strings==cont=&"+e.tag), 0o644)
	pc := e.pcheck("-f", pfile)
	pcPID := pc.Cmd.Process.Pid
	e.expect(upLine(pcPID, e.java, pid))

	killPID(t, pid, syscall.SIGKILL)
	e.expect(downLine(pcPID, e.java, pid), restartLine(pcPID, e.java))
	pid = e.expectUp(pcPID, e.java)
	killPID(t, pid, syscall.SIGKILL)
	ls := e.expect(downLine(pcPID, e.java, pid),
		fmt.Sprintf("pcheck[%d]: (%s) RETRY_OVER:CONTINUE", pcPID, e.java))
	if ls[1].pri != 27 {
		t.Errorf("RETRY_OVER priority %d, want 27 (daemon.err)", ls[1].pri)
	}
	t0 := time.Now()
	e.expect(restartLine(pcPID, e.java))
	if d := time.Since(t0); d < 700*time.Millisecond {
		t.Errorf("the attempt after RETRY_OVER:CONTINUE came after %v, want MONITOR_INTERVAL (1s)", d)
	}
	pid = e.expectUp(pcPID, e.java)
	text := e.show(pfile)
	if want := showText(e.java, pid, 2, 2, "AVAIL", "continue", rerunOf(t, text, t0), "include_strings = =cont=&"+e.tag, 1, "on"); text != want {
		t.Errorf("padmin:\n%s\nwant:\n%s", text, want)
	}
	if !pc.Running() {
		t.Fatal("pcheck exited with continue")
	}

	killPID(t, pc.Cmd.Process.Pid, syscall.SIGTERM)
	e.expect(fmt.Sprintf("pcheck[%d]: SIGTERM Catch (15)!!", pcPID), fmt.Sprintf("pcheck[%d]: Stop pcheck!!", pcPID))
	if code := pc.Exit(t, 10*time.Second); code != 0 {
		t.Errorf("pcheck exit status %d after SIGTERM, want 0", code)
	}
	if !alive(pid) {
		t.Error("stopping pcheck killed the process it watched")
	}
}

// TestPcheckGrace: a failure grace seconds or more after the previous one counts from zero, so
// with grace 2 and retry 1 spaced failures never reach the retry-over, and two close ones do.
func TestPcheckGrace(t *testing.T) {
	e := newPsEnv(t)
	pid := e.start(e.java, e.javaArgs("=grace=")...)
	script := e.restartScript("start.sh", "=grace=")
	opt := "include_strings = =grace=&" + e.tag
	pfile := e.file("pfile", e.pfileText(2, e.java+":"+script+":2:1:exit:include_strings==grace=&"+e.tag), 0o644)
	pc := e.pcheck("-f", pfile)
	pcPID := pc.Cmd.Process.Pid
	e.expect(upLine(pcPID, e.java, pid))
	for n := 1; n <= 2; n++ {
		t0 := time.Now()
		killPID(t, pid, syscall.SIGKILL)
		e.expect(downLine(pcPID, e.java, pid), restartLine(pcPID, e.java))
		pid = e.expectUp(pcPID, e.java)
		text := e.show(pfile)
		rerun := rerunOf(t, text, t0)
		if want := showText(e.java, pid, 1, n, "AVAIL", "exit", rerun, opt, 1, "on"); text != want {
			t.Fatalf("padmin after failure %d:\n%s\nwant:\n%s", n, text, want)
		}
		// retry_count shows 0 once grace has passed without a failure.
		deadline := time.Now().Add(10 * time.Second)
		want := showText(e.java, pid, 0, n, "AVAIL", "exit", rerun, opt, 1, "on")
		for e.show(pfile) != want {
			if time.Now().After(deadline) {
				t.Fatalf("retry_count did not return to 0 after grace:\n%s", e.show(pfile))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Two failures within grace: the second is over the one retry.
	killPID(t, pid, syscall.SIGKILL)
	e.expect(downLine(pcPID, e.java, pid), restartLine(pcPID, e.java))
	pid = e.expectUp(pcPID, e.java)
	e.retryOverExit(pcPID, pid)
	if code := pc.Exit(t, 10*time.Second); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}

// TestPcheckSetPidFail: a restart script that starts nothing gives "Set pid fail" after
// MONITOR_INTERVAL; each counts as a failure, up to the retry-over.
func TestPcheckSetPidFail(t *testing.T) {
	e := newPsEnv(t)
	pid := e.start(e.java, e.javaArgs("=spf=")...)
	script := e.restartScript("start.sh")
	pfile := e.file("pfile", e.pfileText(1, e.java+":"+script+":86400:2:exit:include_strings==spf=&"+e.tag), 0o644)
	// With clpd's alert log present, pcheck reports there too.
	alertLog := e.file("no-alert.log", "", 0o644)
	pc := e.pcheck("-f", pfile)
	pcPID := pc.Cmd.Process.Pid
	e.expect(upLine(pcPID, e.java, pid))
	t0 := time.Now()
	killPID(t, pid, syscall.SIGKILL)
	try := restartLine(pcPID, e.java)
	fail := fmt.Sprintf("pcheck[%d]: Set pid fail ('%s')", pcPID, e.java)
	ls := e.expect(downLine(pcPID, e.java, pid), try, fail, try, fail,
		fmt.Sprintf("pcheck[%d]: (%s) RETRY_OVER:EXIT", pcPID, e.java),
		fmt.Sprintf("pcheck[%d]: (%s) FATAL", pcPID, e.java))
	if d := time.Since(t0); d < 1800*time.Millisecond {
		t.Errorf("two Set pid fail took %v, want two MONITOR_INTERVALs (2s)", d)
	}
	// daemon.warning for Down, daemon.err for Set pid fail and RETRY_OVER, daemon.crit for FATAL.
	for i, want := range []int{28, 30, 27, 30, 27, 27, 26} {
		if ls[i].pri != want {
			t.Errorf("line %d %q: priority %d, want %d", i+1, ls[i].text, ls[i].pri, want)
		}
	}
	if code := pc.Exit(t, 10*time.Second); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	recs, err := alert.Read(alertLog)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %d %s %s", r.Module, r.ID, r.Level, r.Text))
	}
	want := []string{
		fmt.Sprintf("pcheck 1 INFO %s", strings.SplitN(upLine(pcPID, e.java, pid), ": ", 2)[1]),
		fmt.Sprintf("pcheck 2 WARN %s", strings.SplitN(downLine(pcPID, e.java, pid), ": ", 2)[1]),
		"pcheck 3 INFO Try to restart ('" + e.java + "')",
		"pcheck 4 ERR Set pid fail ('" + e.java + "')",
		"pcheck 3 INFO Try to restart ('" + e.java + "')",
		"pcheck 4 ERR Set pid fail ('" + e.java + "')",
		"pcheck 5 ERR (" + e.java + ") RETRY_OVER:EXIT",
		"pcheck 6 ERR (" + e.java + ") FATAL",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alert log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPadminStopStartReload: monitoring paused and resumed, the pfile re-read with the counters
// of an unchanged entry kept, a bad pfile and an edited IPCKEY explained.
func TestPadminStopStartReload(t *testing.T) {
	e := newPsEnv(t)
	pidA := e.start(e.java, e.javaArgs("=alpha=")...)
	scriptA := e.restartScript("a.sh", "=alpha=")
	lineA := e.java + ":" + scriptA + ":86400:3:exit:include_strings==alpha=&" + e.tag
	optA := "include_strings = =alpha=&" + e.tag
	pfile := e.file("pfile", e.pfileText(1, lineA), 0o644)
	pc := e.pcheck("-f", pfile)
	pcPID := pc.Cmd.Process.Pid
	e.expect(upLine(pcPID, e.java, pidA))
	// command runs padmin -c c and expects its syslog line and then what pcheck logs because of
	// it. padmin logs once pcheck has answered, and pcheck may log first: the two processes'
	// lines are checked each in their own order.
	command := func(c string, pcheckLines ...string) {
		t.Helper()
		out, errs, code := e.padmin("-f", pfile, "-c", c)
		if code != 0 || out != "" || errs != "" {
			t.Fatalf("padmin -c %s: exit %d, stdout %q, stderr %q", c, code, out, errs)
		}
		want := append([]string{fmt.Sprintf("padmin[0]: Command execute. [%s] pfile='%s'", c, pfile)}, pcheckLines...)
		var got []string
		for range want {
			l, ok := e.next()
			if !ok {
				t.Fatalf("after padmin -c %s: got %q, want %q", c, got, want)
			}
			if l.tag == "padmin" {
				got = append([]string{fmt.Sprintf("padmin[0]: %s", l.text)}, got...)
			} else {
				got = append(got, fmt.Sprintf("%s[%d]: %s", l.tag, l.pid, l.text))
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("after padmin -c %s:\n got %q\nwant %q", c, got, want)
		}
	}

	command("stop")
	if got, want := e.show(pfile), showText(e.java, pidA, 0, 0, "AVAIL", "exit", "--------", optA, 1, "off"); got != want {
		t.Fatalf("after stop:\n%s\nwant:\n%s", got, want)
	}
	killPID(t, pidA, syscall.SIGKILL)
	e.quiet(1500 * time.Millisecond) // more than MONITOR_INTERVAL: nothing logged, nothing restarted
	if got, want := e.show(pfile), showText(e.java, 0, 0, 0, "DOWN", "exit", "--------", optA, 1, "off"); got != want {
		t.Fatalf("after a death while stopped:\n%s\nwant:\n%s", got, want)
	}

	t0 := time.Now()
	command("start", fmt.Sprintf("pcheck[%d]: Set pid fail ('%s')", pcPID, e.java), restartLine(pcPID, e.java))
	pidA = e.expectUp(pcPID, e.java)
	text := e.show(pfile)
	rerunA := rerunOf(t, text, t0)
	if want := showText(e.java, pidA, 1, 1, "AVAIL", "exit", rerunA, optA, 1, "on"); text != want {
		t.Fatalf("after start:\n%s\nwant:\n%s", text, want)
	}

	// Reload: a new entry B above A; A unchanged keeps its process and counters.
	pidB := e.start(e.java, e.javaArgs("=bravo=")...)
	scriptB := e.restartScript("b.sh", "=bravo=")
	lineB := e.java + ":" + scriptB + ":600:5:continue:include_strings==bravo=&" + e.tag + ",exclude_strings=grep"
	e.file("pfile", e.pfileText(1, "# added B", lineB, lineA), 0o644)
	command("reload", upLine(pcPID, e.java, pidB))
	want := showText(e.java, pidB, 0, 0, "AVAIL", "continue", "--------", "include_strings = =bravo=&"+e.tag+"\nexclude_strings = grep", 1, "on") +
		"\n" + showText(e.java, pidA, 1, 1, "AVAIL", "exit", rerunA, optA, 2, "on")
	if got := e.show(pfile); got != want {
		t.Fatalf("after reload:\n%s\nwant:\n%s", got, want)
	}

	// A pfile pcheck refuses: padmin says where, pcheck keeps the previous one.
	e.file("pfile", e.pfileText(1, lineB, lineA, e.java+":"+scriptA+":86400:3:reboot"), 0o644)
	out, errs, code := e.padmin("-f", pfile, "-c", "reload")
	if want := "padmin: " + pfile + `:5: retry_over_action: unknown action "reboot": accepted are exit, continue` + "\n"; code != 2 || out != "" || errs != want {
		t.Errorf("reload of a bad pfile: exit %d, stdout %q, stderr %q\nwant %q", code, out, errs, want)
	}
	if got := e.show(pfile); got != want {
		t.Errorf("after a refused reload:\n%s", got)
	}
	// A world-writable pfile is refused too.
	e.file("pfile", e.pfileText(1, lineB, lineA), 0o666)
	if _, errs, code := e.padmin("-f", pfile, "-c", "reload"); code != 2 ||
		errs != "padmin: "+pfile+": mode 0666 lets group or others write it: chmod 644 (-rw-r--r--)\n" {
		t.Errorf("reload of a world-writable pfile: exit %d, stderr %q", code, errs)
	}

	// IPCKEY edited while pcheck runs: padmin explains instead of "not running".
	e.file("pfile", fmt.Sprintf("IPCKEY 0x%08x\n%s\n", e.key+0x100, lineA), 0o644)
	_, errs, code = e.padmin("-f", pfile, "-c", "show", "pent")
	if want := fmt.Sprintf("padmin: pcheck (pid %d) runs %s with IPCKEY 0x%08x, but the pfile now says 0x%08x: IPCKEY cannot change while pcheck runs; restart pcheck\n",
		pcPID, pfile, e.key, e.key+0x100); code != 1 || errs != want {
		t.Errorf("show with an edited IPCKEY: exit %d, stderr %q\nwant %q", code, errs, want)
	}
	e.quiet(100 * time.Millisecond)
}

// TestPcheckOneInstance: a second pcheck on the same pfile, or on another pfile with the same
// IPCKEY, is refused; a pcheck killed with SIGKILL does not block the next one.
func TestPcheckOneInstance(t *testing.T) {
	e := newPsEnv(t)
	e.start(e.java, e.javaArgs("=one=")...)
	script := e.restartScript("start.sh", "=one=")
	line := e.java + ":" + script + ":86400:3:exit:include_strings==one=&" + e.tag
	pfile := e.file("pfile_a", e.pfileText(1, line), 0o644)
	other := e.file("pfile_b", e.pfileText(1, line), 0o644)
	first := e.pcheck("-f", pfile)
	e.expectUp(first.Cmd.Process.Pid, e.java)

	for _, tt := range []struct{ pfile, want string }{
		{pfile, fmt.Sprintf("pcheck: %s is already watched by pcheck (pid %d)\n", pfile, first.Cmd.Process.Pid)},
		{other, fmt.Sprintf("pcheck: IPCKEY 0x%08x of %s is already used by pcheck (pid %d) for %s\n", e.key, other, first.Cmd.Process.Pid, pfile)},
	} {
		second := e.pcheck("-f", tt.pfile)
		if code := second.Exit(t, 10*time.Second); code != 3 {
			t.Errorf("second pcheck on %s: exit %d, want 3", tt.pfile, code)
		}
		if got := second.errText(t); got != tt.want {
			t.Errorf("second pcheck: stderr %q, want %q", got, tt.want)
		}
		l := e.expect(fmt.Sprintf("pcheck[%d]: %s", second.Cmd.Process.Pid, strings.TrimSuffix(strings.TrimPrefix(tt.want, "pcheck: "), "\n")))
		if l[0].pri != 27 {
			t.Errorf("refusal priority %d, want 27", l[0].pri)
		}
	}

	// SIGKILL leaves the socket file; the next pcheck replaces it.
	killPID(t, first.Cmd.Process.Pid, syscall.SIGKILL)
	first.Exit(t, 10*time.Second)
	if _, err := os.Stat(filepath.Join(e.runDir, fmt.Sprintf("0x%08x.sock", e.key))); err != nil {
		t.Fatalf("no stale socket after SIGKILL: %v", err)
	}
	third := e.pcheck("-f", other)
	e.expectUp(third.Cmd.Process.Pid, e.java)
	if out := e.show(other); !strings.Contains(out, "proc_sts  = AVAIL\n") {
		t.Errorf("padmin on the new pcheck:\n%s", out)
	}
}

// TestPcheckTemplate runs the shipped templates (templates/processsaver/bin) with only their
// placeholders filled in: the seed's script with its catalina.sh start and sleep 5.
func TestPcheckTemplate(t *testing.T) {
	e := newPsEnv(t)
	root := repoPath(t, "templates/processsaver/bin")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	words := []string{"-Dcatalina.home=/usr/local/tomcat", "org.apache.catalina.startup.Bootstrap", "start"}
	home := e.tomcat(words...)
	script := e.file("conf/bin/tomcat_start.sh", strings.Replace(read("tomcat_start.sh"), "【Tomcat インストールディレクトリ】", home, 1), 0o755)
	dump := filepath.Join(e.dir, "conf", "bin", "pfile_tomcat.dmp")
	pfile := e.file("conf/bin/pfile_tomcat", strings.NewReplacer(
		"【0xXXXXXXXX】", fmt.Sprintf("0x%08x", e.key),
		"【DUMPFILE 名】", dump,
		"/usr/bin/java", e.java,
		"/var/opt/HA/PS/conf/bin/tomcat_start.sh", script,
		"include_strings=apache&tomcat", "include_strings=apache&tomcat&"+e.tag,
	).Replace(read("pfile_tomcat")), 0o644)
	pid := e.start(e.java, e.javaArgs(words...)...)
	pc := e.pcheck("-f", pfile)
	pcPID := pc.Cmd.Process.Pid
	e.expect(upLine(pcPID, e.java, pid))
	killPID(t, pid, syscall.SIGTERM)
	e.expect(downLine(pcPID, e.java, pid), restartLine(pcPID, e.java))
	t0 := time.Now()
	pid = e.expectUp(pcPID, e.java)
	// pcheck takes the new process once the script has ended, after its "sleep 5".
	if d := time.Since(t0); d < 4500*time.Millisecond {
		t.Errorf("Up %v after Try to restart, want after the script's sleep 5", d)
	}
	text := e.show(pfile)
	if want := showText(e.java, pid, 1, 1, "AVAIL", "exit", rerunOf(t, text, t0.Add(-time.Second)), "include_strings = apache&tomcat&"+e.tag, 1, "on"); text != want {
		t.Errorf("padmin:\n%s\nwant:\n%s", text, want)
	}
	if b, _ := os.ReadFile(dump); string(b) != text {
		t.Errorf("SHM_DUMP_FILE:\n%s\nwant:\n%s", b, text)
	}
}

// openPty returns a pseudo-terminal pair; what is written on the slave is read on the master
// (with the terminal's \n -> \r\n).
func openPty(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestPcheckTerminalAndSignals: run in a terminal, pcheck echoes its syslog lines on stderr;
// SIGINT stops it like SIGTERM with its own name; an ignored SIGHUP (nohup) stays ignored.
func TestPcheckTerminalAndSignals(t *testing.T) {
	e := newPsEnv(t)
	pid := e.start(e.java, e.javaArgs("=tty=")...)
	script := e.restartScript("start.sh", "=tty=")
	pfile := e.file("pfile", e.pfileText(1, e.java+":"+script+":86400:3:exit:include_strings==tty=&"+e.tag), 0o644)

	master, slave := openPty(t)
	var mu sync.Mutex
	var screen bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	cmd := exec.Command(filepath.Join(e.bin, "pcheck"), "-f", pfile)
	cmd.Env = e.env()
	cmd.Stdout, cmd.Stderr = slave, slave
	pc := clustertest.StartProc(t, cmd)
	pcPID := pc.Cmd.Process.Pid
	e.expect(upLine(pcPID, e.java, pid))
	killPID(t, pcPID, syscall.SIGINT)
	e.expect(fmt.Sprintf("pcheck[%d]: SIGINT Catch (2)!!", pcPID), fmt.Sprintf("pcheck[%d]: Stop pcheck!!", pcPID))
	if code := pc.Exit(t, 10*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGINT, want 0", code)
	}
	want := upLine(pcPID, e.java, pid) + "\r\n" + fmt.Sprintf("pcheck[%d]: SIGINT Catch (2)!!\r\npcheck[%d]: Stop pcheck!!\r\n", pcPID, pcPID)
	waitScreen(t, func() bool { mu.Lock(); defer mu.Unlock(); return screen.String() == want },
		func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }, want)

	// Under nohup (SIGHUP ignored), SIGHUP does nothing; SIGTERM still stops pcheck.
	cmd = exec.Command("/bin/sh", "-c", `trap "" HUP; exec "$0" -f "$1"`, filepath.Join(e.bin, "pcheck"), pfile)
	cmd.Env = e.env()
	nohup := clustertest.StartProc(t, cmd)
	np := nohup.Cmd.Process.Pid
	e.expect(upLine(np, e.java, pid))
	killPID(t, np, syscall.SIGHUP)
	e.quiet(500 * time.Millisecond)
	if !nohup.Running() {
		t.Fatal("an ignored SIGHUP stopped pcheck")
	}
	killPID(t, np, syscall.SIGTERM)
	e.expect(fmt.Sprintf("pcheck[%d]: SIGTERM Catch (15)!!", np), fmt.Sprintf("pcheck[%d]: Stop pcheck!!", np))
	if code := nohup.Exit(t, 10*time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// waitScreen polls cond for up to 5 s, then fails showing what was there.
func waitScreen(t *testing.T, cond func() bool, got func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("got %q\nwant %q", got(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
