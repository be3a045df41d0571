package mfes

import (
	"context"
	"fmt"
	"net"
	"os"
	ossignal "os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/procwatch"
)

// helperArg, first on the command line, makes the test binary a helper process instead of the
// tests (see TestMain).
const helperArg = "mfes-test-helper"

func init() {
	// The helper's main goroutine must run on the process's first thread, the thread group's
	// leader, which it makes exit: see leaderExits.
	if len(os.Args) > 1 && os.Args[1] == helperArg {
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == helperArg {
		if err := leaderExits(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// leaderExits is a region whose exit has the shape of any multi-threaded program's, slowed
// down: `helper ADDR PIDFILE HOLD TAG` listens on ADDR, writes its pid to PIDFILE, and on
// SIGTERM removes PIDFILE and ends its first thread (the group leader) alone, so that /proc
// shows the process as a zombie without a command line, while another thread keeps its
// listening socket open for HOLD more and then exits the whole process. A real program's exit
// goes through the same states within microseconds to milliseconds (longer on a loaded machine):
// the leader is a zombie, or has no command line any more, before the last thread has closed
// the files.
func leaderExits(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: %s ADDR PIDFILE HOLD TAG", helperArg)
	}
	hold, err := time.ParseDuration(args[2])
	if err != nil {
		return err
	}
	term := make(chan os.Signal, 1)
	ossignal.Notify(term, syscall.SIGTERM)
	l, err := net.Listen("tcp", args[0])
	if err != nil {
		return err
	}
	if err := os.WriteFile(args[1], []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	<-term
	if err := os.Remove(args[1]); err != nil {
		return err
	}
	go func() {
		time.Sleep(hold)
		_ = l.Close()
		os.Exit(0)
	}()
	// exit(2), not exit_group(2): only this thread ends.
	syscall.RawSyscall(syscall.SYS_EXIT, 0, 0, 0)
	return nil
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestStopWaitsForEveryThread is the cause of the flake "the region still accepts connections
// after stop.sh": casstop took a region for gone as soon as /proc showed its main process as a
// zombie, or without a command line, which a dying process shows before its last thread has
// closed its files. The region's listening socket then still accepted connections for a moment
// after casstop had returned. The helper stretches that moment to a second.
func TestStopWaitsForEveryThread(t *testing.T) {
	dir := t.TempDir()
	addr, pidfile := freeAddr(t), filepath.Join(dir, "region.pid")
	tag := dir + "/REGION"
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const hold = time.Second
	// GOMAXPROCS: the helper's other goroutine needs a processor of its own once the first
	// thread has left with its own.
	start := fmt.Sprintf("GOMAXPROCS=4 %s %s %s %s %s %s >/dev/null 2>&1 &", exe, helperArg, addr, pidfile, hold, tag)
	cfg := fmt.Sprintf("state_dir = \"state\"\nlog_dir = \"log\"\n[region.R]\nlistener = %q\nstart = %q\nstop = %q\npidfile = %q\nprocesses = '%s( |$)'\n",
		addr, start, "kill $(cat "+pidfile+")", pidfile, regexp.QuoteMeta(tag))
	c, err := Parse(filepath.Join(dir, "mfes.toml"), []byte(cfg), "")
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Config: c, Environ: os.Environ(), ProcRoot: "/proc", Self: os.Getpid(), Program: "casstop"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() {
		svc, _ := m.Region("R")
		_ = m.signalAll(svc, syscall.SIGKILL)
	})
	if err := m.StartRegion(ctx, "R", StartOptions{}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := m.StopRegion(ctx, "R", StopOptions{}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("the region still accepts connections on %s after StopRegion returned (%s after it was called)", addr, took.Round(time.Millisecond))
	}
	if took < hold {
		t.Errorf("StopRegion returned after %s, before the region's last thread ended (%s)", took, hold)
	}
}

// TestLive: which /proc states count as a process that still holds its files.
func TestLive(t *testing.T) {
	line := func(state string, flags, threads int) string {
		return fmt.Sprintf("42 (a b) c) %s 1 42 42 0 -1 %d 0 0 0 0 0 0 0 0 20 0 %d 0 777 0 0", state, flags, threads)
	}
	tests := []struct {
		stat   string
		live   bool
		kernel bool
	}{
		{line("S", 0, 1), true, false},
		{line("R", 0, 8), true, false},
		{line("D", 0, 1), true, false},
		{line("Z", 0, 1), false, false},
		// The leader has exited, another thread still runs: its files are still open.
		{line("Z", 0, 2), true, false},
		{line("X", 0, 1), false, false},
		{line("I", pfKthread|0x40, 1), true, true},
	}
	for _, tt := range tests {
		st, err := procwatch.ParseStat([]byte(tt.stat))
		if err != nil {
			t.Fatal(err)
		}
		if live(st) != tt.live || (st.Flags&pfKthread != 0) != tt.kernel {
			t.Errorf("%q: live %v, kernel thread %v", tt.stat, live(st), st.Flags&pfKthread != 0)
		}
	}
}

// fakeProc writes a process into a /proc-like folder.
func fakeProc(t *testing.T, root string, pid int, state string, threads int, cmdline string) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (standin) %s 1 %d %d 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 %d 0 555 0 0\n", pid, state, pid, pid, threads)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(strings.ReplaceAll(cmdline, " ", "\x00")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTracker: once seen as the region's, a process counts until it has exited with every
// thread, whatever its command line and pidfile say in between.
func TestTracker(t *testing.T) {
	root := t.TempDir()
	svc := &Service{Name: "R", Processes: regexp.MustCompile(`-tag /t/R( |$)`)}
	m := &Manager{Config: &Config{}, ProcRoot: root, Self: 1}
	tr := newTracker()
	left := func() string {
		t.Helper()
		ps, err := m.remaining(svc, tr)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 0 {
			return "none"
		}
		return processes(ps)
	}
	fakeProc(t, root, 1, "S", 1, "/sbin/init")
	fakeProc(t, root, 100, "S", 3, "standin -tag /t/R")
	fakeProc(t, root, 101, "S", 1, "standin -child -tag /t/R")
	fakeProc(t, root, 102, "S", 1, "standin -tag /t/OTHER")
	if got := left(); got != "processes 100 101" {
		t.Fatalf("running: %s", got)
	}
	// Exiting: no command line any more, still running threads.
	fakeProc(t, root, 100, "R", 2, "")
	// The child has exited for good.
	fakeProc(t, root, 101, "Z", 1, "")
	if got := left(); got != "process 100" {
		t.Errorf("exiting: %s", got)
	}
	// A tracker that never saw 100 cannot know it.
	if ps, _ := m.remaining(svc, newTracker()); len(ps) != 0 {
		t.Errorf("a fresh tracker: %s", processes(ps))
	}
	// The leader a zombie, a thread still running.
	fakeProc(t, root, 100, "Z", 2, "")
	if got := left(); got != "process 100" {
		t.Errorf("zombie leader: %s", got)
	}
	fakeProc(t, root, 100, "Z", 1, "")
	if got := left(); got != "none" {
		t.Errorf("exited: %s", got)
	}
	// Pid 100 reused by another process (another start time): not the region's.
	fakeProc(t, root, 100, "S", 1, "standin -tag /t/R")
	if got := left(); got != "process 100" {
		t.Errorf("matching again: %s", got)
	}
	if err := os.WriteFile(filepath.Join(root, "100", "stat"), []byte("100 (vi) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 999 0 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "100", "cmdline"), []byte("vi\x00notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := left(); got != "none" {
		t.Errorf("pid reused: %s", got)
	}
	if running(root, procwatch.Identity{PID: 100, Start: 555}) {
		t.Error("running: a reused pid counts as the old process")
	}
}

// TestGoneFollowsEveryProcess: casstop's check that a region is gone sees its processes from
// the first check on, while its backend still says it runs, so that a process that soon shows
// no command line (it exits) still counts until it has exited with every thread.
func TestGoneFollowsEveryProcess(t *testing.T) {
	root := t.TempDir()
	svc := &Service{Name: "R", Processes: regexp.MustCompile(`-tag /t/R( |$)`)}
	m := &Manager{Config: &Config{}, ProcRoot: root, Self: 1}
	b := &switchBackend{run: true}
	tr := newTracker()
	fakeProc(t, root, 1, "S", 1, "/sbin/init")
	fakeProc(t, root, 100, "S", 3, "standin -tag /t/R")
	if ok, why := m.gone(context.Background(), svc, b, tr); ok || why != "it runs" {
		t.Fatalf("running: %v, %q", ok, why)
	}
	// Stopped: the backend says so at once, while the process still exits.
	b.run = false
	fakeProc(t, root, 100, "R", 2, "")
	if ok, why := m.gone(context.Background(), svc, b, tr); ok || why != "process 100 still runs" {
		t.Errorf("exiting: %v, %q", ok, why)
	}
	fakeProc(t, root, 100, "Z", 1, "")
	if ok, why := m.gone(context.Background(), svc, b, tr); !ok {
		t.Errorf("exited: %v, %q", ok, why)
	}
}

// switchBackend is a service whose backend says what run says.
type switchBackend struct{ run bool }

func (*switchBackend) start(context.Context, request) error     { return nil }
func (*switchBackend) stop(context.Context, request) error      { return nil }
func (*switchBackend) forceStop(context.Context, request) error { return nil }
func (b *switchBackend) running(context.Context) (bool, string, error) {
	if b.run {
		return true, "it runs", nil
	}
	return false, "it does not run", nil
}

// fakeBackend is a service whose processes always run.
type fakeBackend struct{ checks *int }

func (fakeBackend) start(context.Context, request) error     { return nil }
func (fakeBackend) stop(context.Context, request) error      { return nil }
func (fakeBackend) forceStop(context.Context, request) error { return nil }
func (b fakeBackend) running(context.Context) (bool, string, error) {
	*b.checks++
	return true, "it runs", nil
}

// TestWaitUpIsPrompt: a region that starts listening long after its start (when polling had
// slowed down to every 200 ms) is seen up within a few tens of milliseconds, not up to 200 ms
// later; and the costly check of its processes does not run on every probe.
func TestWaitUpIsPrompt(t *testing.T) {
	m := &Manager{Config: &Config{}}
	best := time.Hour
	for try := 0; try < 3 && best > 60*time.Millisecond; try++ {
		addr := freeAddr(t)
		svc := &Service{Name: "R", Address: addr, ListenerName: DefaultListenerName}
		checks := 0
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		listening := make(chan time.Time, 1)
		timer := time.AfterFunc(760*time.Millisecond, func() {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				t.Error(err)
				listening <- time.Time{}
				return
			}
			listening <- time.Now()
			t.Cleanup(func() { l.Close() })
		})
		ok, why := m.waitUp(ctx, svc, fakeBackend{&checks})
		seen := time.Now()
		cancel()
		timer.Stop()
		if !ok {
			t.Fatalf("waitUp: %s", why)
		}
		late := seen.Sub(<-listening)
		t.Logf("seen up %s after it listened, %d checks of its processes", late.Round(time.Millisecond), checks)
		best = min(best, late)
		// 760 ms of the old schedule (10, 20, 40, ... 200 ms) is 8 checks; far more would be
		// a check on every probe.
		if checks > 20 {
			t.Errorf("%d checks of the processes in under a second", checks)
		}
	}
	if best > 60*time.Millisecond {
		t.Errorf("a region that listens after 760 ms was seen up %s after it listened, want within 60 ms", best.Round(time.Millisecond))
	}
}

// TestPidfileTooLarge: a pidfile setting that names something huge is an error that says so,
// read no further than its limit.
func TestPidfileTooLarge(t *testing.T) {
	big := filepath.Join(t.TempDir(), "region.pid")
	if err := os.WriteFile(big, []byte(strings.Repeat("1", maxPidfile+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{big, "/dev/zero"} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, ok, err := pidfileProc("/proc", path)
		runtime.ReadMemStats(&after)
		want := "pidfile " + path + " is larger than 4 KiB: a pidfile holds one process id; check that the pidfile setting names the service's own pidfile"
		if ok || err == nil || err.Error() != want {
			t.Errorf("pidfileProc(%s) = %v, %v, want %s", path, ok, err, want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("pidfileProc(%s) allocated %d KiB", path, grew>>10)
		}
	}
}

// TestLastLineReadsTheTail: the reason quoted from a failed command's output comes from its
// last 64 KiB, however much it printed.
func TestLastLineReadsTheTail(t *testing.T) {
	log := filepath.Join(t.TempDir(), "r.log")
	body := "header\n" + strings.Repeat(strings.Repeat("y", 99)+"\n", 20000) + "MDS0001E no licence\n\n  \n"
	if err := os.WriteFile(log, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := lastLine(log, 7); got != "MDS0001E no licence" {
		t.Errorf("lastLine = %q", got)
	}
	if got := lastLine(log, int64(len(body))); got != "" {
		t.Errorf("lastLine of nothing new = %q", got)
	}
}
