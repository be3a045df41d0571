package monitor

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeScript writes a shell script into a directory of its own and returns its path.
func writeScript(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "genw.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantCheck fails the test unless err is what a check should have returned: nil when want is
// "", else an error whose text is exactly want, formatted with args when there are any.
func wantCheck(t *testing.T, err error, want string, args ...any) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return
	}
	if len(args) > 0 {
		want = fmt.Sprintf(want, args...)
	}
	if err == nil || err.Error() != want {
		t.Fatalf("Check = %v, want %q", err, want)
	}
}

// dead reports whether pid has ended: gone from /proc, or a zombie nobody reaped yet (the
// killed grandchildren of a script are reparented to whatever init this machine runs).
func dead(pid int) bool {
	_, d := notRunning("/proc", pid)
	return d
}

// waitDead fails the test unless pid has ended within d.
func waitDead(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if dead(pid) {
			return
		}
	}
	t.Errorf("process %d still runs %s later", pid, d)
	_ = unix.Kill(pid, unix.SIGKILL)
}

// readPID waits for a script to write its pid into path.
func readPID(t *testing.T, path string, d time.Duration) int {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err != nil || !strings.HasSuffix(string(b), "\n") {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err == nil && pid > 0 {
			// Whatever the test asserts, the process must not outlive it.
			t.Cleanup(func() { _ = unix.Kill(pid, unix.SIGKILL) })
			return pid
		}
	}
	t.Fatalf("no pid in %s after %s", path, d)
	return 0
}

// recorder collects a Watcher's reports and flags any made after Watch returned.
type recorder struct {
	t        *testing.T
	ch       chan error
	returned atomic.Bool
}

func newRecorder(t *testing.T) *recorder {
	return &recorder{t: t, ch: make(chan error, 64)}
}

func (r *recorder) report(err error) {
	if r.returned.Load() {
		r.t.Errorf("report(%v) after Watch returned", err)
	}
	select {
	case r.ch <- err:
	default:
		r.t.Errorf("too many reports; dropped %v", err)
	}
}

// next waits for the next report.
func (r *recorder) next(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.ch:
		return err
	case <-time.After(d):
		t.Fatalf("no report within %s", d)
		return nil
	}
}

// none asserts that no report comes within d.
func (r *recorder) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case err := <-r.ch:
		t.Errorf("unexpected report %v", err)
	case <-time.After(d):
	}
}

// watch runs w.Watch in a goroutine (through run, which may move it into a namespace). The
// returned stop cancels the context and waits for Watch to return.
func watch(t *testing.T, w Watcher, run func(func())) (*recorder, func() time.Duration, <-chan struct{}) {
	t.Helper()
	if run == nil {
		run = func(f func()) { f() }
	}
	rec := newRecorder(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(func() { w.Watch(ctx, rec.report) })
		rec.returned.Store(true)
	}()
	stop := func() time.Duration {
		start := time.Now()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Watch did not return within 10s of its context ending")
		}
		return time.Since(start)
	}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return rec, stop, done
}

// cgroup2Mount finds the cgroup v2 mount point in mountinfo ("" when there is none).
func cgroup2Mount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// mount ID, parent, dev, root, mount point, options, optional fields..., "-", fstype, ...
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) >= 5 && len(qf) >= 1 && qf[0] == "cgroup2" {
			return pf[4]
		}
	}
	return ""
}

// testCgroup creates <mount>/clpkit-test/monitor-<random> and returns a Place and a KillPath
// on it; the cgroup is emptied and removed when the test ends.
func testCgroup(t *testing.T) (Place, KillPath, string) {
	t.Helper()
	mnt := cgroup2Mount()
	if mnt == "" {
		t.Skip("cgroup v2 is not mounted: cannot test placing scripts in a cgroup")
	}
	parent := filepath.Join(mnt, "clpkit-test")
	madeParent := false
	if _, err := os.Stat(parent); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(parent, 0o755); err != nil {
			t.Skipf("cannot create a cgroup under %s: %v", mnt, err)
		}
		madeParent = true
	}
	dir := filepath.Join(parent, "monitor-"+randHex(6))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup under %s: %v", parent, err)
	}
	kill := func(ctx context.Context, path string) error {
		if err := os.WriteFile(filepath.Join(path, "cgroup.kill"), []byte("1"), 0); err != nil {
			return err
		}
		for {
			p, err := populated(path)
			if err != nil || !p {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := kill(ctx, dir); err != nil {
			t.Errorf("emptying %s: %v", dir, err)
		}
		if err := os.Remove(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
		if madeParent {
			_ = os.Remove(parent) // another test may be using it: then it stays.
		}
	})
	place := func() (*os.File, string, error) {
		f, err := os.Open(dir)
		return f, dir, err
	}
	return place, kill, dir
}

// ctxFor is a context ending after d, cancelled when the test ends.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
