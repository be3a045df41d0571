// Package cgroup holds the cgroup v2 directories that the processes of one cluster resource live
// in. Every process a resource's scripts start is cloned straight into the resource's cgroup
// (CLONE_INTO_CGROUP), so a daemon that double-forks, changes its session or its process group
// still cannot leave it; the cluster can then kill all of it at once (cgroup.kill) when it
// fences, and learn when it has emptied (cgroup.events), without remembering any pid.
package cgroup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Cgroup is one cgroup v2 directory and its subtree. The zero value is not usable: set Path.
type Cgroup struct {
	// Path is the cgroup's directory: an absolute path under the v2 mount (see FindV2), not the
	// mount itself.
	Path string
	// NoKillFile makes Kill behave as on kernels before 5.14, which have no cgroup.kill: freeze
	// the subtree, SIGKILL every process, thaw. Kill falls back to that on its own when
	// cgroup.kill is missing; tests set NoKillFile to cover the fallback on a new kernel.
	NoKillFile bool
}

// How often a wait re-reads cgroup.events. With inotify the re-read is only a safety net (an
// event lost to a full inotify queue must not hang a fence); without it, it is the wait itself.
const (
	recheckInotify = time.Second
	pollFirst      = 5 * time.Millisecond
	pollMax        = 100 * time.Millisecond
)

// Ensure creates the cgroup and its missing parents (mode 0755). An existing one is kept as it
// is, processes included: a restarted clpd adopts its resources' cgroups.
func (c Cgroup) Ensure() error {
	if err := os.MkdirAll(c.Path, 0o755); err != nil {
		return fmt.Errorf("creating cgroup %s: %w", c.Path, err)
	}
	return nil
}

// Open returns the cgroup's directory opened with O_PATH, for
// syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}: the child is then cloned
// straight into the cgroup, with no moment at which it (or anything it forks) runs outside.
// The caller closes the file once the child has started.
func (c Cgroup) Open() (*os.File, error) {
	fd, err := unix.Open(c.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening cgroup %s: %w", c.Path, err)
	}
	return os.NewFile(uintptr(fd), c.Path), nil
}

// events is what cgroup.events says.
type events struct {
	populated bool // a process lives in the cgroup or below it
	frozen    bool // the freeze of cgroup.freeze has taken effect
}

func (c Cgroup) events() (events, error) {
	b, err := os.ReadFile(c.Path + "/cgroup.events")
	if err != nil {
		return events{}, err
	}
	var ev events
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "populated":
			ev.populated = v == "1"
		case "frozen":
			ev.frozen = v == "1"
		}
	}
	return ev, nil
}

// Populated reports whether a process lives in the cgroup or any cgroup below it.
func (c Cgroup) Populated() (bool, error) {
	ev, err := c.events()
	if err != nil {
		return false, fmt.Errorf("reading cgroup %s: %w", c.Path, err)
	}
	return ev.populated, nil
}

// WaitEmpty returns nil once no process lives in the subtree (or the cgroup no longer exists),
// and an error wrapping ctx.Err() when ctx ends first.
func (c Cgroup) WaitEmpty(ctx context.Context) error {
	return c.wait(ctx, "empty", func() (bool, error) {
		ev, err := c.events()
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		return err == nil && !ev.populated, err
	})
}

// wait returns when done reports true, or ctx ends. The kernel generates a modify event on
// cgroup.events whenever a value in it changes, so the wait sleeps on inotify and re-reads the
// file on each event; without inotify (no instances left) it polls.
func (c Cgroup) wait(ctx context.Context, what string, done func() (bool, error)) error {
	w := newWatch(c.Path + "/cgroup.events")
	if w != nil {
		defer w.close()
	}
	gap := pollFirst
	for {
		ok, err := done()
		if err != nil {
			return fmt.Errorf("waiting for cgroup %s to be %s: %w", c.Path, what, err)
		}
		if ok {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for cgroup %s to be %s: %w", c.Path, what, ctx.Err())
		}
		if w != nil && w.wait(ctx, recheckInotify) {
			continue
		}
		// No usable watch: poll, quickly at first (a kill usually empties a cgroup within a few
		// milliseconds), then less often.
		w = nil
		t := time.NewTimer(gap)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		gap = min(2*gap, pollMax)
	}
}

