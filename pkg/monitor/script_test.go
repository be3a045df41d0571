package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestScriptCheck(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		mode   os.FileMode
		args   []string
		env    []string
		normal int
		want   string // "" means nil; %s is the script's path
	}{
		{name: "exit 0", body: "exit 0", mode: 0o755},
		{name: "exit 1 is abnormal", body: "exit 1", mode: 0o755, want: "script %s exited with status 1 (normal is 0)"},
		{name: "exit 1 is normal", body: "exit 1", mode: 0o755, normal: 1},
		{name: "exit 0 when 1 is normal", body: "exit 0", mode: 0o755, normal: 1, want: "script %s exited with status 0 (normal is 1)"},
		{name: "no execute bit runs with sh", body: "exit 0", mode: 0o644},
		{name: "no execute bit, exit 2", body: "exit 2", mode: 0o600, want: "script %s exited with status 2 (normal is 0)"},
		{name: "killed by a signal", body: "kill -9 $$", mode: 0o755, want: "script %s killed by signal SIGKILL (normal is exit status 0)"},
		{name: "runs in its directory", body: `[ "$(pwd -P)" = "$(dirname "$(readlink -f "$0")")" ] || exit 7`, mode: 0o755},
		{name: "stdin is /dev/null", body: `[ "$(readlink /proc/$$/fd/0)" = /dev/null ] || exit 8`, mode: 0o755},
		{name: "args and env", body: `[ "$1" = "a b" ] && [ "$2" = c ] && [ "$X" = 1 ] && [ -z "$HOME" ] || exit 9`, mode: 0o755,
			args: []string{"a b", "c"}, env: []string{"X=1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := writeScript(t, c.body, c.mode)
			s := &Script{Path: p, Args: c.args, Env: c.env, NormalValue: c.normal}
			err := s.Check(ctxFor(t, 10*time.Second))
			wantCheck(t, err, c.want, p)
			if errors.Is(err, ErrTimeout) {
				t.Errorf("%v must not count as a timeout", err)
			}
		})
	}
}

func TestScriptCheckMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.sh")
	err := (&Script{Path: p}).Check(ctxFor(t, 5*time.Second))
	if want := "script " + p + ": no such file or directory"; err == nil || err.Error() != want {
		t.Fatalf("Check = %v, want %q", err, want)
	}
}

// TestScriptCheckTimeout: at the deadline the script and the child it started are killed and
// Check says so in time.
func TestScriptCheckTimeout(t *testing.T) {
	p := writeScript(t, `echo $$ > pid; sleep 100 & echo $! > child; wait`, 0o755)
	dir := filepath.Dir(p)
	s := &Script{Path: p}
	start := time.Now()
	err := s.Check(ctxFor(t, 300*time.Millisecond))
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Check = %v, want ErrTimeout", err)
	}
	if re := regexp.MustCompile(`^script ` + regexp.QuoteMeta(p) + ` did not end within 3\d\dms$`); !re.MatchString(err.Error()) {
		t.Errorf("Check = %q, want it to match %s", err, re)
	}
	if took > 2*time.Second {
		t.Errorf("Check took %s with a 300ms deadline", took)
	}
	for _, f := range []string{"pid", "child"} {
		waitDead(t, readPID(t, filepath.Join(dir, f), time.Second), 2*time.Second)
	}
	if s.PID() != 0 {
		t.Errorf("PID() = %d after Check returned", s.PID())
	}
}

func TestScriptLog(t *testing.T) {
	p := writeScript(t, "echo out; echo err >&2", 0o755)
	log := filepath.Join(t.TempDir(), "genw.log")
	s := &Script{Path: p, Log: log}
	for range 2 {
		if err := s.Check(ctxFor(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "out\nerr\nout\nerr\n"; got != want {
		t.Errorf("log = %q, want %q (appended, both streams)", got, want)
	}
	fi, err := os.Stat(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := 0o644 &^ umask(t); fi.Mode().Perm() != want {
		t.Errorf("log mode = %v, want %v", fi.Mode().Perm(), want)
	}
}

// umask reads the process's umask without changing it (unix.Umask would, for every thread).
func umask(t *testing.T) os.FileMode {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "Umask:"); ok {
			var m uint32
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%o", &m); err == nil {
				return os.FileMode(m)
			}
		}
	}
	t.Fatal("no Umask in /proc/self/status")
	return 0
}

// TestScriptNice: the running script sees nice 5 in its own /proc/PID/stat.
func TestScriptNice(t *testing.T) {
	p := writeScript(t, `
i=0
while [ $i -lt 100 ]; do
	# Field 19 of stat is the nice value; comm "(genw.sh)" holds no blank.
	[ "$(cut -d' ' -f19 /proc/$$/stat)" = 5 ] && exit 0
	sleep 0.02
	i=$((i+1))
done
exit 1`, 0o755)
	if err := (&Script{Path: p, Nice: 5}).Check(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("the script never saw nice 5: %v", err)
	}
}

// escapingScript starts a grandchild in a session of its own, out of the script's process
// group, as a daemonizing double fork does.
const escapingScript = `setsid sh -c 'echo $$ > gc; exec sleep 100' &
while [ ! -s gc ]; do sleep 0.01; done
sleep 100`

// TestScriptCheckTimeoutCgroup: with Place and Kill, even a grandchild that left the process
// group is killed at the deadline.
func TestScriptCheckTimeoutCgroup(t *testing.T) {
	place, kill, _ := testCgroup(t)
	p := writeScript(t, escapingScript, 0o755)
	s := &Script{Path: p, Place: place, Kill: kill}
	if err := s.Check(ctxFor(t, time.Second)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Check = %v, want ErrTimeout", err)
	}
	gc := readPID(t, filepath.Join(filepath.Dir(p), "gc"), time.Second)
	waitDead(t, gc, 2*time.Second)
}

// TestScriptCheckTimeoutNoCgroup is the control for the test above: without a cgroup, the
// grandchild that left the group survives, so the cgroup is what killed it there.
func TestScriptCheckTimeoutNoCgroup(t *testing.T) {
	p := writeScript(t, escapingScript, 0o755)
	if err := (&Script{Path: p}).Check(ctxFor(t, time.Second)); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Check = %v, want ErrTimeout", err)
	}
	gc := readPID(t, filepath.Join(filepath.Dir(p), "gc"), time.Second)
	time.Sleep(100 * time.Millisecond)
	if dead(gc) {
		t.Errorf("grandchild %d died without a cgroup: the cgroup test proves nothing", gc)
	}
	_ = unix.Kill(gc, unix.SIGKILL)
	waitDead(t, gc, 2*time.Second)
}

