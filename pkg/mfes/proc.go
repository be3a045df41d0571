package mfes

import (
	"bytes"
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

// scan lists the live processes under procRoot (zombies and kernel threads left out).
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

// readProc reads one process; false when it is gone, a zombie or a kernel thread.
func readProc(procRoot string, pid int) (proc, bool) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return proc{}, false
	}
	open := bytes.IndexByte(stat, '(')
	end := bytes.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return proc{}, false
	}
	f := strings.Fields(string(stat[end+1:]))
	// f[0] is field 3 (state), f[1] field 4 (ppid), f[19] field 22 (start time).
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return proc{}, false
	}
	raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
	if err != nil || len(raw) == 0 {
		return proc{}, false
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	return proc{
		id:      procwatch.Identity{PID: pid, Start: start},
		ppid:    ppid,
		comm:    string(stat[open+1 : end]),
		cmdline: strings.Join(args, " "),
	}, true
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

// pidfileProc returns the process a pidfile names, when it runs.
func pidfileProc(procRoot, path string) (proc, bool, error) {
	if path == "" {
		return proc{}, false, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return proc{}, false, nil
		}
		return proc{}, false, fmt.Errorf("reading pidfile: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		// A half-written or foreign file names no process we may touch.
		return proc{}, false, nil
	}
	p, ok := readProc(procRoot, pid)
	return p, ok, nil
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
	if !procwatch.Alive(procRoot, p.id) {
		return nil
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signalling process %d: %w", p.id.PID, err)
	}
	return nil
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
