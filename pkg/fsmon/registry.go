package fsmon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"clpkit/pkg/procwatch"
)

// Registry is the directory that holds one command's monitor IDs: a file per ID, holding the
// watcher's pid and start time, and write-locked by the watcher for as long as it runs.
//
// The lock is an open file description lock (fcntl F_OFD_SETLK). The kernel drops it when the
// watcher's last descriptor closes, however the watcher ends: a watcher killed with SIGKILL leaves
// its file behind (-disp still shows the pid it recorded) but never blocks a new watcher with
// the same ID, which the original's management information did (seed 001 §5.2 (3)).
type Registry struct {
	// Dir is the directory of the files, e.g. /run/clpkit/fsmon/sambamon.
	Dir string
}

// Record is what a watcher writes into its file.
type Record struct {
	PID int
	// Start is the process's start time (/proc/PID/stat field 22), so that a reused pid is
	// never taken for the watcher.
	Start uint64
}

// ErrInUse is returned when a live watcher holds the ID.
var ErrInUse = errors.New("the monitor id is in use by a running watcher")

// SysError is a failed system call on the registry, named as the seed's message 42 names one
// ("system error (open 13)").
type SysError struct {
	Func  string
	Errno syscall.Errno
	Err   error
}

func (e *SysError) Error() string { return fmt.Sprintf("%s: %v", e.Func, e.Err) }
func (e *SysError) Unwrap() error { return e.Err }

// Errno is the system error inside err, or EIO when there is none.
func Errno(err error) syscall.Errno {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		errno = syscall.EIO
	}
	return errno
}

func sysErr(fn string, err error) error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		errno = syscall.EIO
	}
	return &SysError{Func: fn, Errno: errno, Err: err}
}

func (r Registry) path(id string) (string, error) {
	// IDs are checked by the command line parser; this guards the file system all the same.
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") || len(id) > 255 {
		return "", &SysError{Func: "open", Errno: syscall.EINVAL, Err: fmt.Errorf("invalid monitor id %q", id)}
	}
	return filepath.Join(r.Dir, id), nil
}

// Entry is a held ID.
type Entry struct {
	f    *os.File
	path string
}

// lockFile takes the write lock of f without waiting; ok is false when another holder has it.
func lockFile(f *os.File) (ok bool, err error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return false, nil
	}
	return err == nil, err
}

// locked reports whether another open file description holds a lock on f.
func locked(f *os.File) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// sameFile reports whether f is still the file at path: a file removed (by -del or a watcher's
// exit) between our open and our lock must not be taken, or two watchers could hold one ID.
func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// Acquire takes id for the calling process and records it. It fails with ErrInUse while a live
// watcher holds id, and with a *SysError when the registry cannot be written.
func (r Registry) Acquire(id string) (*Entry, error) {
	path, err := r.path(id)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return nil, sysErr("mkdir", err)
	}
	for attempt := 0; ; attempt++ {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, sysErr("open", err)
		}
		ok, err := lockFile(f)
		if err != nil {
			f.Close()
			return nil, sysErr("fcntl", err)
		}
		if !ok {
			// A watcher that is ending removes its file before it lets go of the lock: if ours
			// is that file, the ID is being freed, and the next open finds a new one.
			stale := !sameFile(f, path)
			f.Close()
			if stale && attempt < 10 {
				continue
			}
			return nil, ErrInUse
		}
		if !sameFile(f, path) {
			f.Close()
			if attempt < 10 {
				continue
			}
			return nil, sysErr("open", syscall.ESTALE)
		}
		self, err := procwatch.Identify("/proc", os.Getpid())
		if err != nil {
			f.Close()
			return nil, sysErr("stat", err)
		}
		line := []byte(fmt.Sprintf("%d %d\n", self.PID, self.Start))
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, sysErr("ftruncate", err)
		}
		if _, err := f.WriteAt(line, 0); err != nil {
			f.Close()
			return nil, sysErr("write", err)
		}
		return &Entry{f: f, path: path}, nil
	}
}

// Release removes the record and gives the ID up. The file is removed while still locked, so
// nobody can lock the old file in between; see sameFile.
func (e *Entry) Release() error {
	rerr := os.Remove(e.path)
	cerr := e.f.Close()
	if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return sysErr("unlink", rerr)
	}
	if cerr != nil {
		return sysErr("close", cerr)
	}
	return nil
}

// State is what Lookup finds for an ID.
type State struct {
	// Found is true when there is a record file, live or left behind.
	Found bool
	// Live is true while a watcher holds the ID.
	Live bool
	// Record is the recorded watcher; zero while a starting watcher has not written it yet.
	Record Record
}

// Lookup reads the record of id.
func (r Registry) Lookup(id string) (State, error) {
	path, err := r.path(id)
	if err != nil {
		return State{}, err
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, sysErr("open", err)
	}
	defer f.Close()
	st := State{Found: true}
	if st.Live, err = locked(f); err != nil {
		return State{}, sysErr("fcntl", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 128))
	if err != nil {
		return State{}, sysErr("read", err)
	}
	st.Record, _ = parseRecord(string(b))
	return st, nil
}

func parseRecord(s string) (Record, bool) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Record{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return Record{}, false
	}
	return Record{PID: pid, Start: start}, true
}

// Delete removes the record of id, left behind by a watcher that did not end normally. It fails
// with ErrInUse while a live watcher holds id; removing nothing is not an error.
func (r Registry) Delete(id string) error {
	path, err := r.path(id)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return sysErr("open", err)
	}
	defer f.Close()
	ok, err := lockFile(f)
	if err != nil {
		return sysErr("fcntl", err)
	}
	if !ok {
		return ErrInUse
	}
	if !sameFile(f, path) {
		return nil // someone else removed it already
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return sysErr("unlink", err)
	}
	return nil
}
