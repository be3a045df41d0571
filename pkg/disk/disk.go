// Package disk mounts a shared disk's file system on the server that runs its group and
// unmounts it on the way out, forcing its users off when they hold it.
//
// It is the mechanics of CLUSTERPRO's disk resource: an optional fsck before the mount (or
// after a failed one), mount(2) with the configured options, umount(2) retried with the
// processes that hold the file system killed in between, a lazy detach as the last resort,
// and the monitor's check that the mount is there and its disk answers. Deciding where a group
// runs, and telling exec scripts CLP_DISK=FAILURE when Mount failed, is the caller's business.
//
// Every call that can block takes a context. The mount(2), umount(2) and read(2) calls on a
// device cannot be interrupted, so when ctx ends first the call returns ctx's error at once and
// the system call is left to finish on its own (a mount may then still appear).
package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/mountinfo"
)

// Fsck modes.
const (
	FsckNever   = "never"    // no fsck (also the meaning of "")
	FsckAlways  = "always"   // fsck -p before every mount; exit status 4 or more fails the mount
	FsckOnError = "on-error" // fsck -y only after a failed mount, then mount again
)

// Defaults for the zero values of the Disk fields that take them.
const (
	DefaultKillGrace     = 3 * time.Second
	DefaultRetryInterval = time.Second
)

// Disk is one disk resource: which device goes where, and how to get it off again. The zero
// values of the optional fields are usable. A Disk must not be copied after first use (Check
// keeps track of a stalled probe in it); it is safe for concurrent Checks, but Mount and
// Unmount of the same Disk must not run concurrently with each other.
type Disk struct {
	Device     string // block device, an absolute path ("/dev/sdb1", "/dev/disk/by-id/...")
	MountPoint string // absolute path; created (0755) when missing; not a symbolic link itself
	FSType     string // "ext4", "xfs", ...; required
	// Options are mount options ("noatime", "commit=30"). The flag words of mount(8) (ro, rw,
	// noatime, atime, nodiratime, relatime, strictatime, lazytime, nodev, nosuid, noexec, sync,
	// async, dirsync, silent, mand and their negations) become MS_* flags; "defaults" and the
	// words only fstab knows (auto, noauto, nofail, _netdev, user, users, nouser, owner, group,
	// x-*, comment=*) are dropped; everything else is passed to the file system as data. An
	// element may hold several options separated by commas.
	Options []string
	// Fsck is FsckAlways, FsckNever (or "") or FsckOnError. fsck runs as
	// "fsck -T -t FSType -p|-y Device" and at most FsckTimeout long (0: as long as ctx allows).
	Fsck        string
	FsckTimeout time.Duration
	// Unmounting makes 1+Retry umount(2) attempts. Between two attempts, if Kill is set, the
	// processes using the mount (see Users) get SIGTERM and, KillGrace later (0:
	// DefaultKillGrace), SIGKILL if they still hold it; without Kill the next attempt comes
	// RetryInterval later (0: DefaultRetryInterval). When all attempts found it busy and Lazy
	// is set, a lazy detach (MNT_DETACH) takes the mount away from the name space and the
	// unmount counts as done; the Report says so.
	Retry         int
	RetryInterval time.Duration
	Kill          bool
	KillGrace     time.Duration
	Lazy          bool
	ProcRoot      string // "/proc" when empty

	// probe is Check's read in flight, when one is: a read stalled on a dead device is never
	// started twice.
	probe atomic.Pointer[probe]
}

// Report tells what Mount or Unmount did beyond its outcome.
type Report struct {
	// Already is set when there was nothing to do: Mount found the device mounted there, or
	// Unmount found nothing mounted there.
	Already bool
	// Fsck is the last fsck run, nil when none ran.
	Fsck *FsckRun
	// Attempts counts the umount(2) calls of Unmount.
	Attempts int
	// Killed are the pids Unmount signalled to get them off the mount.
	Killed []int
	// Lazy is set when Unmount ended with a lazy detach: the mount is gone from the name space,
	// but the file system (and its device) stays in use until its last user lets go.
	Lazy bool
	// Warnings are what an operator should hear of even though the call succeeded: fsck
	// corrected errors, the unmount was lazy.
	Warnings []string
}

// Mount mounts the device at the mount point; see MountReport.
func (d *Disk) Mount(ctx context.Context) error {
	_, err := d.MountReport(ctx)
	return err
}

