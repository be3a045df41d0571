package disk

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/procwatch"
)

func TestMain(m *testing.M) {
	// TestCheckStalledIO runs this test binary again as the process whose reads stall.
	if spec := os.Getenv(stallEnv); spec != "" {
		os.Exit(stallHelper(spec))
	}
	os.Exit(m.Run())
}

// loopFS is an ext4 file system on a loop device over an image file in a temporary
// directory, with a mount point (not yet created) beside it.
type loopFS struct {
	dev string // /dev/loopN
	img string
	mp  string
}

// requireLoop skips the test unless this process can use loop devices and make ext4 file
// systems on them.
func requireLoop(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: loop devices and mount(2) need root")
	}
	for _, tool := range []string{"losetup", "mkfs.ext4"} {
		if _, err := lookSbin(tool); err != nil {
			t.Skipf("skipped: %s is missing", tool)
		}
	}
}

func requireTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := lookSbin(tool)
	if err != nil {
		t.Skipf("skipped: %s is missing", tool)
	}
	return p
}

// newLoopFS makes a 32 MiB ext4 file system on a fresh loop device. Its cleanup, which runs
// even when the test fails, lazily unmounts everything under the test's directory and detaches
// the loop device; cleanups registered later (those of processes holding the mount) run first.
func newLoopFS(t *testing.T) *loopFS {
	t.Helper()
	requireLoop(t)
	base := t.TempDir()
	f := &loopFS{img: filepath.Join(base, "disk.img"), mp: filepath.Join(base, "mnt", "data")}
	if err := os.WriteFile(f.img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(f.img, 32<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(requireTool(t, "losetup"), "-f", "--show", f.img).Output()
	if err != nil {
		t.Fatalf("losetup -f --show %s: %v", f.img, err)
	}
	f.dev = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		unmountAllUnder(t, base)
		if out, err := exec.Command(requireTool(t, "losetup"), "-d", f.dev).CombinedOutput(); err != nil {
			t.Errorf("cleanup: losetup -d %s: %v: %s", f.dev, err, out)
		}
	})
	run(t, "mkfs.ext4", "-q", f.dev)
	return f
}

// disk returns a Disk for the file system with quick retries.
func (f *loopFS) disk() *Disk {
	return &Disk{Device: f.dev, MountPoint: f.mp, FSType: "ext4", RetryInterval: 50 * time.Millisecond, KillGrace: time.Second}
}

// unmountAllUnder lazily unmounts every mount under dir, deepest first.
func unmountAllUnder(t *testing.T, dir string) {
	t.Helper()
	for range 10 {
		entries, err := readMountinfo("")
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		var points []string
		for _, e := range entries {
			if under(e.Point, dir) {
				points = append(points, e.Point)
			}
		}
		if len(points) == 0 {
			return
		}
		slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
		for _, p := range points {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
				t.Errorf("cleanup: lazy unmount of %s: %v", p, err)
			}
		}
	}
	t.Errorf("cleanup: mounts under %s do not go away", dir)
}

// run runs a system program and fails the test when it fails.
func run(t *testing.T, tool string, args ...string) string {
	t.Helper()
	out, err := exec.Command(requireTool(t, tool), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// proc is a process started by a test, reaped in the background.
type proc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed once reaped; cmd.ProcessState is then set
}

// holder starts a process that keeps using something; it is killed and reaped at cleanup.
func holder(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("cleanup: pid %d does not end", p.pid)
		}
	})
	return p
}

// waitUsing waits until pid uses mp (a shell needs a moment to open its file).
func waitUsing(t *testing.T, pid int, mp string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !uses("/proc", pid, mp) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d does not come to use %s", pid, mp)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procState is the state letter of /proc/<pid>/stat ('R', 'S', 'Z'...), 0 when there is none.
func procState(pid int) byte {
	st, err := procwatch.Stat("/proc", pid)
	if err != nil {
		return 0
	}
	return st.State
}

// waitExit fails the test unless p ends within d, and returns how it ended.
func waitExit(t *testing.T, p *proc, d time.Duration) *os.ProcessState {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState
	case <-time.After(d):
		t.Fatalf("pid %d did not end", p.pid)
		return nil
	}
}

func contains(pids []int, pid int) bool { return slices.Contains(pids, pid) }
