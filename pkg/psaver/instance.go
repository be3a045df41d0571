package psaver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"clpkit/pkg/bounded"
)

// DefaultRunDir holds pcheck's control sockets and lock files. It replaces ProcessSaver's SysV
// shared memory and message queue, which were named by IPCKEY the same way.
const DefaultRunDir = "/run/clpkit/pcheck"

// EnvRunDir names the environment variable that overrides DefaultRunDir (tests, and several
// independent kits on one machine).
const EnvRunDir = "CLPKIT_PCHECK_DIR"

// RunDir returns $CLPKIT_PCHECK_DIR when set, else DefaultRunDir.
func RunDir(env func(string) string) string { return envOr(env, EnvRunDir, DefaultRunDir) }

// envOr returns the environment variable name when it is set and not empty, else def.
func envOr(env func(string) string, name, def string) string {
	if v := env(name); v != "" {
		return v
	}
	return def
}

// KeyName is how an IPCKEY is written in file names and messages: 0x and eight hex digits.
func KeyName(key uint32) string { return fmt.Sprintf("0x%08x", key) }

// SocketPath is the control socket of the pcheck that runs with IPCKEY key.
func SocketPath(dir string, key uint32) string { return filepath.Join(dir, KeyName(key)+".sock") }

func lockPath(dir string, key uint32) string { return filepath.Join(dir, KeyName(key)+".lock") }

// BusyError says that another pcheck already holds the pfile or the IPCKEY.
type BusyError struct {
	Pfile     string // the pfile this pcheck was asked to run
	Key       uint32
	PID       int    // the other pcheck, 0 when unknown
	Other     string // the other pcheck's pfile, when it holds the IPCKEY for another pfile
	SamePfile bool   // the pfile itself is held
}

func (e *BusyError) Error() string {
	who := "another pcheck"
	if e.PID > 0 {
		who = fmt.Sprintf("pcheck (pid %d)", e.PID)
	}
	if e.SamePfile {
		return fmt.Sprintf("%s is already watched by %s", e.Pfile, who)
	}
	return fmt.Sprintf("IPCKEY %s of %s is already used by %s for %s", KeyName(e.Key), e.Pfile, who, e.Other)
}

// Instance is what a running pcheck holds: a lock on its pfile, a lock on its IPCKEY, and the
// control socket padmin connects to.
type Instance struct {
	dir       string
	key       uint32
	pfileLock *os.File
	keyLock   *os.File
	Listener  *net.UnixListener
}

// Claim takes pfile and key for this process (pid), or returns a *BusyError naming the pcheck
// that has them. Locks are flock(2) locks, so a pcheck killed with SIGKILL leaves nothing that
// blocks the next one; the lock file records the holder's pid and pfile for the messages.
// The run directory is created with mode 0700 and the socket with 0600: only root (or the user
// running pcheck) may talk to pcheck.
func Claim(dir, pfile string, key uint32, pid int) (*Instance, error) {
	in := &Instance{dir: dir, key: key}
	ok := false
	defer func() {
		if !ok {
			in.Close()
		}
	}()

	pf, err := os.Open(pfile)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", pfile, err)
	}
	in.pfileLock = pf
	err = unix.Flock(int(pf.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, &BusyError{Pfile: pfile, Key: key, PID: Holder(dir, pfile).PID, SamePfile: true}
	}
	// Any other failure (a file system without flock, such as some NFS mounts) only loses the
	// check of a second pcheck on the same pfile with another IPCKEY; the IPCKEY lock below,
	// in the run directory, still holds.

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the run directory: %w", err)
	}
	lp := lockPath(dir, key)
	kf, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the IPCKEY lock: %w", err)
	}
	in.keyLock = kf
	if err := unix.Flock(int(kf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			opid, other := readHolder(lp)
			return nil, &BusyError{Pfile: pfile, Key: key, PID: opid, Other: other}
		}
		return nil, fmt.Errorf("locking %s: %w", lp, err)
	}
	// The lock file is never removed: unlinking it could let two pchecks lock two different
	// files of the same name. Its content is rewritten by each holder.
	if err := kf.Truncate(0); err != nil {
		return nil, fmt.Errorf("writing %s: %w", lp, err)
	}
	if _, err := kf.WriteAt([]byte(strconv.Itoa(pid)+"\n"+pfile+"\n"), 0); err != nil {
		return nil, fmt.Errorf("writing %s: %w", lp, err)
	}

	sp := SocketPath(dir, key)
	// A socket left by a pcheck that was killed is stale: we hold the lock, so nobody serves it.
	if err := os.Remove(sp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale socket %s: %w", sp, err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("creating the control socket: %w", err)
	}
	in.Listener = ln
	// The directory (0700) already keeps others out; the mode and the peer check in Serve make
	// sure of it when the directory was made by someone else.
	if err := os.Chmod(sp, 0o600); err != nil {
		return nil, fmt.Errorf("restricting the control socket: %w", err)
	}
	ok = true
	return in, nil
}

// Close removes the socket and releases the locks.
func (in *Instance) Close() {
	if in.Listener != nil {
		// Closing a listener created by ListenUnix removes its socket file.
		_ = in.Listener.Close()
	}
	if in.keyLock != nil {
		_ = in.keyLock.Close()
	}
	if in.pfileLock != nil {
		_ = in.pfileLock.Close()
	}
}

// readHolder reads the pid and pfile a lock file records; nothing from a file too large to be one.
func readHolder(path string) (int, string) {
	b, err := bounded.ReadFile(path, maxLockFile)
	if err != nil {
		return 0, ""
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(first)
	return pid, strings.TrimSuffix(rest, "\n")
}

// Running is a pcheck found through the lock files of a run directory.
type Running struct {
	PID   int
	Pfile string
	Key   uint32
}

// Holder returns the live pcheck that runs pfile (the same file, whatever the path), from the
// lock files in dir; the zero Running when there is none. padmin uses it to explain a pfile
// whose IPCKEY was edited while pcheck ran.
func Holder(dir, pfile string) Running {
	want, err := os.Stat(pfile)
	if err != nil {
		return Running{}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "0x*.lock"))
	for _, n := range names {
		key, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), ".lock"), 0, 32)
		if err != nil {
			continue
		}
		pid, pf := readHolder(n)
		if pid <= 0 || !locked(n) {
			continue
		}
		if fi, err := os.Stat(pf); err == nil && os.SameFile(fi, want) {
			return Running{PID: pid, Pfile: pf, Key: uint32(key)}
		}
	}
	return Running{}
}

// locked reports whether some process holds the flock on path.
func locked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}
