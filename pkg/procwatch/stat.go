package procwatch

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// State is what /proc/PID/stat says of a process (proc(5)): the fields clpkit reads. The tick
// counts are in USER_HZ (sysconf(_SC_CLK_TCK), 100 on every Linux architecture Go supports).
type State struct {
	PID     int    // field 1
	Comm    string // field 2, without its parentheses: the command name, cut to 15 bytes
	State   byte   // field 3: R, S, D, Z (zombie), T, t, X (dead), I, ...
	PPID    int    // field 4: the parent
	PGRP    int    // field 5: the process group
	Session int    // field 6: the session
	Flags   uint64 // field 9: the kernel's PF_* flags (PF_KTHREAD marks a kernel thread)
	UTime   uint64 // field 14: user CPU time, in ticks
	STime   uint64 // field 15: system CPU time, in ticks
	Nice    int    // field 19: the nice value, -20 to 19
	Threads int    // field 20: the number of threads
	Start   uint64 // field 22: start time, in ticks since boot
}

// Exited reports whether the process has ended although its entry is still there: a zombie
// whose parent has not collected its status, or one being torn down (X, or x before Linux 3.14).
func (s State) Exited() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// Stat reads /proc/PID/stat under procRoot (normally "/proc"). A process that is gone gives an
// error that matches fs.ErrNotExist (or ESRCH, when it ends while being read).
func Stat(procRoot string, pid int) (State, error) {
	path := procRoot + "/" + strconv.Itoa(pid) + "/stat"
	b, err := os.ReadFile(path)
	if err != nil {
		return State{}, fmt.Errorf("reading process %d: %w", pid, err)
	}
	s, err := ParseStat(b)
	if err != nil {
		return State{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseStat parses the contents of a /proc/PID/stat file. The command name (field 2) is in
// parentheses and may itself hold blanks, parentheses and any other byte but NUL, so it runs
// from the first '(' to the last ')', and the other fields are counted after that ')'.
func ParseStat(b []byte) (State, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return State{}, errors.New("malformed stat line: no (command name)")
	}
	var s State
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return State{}, fmt.Errorf("malformed stat line: pid %q", bytes.TrimSpace(b[:open]))
	}
	s.PID = pid
	s.Comm = string(b[open+1 : end])
	// f[0] is field 3, so field n is f[n-3].
	f := bytes.Fields(b[end+1:])
	if len(f) < 20 {
		return State{}, fmt.Errorf("short stat line: %d fields after the command name, want at least 20", len(f))
	}
	if c := f[0]; len(c) != 1 || !(c[0] >= 'A' && c[0] <= 'Z' || c[0] >= 'a' && c[0] <= 'z') {
		return State{}, fmt.Errorf("malformed stat line: state %q", f[0])
	}
	s.State = f[0][0]
	ints := []struct {
		field int
		dst   *int
	}{{4, &s.PPID}, {5, &s.PGRP}, {6, &s.Session}, {19, &s.Nice}, {20, &s.Threads}}
	for _, x := range ints {
		n, err := strconv.Atoi(string(f[x.field-3]))
		if err != nil {
			return State{}, fmt.Errorf("malformed stat line: field %d %q", x.field, f[x.field-3])
		}
		*x.dst = n
	}
	uints := []struct {
		field int
		dst   *uint64
	}{{9, &s.Flags}, {14, &s.UTime}, {15, &s.STime}, {22, &s.Start}}
	for _, x := range uints {
		n, err := strconv.ParseUint(string(f[x.field-3]), 10, 64)
		if err != nil {
			return State{}, fmt.Errorf("malformed stat line: field %d %q", x.field, f[x.field-3])
		}
		*x.dst = n
	}
	return s, nil
}
