package disk

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// busyFS mounts a loop file system and starts two processes holding it: one with its current
// directory there, one (whose current directory is elsewhere) with a file there open on fd 3.
func busyFS(t *testing.T) (*loopFS, *Disk, *proc, *proc) {
	t.Helper()
	f := newLoopFS(t)
	d := f.disk()
	if err := d.Mount(context.Background()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(f.mp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cwd := holder(t, f.mp, "sleep", "1000")
	fd := holder(t, t.TempDir(), "sh", "-c", `exec 3<"$1"; exec sleep 1000`, "sh", file)
	waitUsing(t, cwd.pid, f.mp)
	waitUsing(t, fd.pid, f.mp)
	return f, d, cwd, fd
}

// With Kill, the holders get SIGTERM and the unmount succeeds.
func TestUnmountKill(t *testing.T) {
	f, d, cwd, fd := busyFS(t)
	d.Retry, d.Kill = 2, true
	rep, err := d.UnmountReport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lazy || rep.Attempts != 2 || !contains(rep.Killed, cwd.pid) || !contains(rep.Killed, fd.pid) {
		t.Errorf("report %+v; want 2 attempts, pids %d and %d killed", rep, cwd.pid, fd.pid)
	}
	for _, p := range []*proc{cwd, fd} {
		st := waitExit(t, p, 5*time.Second)
		if ws, ok := st.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Errorf("pid %d ended with %v; want SIGTERM", p.pid, st)
		}
		if s := procState(p.pid); s != 0 {
			t.Errorf("pid %d still in /proc (state %c)", p.pid, s)
		}
	}
	if _, ok, _ := Mounted("", f.mp); ok {
		t.Error("still mounted")
	}
}

// A holder that ignores SIGTERM gets SIGKILL once KillGrace is over.
func TestUnmountKillEscalates(t *testing.T) {
	f := newLoopFS(t)
	d := f.disk()
	ctx := context.Background()
	if err := d.Mount(ctx); err != nil {
		t.Fatal(err)
	}
	// An ignored signal stays ignored across exec.
	stubborn := holder(t, f.mp, "sh", "-c", `trap "" TERM; exec sleep 1000`)
	waitUsing(t, stubborn.pid, f.mp)
	d.Retry, d.Kill, d.KillGrace = 1, true, 300*time.Millisecond
	start := time.Now()
	if err := d.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < d.KillGrace {
		t.Errorf("unmounted after %v, before the grace of %v was over", el, d.KillGrace)
	}
	st := waitExit(t, stubborn, 5*time.Second)
	if ws, ok := st.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("ended with %v; want SIGKILL", st)
	}
}

// Without Kill or Lazy a busy mount stays, and the error names the pids holding it.
func TestUnmountBusy(t *testing.T) {
	f, d, cwd, fd := busyFS(t)
	d.Retry = 2
	rep, err := d.UnmountReport(context.Background())
	if err == nil {
		t.Fatal("Unmount of a busy mount succeeded")
	}
	want := "unmounting " + f.dev + " from " + f.mp + ": busy after 3 attempts: used by pids " + pidList([]int{min(cwd.pid, fd.pid), max(cwd.pid, fd.pid)})
	if err.Error() != want {
		t.Errorf("error %q; want %q", err, want)
	}
	if rep.Attempts != 3 || len(rep.Killed) != 0 || rep.Lazy {
		t.Errorf("report %+v", rep)
	}
	if _, ok, _ := Mounted("", f.mp); !ok {
		t.Error("not mounted any more")
	}
	for _, p := range []*proc{cwd, fd} {
		if s := procState(p.pid); s != 'S' && s != 'R' {
			t.Errorf("holder %d is in state %q", p.pid, s)
		}
	}
}

// With Lazy and no Kill the mount is detached lazily; the report says so and names the pids.
func TestUnmountLazy(t *testing.T) {
	f, d, cwd, fd := busyFS(t)
	d.Retry, d.Lazy = 1, true
	rep, err := d.UnmountReport(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Lazy || rep.Attempts != 2 || len(rep.Warnings) != 1 {
		t.Fatalf("report %+v; want a lazy detach after 2 attempts, with a warning", rep)
	}
	for _, want := range []string{"detached lazily", strconv.Itoa(cwd.pid), strconv.Itoa(fd.pid)} {
		if !strings.Contains(rep.Warnings[0], want) {
			t.Errorf("warning %q lacks %q", rep.Warnings[0], want)
		}
	}
	if _, ok, _ := Mounted("", f.mp); ok {
		t.Error("still mounted")
	}
	// The holders keep the detached file system; they are killed at cleanup, before the loop
	// device is detached.
	if s := procState(cwd.pid); s != 'S' && s != 'R' {
		t.Errorf("holder %d is in state %q", cwd.pid, s)
	}
}

// A context that ends while waiting between attempts stops Unmount.
func TestUnmountContext(t *testing.T) {
	f, d, _, _ := busyFS(t)
	d.Retry, d.RetryInterval = 100, time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.Unmount(ctx)
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("error %v; want a deadline", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
	if _, ok, _ := Mounted("", f.mp); !ok {
		t.Error("not mounted any more")
	}
}
