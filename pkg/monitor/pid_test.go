package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// sleeper starts `sleep 100` as a child and kills and reaps it when the test ends.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// deadPID returns the pid of a child that has ended and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// zombie returns the pid of a child that has ended and is not reaped until the test ends.
func zombie(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Wait() })
	pid := cmd.Process.Pid
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if why, _ := notRunning("/proc", pid); why == " (zombie)" {
			return pid
		}
	}
	t.Fatalf("child %d never became a zombie", pid)
	return 0
}

func TestPIDFile(t *testing.T) {
	dir := t.TempDir()
	alive, gone, z := os.Getpid(), deadPID(t), zombie(t)
	cases := []struct {
		name    string
		content *string // nil: no file
		want    string  // "" means nil; %s is the file's path
	}{
		{name: "missing", want: "pid file %s: no such file"},
		{name: "empty", content: ptr(""), want: "pid file %s: it holds no pid"},
		{name: "blank", content: ptr(" \n\n"), want: "pid file %s: it holds no pid"},
		{name: "garbage", content: ptr("abc\n"), want: `pid file %s: "abc" is not a pid`},
		{name: "zero", content: ptr("0\n"), want: `pid file %s: "0" is not a pid`},
		{name: "negative", content: ptr("-5\n"), want: `pid file %s: "-5" is not a pid`},
		{name: "too big", content: ptr("99999999\n"), want: `pid file %s: "99999999" is not a pid`},
		{name: "long garbage", content: ptr("12345678901234567890123\n"), want: `pid file %s: "1234567890123456..." is not a pid`},
		{name: "dead", content: ptr(fmt.Sprintf("%d\n", gone)), want: fmt.Sprintf("process %d of %%s is not running", gone)},
		{name: "zombie", content: ptr(fmt.Sprintf("%d\n", z)), want: fmt.Sprintf("process %d of %%s is not running (zombie)", z)},
		{name: "alive", content: ptr(fmt.Sprintf("%d\n", alive))},
		{name: "alive without newline", content: ptr(strconv.Itoa(alive))},
		{name: "alive with more words", content: ptr(fmt.Sprintf("  %d 8080\nextra\n", alive))},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("%d.pid", i))
			if c.content != nil {
				if err := os.WriteFile(p, []byte(*c.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := PIDFile{Path: p}.Check(ctxFor(t, 5*time.Second))
			wantCheck(t, err, c.want, p)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestPIDFileStalled: a pid file that cannot be read (a FIFO nobody writes stands in for a hung
// NFS mount) fails with ErrTimeout at the deadline.
func TestPIDFileStalled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pid")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { releaseFIFO(t, p, nil) })
	start := time.Now()
	err := PIDFile{Path: p}.Check(ctxFor(t, 200*time.Millisecond))
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Fatalf("Check = %v after %s, want ErrTimeout at the deadline", err, time.Since(start))
	}
}

// releaseFIFO unblocks whatever waits to open or read the FIFO: an O_RDWR open never blocks,
// and it fills the FIFO with more than any reader here asks for. stuck, when given, says
// whether the reader is still blocked.
func releaseFIFO(t *testing.T, p string, stuck func() bool) {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Errorf("releasing %s: %v", p, err)
		return
	}
	// Within the pipe's 64KiB, so the write does not block.
	if _, err := f.Write(make([]byte, 32<<10)); err != nil {
		t.Errorf("writing to %s: %v", p, err)
	}
	if stuck != nil {
		for end := time.Now().Add(5 * time.Second); stuck() && time.Now().Before(end); {
			time.Sleep(5 * time.Millisecond)
		}
	} else {
		time.Sleep(50 * time.Millisecond)
	}
	f.Close()
}

func FuzzPIDFile(f *testing.F) {
	for _, s := range []string{"1234\n", "", " ", "abc", "-1", "0", "4194304", "4194305", "99999999999999999999", "1234 5678\n", "+12", "0x10", "\x00", "１２"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, err := parsePID(b)
		if err == nil && (pid <= 0 || pid > maxPID) {
			t.Fatalf("parsePID(%q) = %d, not a pid", b, pid)
		}
		if err != nil && pid != 0 {
			t.Fatalf("parsePID(%q) = %d with error %v", b, pid, err)
		}
	})
}

func TestPIDWatch(t *testing.T) {
	for _, procOnly := range []bool{false, true} {
		name := "pidfd"
		if procOnly {
			name = "proc polling"
		}
		t.Run(name, func(t *testing.T) {
			t.Run("process ends", func(t *testing.T) {
				cmd := sleeper(t)
				pid := cmd.Process.Pid
				rec, _, _ := watch(t, PIDWatch{PID: pid, procOnly: procOnly}, nil)
				if err := rec.next(t, 5*time.Second); err != nil {
					t.Fatalf("first report = %v, want nil", err)
				}
				rec.none(t, 150*time.Millisecond)
				killed := time.Now()
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				err := rec.next(t, 5*time.Second)
				took := time.Since(killed)
				if want := fmt.Sprintf("process %d ended", pid); err == nil || err.Error() != want {
					t.Fatalf("report = %v, want %q", err, want)
				}
				// The bound is loose against a loaded machine; pidfd answers in well under 1ms.
				if took > 2*time.Second {
					t.Errorf("the end was reported %s after the kill", took)
				}
				t.Logf("reported %s after the kill", took)
			})
			t.Run("already gone", func(t *testing.T) {
				pid := deadPID(t)
				rec, stop, _ := watch(t, PIDWatch{PID: pid, procOnly: procOnly}, nil)
				if err := rec.next(t, 5*time.Second); err == nil || err.Error() != fmt.Sprintf("process %d is not running", pid) {
					t.Fatalf("report = %v, want not running", err)
				}
				rec.none(t, 150*time.Millisecond)
				stop()
			})
			t.Run("zombie", func(t *testing.T) {
				pid := zombie(t)
				rec, stop, _ := watch(t, PIDWatch{PID: pid, procOnly: procOnly}, nil)
				if err := rec.next(t, 5*time.Second); err == nil || err.Error() != fmt.Sprintf("process %d is not running (zombie)", pid) {
					t.Fatalf("report = %v, want not running (zombie)", err)
				}
				stop()
			})
			t.Run("stops with its context", func(t *testing.T) {
				cmd := sleeper(t)
				rec, stop, _ := watch(t, PIDWatch{PID: cmd.Process.Pid, procOnly: procOnly}, nil)
				if err := rec.next(t, 5*time.Second); err != nil {
					t.Fatalf("first report = %v, want nil", err)
				}
				if took := stop(); took > time.Second {
					t.Errorf("Watch took %s to return", took)
				}
				rec.none(t, 50*time.Millisecond)
			})
		})
	}
}

// TestPIDWatchCanceled: a Watch whose context has already ended reports nothing.
func TestPIDWatchCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	PIDWatch{PID: os.Getpid()}.Watch(ctx, func(err error) { t.Errorf("report(%v)", err) })
}
