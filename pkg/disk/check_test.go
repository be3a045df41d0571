package disk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCheck(t *testing.T) {
	f := newLoopFS(t)
	d := f.disk()
	ctx := context.Background()
	if err := d.Check(ctx); err == nil || err.Error() != "checking "+f.dev+" on "+f.mp+": "+f.mp+" is not mounted" {
		t.Errorf("before the mount: %v", err)
	}
	if err := d.Mount(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := d.Check(ctx); err != nil {
			t.Errorf("mounted: %v", err)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Check(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("with a canceled context: %v", err)
	}
	other := &Disk{Device: "/dev/null", MountPoint: f.mp}
	if err := other.Check(ctx); err == nil || !strings.Contains(err.Error(), "has "+f.dev+" (ext4) mounted on it, not /dev/null") {
		t.Errorf("another device's check: %v", err)
	}
	if err := d.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Check(ctx); err == nil || !strings.HasSuffix(err.Error(), f.mp+" is not mounted") {
		t.Errorf("after Unmount: %v", err)
	}
}

const stallEnv = "CLPKIT_DISK_TEST_STALL"

// stallSpec tells the helper process what to check.
type stallSpec struct {
	Cgroup, Device, MountPoint string
}

// stallResult is what the helper process found.
type stallResult struct {
	First, Second       string // the errors of two Checks
	FirstDL, SecondDL   bool   // whether they wrap context.DeadlineExceeded
	FirstMS, SecondMS   int64  // how long they took
	Setup               string // why the helper could not check
	FirstNil, SecondNil bool
}

// stallHelper runs in a child process (see TestMain): it moves itself into a blkio cgroup that
// throttles reads of the device to a crawl, and checks the mount twice with short deadlines.
func stallHelper(specJSON string) int {
	var spec stallSpec
	var res stallResult
	defer func() { json.NewEncoder(os.Stdout).Encode(res) }()
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		res.Setup = err.Error()
		return 0
	}
	if err := os.WriteFile(filepath.Join(spec.Cgroup, "cgroup.procs"), []byte(fmt.Sprint(os.Getpid())), 0); err != nil {
		res.Setup = err.Error()
		return 0
	}
	d := &Disk{Device: spec.Device, MountPoint: spec.MountPoint}
	check := func(msg *string, dl, isNil *bool, ms *int64) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := d.Check(ctx)
		*ms = time.Since(start).Milliseconds()
		*isNil = err == nil
		if err != nil {
			*msg = err.Error()
		}
		*dl = errors.Is(err, context.DeadlineExceeded)
	}
	check(&res.First, &res.FirstDL, &res.FirstNil, &res.FirstMS)
	check(&res.Second, &res.SecondDL, &res.SecondNil, &res.SecondMS)
	return 0
}

// A disk whose reads stall fails the check with the context's deadline, promptly; a second
// check waits for the stalled read rather than starting another. The stall is real: a cgroup v1
// blkio throttle of 2 KiB/s on the loop device makes the check's 4 KiB direct read take 2 s.
func TestCheckStalledIO(t *testing.T) {
	const blkio = "/sys/fs/cgroup/blkio"
	if _, err := os.Stat(filepath.Join(blkio, "blkio.throttle.read_bps_device")); err != nil {
		t.Skip("skipped: no cgroup v1 blkio throttling to stall I/O with")
	}
	f := newLoopFS(t)
	d := f.disk()
	ctx := context.Background()
	if err := d.Mount(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Check(ctx); err != nil {
		t.Fatal(err)
	}
	cg, err := os.MkdirTemp(blkio, "clpkit-disk-test-")
	if err != nil {
		t.Skipf("skipped: cannot make a blkio cgroup: %v", err)
	}
	t.Cleanup(func() {
		// The helper has ended, but its cgroup may take a moment to empty.
		for i := 0; ; i++ {
			err := os.Remove(cg)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				return
			}
			if i == 100 {
				t.Errorf("cleanup: %v", err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	var st unix.Stat_t
	if err := unix.Stat(f.dev, &st); err != nil {
		t.Fatal(err)
	}
	limit := fmt.Sprintf("%d:%d 2048", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	if err := os.WriteFile(filepath.Join(cg, "blkio.throttle.read_bps_device"), []byte(limit), 0); err != nil {
		t.Skipf("skipped: cannot throttle reads: %v", err)
	}
	spec, _ := json.Marshal(stallSpec{Cgroup: cg, Device: f.dev, MountPoint: f.mp})
	hctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(hctx, os.Args[0])
	cmd.Env = append(os.Environ(), stallEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	var res stallResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("helper said %q: %v", out, err)
	}
	if res.Setup != "" {
		t.Fatalf("helper: %s", res.Setup)
	}
	if res.FirstNil || !res.FirstDL || res.FirstMS > 1500 || !strings.Contains(res.First, "I/O stalled: no answer within") {
		t.Errorf("first check: %q after %d ms; want a deadline error after 300 ms", res.First, res.FirstMS)
	}
	if res.SecondNil || !res.SecondDL || res.SecondMS > 1500 || !strings.Contains(res.Second, "an earlier check's read has had no answer") {
		t.Errorf("second check: %q after %d ms; want it to wait for the first's read", res.Second, res.SecondMS)
	}
	// Unthrottled, the disk answers again.
	if err := d.Check(ctx); err != nil {
		t.Errorf("after the stall: %v", err)
	}
	if err := d.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
}