// watch is an inotify instance watching one file for IN_MODIFY.
type watch struct{ f *os.File }

// newWatch returns nil when inotify cannot be used; callers poll then.
func newWatch(path string) *watch {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil
	}
	// A non-blocking descriptor makes os.NewFile register it with the runtime poller, so that
	// a read honours deadlines instead of blocking a thread.
	return &watch{f: os.NewFile(uintptr(fd), "inotify "+path)}
}

func (w *watch) close() { _ = w.f.Close() }

// wait blocks until an event arrives, d passes or ctx ends, and drains the events: the caller
// re-reads the file rather than interpreting them. It returns false when the watch cannot wait
// (no deadline support), so the caller polls instead.
func (w *watch) wait(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	if err := w.f.SetReadDeadline(deadline); err != nil {
		return false
	}
	stop := context.AfterFunc(ctx, func() { _ = w.f.SetReadDeadline(time.Now()) })
	defer stop()
	var buf [4096]byte
	_, err := w.f.Read(buf[:])
	return err == nil || errors.Is(err, os.ErrDeadlineExceeded)
}

// Kill kills every process of the subtree and waits until it is empty, or ctx ends. It writes
// cgroup.kill, which SIGKILLs the whole subtree at once: a process forking at that moment cannot
// slip out. Without cgroup.kill (kernels before 5.14, or NoKillFile) it freezes the subtree so
// that nothing can fork or exit under it, SIGKILLs every process listed, thaws, and tries again
// until the subtree is empty. The caller must not be in the subtree.
//
// A cgroup that does not exist holds nothing, but it is still reported, as an error wrapping
// fs.ErrNotExist: the caller may have been told of a cgroup that never was.
func (c Cgroup) Kill(ctx context.Context) error {
	if err := c.check(); err != nil {
		return fmt.Errorf("killing cgroup %s: %w", c.Path, err)
	}
	if !c.NoKillFile {
		err := writeFile(c.Path+"/cgroup.kill", "1")
		if err == nil {
			if err := c.WaitEmpty(ctx); err != nil {
				return fmt.Errorf("killing cgroup %s: %w", c.Path, err)
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("killing cgroup %s: %w", c.Path, err)
		}
	}
	if err := c.killFrozen(ctx); err != nil {
		return fmt.Errorf("killing cgroup %s (without cgroup.kill): %w", c.Path, err)
	}
	return nil
}

// check refuses a directory that is not a non-root v2 cgroup. The root cgroup has no
// cgroup.events (nor cgroup.kill or cgroup.freeze), and killing everything listed in it and
// below would kill the whole machine.
func (c Cgroup) check() error {
	if !filepath.IsAbs(c.Path) {
		return fmt.Errorf("%q is not an absolute path", c.Path)
	}
	if _, err := os.Stat(c.Path); err != nil {
		return err
	}
	if _, err := os.Stat(c.Path + "/cgroup.events"); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("not a cgroup v2 directory below the root (it has no cgroup.events)")
		}
		return err
	}
	return nil
}

// killFrozen is Kill without cgroup.kill. While the subtree is frozen no process in it can fork
// or exit, so the pids listed are exactly the processes there and none can be reused before the
// SIGKILL lands; a frozen process still dies of SIGKILL. When the kernel has no cgroup.freeze
// either (before 5.2), rounds of SIGKILL are repeated until the subtree is empty.
func (c Cgroup) killFrozen(ctx context.Context) error {
	for {
		if err := c.killRound(ctx); err != nil {
			return err
		}
		round, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		err := c.WaitEmpty(round)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for the subtree to be empty: %w", ctx.Err())
		}
	}
}

