package procwatch

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"clpkit/internal/proctest"
)

// A stat line of a sleeping process, as Linux 6.x prints it (52 fields).
const sleepStat = "1234 (sleep) S 1 1234 1200 34816 1234 4194304 100 0 0 0 7 3 0 0 20 0 1 0 987654 8192000 100 " +
	"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		stat string
		want State
		ok   bool
	}{
		{"plain", sleepStat,
			State{PID: 1234, Comm: "sleep", State: 'S', PPID: 1, PGRP: 1234, Session: 1200, Flags: 4194304, UTime: 7, STime: 3,
				Nice: 0, Threads: 1, Start: 987654}, true},
		// The command name may hold blanks and parentheses, even ") Z 1 2 3": only the fields after
		// the last ')' count.
		{"comm with ) and blanks", "1 (a) b) (c) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0",
			State{PID: 1, Comm: "a) b) (c", State: 'R', PGRP: 1, Session: 1, Threads: 1, Start: 42}, true},
		{"comm faking a zombie", "77 (x) Z 9 9 9 ) S 5 6 7 0 -1 0 0 0 0 0 11 12 0 0 20 -5 3 0 99 0 0",
			State{PID: 77, Comm: "x) Z 9 9 9 ", State: 'S', PPID: 5, PGRP: 6, Session: 7, UTime: 11, STime: 12,
				Nice: -5, Threads: 3, Start: 99}, true},
		{"empty comm", "5 () Z 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 8 0 0",
			State{PID: 5, State: 'Z', PPID: 1, PGRP: 5, Session: 5, Threads: 1, Start: 8}, true},
		{"comm with a newline", "6 (a\nb) D 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0",
			State{PID: 6, Comm: "a\nb", State: 'D', PPID: 2, Threads: 1, Start: 3}, true},
		{"short", "1 (x) R 1 2 3", State{}, false},
		{"no parenthesis", "no parenthesis", State{}, false},
		{"only a close", "1 x) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0", State{}, false},
		{"close before open", "1 )x( R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0", State{}, false},
		{"no pid", "(x) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0", State{}, false},
		{"long state", "1 (x) RS 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0", State{}, false},
		{"bad ppid", "1 (x) R p 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0", State{}, false},
		{"bad start", "1 (x) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -4 0 0", State{}, false},
		{"empty", "", State{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.stat))
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseStat(%q) =\n %+v, %v\nwant\n %+v ok=%v", tt.stat, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestStateExited(t *testing.T) {
	for state, want := range map[byte]bool{'R': false, 'S': false, 'D': false, 'T': false, 'I': false, 'Z': true, 'X': true, 'x': true} {
		if got := (State{State: state}).Exited(); got != want {
			t.Errorf("State %c: Exited() = %v, want %v", state, got, want)
		}
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte(sleepStat))
	f.Add([]byte("1 ()) R"))
	f.Add([]byte("1 (a) b) (c) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0"))
	f.Add([]byte("77 (x) Z 9 9 9 ) S 5 6 7 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 99 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err != nil {
			return
		}
		// Whatever the command name holds, it is what lies between the first '(' and the last ')',
		// and nothing after that ')' is taken for it.
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if s.Comm != string(b[open+1:end]) {
			t.Errorf("Comm %q, want %q", s.Comm, b[open+1:end])
		}
		if f := bytes.Fields(b[end+1:]); len(f) < 20 || f[0][0] != s.State {
			t.Errorf("State %q from %q", s.State, b[end+1:])
		}
	})
}

// A real process whose command name holds ") Z 1 1 1 (": Stat reads its real state, parent and
// start time, and Identify and Alive agree; once it is gone, Stat says so.
func TestStatRealProcess(t *testing.T) {
	name := "s) Z 1 1 1 (x" // 13 bytes: the kernel keeps 15
	bin := proctest.CopyProgram(t, "sleep", filepath.Join(t.TempDir(), name))
	cmd := exec.Command(bin, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	go func() { _ = cmd.Wait(); close(done) }()
	pid := cmd.Process.Pid

	var st State
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		st, err = Stat("/proc", pid)
		if err == nil && st.Comm == name && st.State == 'S' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stat(%d) = %+v, %v; want comm %q, state S", pid, st, err, name)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st.PID != pid || st.PPID != os.Getpid() || st.Exited() || st.Start == 0 || st.Threads < 1 {
		t.Errorf("Stat(%d) = %+v: want pid %d, parent %d, not exited, a start time, a thread", pid, st, pid, os.Getpid())
	}
	id, err := Identify("/proc", pid)
	if err != nil || id != (Identity{PID: pid, Start: st.Start}) {
		t.Errorf("Identify = %+v, %v; want start %d", id, err, st.Start)
	}
	if !Alive("/proc", id) {
		t.Errorf("Alive(%+v) = false for a sleeping process", id)
	}

	_ = cmd.Process.Kill()
	<-done
	if _, err := Stat("/proc", pid); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of a reaped process: %v, want fs.ErrNotExist", err)
	}
	if Alive("/proc", id) {
		t.Errorf("Alive(%+v) = true after the process was reaped", id)
	}
}

// A state that is not a letter (a NUL, a digit) is a malformed line, not a process state.
func TestParseStatStateLetter(t *testing.T) {
	for _, state := range []string{"\x00", "1", "?"} {
		line := "42 (x) " + state + " 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0"
		if _, err := ParseStat([]byte(line)); err == nil {
			t.Errorf("state %q accepted", state)
		}
	}
}
