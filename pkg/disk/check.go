package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// probe is one read of a Check, which may outlive the Check that started it.
type probe struct {
	started time.Time
	done    chan struct{}
	err     error // set before done is closed
}

// Check is the monitor's check of the resource: Device must be what is mounted at MountPoint
// (an error ends in "… is not mounted" when nothing is), a read of the mount's root directory
// must work, and so must a direct (O_DIRECT, past the page cache) read of the device's first
// 4 KiB, all within ctx. When the reads stall, as on a dead disk, Check returns an error
// wrapping ctx's (context.DeadlineExceeded for a deadline); the stalled read is not started
// again by later Checks, which wait for it instead, so a dead disk costs one blocked thread,
// not one per check.
func (d *Disk) Check(ctx context.Context) error {
	fail := func(err error) error {
		return fmt.Errorf("checking %s on %s: %w", d.Device, d.MountPoint, err)
	}
	if err := d.validate(); err != nil {
		return fail(err)
	}
	mp := d.target()
	entries, err := d.mountTable(ctx)
	if err != nil {
		return fail(err)
	}
	e, ok := topMount(entries, mp)
	if !ok {
		return fail(fmt.Errorf("%s is not mounted", mp))
	}
	if !sameDevice(e, d.Device) {
		return fail(fmt.Errorf("%s has %s (%s) mounted on it, not %s", mp, e.Source, e.FSType, d.Device))
	}

	p, joined := d.startProbe(mp)
	select {
	case <-p.done:
		if p.err != nil {
			return fail(p.err)
		}
		return nil
	case <-ctx.Done():
		if joined {
			return fail(fmt.Errorf("I/O stalled: an earlier check's read has had no answer for %s: %w", time.Since(p.started).Round(time.Millisecond), ctx.Err()))
		}
		return fail(fmt.Errorf("I/O stalled: no answer within %s: %w", time.Since(p.started).Round(time.Millisecond), ctx.Err()))
	}
}

// startProbe starts the reads of a check, or returns the ones still in flight (joined).
func (d *Disk) startProbe(mp string) (p *probe, joined bool) {
	for {
		if p := d.probe.Load(); p != nil {
			select {
			case <-p.done:
				// Finished, and about to be cleared: its result is not this check's.
				d.probe.CompareAndSwap(p, nil)
				continue
			default:
				return p, true
			}
		}
		np := &probe{started: time.Now(), done: make(chan struct{})}
		if !d.probe.CompareAndSwap(nil, np) {
			continue
		}
		dev := d.Device
		go func() {
			np.err = readProbe(mp, dev)
			close(np.done)
			d.probe.CompareAndSwap(np, nil)
		}()
		return np, false
	}
}

// readProbe reads the root directory of the mount at mp and the first 4 KiB of dev.
func readProbe(mp, dev string) error {
	f, err := os.Open(mp)
	if err != nil {
		return fmt.Errorf("reading the directory %s: %w", mp, err)
	}
	_, err = f.Readdirnames(1)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the directory %s: %w", mp, err)
	}

	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EINVAL) {
		// A device without direct I/O: read through the page cache instead.
		fd, err = unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", dev, err)
	}
	defer unix.Close(fd)
	// Direct I/O wants an aligned buffer; an anonymous mapping is page-aligned.
	buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("reading %s: allocating a buffer: %w", dev, err)
	}
	defer unix.Munmap(buf)
	if _, err := unix.Pread(fd, buf, 0); err != nil {
		return fmt.Errorf("reading %s: %w", dev, err)
	}
	return nil
}