// killRound freezes, SIGKILLs every listed process, and thaws.
func (c Cgroup) killRound(ctx context.Context) error {
	frozen := writeFile(c.Path+"/cgroup.freeze", "1") == nil
	if frozen {
		// Thawed again whatever happens: a cgroup left frozen would hang the next use of it.
		defer func() { _ = writeFile(c.Path+"/cgroup.freeze", "0") }()
		// The freeze takes effect when every task has stopped; a task in uninterruptible sleep
		// can delay that. The kill goes ahead after a short while anyway, and the next round
		// catches what forked meanwhile.
		fctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_ = c.wait(fctx, "frozen", func() (bool, error) {
			ev, err := c.events()
			return err == nil && ev.frozen, err
		})
		cancel()
	}
	pids, err := c.Procs()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("killing process %d: %w", pid, err)
		}
	}
	return nil
}

// Signal sends sig to every process of the subtree (a SIGTERM before Kill gives daemons a chance
// to stop cleanly) and returns how many processes it reached. A process that exits meanwhile is
// not counted and is not an error.
func (c Cgroup) Signal(sig syscall.Signal) (int, error) {
	pids, err := c.Procs()
	if err != nil {
		return 0, fmt.Errorf("signalling cgroup %s: %w", c.Path, err)
	}
	n := 0
	for _, pid := range pids {
		switch err := unix.Kill(pid, sig); {
		case err == nil:
			n++
		case errors.Is(err, unix.ESRCH):
		default:
			return n, fmt.Errorf("signalling cgroup %s: process %d: %w", c.Path, pid, err)
		}
	}
	return n, nil
}

// Procs returns the pid of every process of the subtree, in ascending order.
func (c Cgroup) Procs() ([]int, error) {
	dirs, err := c.subtree()
	if err != nil {
		return nil, fmt.Errorf("listing the processes of cgroup %s: %w", c.Path, err)
	}
	var pids []int
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/cgroup.procs")
		if errors.Is(err, fs.ErrNotExist) {
			continue // a child removed since the walk
		}
		if err != nil {
			return nil, fmt.Errorf("listing the processes of cgroup %s: %w", c.Path, err)
		}
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("listing the processes of cgroup %s: %s/cgroup.procs: bad pid %q", c.Path, d, f)
			}
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids), nil
}

// subtree returns the cgroup's directory and every directory below it, parents before children.
func (c Cgroup) subtree() ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(c.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != c.Path && errors.Is(err, fs.ErrNotExist) {
				return nil // a child removed during the walk
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	return dirs, err
}

// Remove removes the cgroup and every cgroup below it, children first. A cgroup that does not
// exist is not an error. A cgroup still holding processes cannot be removed: the error says so
// and wraps syscall.EBUSY. Remove retries that until ctx ends, since a process that was just
// killed may take a moment to leave.
func (c Cgroup) Remove(ctx context.Context) error {
	dirs, err := c.subtree()
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("removing cgroup %s: %w", c.Path, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := rmdir(ctx, dirs[i]); err != nil {
			return fmt.Errorf("removing cgroup %s: %w", c.Path, err)
		}
	}
	return nil
}

func rmdir(ctx context.Context, dir string) error {
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return &fs.PathError{Op: "rmdir", Path: dir, Err: err}
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			sub := Cgroup{Path: dir}
			if pids, perr := sub.Procs(); perr == nil && len(pids) > 0 {
				return fmt.Errorf("%s still holds %d process(es) (pids %s): %w", dir, len(pids), pidList(pids), err)
			}
			if pop, _ := sub.Populated(); pop {
				return fmt.Errorf("%s is still populated: %w", dir, err)
			}
			return fmt.Errorf("%s: %w", dir, err)
		}
	}
}

// pidList names up to 10 pids.
func pidList(pids []int) string {
	s := make([]string, 0, min(len(pids), 11))
	for i, p := range pids {
		if i == 10 {
			s = append(s, "...")
			break
		}
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, " ")
}

// writeFile writes an existing cgroup interface file; it never creates one.
func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
