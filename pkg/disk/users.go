package disk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Users returns, in ascending order, the pids of the processes whose current directory, root
// directory, executable, open files or memory-mapped files lie under mountPoint, read from
// <procRoot>/<pid>/{cwd,root,exe,fd/*,maps} (procRoot is "/proc" when empty). This process is
// never listed. Processes that end while they are looked at, and those this process may not
// inspect (when it is not root), are left out. Paths are compared as the kernel prints them,
// so mountPoint must be a clean path without symbolic links, as mountinfo lists it.
func Users(procRoot, mountPoint string) ([]int, error) {
	procRoot = procRootOr(procRoot)
	mp := filepath.Clean(mountPoint)
	dir, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("listing the processes using %s: %w", mp, err)
	}
	self := os.Getpid()
	var pids []int
	for _, de := range dir {
		pid, err := strconv.Atoi(de.Name())
		if err != nil || pid <= 0 || pid == self {
			continue
		}
		if uses(procRoot, pid, mp) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// uses reports whether the process pid has anything under mp. Every read that fails (the
// process is gone, or is a zombie that holds nothing any more) counts as not using it.
func uses(procRoot string, pid int, mp string) bool {
	base := procRoot + "/" + strconv.Itoa(pid)
	for _, link := range []string{"cwd", "root", "exe"} {
		if t, err := os.Readlink(base + "/" + link); err == nil && under(t, mp) {
			return true
		}
	}
	if fds, err := os.ReadDir(base + "/fd"); err == nil {
		for _, fd := range fds {
			// Sockets, pipes and anonymous inodes read as "socket:[123]" and the like, never
			// as absolute paths.
			if t, err := os.Readlink(base + "/fd/" + fd.Name()); err == nil && under(t, mp) {
				return true
			}
		}
	}
	return mapsUnder(base+"/maps", mp)
}

// mapsUnder reads a /proc/<pid>/maps file ("address perms offset dev inode   pathname") and
// reports whether any mapped file lies under mp.
func mapsUnder(path, mp string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if p := mapsPath(sc.Text()); p != "" && under(p, mp) {
			return true
		}
	}
	return false
}

// mapsPath returns the pathname column of a maps line: what follows the fifth field, which
// may itself contain blanks. Anonymous mappings have none, "[heap]" and the like are not
// paths; both give "".
func mapsPath(line string) string {
	rest := line
	for range 5 {
		rest = strings.TrimLeft(rest, " \t")
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			return ""
		}
		rest = rest[i:]
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, "/") {
		return ""
	}
	return rest
}

// killUsers signals the processes using mp with SIGTERM, waits up to grace for them to let go,
// then sends SIGKILL to those that still hold it and waits (within ctx, and at most
// killSettle) for them to go. It returns the pids it signalled. Pid 1 is never signalled.
func killUsers(ctx context.Context, procRoot, mp string, grace time.Duration) ([]int, error) {
	procRoot = procRootOr(procRoot)
	pids, err := Users(procRoot, mp)
	if err != nil {
		return nil, err
	}
	pids = slices.DeleteFunc(pids, func(p int) bool { return p == 1 })
	var signalled []int
	for _, pid := range pids {
		if signalUser(procRoot, pid, mp, unix.SIGTERM) {
			signalled = append(signalled, pid)
		}
	}
	left := waitLetGo(ctx, procRoot, mp, signalled, grace)
	for _, pid := range left {
		signalUser(procRoot, pid, mp, unix.SIGKILL)
	}
	if len(left) > 0 {
		waitLetGo(ctx, procRoot, mp, left, killSettle)
	}
	return signalled, ctx.Err()
}

// killSettle bounds the wait for processes sent SIGKILL to let go of the mount (a process in
// uninterruptible sleep on a dead device may never do so).
const killSettle = 5 * time.Second

// signalUser sends sig to pid if it still uses mp. It goes through a pidfd so that a pid
// reused after the process ended is not signalled: the pidfd names the process found, and the
// check after opening it is of that same process unless it has ended, when the signal fails.
func signalUser(procRoot string, pid int, mp string, sig unix.Signal) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return false
		}
		// Kernels before 5.3 have no pidfds.
		if !uses(procRoot, pid, mp) {
			return false
		}
		return unix.Kill(pid, sig) == nil
	}
	defer unix.Close(fd)
	if !uses(procRoot, pid, mp) {
		return false
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0) == nil
}

// waitLetGo polls until none of pids uses mp, d has passed or ctx is done, and returns those
// still using it.
func waitLetGo(ctx context.Context, procRoot, mp string, pids []int, d time.Duration) []int {
	deadline := time.Now().Add(d)
	for {
		left := slices.DeleteFunc(slices.Clone(pids), func(p int) bool { return !uses(procRoot, p, mp) })
		if len(left) == 0 || !time.Now().Before(deadline) {
			return left
		}
		t := time.NewTimer(min(50*time.Millisecond, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return left
		case <-t.C:
		}
	}
}

func pidList(pids []int) string {
	s := make([]string, len(pids))
	for i, p := range pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}