// MountReport mounts Device at MountPoint as FSType with Options, running fsck as Fsck says.
// It is idempotent: when the device is already mounted there it returns at once with
// Report.Already set. When something else is mounted there, or the device is mounted somewhere
// else, it fails, naming it. The mount point is created (0755, with its parents) when missing.
func (d *Disk) MountReport(ctx context.Context) (Report, error) {
	var rep Report
	fail := func(err error) (Report, error) {
		return rep, fmt.Errorf("mounting %s on %s: %w", d.Device, d.MountPoint, err)
	}
	if err := d.validate(); err != nil {
		return fail(err)
	}
	if d.FSType == "" {
		return fail(errors.New("no file system type given"))
	}
	switch d.Fsck {
	case "", FsckNever, FsckAlways, FsckOnError:
	default:
		return fail(fmt.Errorf("unknown fsck mode %q (want %q, %q or %q)", d.Fsck, FsckAlways, FsckNever, FsckOnError))
	}
	flags, data, err := mountOptions(d.Options)
	if err != nil {
		return fail(err)
	}
	mp := d.target()
	entries, err := d.mountTable(ctx)
	if err != nil {
		return fail(err)
	}
	if e, ok := topMount(entries, mp); ok {
		if sameDevice(e, d.Device) {
			rep.Already = true
			return rep, nil
		}
		return fail(fmt.Errorf("%s already has %s (%s) mounted on it", mp, e.Source, e.FSType))
	}
	fi, err := os.Stat(d.Device)
	if err != nil {
		return fail(err)
	}
	if fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return fail(fmt.Errorf("%s is not a block device", d.Device))
	}
	// A shared disk is mounted once per server: mounted elsewhere, it is another resource's,
	// or a leftover to sort out by hand; and fsck must not touch it.
	for _, e := range entries {
		if sameDevice(e, d.Device) {
			return fail(fmt.Errorf("%s is already mounted on %s", d.Device, e.Point))
		}
	}
	if err := makeMountPoint(mp); err != nil {
		return fail(err)
	}
	if d.Fsck == FsckAlways {
		run, err := d.fsck(ctx, "-p")
		rep.Fsck = run
		if err != nil {
			return fail(err)
		}
		if w := run.warning(); w != "" {
			rep.Warnings = append(rep.Warnings, w)
		}
	}
	err = d.mount(ctx, mp, flags, data)
	if err != nil && d.Fsck == FsckOnError && fsckMayHelp(err) {
		run, ferr := d.fsck(ctx, "-y")
		rep.Fsck = run
		if ferr != nil {
			return fail(fmt.Errorf("%w; then %w", err, ferr))
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("mounting %s on %s failed (%v); fsck -y repaired it (status %d)", d.Device, mp, err, run.Status))
		err = d.mount(ctx, mp, flags, data)
	}
	if err != nil {
		return fail(err)
	}
	return rep, nil
}

// mount is one mount(2) call.
func (d *Disk) mount(ctx context.Context, mp string, flags uintptr, data string) error {
	err := syscallCtx(ctx, func() error { return unix.Mount(d.Device, mp, d.FSType, flags, data) })
	if err == nil {
		return nil
	}
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return err
	}
	hint := ""
	switch errno {
	case unix.ENODEV:
		hint = fmt.Sprintf("the kernel knows no file system %q", d.FSType)
	case unix.EINVAL:
		hint = fmt.Sprintf("no valid %s file system on the device, or a bad option", d.FSType)
	case unix.EUCLEAN, unix.EBADMSG:
		hint = "the file system is corrupt"
	case unix.EBUSY:
		hint = "the device is in use, or mounted elsewhere"
	case unix.ENOTBLK:
		hint = "not a block device"
	case unix.EROFS:
		hint = "the device is read-only; mount with \"ro\""
	}
	if hint == "" {
		return fmt.Errorf("mount(2) as %s: %w", d.FSType, errno)
	}
	return fmt.Errorf("mount(2) as %s: %w (%s)", d.FSType, errno, hint)
}

