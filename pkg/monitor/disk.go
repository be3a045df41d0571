package monitor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Disk is diskw: a read from a device or file, or a write into a directory. Use it through a
// pointer: it remembers an I/O that has stalled.
type Disk struct {
	Path string
	// Method is "read" (Path is a device or file; "" means read) or "write" (Path is a
	// directory).
	Method string
	// Size is how many bytes to read or write; 0 means 4096. A read is rounded up to a
	// multiple of 4096, as O_DIRECT needs.
	Size int

	mu sync.Mutex
	// stalled is when the I/O still in the kernel started, zero when none is.
	stalled time.Time
}

const diskBlock = 4096

// Check runs the I/O in a goroutine, because on a stalled device it blocks in the kernel where
// nothing can interrupt it: at ctx's deadline Check returns an error wrapping ErrTimeout and
// leaves the goroutine to finish whenever the device answers. Until it does, every Check fails
// at once with the same error, so that a dead device costs one goroutine, not one per check.
// The engine never overlaps two checks of one monitor; should a caller do so, the second is
// refused the same way rather than queued behind the first.
func (d *Disk) Check(ctx context.Context) error {
	op, do := "read", d.read
	switch d.Method {
	case "", "read":
	case "write":
		op, do = "write", d.write
	default:
		return fmt.Errorf("disk monitor on %s: unknown method %q (read or write)", d.Path, d.Method)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	if since := d.stalled; !since.IsZero() {
		d.mu.Unlock()
		return timeoutf("%s of %s stalled for %s", op, d.Path, human(time.Since(since)))
	}
	start := time.Now()
	d.stalled = start
	d.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		err := do()
		d.mu.Lock()
		d.stalled = time.Time{}
		d.mu.Unlock()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return timeoutf("%s of %s stalled for %s", op, d.Path, human(time.Since(start)))
		}
		return fmt.Errorf("%s of %s: %w", op, d.Path, ctx.Err())
	}
}

func (d *Disk) size() int {
	if d.Size <= 0 {
		return diskBlock
	}
	return d.Size
}

// read reads from offset 0 with O_DIRECT, so that the device answers rather than the page
// cache, which would keep saying "fine" about a disk that is gone.
func (d *Disk) read() error {
	fail := func(err error) error { return fmt.Errorf("read of %s: %w", d.Path, bare(err)) }
	f, err := os.OpenFile(d.Path, os.O_RDONLY|unix.O_DIRECT, 0)
	if errors.Is(err, unix.EINVAL) {
		// tmpfs and some others refuse O_DIRECT; they have no device to stall anyway.
		f, err = os.OpenFile(d.Path, os.O_RDONLY, 0)
	}
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	n := (d.size() + diskBlock - 1) / diskBlock * diskBlock
	// An anonymous mapping is page aligned, as O_DIRECT wants its buffer.
	buf, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return fail(err)
	}
	defer unix.Munmap(buf)
	got, err := io.ReadFull(f, buf)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return fail(err)
	}
	if got == 0 {
		// A file shorter than Size has been read whole, but a device that gives nothing at
		// offset 0 is gone (a detached loop device, a removed disk reads as empty).
		if fi, serr := f.Stat(); serr == nil && fi.Mode()&os.ModeDevice != 0 {
			return fail(errors.New("the device returned no data (detached or empty)"))
		}
	}
	return nil
}

// write writes, syncs and removes a file of its own in the directory. The pid in its name
// keeps two clpd (a test one beside the real one) from removing each other's file.
func (d *Disk) write() error {
	fail := func(err error) error { return fmt.Errorf("write of %s: %w", d.Path, bare(err)) }
	name := filepath.Join(d.Path, ".clpkit-diskw-"+strconv.Itoa(os.Getpid()))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fail(err)
	}
	defer os.Remove(name)
	buf := make([]byte, d.size())
	for i := range buf {
		buf[i] = byte(i)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	if err := os.Remove(name); err != nil {
		return fail(err)
	}
	return nil
}
