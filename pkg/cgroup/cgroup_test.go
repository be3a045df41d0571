package cgroup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/procwatch"
)

// testCgroup returns a new cgroup for this test alone, <mount>/clpkit-test-<random>, and the v2
// mount. When the test ends, whatever is left in it is killed and it is removed, so the host is
// left as it was found.
func testCgroup(t *testing.T) (Cgroup, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("real cgroups need root: not root")
	}
	mount, err := FindV2("/proc")
	if errors.Is(err, ErrNoV2) {
		t.Skip("no cgroup v2 mounted")
	}
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cg := Cgroup{Path: filepath.Join(mount, "clpkit-test-"+hex.EncodeToString(b[:]))}
	if err := cg.Ensure(); err != nil {
		if errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission) {
			t.Skipf("cannot create cgroups under %s: %v", mount, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := (Cgroup{Path: cg.Path}).Kill(ctx); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
		if err := cg.Remove(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return cg, mount
}

// child is a process a test started.
type child struct {
	*exec.Cmd
	exited chan error // receives its exit once
}

// start runs name with args cloned straight into cg. One goroutine reaps it; its exit arrives on
// exited.
func start(t *testing.T, cg Cgroup, name string, args ...string) child {
	t.Helper()
	f, err := cg.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s in %s: %v", name, cg.Path, err)
	}
	c := child{Cmd: cmd, exited: make(chan error, 1)}
	done := make(chan struct{})
	go func() {
		c.exited <- cmd.Wait()
		close(done)
	}()
	// Cleanups run last-registered first, so this one runs before the cgroup's: it must not
	// wait for a process that only the cgroup's kill would end.
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return c
}

// exit waits up to 5 s for c to exit.
func (c child) exit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.exited:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not exit within 5 s", c.Path)
		return nil
	}
}

// waitProcs waits until cg holds at least n processes and returns them.
func waitProcs(t *testing.T, cg Cgroup, n int) []procwatch.Identity {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := cg.Procs()
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) >= n {
			var ids []procwatch.Identity
			for _, pid := range pids {
				if id, err := procwatch.Identify("/proc", pid); err == nil {
					ids = append(ids, id)
				}
			}
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %d processes after 5 s, want %d", cg.Path, len(pids), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertGone checks that none of ids runs any more (a zombie counts as gone) and that cg is empty.
func assertGone(t *testing.T, cg Cgroup, ids []procwatch.Identity) {
	t.Helper()
	for _, id := range ids {
		if procwatch.Alive("/proc", id) {
			t.Errorf("process %d is still alive", id.PID)
		}
	}
	if pop, err := cg.Populated(); err != nil || pop {
		t.Errorf("Populated = %v, %v; want false", pop, err)
	}
	if pids, err := cg.Procs(); err != nil || len(pids) > 0 {
		t.Errorf("Procs = %v, %v; want none", pids, err)
	}
}

func TestSpawnLandsInCgroup(t *testing.T) {
	t.Parallel()
	cg, mount := testCgroup(t)
	cmd := start(t, cg, "sleep", "1000")
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSelf(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(cg.Path, mount); got != want {
		t.Errorf("the child is in cgroup %q, want %q", got, want)
	}
	if pop, err := cg.Populated(); err != nil || !pop {
		t.Errorf("Populated = %v, %v; want true", pop, err)
	}
	pids, err := cg.Procs()
	if err != nil || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Errorf("Procs = %v, %v; want [%d]", pids, err, cmd.Process.Pid)
	}
}

// Daemons that leave their parent, their session and their process group, and one in a child
// cgroup, all die with the cgroup.
func TestKill(t *testing.T) {
	for _, noKillFile := range []bool{false, true} {
		name := "cgroup.kill"
		if noKillFile {
			name = "freeze-and-kill"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath("perl"); err != nil {
				t.Skip("perl is needed to change a process group: ", err)
			}
			cg, _ := testCgroup(t)
			cg.NoKillFile = noKillFile
			sub := Cgroup{Path: cg.Path + "/sub"}
			if err := sub.Ensure(); err != nil {
				t.Fatal(err)
			}
			// A new session, a new process group, and a shell that keeps forking while it is
			// being killed.
			sh := start(t, cg, "sh", "-c", `setsid sleep 1000 & perl -e 'setpgrp(0, 0); exec "sleep", "1001"' & exit 0`)
			if err := sh.exit(t); err != nil {
				t.Fatalf("the launching shell: %v", err)
			}
			start(t, sub, "sh", "-c", `while :; do sleep 1002 & sleep 0.01; done`)
			ids := waitProcs(t, cg, 5)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cg.Kill(ctx); err != nil {
				t.Fatal(err)
			}
			assertGone(t, cg, ids)
			if noKillFile {
				b, err := os.ReadFile(cg.Path + "/cgroup.freeze")
				if err != nil || strings.TrimSpace(string(b)) != "0" {
					t.Errorf("cgroup.freeze = %q, %v after the kill; want 0 (thawed)", b, err)
				}
			}
		})
	}
}

