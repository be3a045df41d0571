package disk

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Mount creates the mount point, mounts with the options, is idempotent; Unmount undoes it and
// is idempotent too; data written survives a remount.
func TestMountUnmount(t *testing.T) {
	f := newLoopFS(t)
	ctx := context.Background()
	d := f.disk()
	d.Options = []string{"noatime", "nodev,commit=7", "defaults", "nofail"}

	rep, err := d.MountReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Already || rep.Fsck != nil {
		t.Errorf("first mount: report %+v", rep)
	}
	fi, err := os.Stat(filepath.Dir(f.mp))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("mount point's parent: %v, %v; want a 0755 directory", fi, err)
	}
	dev, ok, err := Mounted("", f.mp)
	if err != nil || !ok || dev != f.dev {
		t.Fatalf("Mounted = %q, %v, %v; want %s", dev, ok, err, f.dev)
	}
	entries, err := readMountinfo("")
	if err != nil {
		t.Fatal(err)
	}
	e, _ := topMount(entries, f.mp)
	for _, o := range []string{"noatime", "nodev"} {
		if !strings.Contains(","+e.Opts+",", ","+o+",") {
			t.Errorf("mount options %q lack %s", e.Opts, o)
		}
	}
	if e.FSType != "ext4" || !strings.Contains(e.SuperOpts, "commit=7") {
		t.Errorf("mounted as %s with %q; want ext4 with commit=7", e.FSType, e.SuperOpts)
	}
	if err := os.WriteFile(filepath.Join(f.mp, "hello"), []byte("world"), 0o644); err != nil {
		t.Fatal(err)
	}

	rep, err = d.MountReport(ctx)
	if err != nil || !rep.Already {
		t.Errorf("second mount: %+v, %v; want nil, already mounted", rep, err)
	}
	if err := d.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}

	rep, err = d.UnmountReport(ctx)
	if err != nil || rep.Already || rep.Attempts != 1 || rep.Lazy {
		t.Fatalf("unmount: %+v, %v", rep, err)
	}
	if _, ok, err := Mounted("", f.mp); ok || err != nil {
		t.Fatalf("still mounted after Unmount (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(f.mp, "hello")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file is still visible after Unmount: %v", err)
	}
	rep, err = d.UnmountReport(ctx)
	if err != nil || !rep.Already || rep.Attempts != 0 {
		t.Errorf("second unmount: %+v, %v; want nil, not mounted", rep, err)
	}

	// The data is on the disk.
	if err := d.Mount(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(f.mp, "hello")); err != nil || string(b) != "world" {
		t.Errorf("after remount: %q, %v", b, err)
	}
	if err := d.Unmount(ctx); err != nil {
		t.Fatal(err)
	}
}

// Something else mounted on the mount point is named, and neither replaced nor unmounted.
func TestMountOverOther(t *testing.T) {
	f := newLoopFS(t)
	ctx := context.Background()
	if err := os.MkdirAll(f.mp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("clpkit-test-tmpfs", f.mp, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatalf("mounting a tmpfs: %v", err)
	}
	d := f.disk()
	err := d.Mount(ctx)
	if err == nil {
		t.Fatal("Mount over a tmpfs succeeded")
	}
	for _, want := range []string{"mounting " + f.dev + " on " + f.mp, "clpkit-test-tmpfs (tmpfs) mounted"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := d.Unmount(ctx); err == nil || !strings.Contains(err.Error(), "left alone") {
		t.Errorf("Unmount of someone else's mount: %v", err)
	}
	if err := d.Check(ctx); err == nil || !strings.Contains(err.Error(), "clpkit-test-tmpfs") {
		t.Errorf("Check: %v", err)
	}
	if dev, ok, _ := Mounted("", f.mp); !ok || dev != "clpkit-test-tmpfs" {
		t.Errorf("the tmpfs is gone: %q, %v", dev, ok)
	}
}

// Mount fails clearly, saying what it was doing.
func TestMountErrors(t *testing.T) {
	f := newLoopFS(t)
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tt := range []struct {
		name string
		edit func(*Disk)
		ctx  context.Context
		want string
	}{
		{"no type", func(d *Disk) { d.FSType = "" }, ctx, "no file system type given"},
		{"bad fsck mode", func(d *Disk) { d.Fsck = "sometimes" }, ctx, `unknown fsck mode "sometimes"`},
		{"relative mount point", func(d *Disk) { d.MountPoint = "mnt" }, ctx, "not an absolute path"},
		{"no device", func(d *Disk) { d.Device = "/dev/clpkit-no-such-disk" }, ctx, "no such file"},
		{"not a block device", func(d *Disk) { d.Device = f.img }, ctx, "is not a block device"},
		{"unknown type", func(d *Disk) { d.FSType = "clpkitfs" }, ctx, `mount(2) as clpkitfs: no such device (the kernel knows no file system "clpkitfs")`},
		{"bad option", func(d *Disk) { d.Options = []string{"clpkit_bad_option"} }, ctx, "mount(2) as ext4: invalid argument"},
		{"canceled", func(d *Disk) {}, canceled, "context canceled"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := f.disk()
			tt.edit(d)
			err := d.Mount(tt.ctx)
			if err == nil {
				d.Unmount(ctx)
				t.Fatal("Mount succeeded")
			}
			if !strings.HasPrefix(err.Error(), "mounting "+d.Device+" on "+d.MountPoint+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q; want it to say what was mounted where and %q", err, tt.want)
			}
			if _, ok, _ := Mounted("", f.mp); ok {
				t.Error("mounted anyway")
			}
		})
	}
}

func TestMountOptions(t *testing.T) {
	for _, tt := range []struct {
		opts  []string
		flags uintptr
		data  string
	}{
		{nil, 0, ""},
		{[]string{"ro", "noatime", "nodev", "nosuid", "noexec", "sync"}, unix.MS_RDONLY | unix.MS_NOATIME | unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_SYNCHRONOUS, ""},
		{[]string{"ro,rw", "noatime,atime,relatime"}, unix.MS_RELATIME, ""},
		{[]string{"defaults", "noauto", "_netdev", "x-systemd.automount", "nofail", "dirsync"}, unix.MS_DIRSYNC, ""},
		{[]string{"commit=30", " data=journal ", "lazytime", "errors=remount-ro"}, unix.MS_LAZYTIME, "commit=30,data=journal,errors=remount-ro"},
	} {
		flags, data, err := mountOptions(tt.opts)
		if err != nil || flags != tt.flags || data != tt.data {
			t.Errorf("mountOptions(%q) = %#x, %q, %v; want %#x, %q", tt.opts, flags, data, err, tt.flags, tt.data)
		}
	}
	if _, _, err := mountOptions([]string{"a b"}); err == nil {
		t.Error("an option with a blank was accepted")
	}
}

// A device mounted somewhere else is not mounted a second time.
func TestMountDeviceElsewhere(t *testing.T) {
	f := newLoopFS(t)
	ctx := context.Background()
	if err := f.disk().Mount(ctx); err != nil {
		t.Fatal(err)
	}
	d := f.disk()
	d.MountPoint = filepath.Join(filepath.Dir(f.mp), "second")
	err := d.Mount(ctx)
	if err == nil || !strings.HasSuffix(err.Error(), f.dev+" is already mounted on "+f.mp) {
		t.Errorf("error %v; want it to name %s", err, f.mp)
	}
	if _, ok, _ := Mounted("", d.MountPoint); ok {
		t.Error("mounted a second time")
	}
}
