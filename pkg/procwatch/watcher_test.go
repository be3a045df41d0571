package procwatch

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func newWatcher(t *testing.T) *Watcher {
	t.Helper()
	w, err := NewWatcher("/proc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

func next(t *testing.T, w *Watcher, d time.Duration) (Identity, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return w.Next(ctx)
}

// TestWatcherManyProcesses watches twenty real processes and kills them in an order of its own:
// each exit is reported once, in the order of the kills, and the Watcher ends empty.
func TestWatcherManyProcesses(t *testing.T) {
	w := newWatcher(t)
	const n = 20
	cmds := make([]*exec.Cmd, n)
	ids := make([]Identity, n)
	for i := range cmds {
		cmds[i] = exec.Command("sleep", "1000")
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
		c := cmds[i]
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		ids[i] = ident(t, c)
		if err := w.Add(ids[i]); err != nil {
			t.Fatalf("Add(%v): %v", ids[i], err)
		}
	}
	// Adding twice is harmless.
	if err := w.Add(ids[0]); err != nil {
		t.Fatal(err)
	}
	if w.Len() != n {
		t.Fatalf("Len = %d, want %d", w.Len(), n)
	}
	for k := 0; k < n; k++ {
		i := (k * 7) % n // 0, 7, 14, 1, 8, ...
		if err := cmds[i].Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		got, err := next(t, w, 5*time.Second)
		if err != nil {
			t.Fatalf("kill %d: Next: %v", k, err)
		}
		if got != ids[i] {
			t.Fatalf("kill %d: Next = %v, want %v", k, got, ids[i])
		}
	}
	if w.Len() != 0 {
		t.Fatalf("Len = %d after every exit", w.Len())
	}
	if _, err := next(t, w, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty watcher: %v, want the deadline", err)
	}
}

// TestWatcherNonChild watches an orphan (its parent shell has exited): pidfd does not need the
// process to be ours.
func TestWatcherNonChild(t *testing.T) {
	out, err := exec.Command("sh", "-c", "sleep 1000 >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	id, err := Identify("/proc", pid)
	if err != nil {
		t.Fatal(err)
	}
	w := newWatcher(t)
	if err := w.Add(id); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	got, err := next(t, w, 5*time.Second)
	if err != nil || got != id {
		t.Fatalf("Next = %v, %v; want %v", got, err, id)
	}
}

// TestWatcherRemoveAndGone: a removed process's exit is not reported; a process that is gone,
// or a pid that now names another process, is refused with ErrGone.
func TestWatcherRemoveAndGone(t *testing.T) {
	w := newWatcher(t)
	a := exec.Command("sleep", "1000")
	b := exec.Command("sleep", "1000")
	for _, c := range []*exec.Cmd{a, b} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		c := c
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	}
	ia, ib := ident(t, a), ident(t, b)
	for _, id := range []Identity{ia, ib} {
		if err := w.Add(id); err != nil {
			t.Fatal(err)
		}
	}
	w.Remove(ia)
	w.Remove(ia) // twice is harmless
	_ = a.Process.Kill()
	_ = a.Wait()
	if _, err := next(t, w, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a removed process was reported: %v", err)
	}
	if err := w.Add(ia); !errors.Is(err, ErrGone) {
		t.Errorf("Add of a reaped process: %v, want ErrGone", err)
	}
	if err := w.Add(Identity{PID: ib.PID, Start: ib.Start + 1}); !errors.Is(err, ErrGone) {
		t.Errorf("Add of a reused pid: %v, want ErrGone", err)
	}
	_ = b.Process.Kill()
	if got, err := next(t, w, 5*time.Second); err != nil || got != ib {
		t.Fatalf("Next = %v, %v; want %v", got, err, ib)
	}
}

// TestWatcherCancelAndClose: a blocked Next returns at once when its context ends, and with
// ErrClosed when the Watcher is closed under it.
func TestWatcherCancelAndClose(t *testing.T) {
	w, err := NewWatcher("/proc")
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("sleep", "1000")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	if err := w.Add(ident(t, c)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := w.Next(ctx); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next after cancel: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not return after its context was cancelled")
	}

	go func() { _, err := w.Next(context.Background()); done <- err }()
	time.Sleep(50 * time.Millisecond)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not return after Close")
	}
	if err := w.Add(ident(t, c)); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