func TestWaitEmpty(t *testing.T) {
	t.Parallel()
	cg, _ := testCgroup(t)
	began := time.Now()
	start(t, cg, "sleep", "0.3")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cg.WaitEmpty(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 250*time.Millisecond || d > 5*time.Second {
		t.Errorf("WaitEmpty returned %v after the start of a 0.3 s sleep", d)
	}
}

func TestWaitEmptyTimesOut(t *testing.T) {
	t.Parallel()
	cg, _ := testCgroup(t)
	start(t, cg, "sleep", "1000")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := cg.WaitEmpty(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitEmpty = %v, want the context's deadline", err)
	}
	if !strings.Contains(err.Error(), cg.Path) {
		t.Errorf("the error does not name the cgroup: %v", err)
	}
}

func TestSignal(t *testing.T) {
	t.Parallel()
	cg, _ := testCgroup(t)
	dir := t.TempDir()
	got, ready := filepath.Join(dir, "got"), filepath.Join(dir, "ready")
	cmd := start(t, cg, "sh", "-c", `trap 'echo TERM > "$0"; exit 0' TERM; : > "$1"; while :; do sleep 0.05; done`, got, ready)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shell did not set its trap within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, err := cg.Signal(syscall.SIGTERM)
	if err != nil || n < 1 {
		t.Fatalf("Signal = %d, %v; want at least the shell", n, err)
	}
	if err := cmd.exit(t); err != nil {
		t.Errorf("the shell ended with %v, want exit 0 from its trap", err)
	}
	if b, err := os.ReadFile(got); err != nil || strings.TrimSpace(string(b)) != "TERM" {
		t.Errorf("trap output %q, %v; want TERM", b, err)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	cg, _ := testCgroup(t)
	leaf := Cgroup{Path: cg.Path + "/a/b"}
	if err := leaf.Ensure(); err != nil {
		t.Fatal(err)
	}
	if err := (Cgroup{Path: cg.Path + "/c"}).Ensure(); err != nil {
		t.Fatal(err)
	}
	start(t, leaf, "sleep", "1000")

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := cg.Remove(ctx)
	if !errors.Is(err, syscall.EBUSY) || !strings.Contains(err.Error(), "still holds 1 process") || !strings.Contains(err.Error(), leaf.Path) {
		t.Fatalf("Remove of a populated cgroup = %v; want EBUSY naming %s and its process", err, leaf.Path)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cg.Kill(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cg.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cg.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s still exists after Remove: %v", cg.Path, err)
	}
	if err := cg.Remove(ctx); err != nil {
		t.Errorf("Remove of a removed cgroup = %v, want nil", err)
	}
}

func TestKillRefuses(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	missing := Cgroup{Path: filepath.Join(t.TempDir(), "missing")}
	if err := missing.Kill(ctx); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "killing cgroup "+missing.Path) {
		t.Errorf("Kill of a missing cgroup = %v; want an error wrapping fs.ErrNotExist that names it", err)
	}
	// A directory without cgroup.events (any directory, or the root cgroup) is refused before
	// anything is signalled.
	plain := Cgroup{Path: t.TempDir(), NoKillFile: true}
	if err := plain.Kill(ctx); err == nil || !strings.Contains(err.Error(), "not a cgroup v2 directory") {
		t.Errorf("Kill of a plain directory = %v; want a refusal", err)
	}
	if _, err := missing.Populated(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Populated of a missing cgroup = %v; want fs.ErrNotExist", err)
	}
	if err := missing.WaitEmpty(ctx); err != nil {
		t.Errorf("WaitEmpty of a missing cgroup = %v; want nil (it holds nothing)", err)
	}
}
