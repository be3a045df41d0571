package procwatch

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

func TestParseStart(t *testing.T) {
	tests := []struct {
		stat string
		want uint64
		ok   bool
	}{
		{"1234 (sleep) S 1 1234 1234 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 987654 8192000 100", 987654, true},
		// The command name may hold spaces and parentheses.
		{"1 (a) b) (c) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0 0", 42, true},
		{"1 (x) R 1 2 3", 0, false},
		{"no parenthesis", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseStart(tt.stat)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseStart(%q) = %d, %v; want %d ok=%v", tt.stat, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseStart(f *testing.F) {
	f.Add("1234 (sleep) S 1 1234 1234 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 987654 8192000 100")
	f.Add("1 ()) R")
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseStart(s) })
}

// A real process: identified, alive, then Wait returns at its exit even though it is watched
// through pidfd, and a reused identity (other start time) is not alive.
func TestWaitRealProcess(t *testing.T) {
	cmd := exec.Command("sleep", "0.3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id, err := Identify("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if !Alive("/proc", id) {
		t.Fatal("a running process is not Alive")
	}
	if Alive("/proc", Identity{PID: id.PID, Start: id.Start + 1}) {
		t.Fatal("a different start time must not count as the same process")
	}
	reaped := make(chan struct{})
	go func() { _ = cmd.Wait(); close(reaped) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Wait(ctx, "/proc", id); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	<-reaped
	if Alive("/proc", id) {
		t.Fatal("an exited process is Alive")
	}
	// Waiting for a process that is already gone returns at once.
	if err := Wait(ctx, "/proc", id); err != nil {
		t.Fatalf("Wait on a gone process: %v", err)
	}
	if _, err := Identify("/proc", 0x7ffffff0); err == nil {
		t.Fatal("Identify of a missing pid succeeded")
	}
}
