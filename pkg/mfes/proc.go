package mfes

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"clpkit/pkg/bounded"
	"clpkit/pkg/procwatch"
)

// proc is one process as /proc shows it.
type proc struct {
	id   procwatch.Identity
	ppid int
	comm string
	// cmdline is the arguments joined by one blank, as `ps -ef` shows them.
	cmdline string
}

// ourCommands are never a service's processes: a concurrent `mdump localhost ESSERV1` or
// `casstop /rESSERV1` has the region's name in its command line, and killing it would be wrong.
// The real directory server runs as mfds32 or mfds64, so sparing "mfds" spares only launchers.
func ourCommand(comm string) bool {
	switch comm {
	case "casstart", "casstop", "mfds", "mdump":
		return true
	}
	return false
}

// Bounds on what is read of a process's /proc files (and of the files of a test's stand-in for
// /proc). A stat line is a few hundred bytes; a command line longer than maxCmdline is matched
// on its first maxCmdline bytes.
const (
	maxStat    = 4 << 10
	maxCmdline = 256 << 10
)

// pfKthread is PF_KTHREAD in the flags of /proc/PID/stat (field 9): a kernel thread.
const pfKthread = 0x00200000

// live reports whether a process in state st still holds what it opened, its listening sockets
// above all. A zombie is a thread group's leader that has exited: while other threads of the
// group still run (st.Threads counts them with the leader), the files stay open until the last
// one exits. A dying process closes its files only after it has given up its memory (and with
// it the command line /proc shows), so "no command line" or "zombie" alone is no proof that it
// is gone.
func live(st procwatch.State) bool {
	if !st.Exited() {
		return true
	}
	return st.State == 'Z' && st.Threads > 1
}

// readStat reads the stat line of process pid.
func readStat(procRoot string, pid int) (procwatch.State, bool) {
	b, err := readPrefix(filepath.Join(procRoot, strconv.Itoa(pid), "stat"), maxStat)
	if err != nil {
		return procwatch.State{}, false
	}
	st, err := procwatch.ParseStat(b)
	return st, err == nil
}

