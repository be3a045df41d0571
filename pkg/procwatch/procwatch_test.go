package procwatch

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

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
