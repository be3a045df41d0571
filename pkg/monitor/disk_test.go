package monitor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestDisk(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "data")
	if err := os.WriteFile(file, make([]byte, 10000), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		name string
		d    *Disk
		want string // "" means nil
	}{
		{name: "read a file (O_DIRECT)", d: &Disk{Path: file, Method: "read", Size: 8192}},
		{name: "read, default method and size", d: &Disk{Path: file}},
		{name: "read more than the file holds", d: &Disk{Path: file, Size: 1 << 20}},
		{name: "read an unaligned size", d: &Disk{Path: file, Size: 100}},
		{name: "read a missing path", d: &Disk{Path: missing}, want: "read of " + missing + ": no such file or directory"},
		{name: "read a directory", d: &Disk{Path: dir}, want: "read of " + dir + ": is a directory"},
		{name: "write", d: &Disk{Path: dir, Method: "write", Size: 100000}},
		{name: "write into a missing directory", d: &Disk{Path: missing, Method: "write"}, want: "write of " + missing + ": no such file or directory"},
		{name: "unknown method", d: &Disk{Path: file, Method: "erase"}, want: `disk monitor on ` + file + `: unknown method "erase" (read or write)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.d.Check(ctxFor(t, 10*time.Second))
			wantCheck(t, err, c.want)
			// The write leaves nothing behind, and nothing else ever writes.
			names, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 1 || names[0].Name() != "data" {
				t.Errorf("the directory holds %v, want only data", names)
			}
		})
	}
}

// TestDiskLoopDetached: a loop device over an image reads fine; once detached (the disk is
// gone), the read is an error.
func TestDiskLoopDetached(t *testing.T) {
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("losetup (util-linux) is not installed")
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device available here: losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	detached := false
	t.Cleanup(func() {
		if !detached {
			_ = exec.Command("losetup", "-d", dev).Run()
		}
	})
	d := &Disk{Path: dev, Method: "read", Size: 4096}
	if err := d.Check(ctxFor(t, 10*time.Second)); err != nil {
		t.Fatalf("Check of the attached %s: %v", dev, err)
	}
	if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
		t.Fatalf("losetup -d %s: %v: %s", dev, err, out)
	}
	detached = true
	// The kernel may take a moment to let the device go.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := d.Check(ctxFor(t, 10*time.Second))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "read of "+dev+": ") {
				t.Fatalf("Check of the detached device = %q, want it to name the read of %s", err, dev)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Check of the detached %s still succeeds", dev)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDiskReadNoDirect: procfs refuses O_DIRECT, as tmpfs did before 6.6, and the read
// falls back to a plain one.
func TestDiskReadNoDirect(t *testing.T) {
	const p = "/proc/version"
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_DIRECT, 0)
	if err == nil {
		f.Close()
		t.Skipf("%s accepts O_DIRECT here: the fallback is not reached", p)
	}
	if err := (&Disk{Path: p}).Check(ctxFor(t, 5*time.Second)); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

// assertStall checks the stalled-I/O behaviour: ErrTimeout at the deadline, then an immediate
// failure while the I/O is still stuck.
func assertStall(t *testing.T, d *Disk, deadline time.Duration) {
	t.Helper()
	start := time.Now()
	err := d.Check(ctxFor(t, deadline))
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Check = %v, want ErrTimeout", err)
	}
	re := regexp.MustCompile(`^read of ` + regexp.QuoteMeta(d.Path) + ` stalled for \d+(\.\d+)?m?s$`)
	if !re.MatchString(err.Error()) {
		t.Errorf("Check = %q, want it to match %s", err, re)
	}
	if took > deadline+time.Second {
		t.Errorf("Check took %s with a %s deadline", took, deadline)
	}
	start = time.Now()
	err = d.Check(ctxFor(t, 10*time.Second))
	if !errors.Is(err, ErrTimeout) || !re.MatchString(err.Error()) {
		t.Errorf("second Check = %v, want the stalled error", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("second Check took %s; it must fail at once while the first I/O is stuck", took)
	}
}

func (d *Disk) stuck() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.stalled.IsZero()
}

// TestDiskStallFIFO stalls a read the way a dead device does, in the kernel, with no
// device-mapper needed: opening a FIFO blocks until a writer comes.
func TestDiskStallFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Disk{Path: p}
	t.Cleanup(func() {
		if d.stuck() {
			releaseFIFO(t, p, d.stuck)
		}
	})
	assertStall(t, d, 300*time.Millisecond)
	releaseFIFO(t, p, d.stuck)
	if d.stuck() {
		t.Fatal("the read is still stuck after the FIFO got a writer")
	}
}

// dm sets up device-mapper over a loop device of a small image, or skips.
func dm(t *testing.T) (loop string, sectors int) {
	t.Helper()
	// /proc/misc, not /dev/mapper/control: dmsetup creates the node even where the kernel has
	// no device-mapper, and it must not be run to find out.
	if !dmLoaded() {
		_ = exec.Command("modprobe", "dm_mod").Run()
		if !dmLoaded() {
			t.Skip("device-mapper is not available in this kernel (not in /proc/misc, modprobe dm_mod failed): skipping the dm error/delay target tests")
		}
	}
	for _, tool := range []string{"dmsetup", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: skipping the dm tests", tool)
		}
	}
	img := filepath.Join(t.TempDir(), "disk.img")
	const size = 8 << 20
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, size); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device: %v: %s", err, out)
	}
	loop = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", loop).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", loop, err, out)
		}
	})
	return loop, size / 512
}

func dmLoaded() bool {
	b, err := os.ReadFile("/proc/misc")
	return err == nil && regexp.MustCompile(`(?m) device-mapper$`).Match(b)
}

// dmCreate creates a dm device with table and returns its path; it is removed when the test
// ends, its table first replaced by error so that no delayed I/O holds the removal up.
func dmCreate(t *testing.T, table string, sectors int) string {
	t.Helper()
	name := "clpmt-" + randHex(4)
	if out, err := exec.Command("dmsetup", "create", name, "--table", table).CombinedOutput(); err != nil {
		t.Fatalf("dmsetup create %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		errTable := fmt.Sprintf("0 %d error", sectors)
		_ = exec.Command("dmsetup", "reload", name, "--table", errTable).Run()
		_ = exec.Command("dmsetup", "resume", name).Run()
		if out, err := exec.Command("dmsetup", "remove", "--force", "--retry", name).CombinedOutput(); err != nil {
			t.Errorf("dmsetup remove %s: %v: %s", name, err, out)
		}
	})
	dev := "/dev/mapper/" + name
	if _, err := os.Stat(dev); err != nil {
		// Without udev nobody made the node.
		_ = exec.Command("dmsetup", "mknodes", name).Run()
	}
	return dev
}

func TestDiskDMError(t *testing.T) {
	_, sectors := dm(t)
	dev := dmCreate(t, fmt.Sprintf("0 %d error", sectors), sectors)
	err := (&Disk{Path: dev}).Check(ctxFor(t, 5*time.Second))
	if want := "read of " + dev + ": input/output error"; err == nil || err.Error() != want {
		t.Fatalf("Check = %v, want %q", err, want)
	}
}

func TestDiskDMDelay(t *testing.T) {
	loop, sectors := dm(t)
	dev := dmCreate(t, fmt.Sprintf("0 %d delay %s 0 5000", sectors, loop), sectors)
	d := &Disk{Path: dev}
	assertStall(t, d, 500*time.Millisecond)
	// The delayed read ends within its 5s; wait for it, so that no goroutine outlives the test.
	for end := time.Now().Add(15 * time.Second); d.stuck() && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
}
