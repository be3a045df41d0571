package resource

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/procwatch"
)

func script(t *testing.T, dir, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, "start.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpawnExitLogAndDirectory(t *testing.T) {
	dir := t.TempDir()
	p := script(t, dir, "pwd; echo oops >&2; exit 7\n", 0o755)
	log := filepath.Join(t.TempDir(), "r.log")
	if err := os.WriteFile(log, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := Spawn("/proc", Spec{Script: p, Env: []string{"PATH=/usr/bin:/bin"}, Log: log, RCFile: filepath.Join(dir, "rc")})
	if err != nil {
		t.Fatal(err)
	}
	res := j.Wait(context.Background())
	if res.Code != 7 || res.Killed || res.OK() {
		t.Fatalf("result %+v, want exit 7", res)
	}
	b, _ := os.ReadFile(log)
	if string(b) != "earlier\n"+dir+"\noops\n" {
		t.Fatalf("log = %q", b)
	}
}

func TestSpawnNonExecutableRunsUnderSh(t *testing.T) {
	dir := t.TempDir()
	p := script(t, dir, "exit 0\n", 0o644)
	j, err := Spawn("/proc", Spec{Script: p, Env: []string{"PATH=/usr/bin:/bin"}, Log: filepath.Join(dir, "log"), RCFile: filepath.Join(dir, "rc")})
	if err != nil {
		t.Fatal(err)
	}
	if res := j.Wait(context.Background()); !res.OK() {
		t.Fatalf("result %+v", res)
	}
}

// A timeout kills the whole process group: the script and what it started.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	p := script(t, dir, "sleep 600 &\necho $! > child\nwait\n", 0o755)
	j, err := Spawn("/proc", Spec{Script: p, Env: []string{"PATH=/usr/bin:/bin"}, Log: filepath.Join(dir, "log"), RCFile: filepath.Join(dir, "rc")})
	if err != nil {
		t.Fatal(err)
	}
	var child int
	for i := 0; i < 100 && child == 0; i++ {
		b, _ := os.ReadFile(filepath.Join(dir, "child"))
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("the script did not start its child")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res := j.Wait(ctx)
	if !res.Killed || res.String() != "killed after timeout" {
		t.Fatalf("result %+v", res)
	}
	id, err := procwatch.Identify("/proc", child)
	if err != nil {
		return // already gone and reaped
	}
	for i := 0; i < 100; i++ {
		// A killed orphan may linger as a zombie until init reaps it: that is not running.
		if !procwatch.Alive("/proc", id) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the script's child %d survived the timeout", child)
}

// A job adopted by a new daemon (not its child) is still waited for, with its exit status.
func TestAdoptedJob(t *testing.T) {
	dir := t.TempDir()
	p := script(t, dir, "sleep 0.3; exit 5\n", 0o755)
	j, err := Spawn("/proc", Spec{Script: p, Env: []string{"PATH=/usr/bin:/bin"}, Log: filepath.Join(dir, "log"), RCFile: filepath.Join(dir, "rc")})
	if err != nil {
		t.Fatal(err)
	}
	if j.ScriptPID == 0 || j.ScriptPID == j.Wrapper.PID {
		t.Fatalf("script pid %d, wrapper %d", j.ScriptPID, j.Wrapper.PID)
	}
	// Reap the real child in the background, as init would for an orphan.
	go func() { _ = j.cmd.Wait() }()
	a := Adopt("/proc", j.Info(), nil)
	if !a.Running() {
		t.Fatal("adopted job not running")
	}
	if res := a.Wait(context.Background()); res.Code != 5 {
		t.Fatalf("adopted result %+v, want exit 5", res)
	}
}