// scan lists the live processes under procRoot (kernel threads and processes that have exited
// for good left out).
func scan(procRoot string) ([]proc, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		p, ok := readProc(procRoot, pid)
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// readProc reads one process; false when it has exited (see live), is a kernel thread, or
// shows no command line any more (it is exiting: tracker keeps such processes in view).
func readProc(procRoot string, pid int) (proc, bool) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	st, ok := readStat(procRoot, pid)
	if !ok || st.Flags&pfKthread != 0 || !live(st) {
		return proc{}, false
	}
	raw, err := readPrefix(filepath.Join(dir, "cmdline"), maxCmdline)
	if err == nil && len(raw) == 0 {
		// The leader has given up its memory (it exits, or has exited while other threads
		// run): those threads still show the command line.
		raw = taskCmdline(dir, pid)
	}
	if len(raw) == 0 {
		return proc{}, false
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	return proc{
		id:      procwatch.Identity{PID: pid, Start: st.Start},
		ppid:    st.PPID,
		comm:    st.Comm,
		cmdline: strings.Join(args, " "),
	}, true
}

// taskCmdline returns the command line as another thread of process pid shows it, nil when
// none does.
func taskCmdline(dir string, pid int) []byte {
	tasks, err := os.ReadDir(filepath.Join(dir, "task"))
	if err != nil {
		return nil
	}
	for _, t := range tasks {
		if t.Name() == strconv.Itoa(pid) {
			continue
		}
		if raw, err := readPrefix(filepath.Join(dir, "task", t.Name(), "cmdline"), maxCmdline); err == nil && len(raw) > 0 {
			return raw
		}
	}
	return nil
}

// running reports whether the process named by id still runs in the sense of live: the
// same process (not a reuse of its pid), not yet exited with every thread.
func running(procRoot string, id procwatch.Identity) bool {
	st, ok := readStat(procRoot, id.PID)
	return ok && st.Start == id.Start && live(st)
}

// ancestors returns self and every process above it: the shell running casstop has the region
// in its own command line (sh -c "casstop /rESSERV1"), and must survive it.
func ancestors(procs []proc, self int) map[int]bool {
	parent := make(map[int]int, len(procs))
	for _, p := range procs {
		parent[p.id.PID] = p.ppid
	}
	out := map[int]bool{}
	for pid := self; pid > 0 && !out[pid]; pid = parent[pid] {
		out[pid] = true
	}
	return out
}

// matching returns the processes whose command line re matches, minus self, its ancestors
// and our own commands, in pid order.
func matching(procs []proc, re *regexp.Regexp, self int) []proc {
	if re == nil {
		return nil
	}
	skip := ancestors(procs, self)
	var out []proc
	for _, p := range procs {
		if skip[p.id.PID] || ourCommand(p.comm) || !re.MatchString(p.cmdline) {
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b proc) int { return a.id.PID - b.id.PID })
	return out
}

// maxPidfile bounds a pidfile: it holds one process id.
const maxPidfile = 4 << 10

// pidfileProc returns the process a pidfile names, when it runs.
func pidfileProc(procRoot, path string) (proc, bool, error) {
	if path == "" {
		return proc{}, false, nil
	}
	b, err := bounded.ReadFile(path, maxPidfile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return proc{}, false, nil
		}
		if _, ok := errors.AsType[*bounded.TooLargeError](err); ok {
			return proc{}, false, fmt.Errorf("pidfile %s is larger than %s: a pidfile holds one process id; check that the pidfile setting names the service's own pidfile", path, bounded.Size(maxPidfile))
		}
		return proc{}, false, fmt.Errorf("reading pidfile: %w", err)
	}
	pid, ok := parsePidfile(b)
	if !ok {
		// A half-written or foreign file names no process we may touch.
		return proc{}, false, nil
	}
	p, ok := readProc(procRoot, pid)
	return p, ok, nil
}

// parsePidfile reads the process id a pidfile holds: one positive number, blanks around it
// allowed.
func parsePidfile(b []byte) (int, bool) {
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// signal sends sig to p through a pidfd, after checking that the pid still names the same
// process (its start time), so a pid reused since the scan is never hit.
func signal(procRoot string, p proc, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(p.id.PID, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("process %d: %w", p.id.PID, err)
	}
	defer unix.Close(fd)
	if !running(procRoot, p.id) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signalling process %d: %w", p.id.PID, err)
	}
	return nil
}

// tracker follows the processes of a service while it stops. A process seen once as the
// service's stays the service's until it has exited for good (running): a dying process soon
// shows no command line, so the pattern no longer finds it, and its pidfile may be gone already,
// while its listening socket still accepts connections until its last thread has exited.
type tracker struct {
	seen map[procwatch.Identity]proc
}

func newTracker() *tracker { return &tracker{seen: map[procwatch.Identity]proc{}} }

// add records procs and returns them with every process seen before that still runs, in pid
// order.
func (t *tracker) add(procRoot string, procs []proc) []proc {
	in := make(map[procwatch.Identity]bool, len(procs))
	for _, p := range procs {
		in[p.id] = true
		t.seen[p.id] = p
	}
	out := slices.Clone(procs)
	for id, p := range t.seen {
		if in[id] {
			continue
		}
		if !running(procRoot, id) {
			delete(t.seen, id)
			continue
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b proc) int { return a.id.PID - b.id.PID })
	return out
}

// processes names ps for a message: "process 12" or "processes 12 13".
func processes(ps []proc) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(p.id.PID)
	}
	return verb(ps, "process ", "processes ") + strings.Join(s, " ")
}

// verb picks the singular or plural form for ps.
func verb(ps []proc, one, many string) string {
	if len(ps) == 1 {
		return one
	}
	return many
}