func TestScriptWatchEnds(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"exit 3", "sleep 0.2; exit 3", "script %s ended with exit status 3"},
		{"exit 0 still ends it", "exit 0", "script %s ended with exit status 0"},
		{"signal", "sleep 0.2; kill -9 $$", "script %s killed by signal SIGKILL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := writeScript(t, c.body, 0o755)
			s := &Script{Path: p}
			rec, _, done := watch(t, s, nil)
			if err := rec.next(t, 5*time.Second); err != nil {
				t.Fatalf("first report = %v, want nil", err)
			}
			err := rec.next(t, 5*time.Second)
			if want := fmt.Sprintf(c.want, p); err == nil || err.Error() != want {
				t.Fatalf("second report = %v, want %q", err, want)
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Watch did not return after the script ended")
			}
			if s.PID() != 0 {
				t.Errorf("PID() = %d after the script ended", s.PID())
			}
		})
	}
}

func TestScriptWatchStartFails(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing.sh")
	rec, _, done := watch(t, &Script{Path: p}, nil)
	if err := rec.next(t, 5*time.Second); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("report = %v, want an error naming %s", err, p)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch did not return after a failed start")
	}
	rec.none(t, 50*time.Millisecond)
}

// TestScriptWatchStop: ending ctx sends SIGTERM, which the script's trap sees, and Watch
// returns without reporting.
func TestScriptWatchStop(t *testing.T) {
	// The pid is written once the child is forked: a child forked after the SIGTERM went out
	// would rightly be waited for until WaitStop.
	p := writeScript(t, `trap 'echo term > got; exit 0' TERM
sleep 100 &
echo $$ > pid
wait $!`, 0o755)
	dir := filepath.Dir(p)
	s := &Script{Path: p, WaitStop: 5 * time.Second}
	rec, stop, _ := watch(t, s, nil)
	if err := rec.next(t, 5*time.Second); err != nil {
		t.Fatalf("first report = %v, want nil", err)
	}
	pid := readPID(t, filepath.Join(dir, "pid"), 5*time.Second)
	if s.PID() != pid {
		t.Errorf("PID() = %d, the script's pid is %d", s.PID(), pid)
	}
	if took := stop(); took > 4*time.Second {
		t.Errorf("Watch took %s to return, though the script ends on SIGTERM", took)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "got")); err != nil || string(b) != "term\n" {
		t.Errorf("the trap did not run: %q, %v", b, err)
	}
	rec.none(t, 100*time.Millisecond)
	waitDead(t, pid, 2*time.Second)
	if s.PID() != 0 {
		t.Errorf("PID() = %d after Watch returned", s.PID())
	}
}

// TestScriptWatchStopKills: a script that ignores SIGTERM is killed once WaitStop has passed,
// and so is what it started, cgroup or not.
func TestScriptWatchStopKills(t *testing.T) {
	for _, cg := range []bool{false, true} {
		t.Run(fmt.Sprintf("cgroup=%v", cg), func(t *testing.T) {
			s := &Script{WaitStop: 300 * time.Millisecond}
			body := `trap '' TERM
echo $$ > pid
while :; do sleep 0.05; done`
			if cg {
				s.Place, s.Kill, _ = testCgroup(t)
				body = "trap '' TERM\n" + escapingScript
			}
			s.Path = writeScript(t, body, 0o755)
			dir := filepath.Dir(s.Path)
			rec, stop, _ := watch(t, s, nil)
			if err := rec.next(t, 5*time.Second); err != nil {
				t.Fatalf("first report = %v, want nil", err)
			}
			var pids []int
			if cg {
				pids = append(pids, readPID(t, filepath.Join(dir, "gc"), 5*time.Second))
			} else {
				pids = append(pids, readPID(t, filepath.Join(dir, "pid"), 5*time.Second))
			}
			took := stop()
			if took < 250*time.Millisecond || took > 5*time.Second {
				t.Errorf("Watch returned %s after its context ended, want about WaitStop (300ms)", took)
			}
			rec.none(t, 50*time.Millisecond)
			for _, pid := range pids {
				waitDead(t, pid, 2*time.Second)
			}
		})
	}
}

// TestScriptCheckCanceled: an ended context is not a timeout and starts nothing.
func TestScriptCheckCanceled(t *testing.T) {
	p := writeScript(t, "touch ran", 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&Script{Path: p}).Check(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Check = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p), "ran")); err == nil {
		t.Error("the script ran with an ended context")
	}
}
