package disk

import (
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// superblock returns the "Filesystem state" and "Last checked" lines of dumpe2fs -h.
func superblock(t *testing.T, dev string) (state, checked string) {
	t.Helper()
	out := run(t, "dumpe2fs", "-h", dev)
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch k {
		case "Filesystem state":
			state = strings.TrimSpace(v)
		case "Last checked":
			checked = strings.TrimSpace(v)
		}
	}
	if state == "" || checked == "" {
		t.Fatalf("dumpe2fs -h %s: no state or last check time in:\n%s", dev, out)
	}
	return state, checked
}

// damagedFS is a new loop file system whose state is "not clean with errors" and whose last
// check time is 2020, as the kernel would leave it on finding corruption.
func damagedFS(t *testing.T) *loopFS {
	t.Helper()
	requireTool(t, "debugfs")
	requireTool(t, "tune2fs")
	f := newLoopFS(t)
	requireTool(t, "dumpe2fs")
	run(t, "tune2fs", "-T", "20200101", f.dev)
	run(t, "debugfs", "-w", "-R", "ssv state 2", f.dev)
	if state, checked := superblock(t, f.dev); state != "not clean with errors" || !strings.Contains(checked, "2020") {
		t.Fatalf("after marking: state %q, last checked %q", state, checked)
	}
	return f
}

// writeDevice overwrites the device at off with b.
func writeDevice(t *testing.T, dev string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// breakMagic zeroes the magic number of ext4's primary superblock, so that mount(2) fails and
// e2fsck has to go to a backup superblock.
func breakMagic(t *testing.T, dev string) { writeDevice(t, dev, 1024+56, []byte{0, 0}) }

func TestFsck(t *testing.T) {
	requireLoop(t)
	requireTool(t, "fsck")
	requireTool(t, "fsck.ext4")
	ctx := context.Background()
	// mount mounts f with fsck mode, and fails the test when that fails.
	mount := func(t *testing.T, f *loopFS, mode string) (*Disk, Report) {
		t.Helper()
		d := f.disk()
		d.Fsck = mode
		rep, err := d.MountReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return d, rep
	}

	t.Run("always on a clean file system", func(t *testing.T) {
		f := newLoopFS(t)
		d, rep := mount(t, f, FsckAlways)
		if rep.Fsck == nil || rep.Fsck.Status != 0 || !slices.Contains(rep.Fsck.Args, "-p") || len(rep.Warnings) != 0 {
			t.Errorf("report %+v, fsck %+v; want a clean fsck -p", rep, rep.Fsck)
		}
		if err := d.Unmount(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("always repairs a file system with errors", func(t *testing.T) {
		f := damagedFS(t)
		d, rep := mount(t, f, FsckAlways)
		if rep.Fsck == nil || rep.Fsck.Status != 1 || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "corrected errors (status 1)") {
			t.Errorf("report %+v, fsck %+v; want fsck status 1 and a warning", rep, rep.Fsck)
		}
		if err := d.Unmount(ctx); err != nil {
			t.Fatal(err)
		}
		if state, checked := superblock(t, f.dev); state != "clean" || strings.Contains(checked, "2020") {
			t.Errorf("after the mount: state %q, last checked %q; want clean and checked now", state, checked)
		}
	})

	t.Run("never leaves the file system unchecked", func(t *testing.T) {
		f := damagedFS(t)
		d, rep := mount(t, f, FsckNever)
		if rep.Fsck != nil {
			t.Errorf("fsck ran: %+v", rep.Fsck)
		}
		if err := d.Unmount(ctx); err != nil {
			t.Fatal(err)
		}
		if state, checked := superblock(t, f.dev); !strings.Contains(state, "with errors") || !strings.Contains(checked, "2020") {
			t.Errorf("after the mount: state %q, last checked %q; want it unchecked", state, checked)
		}
	})

	t.Run("on-error repairs after a failed mount", func(t *testing.T) {
		f := newLoopFS(t)
		breakMagic(t, f.dev)
		_, rep := mount(t, f, FsckOnError)
		if rep.Fsck == nil || !slices.Contains(rep.Fsck.Args, "-y") || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "fsck -y repaired it") {
			t.Errorf("report %+v, fsck %+v; want fsck -y and a warning", rep, rep.Fsck)
		}
		if dev, ok, _ := Mounted("", f.mp); !ok || dev != f.dev {
			t.Errorf("not mounted after the repair")
		}
	})

	t.Run("on-error does not run fsck when the mount works", func(t *testing.T) {
		f := newLoopFS(t)
		d := f.disk()
		d.Fsck = FsckOnError
		rep, err := d.MountReport(ctx)
		if err != nil || rep.Fsck != nil {
			t.Errorf("report %+v, %v; want a plain mount", rep, err)
		}
	})

	t.Run("never fails on a broken superblock", func(t *testing.T) {
		f := newLoopFS(t)
		breakMagic(t, f.dev)
		d := f.disk()
		_, err := d.MountReport(ctx)
		if err == nil || !strings.Contains(err.Error(), "mount(2) as ext4: invalid argument") {
			t.Errorf("error %v; want mount(2)'s", err)
		}
	})

	t.Run("always fails the mount when fsck cannot repair", func(t *testing.T) {
		f := newLoopFS(t)
		// No superblock anywhere: e2fsck gives up with status 8.
		writeDevice(t, f.dev, 0, make([]byte, 32<<20))
		d := f.disk()
		d.Fsck = FsckAlways
		rep, err := d.MountReport(ctx)
		if err == nil {
			t.Fatal("mounted")
		}
		want := regexp.MustCompile(`^mounting \S+ on \S+: fsck -T -t ext4 -p /dev/loop\d+ exited with status 8: fsck.ext4: Bad magic number in super-block`)
		if !want.MatchString(err.Error()) || rep.Fsck == nil || rep.Fsck.Status != 8 {
			t.Errorf("error %q, fsck %+v; want fsck's status 8", err, rep.Fsck)
		}
		if _, ok, _ := Mounted("", f.mp); ok {
			t.Error("mounted anyway")
		}
	})
}
