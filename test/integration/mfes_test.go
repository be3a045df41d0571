package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/internal/proctest"
	"clpkit/pkg/alert"
)

// The Micro Focus Enterprise Server tests drive casstart, casstop, mfds and mdump (built with
// the other commands) against a stand-in region: testdata/mfes/standin, a small real service on
// a loopback port, started and stopped by the command backend of a per-test configuration. The
// seed's scripts (testdata/mfes/seed000, verbatim) and the templates (templates/mfes) run
// unchanged, by their shebang, with the CLP_* variables the cluster gives them.

// mfesRegion is one test's Enterprise Server: a directory server and the region ESSERV1, every
// path and port its own.
type mfesRegion struct {
	dir      string
	bin      string // the kit's commands and the stand-in
	config   string
	mfdsPort int
	port     int
	// tag is in the command line of every process of the region (and mfdsTag of the
	// directory server's), so the test finds exactly its own.
	tag, mfdsTag string
	accepts      string // the stand-in's connection log
	alertLog     string
	env          []string
}

// regionOpts changes the region's start command.
type regionOpts struct {
	// standin holds extra stand-in flags: "-ignore-term -children 2", or no -listen at all.
	standin string
	// noListen starts a region that never listens.
	noListen bool
	// start replaces the whole start command.
	start string
	// mfdsName is the name the directory server's stand-in runs under (mfds32 by default, the
	// process the template's stop.sh kills with killall).
	mfdsName string
	timeouts string
}