// fsckMayHelp tells the mount failures that a damaged file system can cause.
func fsckMayHelp(err error) bool {
	for _, e := range []unix.Errno{unix.EINVAL, unix.EUCLEAN, unix.EBADMSG, unix.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Unmount takes the file system off the mount point; see UnmountReport. A lazy detach counts
// as success; only UnmountReport tells of it.
func (d *Disk) Unmount(ctx context.Context) error {
	_, err := d.UnmountReport(ctx)
	return err
}

// UnmountReport unmounts Device from MountPoint. When nothing is mounted there it returns nil
// with Report.Already set; when something other than Device is mounted there it fails and
// leaves that alone. A busy mount is retried as the Disk's Retry, Kill and Lazy fields say;
// when it stays busy the error names the pids using it ("unmounting /dev/sdb1 from /mnt/data:
// busy after 4 attempts: used by pids 123, 456").
func (d *Disk) UnmountReport(ctx context.Context) (Report, error) {
	var rep Report
	fail := func(err error) (Report, error) {
		return rep, fmt.Errorf("unmounting %s from %s: %w", d.Device, d.MountPoint, err)
	}
	if err := d.validate(); err != nil {
		return fail(err)
	}
	mp := d.target()
	attempts := 1 + max(d.Retry, 0)
	sawEINVAL := false
	for busy := 0; ; {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		if rep.Attempts > attempts+8 {
			// Unmounted again and again, yet still mounted: someone keeps mounting it.
			return fail(fmt.Errorf("still mounted after %d successful umount(2) calls", rep.Attempts))
		}
		entries, err := readMountinfo(d.ProcRoot)
		if err != nil {
			return fail(err)
		}
		e, ok := topMount(entries, mp)
		if !ok {
			rep.Already = rep.Attempts == 0
			return rep, nil
		}
		if !sameDevice(e, d.Device) {
			if rep.Attempts > 0 {
				// Ours was stacked on something else, and is gone.
				return rep, nil
			}
			return fail(fmt.Errorf("%s has %s (%s) mounted on it, not %s; left alone", mp, e.Source, e.FSType, d.Device))
		}
		if busy >= attempts {
			break
		}
		if busy > 0 {
			// Between attempts: get the users off, or give them time.
			if d.Kill {
				killed, err := killUsers(ctx, d.ProcRoot, mp, orDefault(d.KillGrace, DefaultKillGrace))
				rep.Killed = append(rep.Killed, killed...)
				if err != nil {
					return fail(err)
				}
			} else if err := sleepCtx(ctx, orDefault(d.RetryInterval, DefaultRetryInterval)); err != nil {
				return fail(err)
			}
		}
		rep.Attempts++
		err = syscallCtx(ctx, func() error { return unix.Unmount(mp, 0) })
		switch {
		case err == nil:
			// Look again: the device may have been mounted there twice.
		case errors.Is(err, unix.EBUSY):
			busy++
		case errors.Is(err, unix.EINVAL) && !sawEINVAL:
			// Not a mount point (any more): someone else unmounted it meanwhile. Look again,
			// but only once.
			sawEINVAL = true
		default:
			return fail(fmt.Errorf("umount(2): %w", err))
		}
	}
	slices.Sort(rep.Killed)
	rep.Killed = slices.Compact(rep.Killed)

	// Still busy after every attempt.
	why := busyReason(d.ProcRoot, mp)
	if d.Lazy {
		if err := syscallCtx(ctx, func() error { return unix.Unmount(mp, unix.MNT_DETACH) }); err != nil {
			return fail(fmt.Errorf("busy after %d attempts (%s), and the lazy detach failed: %w", rep.Attempts, why, err))
		}
		rep.Lazy = true
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("unmounting %s from %s: busy after %d attempts (%s); detached lazily: the file system and %s stay in use until they let go", d.Device, mp, rep.Attempts, why, d.Device))
		return rep, nil
	}
	return fail(fmt.Errorf("busy after %d attempts: %s", rep.Attempts, why))
}

// busyReason says what holds mp: the pids using it, the mounts beneath it, or that no process
// was found.
func busyReason(procRoot, mp string) string {
	var parts []string
	if pids, err := Users(procRoot, mp); err != nil {
		parts = append(parts, err.Error())
	} else if len(pids) > 0 {
		parts = append(parts, "used by pids "+pidList(pids))
	}
	if entries, err := readMountinfo(procRoot); err == nil {
		if subs := submounts(entries, mp); len(subs) > 0 {
			parts = append(parts, "mounts beneath it: "+strings.Join(subs, ", "))
		}
	}
	if len(parts) == 0 {
		return "no process found using it (this process itself, a loop device's backing file or a swap file on it may hold it)"
	}
	return strings.Join(parts, "; ")
}

// validate checks what every operation needs.
func (d *Disk) validate() error {
	if d.Device == "" {
		return errors.New("no device given")
	}
	if !filepath.IsAbs(d.Device) {
		return fmt.Errorf("device %q is not an absolute path", d.Device)
	}
	if d.MountPoint == "" {
		return errors.New("no mount point given")
	}
	if !filepath.IsAbs(d.MountPoint) {
		return fmt.Errorf("mount point %q is not an absolute path", d.MountPoint)
	}
	if filepath.Clean(d.MountPoint) == "/" {
		return errors.New("the mount point cannot be /")
	}
	return nil
}

// target is the mount point as the kernel lists it: clean, with symbolic links in its parent
// resolved. The last element is not resolved (that would touch the mounted file system);
// MountReport refuses a mount point that is a symbolic link.
func (d *Disk) target() string {
	mp := filepath.Clean(d.MountPoint)
	if dir, err := filepath.EvalSymlinks(filepath.Dir(mp)); err == nil {
		mp = filepath.Join(dir, filepath.Base(mp))
	}
	return mp
}

// mountTable reads the mount table once it has checked that ctx has not ended: what Check and
// Mount look at before they act.
func (d *Disk) mountTable(ctx context.Context) ([]mountinfo.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return readMountinfo(d.ProcRoot)
}

// makeMountPoint creates mp when missing and checks that it is a directory.
func makeMountPoint(mp string) error {
	fi, err := os.Lstat(mp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(mp, 0o755); err != nil {
			return fmt.Errorf("creating the mount point: %w", err)
		}
		return nil
	case err != nil:
		return err
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("the mount point %s is a symbolic link; give its target", mp)
	case !fi.IsDir():
		return fmt.Errorf("the mount point %s is not a directory", mp)
	}
	return nil
}

// sameDevice reports whether the mount e is of device: by device number when device is a block
// device whose number the mount shows (not so for btrfs, whose mounts have anonymous numbers),
// else by path, symbolic links resolved.
func sameDevice(e mountinfo.Entry, device string) bool {
	var st unix.Stat_t
	if unix.Stat(device, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK &&
		unix.Major(st.Rdev) == e.Major && unix.Minor(st.Rdev) == e.Minor {
		return true
	}
	if e.Source == device {
		return true
	}
	a, err1 := filepath.EvalSymlinks(device)
	b, err2 := filepath.EvalSymlinks(e.Source)
	return err1 == nil && err2 == nil && a == b
}

// mountOptions splits options into mount(2) flags and the data string.
func mountOptions(opts []string) (uintptr, string, error) {
	var flags uintptr
	var data []string
	for _, o := range opts {
		for w := range strings.SplitSeq(o, ",") {
			w = strings.TrimSpace(w)
			if w == "" {
				continue
			}
			set, clear, ok := optionFlag(w)
			switch {
			case ok:
				flags = flags&^clear | set
			case fstabOnly(w):
			case strings.ContainsAny(w, " \t\n"):
				return 0, "", fmt.Errorf("mount option %q contains white space", w)
			default:
				data = append(data, w)
			}
		}
	}
	return flags, strings.Join(data, ","), nil
}

// optionFlag maps mount(8)'s flag words to the MS_* bits they set and clear.
func optionFlag(w string) (set, clear uintptr, ok bool) {
	var bit uintptr
	neg := false
	switch w {
	case "defaults":
		return 0, 0, true
	case "ro":
		bit = unix.MS_RDONLY
	case "rw":
		bit, neg = unix.MS_RDONLY, true
	case "noatime":
		bit = unix.MS_NOATIME
	case "atime":
		bit, neg = unix.MS_NOATIME, true
	case "nodiratime":
		bit = unix.MS_NODIRATIME
	case "diratime":
		bit, neg = unix.MS_NODIRATIME, true
	case "relatime":
		bit = unix.MS_RELATIME
	case "norelatime":
		bit, neg = unix.MS_RELATIME, true
	case "strictatime":
		bit = unix.MS_STRICTATIME
	case "nostrictatime":
		bit, neg = unix.MS_STRICTATIME, true
	case "lazytime":
		bit = unix.MS_LAZYTIME
	case "nolazytime":
		bit, neg = unix.MS_LAZYTIME, true
	case "nodev":
		bit = unix.MS_NODEV
	case "dev":
		bit, neg = unix.MS_NODEV, true
	case "nosuid":
		bit = unix.MS_NOSUID
	case "suid":
		bit, neg = unix.MS_NOSUID, true
	case "noexec":
		bit = unix.MS_NOEXEC
	case "exec":
		bit, neg = unix.MS_NOEXEC, true
	case "sync":
		bit = unix.MS_SYNCHRONOUS
	case "async":
		bit, neg = unix.MS_SYNCHRONOUS, true
	case "dirsync":
		bit = unix.MS_DIRSYNC
	case "silent":
		bit = unix.MS_SILENT
	case "loud":
		bit, neg = unix.MS_SILENT, true
	case "mand":
		bit = unix.MS_MANDLOCK
	case "nomand":
		bit, neg = unix.MS_MANDLOCK, true
	default:
		return 0, 0, false
	}
	if neg {
		return 0, bit, true
	}
	return bit, 0, true
}

// fstabOnly tells the options that mean something to mount(8) or fstab readers only.
func fstabOnly(w string) bool {
	switch w {
	case "auto", "noauto", "nofail", "_netdev", "user", "users", "nouser", "owner", "group":
		return true
	}
	return strings.HasPrefix(w, "x-") || strings.HasPrefix(w, "comment=")
}

// syscallCtx runs f, an uninterruptible system call, and returns its error, or ctx's error as
// soon as ctx is done; f then finishes on its own.
func syscallCtx(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("%w (the system call goes on in the background and may yet succeed)", ctx.Err())
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