// buildStandin builds the stand-in region into the commands' folder once per test binary. The
// parallel tests that all want it wait on a lock file for the first to build it.
func buildStandin(t *testing.T, bin string) string {
	t.Helper()
	p := filepath.Join(bin, "standin")
	lock, err := os.OpenFile(p+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cmd := exec.Command("go", "build", "-o", p+".tmp", "./testdata/mfes/standin")
	cmd.Dir = repoPath(t, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in region: %v\n%s", err, out)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
	return p
}

// newMFESRegion writes the configuration of a region ESSERV1 and its directory server under a
// fresh folder, and registers a clean-up that kills whatever of them is left.
func newMFESRegion(t *testing.T, bin string, o regionOpts) *mfesRegion {
	t.Helper()
	standin := buildStandin(t, bin)
	dir := t.TempDir()
	r := &mfesRegion{
		dir: dir, bin: bin, config: filepath.Join(dir, "mfes.toml"),
		mfdsPort: clustertest.FreePort(t), port: clustertest.FreePort(t),
		tag: dir + "/ESSERV1", mfdsTag: dir + "/mfds",
		accepts: filepath.Join(dir, "accept.log"), alertLog: filepath.Join(dir, "alert.log"),
	}
	if o.mfdsName == "" {
		o.mfdsName = "mfds32"
	}
	// The directory server runs under its own name, as Micro Focus's mfds32 does, so that
	// killall finds it by that name.
	mfdsBin := filepath.Join(dir, "bin", o.mfdsName)
	proctest.CopyProgram(t, standin, mfdsBin)
	listen := fmt.Sprintf("-listen 127.0.0.1:%d ", r.port)
	if o.noListen {
		listen = ""
	}
	start := o.start
	if start == "" {
		start = fmt.Sprintf("exec %s -daemon %s-pidfile %s/esserv1.pid -log %s %s -tag %s", standin, listen, dir, r.accepts, o.standin, r.tag)
	}
	cfg := mfesConfigHead(o.timeouts) + fmt.Sprintf(`
[mfds]
address = "127.0.0.1:%d"
start = "exec %s -daemon -listen 127.0.0.1:%d -pidfile %s/mfds.pid -tag %s"
stop = "kill $(cat %s/mfds.pid)"
pidfile = "%s/mfds.pid"
processes = '-tag %s( |$)'

[region.ESSERV1]
listener = "127.0.0.1:%d"
start = %q
stop = "kill $(cat %s/esserv1.pid)"
pidfile = "%s/esserv1.pid"
processes = '-tag %s( |$)'
`, r.mfdsPort, mfdsBin, r.mfdsPort, dir, r.mfdsTag, dir, dir, regexp.QuoteMeta(r.mfdsTag),
		r.port, start, dir, dir, regexp.QuoteMeta(r.tag))
	if err := os.WriteFile(r.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	// The seed's and the template's stop.sh call killall, which kills by name on the whole
	// machine: they find this test's killall first, which kills only this test's processes.
	stubs := filepath.Join(dir, "stub-bin")
	killallStub(t, stubs, dir)
	r.env = []string{
		"PATH=" + stubs + ":" + bin + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"CLPKIT_MFES_CONFIG=" + r.config,
		alert.EnvPath + "=" + r.alertLog,
		alert.EnvServer + "=server1",
	}
	t.Cleanup(func() {
		for _, p := range append(r.procs(r.tag), r.procs(r.mfdsTag)...) {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	})
	return r
}

// mfesConfigHead is the beginning of a configuration of the Micro Focus commands: the folders
// and the [timeouts] table's keys, the tests' usual ones when "".
func mfesConfigHead(timeouts string) string {
	if timeouts == "" {
		timeouts = "start = \"20s\"\nstop = \"5s\"\nforce = \"2s\""
	}
	return "state_dir = \"state\"\nlog_dir = \"log\"\n\n[timeouts]\n" + timeouts + "\n"
}

// useMFESRegion gives every process the test starts from now on (clpd, and so its scripts) the
// kit's commands first on PATH and a stand-in region ESSERV1 to drive, for the mfes templates
// under clpd (templates_test.go). Not for parallel tests: it sets the test binary's environment.
func useMFESRegion(t *testing.T, bin string) {
	t.Helper()
	r := newMFESRegion(t, bin, regionOpts{})
	// Only the four commands: the rest of PATH is the caller's (it may wrap other commands).
	mf := filepath.Join(r.dir, "mfes-bin")
	if err := os.MkdirAll(mf, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"casstart", "casstop", "mfds", "mdump"} {
		if err := os.Symlink(filepath.Join(bin, c), filepath.Join(mf, c)); err != nil {
			t.Fatal(err)
		}
	}
	// The template's stop.sh ends with killall -9 mfds32: the clusters' scripts get the
	// killall that kills only this region's directory server, and a process named mfds32 that
	// the test did not start must still run when the test ends.
	killallStub(t, mf, r.dir)
	hostMFDS(t)
	t.Setenv("PATH", mf+":"+os.Getenv("PATH"))
	t.Setenv("CLPKIT_MFES_CONFIG", r.config)
}

// procs returns the live processes whose command line holds "-tag <tag>".
func (r *mfesRegion) procs(tag string) []int {
	var out []int
	for _, pid := range clustertest.PIDs() {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || clustertest.Gone(pid) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if i := slices.Index(args, "-tag"); i >= 0 && i+1 < len(args) && args[i+1] == tag {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// run runs one of the kit's commands (or a script) with the region's environment plus extra,
// in dir (the script's folder for scripts), and returns stdout, stderr and the exit status.
func (r *mfesRegion) run(t *testing.T, dir string, extra []string, argv ...string) (string, string, int) {
	t.Helper()
	argv = slices.Clone(argv)
	if !strings.Contains(argv[0], "/") {
		argv[0] = filepath.Join(r.bin, argv[0])
	}
	return clustertest.Exec(t, dir, append(slices.Clone(r.env), extra...), argv...)
}

// accepting reports whether the region's listener accepts connections.
func (r *mfesRegion) accepting() bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// stillAccepts reports whether this test's region still accepts connections after it was
// stopped. A listener on the port that only processes outside the region hold belongs to a
// program that took the port since the test chose it (a port from FreePort is free only at that
// moment): that is logged, and is not the region accepting. A listener that no process holds
// any more, or one of the region's (or of a process that exits, and so shows no command line),
// is.
func (r *mfesRegion) stillAccepts(t *testing.T) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	owners := listenerOwners(t, r.port)
	for _, p := range owners {
		// An exiting process shows no command line: it counts as the region's.
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if len(b) == 0 || bytes.Contains(b, []byte("\x00"+r.tag+"\x00")) || bytes.HasSuffix(b, []byte("\x00"+r.tag)) {
			return true
		}
	}
	if len(owners) > 0 {
		t.Logf("port %d is held by processes %v, not by this region: another program took the port", r.port, owners)
		return false
	}
	return true
}

// listenerOwners returns the processes that hold a socket listening on 127.0.0.1:port.
func listenerOwners(t *testing.T, port int) []int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	// Lines: sl local_address rem_address st ... uid timeout inode; 0A is LISTEN.
	local := fmt.Sprintf("0100007F:%04X", port)
	inodes := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 10 && f[1] == local && f[3] == "0A" {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	var out []int
	for _, pid := range clustertest.PIDs() {
		fd := fmt.Sprintf("/proc/%d/fd", pid)
		fds, _ := os.ReadDir(fd)
		for _, f := range fds {
			if l, err := os.Readlink(filepath.Join(fd, f.Name())); err == nil && inodes[l] {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// alerts returns the alert log's records as "LEVEL ID text".
func (r *mfesRegion) alerts(t *testing.T) []string {
	t.Helper()
	recs, err := alert.Read(r.alertLog)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, rec := range recs {
		if rec.Module != "mfes" || rec.Server != "server1" {
			t.Errorf("alert record from %s/%s: %+v", rec.Server, rec.Module, rec)
		}
		out = append(out, fmt.Sprintf("%s %d %s", rec.Level, rec.ID, rec.Text))
	}
	return out
}

// ms rounds the timings the alert texts carry ("in 312ms") so that they compare.
var msInText = regexp.MustCompile(`in [0-9.]+(ms|s|µs)\.`)

// killallStub writes into dir a killall for the seed's and the template's stop.sh: `killall
// [-SIGNAL] NAME...` as psmisc's, but only for processes whose command line holds scope (the
// test's folder), so that a test never kills a process it did not start, such as the directory
// server of a Micro Focus installation on the machine that runs the tests. It appends each call
// to scope/killall.calls, and says "NAME: no process found" (status 1) as killall does.
func killallStub(t *testing.T, dir, scope string) {
	t.Helper()
	clustertest.Script(t, dir, "killall", fmt.Sprintf(`# killall for the tests: only processes whose command line holds the test's folder.
scope=%s
echo "$*" >> "$scope/killall.calls"
sig=TERM
case "$1" in -[0-9]*|-[A-Z]*) sig=${1#-}; shift;; esac
status=0
for name in "$@"; do
	found=
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = "$name" ] || continue
		case "$(tr '\000' ' ' < "$d/cmdline" 2>/dev/null)" in *"$scope"/*) ;; *) continue;; esac
		kill -"$sig" "${d#/proc/}" 2>/dev/null && found=1
	done
	[ -n "$found" ] || { echo "$name: no process found" >&2; status=1; }
done
exit $status
`, shellQuote(scope)))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// hostMFDS starts, outside any test region's folder, a process named mfds32 and one named mfd32
// (the seed's stop.sh kills that name): they stand for the directory server of a Micro Focus
// installation on the machine that runs the tests. When the test ends both must still run: no
// script of the test killed them by name. It returns a check that fails tb unless both still
// run (it gives a kill sent just before 200 ms to take effect).
func hostMFDS(t *testing.T) func(tb testing.TB) {
	t.Helper()
	// Each is a copy of sh, named so, that waits as long as the test binary runs: a test binary
	// killed at its timeout (its clean-ups never run) leaves nothing behind for long.
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	wait := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done", os.Getpid())
	dir := t.TempDir()
	var hosts []*clustertest.Proc
	for _, name := range []string{"mfds32", "mfd32"} {
		p := filepath.Join(dir, name)
		proctest.CopyProgram(t, sh, p)
		hosts = append(hosts, clustertest.StartProc(t, exec.Command(p, "-c", wait)))
	}
	check := func(tb testing.TB) {
		tb.Helper()
		grace, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		for _, h := range hosts {
			select {
			case <-h.Done():
				tb.Errorf("the host's %s (pid %d, not started by the test) was killed: %s", filepath.Base(h.Cmd.Path), h.Cmd.Process.Pid, h.Cmd.ProcessState)
			case <-grace.Done():
			}
		}
	}
	// Registered after the processes' kills, so it runs before them.
	t.Cleanup(func() { check(t) })
	return check
}

// mfesCases are the cluster's runs of the seed scripts that reach the Micro Focus commands, with
// what they print on stdout (the seed's lines; templates/templates_test.go has the others).
var mfesCases = []mfesCase{
	{"start-home", []string{"CLP_EVENT=START", "CLP_DISK=SUCCESS", "CLP_SERVER=HOME"}, "NORMAL1\nNORMAL2\nEXIT\n"},
	{"start-other", []string{"CLP_EVENT=START", "CLP_DISK=SUCCESS", "CLP_SERVER=OTHER"}, "NORMAL1\nON_OTHER1\nEXIT\n"},
	{"failover-home", []string{"CLP_EVENT=FAILOVER", "CLP_DISK=SUCCESS", "CLP_SERVER=HOME"}, "FAILOVER1\nFAILOVER2\nEXIT\n"},
	{"failover-other", []string{"CLP_EVENT=FAILOVER", "CLP_DISK=SUCCESS", "CLP_SERVER=OTHER"}, "FAILOVER1\nON_OTHER2\nEXIT\n"},
}

// mfesCase is a run of a script under the CLP_* variables env, and what it prints on stdout.
type mfesCase struct {
	name string
	env  []string
	out  string
}

// runMFESCases runs check for each of mfesCases, in parallel subtests of t that each have a
// region of their own, on the scripts of folder (relative to the module root); hostAlive is
// hostMFDS's check.
func runMFESCases(t *testing.T, folder string, check func(t *testing.T, c mfesCase, r *mfesRegion, dir string, hostAlive func(testing.TB))) {
	s := setup(t)
	t.Parallel()
	hostAlive := hostMFDS(t)
	dir := repoPath(t, folder)
	for _, c := range mfesCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			check(t, c, newMFESRegion(t, s.bin, regionOpts{}), dir, hostAlive)
		})
	}
}

// TestMFESSeedScripts runs seed 000's start.sh and stop.sh exactly as the seed prints them, by
// their shebang (/bin/sh, dash here), under each CLP_* case: start.sh brings the region up
// (mfds &, sleep 15, casstart /rESSERV1), stop.sh takes it down with nothing left. Under dash
// the seed's `source` is not a command, and its `killall -9 mfd32` names no process: both say so
// on stderr and change nothing else, which the test pins. The scripts find the test's killall
// first on PATH (killallStub): a process named mfd32 or mfds32 that the test did not start
// still runs after each stop.sh and at the end.
func TestMFESSeedScripts(t *testing.T) {
	runMFESCases(t, "testdata/mfes/seed000", func(t *testing.T, c mfesCase, r *mfesRegion, seed string, hostAlive func(testing.TB)) {
		line := 10 // the `source` line of the START branch
		if strings.HasPrefix(c.name, "failover") {
			line = 29
		}
		start, stop := filepath.Join(seed, "start.sh"), filepath.Join(seed, "stop.sh")
		began := time.Now()
		so, se, code := r.run(t, seed, c.env, start)
		took := time.Since(began)
		if so != c.out || code != 0 || se != fmt.Sprintf("%s: %d: source: not found\n", start, line) {
			t.Fatalf("start.sh: exit %d\nstdout %q\nstderr %q", code, so, se)
		}
		if took < 15*time.Second {
			t.Errorf("start.sh took %s: the seed's sleep 15 did not run", took)
		}
		if !r.accepting() {
			t.Fatal("the region does not accept connections after start.sh")
		}
		if so, se, code := r.run(t, seed, nil, "mdump", "localhost", "ESSERV1"); code != 0 || se != "" || !strings.Contains(so, "mListenerStatus: Started\n") {
			t.Errorf("mdump after start.sh: exit %d, %q, %q", code, so, se)
		}
		mfds := r.procs(r.mfdsTag)
		if len(mfds) != 1 {
			t.Fatalf("directory server processes after start.sh: %v", mfds)
		}
		so, se, code = r.run(t, seed, c.env, stop)
		if so != c.out || code != 0 || se != fmt.Sprintf("%s: %d: source: not found\nmfd32: no process found\n", stop, line) {
			t.Fatalf("stop.sh: exit %d\nstdout %q\nstderr %q", code, so, se)
		}
		hostAlive(t)
		if b, err := os.ReadFile(filepath.Join(r.dir, "killall.calls")); err != nil || string(b) != "-9 mfd32\n" {
			t.Errorf("stop.sh called killall with %q (%v), want -9 mfd32 once", b, err)
		}
		if left := r.procs(r.tag); len(left) > 0 {
			t.Errorf("region processes left after stop.sh: %v", left)
		}
		if r.stillAccepts(t) {
			t.Error("the region still accepts connections after stop.sh")
		}
		// killall -9 mfd32 matched nothing: the directory server still runs, as it did for
		// the seed. mfds -s 1 stops it.
		if got := r.procs(r.mfdsTag); !slices.Equal(got, mfds) {
			t.Errorf("directory server after stop.sh: %v, want %v still running", got, mfds)
		}
		if so, se, code := r.run(t, seed, nil, "mfds", "-s", "1"); code != 0 || so != "" || se != "" {
			t.Errorf("mfds -s 1: exit %d, %q, %q", code, so, se)
		}
		if got := r.procs(r.mfdsTag); len(got) > 0 {
			t.Errorf("directory server after mfds -s 1: %v", got)
		}
		var want []string
		want = append(want, "INFO 7 mfds has started in X.", "INFO 1 Region ESSERV1 has started in X.", "INFO 3 Stopping region ESSERV1 has completed.", "INFO 9 Stopping the directory server (mfds) has completed.")
		var got []string
		for _, a := range r.alerts(t) {
			got = append(got, msInText.ReplaceAllString(a, "in X."))
		}
		if !slices.Equal(got, want) {
			t.Errorf("alert log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// TestMFESTemplates runs templates/mfes/start.sh and stop.sh the same way. The template sources
// /root/ES40SP2 only when it exists (it does not here) and kills mfds32, the directory server,
// so both scripts are silent on stderr and nothing at all is left running. Its killall -9
// mfds32 finds the test's killall first on PATH (killallStub), which kills the test's own
// directory server only: a process named mfds32 that the test did not start still runs after
// each stop.sh and at the end.
func TestMFESTemplates(t *testing.T) {
	runMFESCases(t, "templates/mfes", func(t *testing.T, c mfesCase, r *mfesRegion, tpl string, hostAlive func(testing.TB)) {
		so, se, code := r.run(t, tpl, c.env, filepath.Join(tpl, "start.sh"))
		if so != c.out || se != "" || code != 0 {
			t.Fatalf("start.sh: exit %d\nstdout %q\nstderr %q", code, so, se)
		}
		if !r.accepting() || len(r.procs(r.mfdsTag)) != 1 {
			t.Fatalf("after start.sh: listener accepting %v, directory server %v", r.accepting(), r.procs(r.mfdsTag))
		}
		so, se, code = r.run(t, tpl, c.env, filepath.Join(tpl, "stop.sh"))
		if so != c.out || se != "" || code != 0 {
			t.Fatalf("stop.sh: exit %d\nstdout %q\nstderr %q", code, so, se)
		}
		// casstop returns only once nothing of the region runs: that is checked at once.
		if left := r.procs(r.tag); len(left) > 0 {
			t.Errorf("region processes left after stop.sh: %v", left)
		}
		// The script's last step, `killall -9 mfds32`, returns before the kernel has
		// finished the killed process, so the directory server gets a moment to be gone.
		deadline := time.Now().Add(5 * time.Second)
		for len(r.procs(r.mfdsTag)) > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if left := r.procs(r.mfdsTag); len(left) > 0 {
			t.Errorf("directory server processes left after stop.sh: %v", left)
		}
		hostAlive(t)
		if b, err := os.ReadFile(filepath.Join(r.dir, "killall.calls")); err != nil || string(b) != "-9 mfds32\n" {
			t.Errorf("stop.sh called killall with %q (%v), want -9 mfds32 once", b, err)
		}
	})
}

// TestMFESStopScriptsLeaveTheHostAlone: the seed's stop.sh (killall -9 mfd32) and the
// template's (killall -9 mfds32) kill by name, machine-wide. Run by the tests, they reach the
// test's killall, which kills the test's own directory server and nothing else: a process named
// mfds32 (or mfd32) that runs on the machine outside the test, as Micro Focus's directory server
// would, survives them.
func TestMFESStopScriptsLeaveTheHostAlone(t *testing.T) {
	s := setup(t)
	t.Parallel()
	hostAlive := hostMFDS(t)
	seed := repoPath(t, "testdata/mfes/seed000")
	tpl := repoPath(t, "templates/mfes")
	env := []string{"CLP_EVENT=START", "CLP_DISK=SUCCESS", "CLP_SERVER=HOME"}
	for _, sc := range []struct{ name, dir, stderr string }{
		{"seed", seed, "%s: 10: source: not found\nmfd32: no process found\n"},
		{"template", tpl, ""},
	} {
		t.Run(sc.name, func(t *testing.T) {
			r := newMFESRegion(t, s.bin, regionOpts{})
			if so, se, code := r.run(t, r.dir, nil, "casstart", "/rESSERV1"); code != 0 || so != "" || se != "" {
				t.Fatalf("casstart: exit %d, %q, %q", code, so, se)
			}
			mfds := r.procs(r.mfdsTag)
			if len(mfds) != 1 {
				t.Fatalf("directory server processes: %v", mfds)
			}
			stop := filepath.Join(sc.dir, "stop.sh")
			want := sc.stderr
			if want != "" {
				want = fmt.Sprintf(want, stop)
			}
			if so, se, code := r.run(t, sc.dir, env, stop); code != 0 || so != "NORMAL1\nNORMAL2\nEXIT\n" || se != want {
				t.Fatalf("stop.sh: exit %d\nstdout %q\nstderr %q", code, so, se)
			}
			hostAlive(t)
			// The template's killall -9 mfds32 still kills the test's own directory server.
			if sc.name == "template" {
				clustertest.WaitFor(t, 5*time.Second, "the test's mfds32 killed by stop.sh", func() bool { return len(r.procs(r.mfdsTag)) == 0 })
			} else if got := r.procs(r.mfdsTag); !slices.Equal(got, mfds) {
				t.Errorf("directory server after the seed's stop.sh: %v, want %v", got, mfds)
			}
		})
	}
}

// TestMFESMonitor runs seed 000's monitor script, verbatim and as the template, against a
// running region: both keep looping (each loop's mdump probes the listener, which the stand-in
// counts) until the region is killed, or the directory server is, and then exit 0 within one
// loop (sleep 5).
func TestMFESMonitor(t *testing.T) {
	s := setup(t)
	t.Parallel()
	seed := repoPath(t, "testdata/mfes/seed000/monitor.sh")
	tpl := repoPath(t, "templates/mfes/monitor.sh")
	for _, kill := range []string{"region", "mfds"} {
		t.Run("kill-"+kill, func(t *testing.T) {
			t.Parallel()
			r := newMFESRegion(t, s.bin, regionOpts{mfdsName: "mfds-mon"})
			if so, se, code := r.run(t, r.dir, nil, "casstart", "/rESSERV1"); code != 0 || so != "" || se != "" {
				t.Fatalf("casstart: exit %d, %q, %q", code, so, se)
			}
			type monitor struct {
				*clustertest.Proc
				name string
				out  bytes.Buffer
			}
			var mons []*monitor
			// The seed's block has no #! line: sh runs it, as clpd's wrapper does.
			for _, m := range []struct{ name, path string }{{"seed", seed}, {"template", tpl}} {
				mon := &monitor{name: m.name}
				cmd := exec.Command("/bin/sh", m.path)
				cmd.Dir = t.TempDir() // the script writes $$tmp.txt into its working directory
				cmd.Env = r.env
				cmd.Stdout, cmd.Stderr = &mon.out, &mon.out
				mon.Proc = clustertest.StartProc(t, cmd)
				mons = append(mons, mon)
			}
			before := countLines(r.accepts)
			// sleep 10, then a check every 5 s: by 22 s each has checked at least twice (three
			// times unless the machine is slow).
			time.Sleep(22 * time.Second)
			for _, m := range mons {
				select {
				case <-m.Done():
					t.Fatalf("the %s monitor ended while the region runs: %s\n%s", m.name, m.Cmd.ProcessState, m.out.String())
				default:
				}
			}
			if n := countLines(r.accepts) - before; n < 2*2 {
				t.Errorf("the region's listener was probed %d times in 22 s by two monitors, want at least 4", n)
			}
			tag := r.tag
			if kill == "mfds" {
				tag = r.mfdsTag
			}
			victims := r.procs(tag)
			if len(victims) == 0 {
				t.Fatalf("no %s process to kill", kill)
			}
			for _, p := range victims {
				if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			killed := time.Now()
			for _, m := range mons {
				select {
				case <-m.Done():
				case <-time.After(time.Until(killed.Add(7 * time.Second))):
					t.Fatalf("the %s monitor still runs %s after the %s was killed", m.name, time.Since(killed).Round(time.Millisecond), kill)
				}
				if code := m.Cmd.ProcessState.ExitCode(); code != 0 || m.out.String() != "" {
					t.Errorf("the %s monitor: exit %d, output %q", m.name, code, m.out.String())
				}
			}
			if took := time.Since(killed); took > 7*time.Second {
				t.Errorf("the monitors ended %s after the kill, more than one loop", took)
			}
			t.Logf("both monitors ended %s after the %s was killed", time.Since(killed).Round(time.Millisecond), kill)
			if kill == "region" {
				if so, se, code := r.run(t, r.dir, nil, "mdump", "localhost", "ESSERV1"); code != 1 || so != "CN: ESSERV1\nmServerStatus: SERVER_DOWN\n" || se != "mdump: region ESSERV1 does not run: no process of it runs\n" {
					t.Errorf("mdump after the kill: exit %d, %q, %q", code, so, se)
				}
			} else {
				want := fmt.Sprintf("mdump: the directory server (mfds) does not answer on 127.0.0.1:%d\n", r.mfdsPort)
				if so, se, code := r.run(t, r.dir, nil, "mdump", "localhost", "ESSERV1"); code != 1 || so != "CN: ESSERV1\nmServerStatus: SERVER_DOWN\n" || se != want {
					t.Errorf("mdump after the kill: exit %d, %q, %q", code, so, se)
				}
			}
			if _, se, code := r.run(t, r.dir, nil, "casstop", "/rESSERV1"); code != 0 || se != "" {
				t.Errorf("casstop: exit %d, %q", code, se)
			}
		})
	}
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	return bytes.Count(b, []byte("\n"))
}

// TestMFESCasstartFails: a region that never comes up, and one whose start command fails, make
// casstart exit 1 with the reason, within /w.
func TestMFESCasstartFails(t *testing.T) {
	s := setup(t)
	t.Parallel()
	t.Run("never-listens", func(t *testing.T) {
		t.Parallel()
		r := newMFESRegion(t, s.bin, regionOpts{noListen: true, mfdsName: "mfds-fail"})
		began := time.Now()
		so, se, code := r.run(t, r.dir, nil, "casstart", "/rESSERV1", "/w2")
		took := time.Since(began)
		want := fmt.Sprintf("casstart: region ESSERV1 did not start within 2s: it runs, but its \"Web Services\" listener 127.0.0.1:%d does not accept connections\n", r.port)
		if code != 1 || so != "" || se != want {
			t.Errorf("casstart /w2: exit %d\nstdout %q\nstderr %q\nwant   %q", code, so, se, want)
		}
		if took < 2*time.Second || took > 5*time.Second {
			t.Errorf("casstart /w2 took %s", took)
		}
		if a := r.alerts(t); len(a) != 2 || a[1] != "ERR 2 Starting region ESSERV1 has failed. ("+strings.TrimSuffix(strings.TrimPrefix(want, "casstart: "), "\n")+")" {
			t.Errorf("alert log: %q", a)
		}
		if so, se, code := r.run(t, r.dir, nil, "mdump", "localhost", "ESSERV1"); code != 0 || se != "" || !strings.HasSuffix(so, "CN: Web Services\nmListenerAddress: tcp:"+fmt.Sprintf("127.0.0.1:%d", r.port)+"\nmListenerStatus: Stopped\n") {
			t.Errorf("mdump of a region that does not listen: exit %d, %q, %q", code, so, se)
		}
		if _, se, code := r.run(t, r.dir, nil, "casstop", "/rESSERV1"); code != 0 || se != "" {
			t.Errorf("casstop: exit %d, %q", code, se)
		}
		if left := r.procs(r.tag); len(left) > 0 {
			t.Errorf("left: %v", left)
		}
	})
	t.Run("start-command-fails", func(t *testing.T) {
		t.Parallel()
		r := newMFESRegion(t, s.bin, regionOpts{start: "echo starting; echo 'MDS0001E no licence for ESSERV1' >&2; exit 4", mfdsName: "mfds-fail"})
		so, se, code := r.run(t, r.dir, nil, "casstart", "-rESSERV1", "-W5")
		want := fmt.Sprintf("casstart: region ESSERV1 was not started: the start command exited with status 4: MDS0001E no licence for ESSERV1 (log %s/log/esserv1.log)\n", r.dir)
		if code != 1 || so != "" || se != want {
			t.Errorf("casstart: exit %d\nstdout %q\nstderr %q\nwant   %q", code, so, se, want)
		}
		log, _ := os.ReadFile(filepath.Join(r.dir, "log", "esserv1.log"))
		if !regexp.MustCompile(`^[0-9T:.+-]+ casstart: start ESSERV1: echo starting; echo 'MDS0001E no licence for ESSERV1' >&2; exit 4\nstarting\nMDS0001E no licence for ESSERV1\n$`).Match(log) {
			t.Errorf("region log:\n%s", log)
		}
	})
	t.Run("not-configured", func(t *testing.T) {
		t.Parallel()
		r := newMFESRegion(t, s.bin, regionOpts{mfdsName: "mfds-fail"})
		so, se, code := r.run(t, r.dir, []string{"COBDIR="}, "casstart", "/rESSERV9")
		want := fmt.Sprintf("casstart: region ESSERV9 is not configured: %s has no [region.ESSERV9], and no Enterprise Server is installed (COBDIR is not set)\n", r.config)
		if code != 3 || so != "" || se != want {
			t.Errorf("casstart /rESSERV9: exit %d\nstdout %q\nstderr %q\nwant   %q", code, so, se, want)
		}
		// mdump says SERVER_DOWN on stdout whatever goes wrong, so a monitor loop ends.
		so, se, code = r.run(t, r.dir, []string{"COBDIR="}, "mdump", "localhost", "ESSERV9")
		if code != 3 || so != "CN: ESSERV9\nmServerStatus: SERVER_DOWN\n" || se != strings.Replace(want, "casstart:", "mdump:", 1) {
			t.Errorf("mdump: exit %d, %q, %q", code, so, se)
		}
	})
}

// TestMFESCasstopStubborn: a region that ignores SIGTERM, with two children that do too, and a
// stop command that only sends SIGTERM. casstop forces it after /w, then kills what is left,
// and exits 0 with nothing of the region running; each step is on stderr and in the alert log.
func TestMFESCasstopStubborn(t *testing.T) {
	s := setup(t)
	t.Parallel()
	r := newMFESRegion(t, s.bin, regionOpts{standin: "-ignore-term -children 2", mfdsName: "mfds-stub", timeouts: "start = \"20s\"\nstop = \"30s\"\nforce = \"1s\""})
	if so, se, code := r.run(t, r.dir, nil, "casstart", "/rESSERV1"); code != 0 || so != "" || se != "" {
		t.Fatalf("casstart: exit %d, %q, %q", code, so, se)
	}
	var procs []int
	clustertest.WaitFor(t, 5*time.Second, "the region's two children", func() bool {
		procs = r.procs(r.tag)
		return len(procs) == 3
	})
	list := strings.Trim(fmt.Sprint(procs), "[]")
	began := time.Now()
	so, se, code := r.run(t, r.dir, nil, "casstop", "/RESSERV1", "/W1")
	took := time.Since(began)
	want := fmt.Sprintf("casstop: region ESSERV1 did not stop within 1s (processes %s run): forcing it to stop\n"+
		"casstop: region ESSERV1 is still running after the forced stop: killing processes %s\n", list, list)
	if code != 0 || so != "" || se != want {
		t.Errorf("casstop: exit %d\nstdout %q\nstderr %q\nwant   %q", code, so, se, want)
	}
	if left := r.procs(r.tag); len(left) > 0 {
		t.Errorf("left after casstop: %v", left)
	}
	// /w1, the 1s force timeout, at most 5s for the killed processes to go, and slack.
	if took > 10*time.Second {
		t.Errorf("casstop took %s for /w1 and a 1s force timeout", took)
	}
	var got []string
	for _, a := range r.alerts(t) {
		got = append(got, msInText.ReplaceAllString(a, "in X."))
	}
	wantAlerts := []string{
		"INFO 7 mfds has started in X.",
		"INFO 1 Region ESSERV1 has started in X.",
		"WARN 4 Region ESSERV1 did not stop within 1s (processes " + list + " run); forcing it to stop.",
		"WARN 5 Killed processes " + list + " of region ESSERV1, which still ran after the forced stop.",
		"INFO 3 Stopping region ESSERV1 has completed.",
	}
	if !slices.Equal(got, wantAlerts) {
		t.Errorf("alert log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantAlerts, "\n"))
	}
	// Already stopped: casstop has nothing to do and says nothing.
	if so, se, code := r.run(t, r.dir, nil, "casstop", "/rESSERV1"); code != 0 || so != "" || se != "" {
		t.Errorf("second casstop: exit %d, %q, %q", code, so, se)
	}
}

// TestMFESPassword: a password given with /p reaches the command backend in its environment
// only: not the command lines of the processes started, not the region's log, not the alert
// log, not stderr.
func TestMFESPassword(t *testing.T) {
	s := setup(t)
	t.Parallel()
	const pw = "Pw-9f3Kx7"
	r := newMFESRegion(t, s.bin, regionOpts{mfdsName: "mfds-pw"})
	standin := filepath.Join(s.bin, "standin")
	// The start command proves it got the credentials without writing the password anywhere.
	sum := sha256.Sum256([]byte(pw))
	start := fmt.Sprintf(`[ "$(printf %%s "$CLPKIT_MFES_PASSWORD" | sha256sum | cut -c1-64)" = %x ] && echo "user=$CLPKIT_MFES_USER group=$CLPKIT_MFES_GROUP type=$CLPKIT_MFES_START_TYPE password given" > %s/creds; exec %s -daemon -listen 127.0.0.1:%d -pidfile %s/esserv1.pid -tag %s`,
		sum, r.dir, standin, r.port, r.dir, r.tag)
	r = rewriteStart(t, r, start)
	so, se, code := r.run(t, r.dir, nil, "casstart", "/rESSERV1", "/uADMIN", "/p"+pw, "/cOPS", "/s:c", "/zvault", "/j:SYSIDNT=AB")
	wantErr := "casstart: ignored /z... /j...: options only Micro Focus's own casstart knows (region ESSERV1 has the command backend)\n"
	if code != 0 || so != "" || se != wantErr {
		t.Fatalf("casstart: exit %d, %q, %q", code, so, se)
	}
	if b, _ := os.ReadFile(filepath.Join(r.dir, "creds")); string(b) != "user=ADMIN group=OPS type=c password given\n" {
		t.Errorf("what the start command got: %q", b)
	}
	for _, p := range r.procs(r.tag) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if bytes.Contains(b, []byte(pw)) {
			t.Errorf("process %d has the password in its command line: %q", p, b)
		}
	}
	so, se, code = r.run(t, r.dir, nil, "casstop", "/rESSERV1", "/uADMIN", "/p"+pw)
	if code != 0 || so != "" || se != "" {
		t.Errorf("casstop: exit %d, %q, %q", code, so, se)
	}
	for _, f := range []string{filepath.Join(r.dir, "log", "esserv1.log"), filepath.Join(r.dir, "log", "mfds.log"), r.alertLog} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(pw)) {
			t.Errorf("%s holds the password:\n%s", f, b)
		}
	}
	// A password with a blank, unquoted: the rest of it is not echoed in the error.
	if _, se, code := r.run(t, r.dir, nil, "casstart", "/rESSERV1", "/pPw-9f3", "Kx7"); code != 2 || strings.Contains(se, "Kx7") {
		t.Errorf("casstart with a split password: exit %d, %q", code, se)
	}
}

// rewriteStart replaces the region's start command in its configuration.
func rewriteStart(t *testing.T, r *mfesRegion, start string) *mfesRegion {
	t.Helper()
	b, err := os.ReadFile(r.config)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^start = ".*standin.*"$`)
	if re.FindIndex(b) == nil {
		t.Fatal("no region start line in the configuration")
	}
	b = re.ReplaceAllLiteral(b, []byte("start = "+strconv.Quote(start)))
	if err := os.WriteFile(r.config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestMFESCommandLines pins what the commands say to wrong command lines and configurations:
// one line on stderr and the documented status, never a panic.
func TestMFESCommandLines(t *testing.T) {
	s := setup(t)
	t.Parallel()
	r := newMFESRegion(t, s.bin, regionOpts{mfdsName: "mfds-cl"})
	bad := filepath.Join(r.dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("[region.ESSERV1]\nstart = \"x\"\nstop = \"y\"\nprocesses = \"x\"\nlistener = \"127.0.0.1\"\nstrat = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(r.dir, "missing.toml")
	tests := []struct {
		argv   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"casstart", "ESSERV1"}, 2, "", `casstart: unexpected argument "ESSERV1": options are written /x or -x with their value glued, as in /rESSERV1 (see casstart --help)` + "\n"},
		{[]string{"casstart", "/r"}, 2, "", "casstart: option /r needs a value: write it right after the letter, as in /rESSERV1 (see casstart --help)\n"},
		{[]string{"casstart", "/rESSERV1", "/w0"}, 2, "", "casstart: /w0: give whole seconds from 1 to 86400, glued to the letter, as in /w30 (see casstart --help)\n"},
		{[]string{"casstart", "/rESSERV1", "/wabc"}, 2, "", "casstart: /wabc: give whole seconds from 1 to 86400, glued to the letter, as in /w30 (see casstart --help)\n"},
		{[]string{"casstop", "/f1"}, 2, "", "casstop: option /f takes no value (see casstop --help)\n"},
		{[]string{"casstop", "/rESSERV1", "--config", missing}, 3, "", "casstop: " + missing + ": cannot read the configuration: no such file or directory\n"},
		{[]string{"casstart", "/rESSERV1", "--config", bad}, 3, "", "casstart: " + bad + ":5: region.ESSERV1.listener = \"127.0.0.1\": write it as host:port, as in 127.0.0.1:9003\n"},
		{[]string{"mfds", "-s", "3"}, 2, "", "mfds: -s takes mode 1 (the directory server) or 2 (its regions too), as in mfds -s 2 (see mfds --help)\n"},
		{[]string{"mfds", "admin"}, 2, "", "mfds: a user and password go with -s only, as in mfds -s 2 user password (see mfds --help)\n"},
		{[]string{"mdump", "localhost"}, 2, "", "mdump: give the directory server's host and the region, as in: mdump localhost ESSERV1 (see mdump --help)\n"},
		{[]string{"mdump", "localhost", "ESSERV1", "--config", bad}, 3, "CN: ESSERV1\nmServerStatus: SERVER_DOWN\n", "mdump: " + bad + ":5: region.ESSERV1.listener = \"127.0.0.1\": write it as host:port, as in 127.0.0.1:9003\n"},
		{[]string{"mdump", "192.0.2.1", "ESSERV1"}, 1, "CN: ESSERV1\nmServerStatus: SERVER_DOWN\n", "mdump: 192.0.2.1 is not this server: region ESSERV1 has the command backend, which knows this server's regions only\n"},
	}
	for _, tt := range tests {
		so, se, code := r.run(t, r.dir, []string{"COBDIR="}, tt.argv...)
		if code != tt.code || so != tt.stdout || se != tt.stderr {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", tt.argv, code, so, se, tt.code, tt.stdout, tt.stderr)
		}
	}
	// mfds starts the directory server and returns; a second mfds finds it up; mfds -s 2
	// stops the region and then the directory server.
	for i := 0; i < 2; i++ {
		if so, se, code := r.run(t, r.dir, nil, "mfds"); code != 0 || so != "" || se != "" {
			t.Fatalf("mfds (%d): exit %d, %q, %q", i+1, code, so, se)
		}
		if len(r.procs(r.mfdsTag)) != 1 {
			t.Fatalf("directory server after mfds (%d): %v", i+1, r.procs(r.mfdsTag))
		}
	}
	if _, se, code := r.run(t, r.dir, nil, "casstart", "/rESSERV1"); code != 0 || se != "" {
		t.Fatalf("casstart: exit %d, %q", code, se)
	}
	if so, se, code := r.run(t, r.dir, nil, "mfds", "-s", "2"); code != 0 || so != "" || se != "" {
		t.Errorf("mfds -s 2: exit %d, %q, %q", code, so, se)
	}
	if left := append(r.procs(r.tag), r.procs(r.mfdsTag)...); len(left) > 0 {
		t.Errorf("left after mfds -s 2: %v", left)
	}
}

// TestMFESEnterpriseServer drives the Enterprise Server backend: no [region] table, $COBDIR
// set, so casstart, casstop and mdump run the product's own binaries from $COBDIR/bin (after
// sourcing env_file) and then check the outcome themselves. The product is a stand-in: shell
// scripts that record what they were given and start the stand-in region as "casmgr" with the
// region's name on its command line, as Micro Focus's region processes have it.
func TestMFESEnterpriseServer(t *testing.T) {
	s := setup(t)
	t.Parallel()
	standin := buildStandin(t, s.bin)
	dir := t.TempDir()
	cob, rec := filepath.Join(dir, "cobdir"), filepath.Join(dir, "record")
	if err := os.MkdirAll(rec, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"casmgr", "mfds32"} {
		proctest.CopyProgram(t, standin, filepath.Join(cob, "bin", n))
	}
	port, mfdsPort := clustertest.FreePort(t), clustertest.FreePort(t)
	region := fmt.Sprintf("ESX%d", port) // unique: the default process pattern is by name
	scripts := map[string]string{
		"casstart": `echo "$*" >> "$ES_RECORD/casstart.args"
for a in "$@"; do case "$a" in /r*) r=${a#/r};; esac; done
exec "$COBDIR/bin/casmgr" -daemon -listen "127.0.0.1:$ES_PORT" "$r"
`,
		"casstop": `echo "$*" >> "$ES_RECORD/casstop.args"
sig=TERM
for a in "$@"; do case "$a" in /r*) r=${a#/r};; /f) sig=KILL;; esac; done
pkill -$sig -f "casmgr .* $r\$"
exit 0
`,
		"mdump": `if pgrep -f "casmgr .* $2\$" > /dev/null; then printf 'CN: %s\nCN: Web Services\nmListenerStatus: Started\n' "$2"; else echo SERVER_DOWN; exit 1; fi
`,
		"mfds": `echo "$*" >> "$ES_RECORD/mfds.args"
case "$1" in -s) pkill -TERM -f "mfds32 -listen 127.0.0.1:$ES_MFDS_PORT\$"; exit 0;; esac
exec "$COBDIR/bin/mfds32" -listen "127.0.0.1:$ES_MFDS_PORT"
`,
	}
	for n, body := range scripts {
		clustertest.Script(t, filepath.Join(cob, "bin"), n, body)
	}
	envFile := filepath.Join(dir, "ES40SP2")
	if err := os.WriteFile(envFile, []byte(fmt.Sprintf("ES_PORT=%d; ES_MFDS_PORT=%d; ES_RECORD=%s; export ES_PORT ES_MFDS_PORT ES_RECORD\n", port, mfdsPort, rec)), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "mfes.toml")
	cfg := mfesConfigHead("") + fmt.Sprintf(`
[enterprise_server]
env_file = %q

[mfds]
address = "127.0.0.1:%d"
processes = 'mfds32 -listen 127\.0\.0\.1:%d$'
`, envFile, mfdsPort, mfdsPort)
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &mfesRegion{dir: dir, bin: s.bin, env: []string{
		"PATH=" + s.bin + ":/usr/local/bin:/usr/bin:/bin",
		"CLPKIT_MFES_CONFIG=" + config,
		"COBDIR=" + cob,
		alert.EnvPath + "=" + filepath.Join(dir, "alert.log"),
	}}
	t.Cleanup(func() {
		_ = exec.Command("pkill", "-KILL", "-f", "casmgr .* "+region+"$").Run()
		_ = exec.Command("pkill", "-KILL", "-f", fmt.Sprintf("mfds32 -listen 127.0.0.1:%d$", mfdsPort)).Run()
	})
	const pw = "Es-Pw-4411"
	if so, se, code := r.run(t, dir, nil, "casstart", "/r"+region, "/uADMIN", "/p"+pw, "/W10", "/zvault"); code != 0 || so != "" || se != "" {
		t.Fatalf("casstart: exit %d, %q, %q", code, so, se)
	}
	if b, _ := os.ReadFile(filepath.Join(rec, "casstart.args")); !regexp.MustCompile(`^/r` + region + ` /uADMIN /p` + pw + ` /w(9|10) /zvault\n$`).Match(b) {
		t.Errorf("the product's casstart got %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(rec, "mfds.args")); string(b) != "\n" {
		t.Errorf("the product's mfds got %q", b)
	}
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		t.Fatalf("the region does not accept connections after casstart: %v", err)
	}
	c.Close()
	so, se, code := r.run(t, dir, nil, "mdump", "localhost", region)
	if code != 0 || se != "" || so != "CN: "+region+"\nCN: Web Services\nmListenerStatus: Started\n" {
		t.Errorf("mdump (the product's, passed on): exit %d, %q, %q", code, so, se)
	}
	if so, se, code := r.run(t, dir, nil, "casstop", "/r"+region, "/uADMIN", "/p"+pw); code != 0 || so != "" || se != "" {
		t.Errorf("casstop: exit %d, %q, %q", code, so, se)
	}
	if b, _ := os.ReadFile(filepath.Join(rec, "casstop.args")); string(b) != "/r"+region+" /uADMIN /p"+pw+"\n" {
		t.Errorf("the product's casstop got %q", b)
	}
	if out, _ := exec.Command("pgrep", "-f", "casmgr .* "+region+"$").Output(); len(out) > 0 {
		t.Errorf("region processes left after casstop: %s", out)
	}
	so, _, code = r.run(t, dir, nil, "mdump", "localhost", region)
	if code != 1 || so != "SERVER_DOWN\n" {
		t.Errorf("mdump after casstop: exit %d, %q", code, so)
	}
	// The password reached the product's command line (it takes it nowhere else), but no log.
	log, err := os.ReadFile(filepath.Join(dir, "log", strings.ToLower(region)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(log, []byte(pw)) || !bytes.Contains(log, []byte(" /p**** /w")) || !bytes.Contains(log, []byte("/z...")) {
		t.Errorf("region log:\n%s", log)
	}
	if so, se, code := r.run(t, dir, nil, "mfds", "-s", "1"); code != 0 || so != "" || se != "" {
		t.Errorf("mfds -s 1: exit %d, %q, %q", code, so, se)
	}
	// $COBDIR/bin holding clpkit's own casstart is refused, not run in a loop.
	if err := os.Remove(filepath.Join(cob, "bin", "casstart")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(s.bin, "casstart"), filepath.Join(cob, "bin", "casstart")); err != nil {
		t.Fatal(err)
	}
	_, se, code = r.run(t, dir, nil, "casstart", "/r"+region, "/w5")
	want := fmt.Sprintf("casstart: region %s was not started: %s/bin/casstart is clpkit's casstart, not Micro Focus's: point cobdir at the Enterprise Server installation\n", region, cob)
	if code != 1 || se != want {
		t.Errorf("casstart with clpkit's casstart in $COBDIR/bin: exit %d\n%q\nwant %q", code, se, want)
	}
}

// TestMFESSystemd drives a region that is a systemd unit, over D-Bus. It needs systemd as the
// init system, which containers usually lack.
func TestMFESSystemd(t *testing.T) {
	s := setup(t)
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		t.Skip("systemd is not the init system here (no /run/systemd/system): the systemd backend is not exercised")
	}
	standin := buildStandin(t, s.bin)
	r := newMFESRegion(t, s.bin, regionOpts{mfdsName: "mfds-sd"})
	unit := fmt.Sprintf("clpkit-mfes-test-%d.service", r.port)
	path := filepath.Join("/run/systemd/system", unit)
	body := fmt.Sprintf("[Service]\nExecStart=%s -listen 127.0.0.1:%d -children 1 -tag %s\n", standin, r.port, r.tag)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	reload := func() {
		if out, err := exec.Command("systemctl", "daemon-reload").CombinedOutput(); err != nil {
			t.Fatalf("systemctl daemon-reload: %v\n%s", err, out)
		}
	}
	reload()
	t.Cleanup(func() {
		_ = exec.Command("systemctl", "stop", unit).Run()
		_ = os.Remove(path)
		_ = exec.Command("systemctl", "daemon-reload").Run()
	})
	b, err := os.ReadFile(r.config)
	if err != nil {
		t.Fatal(err)
	}
	// The region's table becomes the unit's.
	i := bytes.Index(b, []byte("[region.ESSERV1]"))
	cfg := fmt.Sprintf("%s[region.ESSERV1]\nunit = %q\nlistener = \"127.0.0.1:%d\"\nprocesses = '-tag %s( |$)'\n", b[:i], unit, r.port, regexp.QuoteMeta(r.tag))
	if err := os.WriteFile(r.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if so, se, code := r.run(t, r.dir, nil, "casstart", "/rESSERV1", "/w20"); code != 0 || so != "" || se != "" {
		t.Fatalf("casstart: exit %d, %q, %q", code, so, se)
	}
	if !r.accepting() {
		t.Fatal("the unit's listener does not accept connections after casstart")
	}
	if so, se, code := r.run(t, r.dir, nil, "mdump", "localhost", "ESSERV1"); code != 0 || se != "" || !strings.HasSuffix(so, "mListenerStatus: Started\n") {
		t.Errorf("mdump: exit %d, %q, %q", code, so, se)
	}
	if so, se, code := r.run(t, r.dir, nil, "casstop", "/rESSERV1"); code != 0 || so != "" || se != "" {
		t.Errorf("casstop: exit %d, %q, %q", code, so, se)
	}
	if left := r.procs(r.tag); len(left) > 0 {
		t.Errorf("left after casstop: %v", left)
	}
}
