package resource

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
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

// spawn writes body as a script into dir and spawns it with a plain PATH, its log and its rc
// file in dir.
func spawn(t *testing.T, dir, body string, mode os.FileMode) *Job {
	t.Helper()
	p := script(t, dir, body, mode)
	j, err := Spawn("/proc", Spec{Script: p, Env: []string{"PATH=/usr/bin:/bin"}, Log: filepath.Join(dir, "log"), RCFile: filepath.Join(dir, "rc")})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func TestSpawnExitLogAndDirectory(t *testing.T) {
	dir := t.TempDir()
	p := script(t, dir, "pwd; echo oops >&2; exit 7\n", 0o755)
	log := filepath.Join(t.TempDir(), "r.log")
	if err := os.WriteFile(log, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := Spawn("/proc", Spec{Script: p, Env: []string{"PATH=/usr/bin:/bin", "CLP_EVENT=START", "CLP_FACTOR=GROUPMOVE", "CLP_SERVER=HOME"}, Log: log, RCFile: filepath.Join(dir, "rc")})
	if err != nil {
		t.Fatal(err)
	}
	res := j.Wait(context.Background())
	if res.Code != 7 || res.Killed || res.OK() {
		t.Fatalf("result %+v, want exit 7", res)
	}
	b, _ := os.ReadFile(log)
	// Each run is framed: a header with the event, a footer with the pid and how it ended.
	frame := regexp.MustCompile(`^earlier\n--- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d start.sh started: CLP_EVENT=START CLP_FACTOR=GROUPMOVE CLP_SERVER=HOME\n` +
		regexp.QuoteMeta(dir) + `\noops\n--- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d start.sh ended: pid ` + strconv.Itoa(j.ScriptPID) + `, exit status 7\n$`)
	if !frame.Match(b) {
		t.Fatalf("log = %q\nwant %s", b, frame)
	}
	if got := ScriptOutput(string(b)); got != "earlier\n"+dir+"\noops\n" {
		t.Fatalf("ScriptOutput = %q", got)
	}
}

// A run killed at its timeout gets its footer from Wait: the wrapper died with it.
func TestSpawnKilledFooter(t *testing.T) {
	dir := t.TempDir()
	p := script(t, dir, "echo going; sleep 100\n", 0o755)
	log := filepath.Join(dir, "r.log")
	j, err := Spawn("/proc", Spec{Script: p, Env: []string{"PATH=/usr/bin:/bin"}, Log: log, RCFile: filepath.Join(dir, "rc")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if res := j.Wait(ctx); !res.Killed {
		t.Fatalf("result %+v, want killed", res)
	}
	b, _ := os.ReadFile(log)
	want := regexp.MustCompile(`going\n--- \d{4}-\d\d-\d\d \d\d:\d\d:\d\d start.sh ended: pid ` + strconv.Itoa(j.ScriptPID) + `, killed at its timeout\n$`)
	if !want.Match(b) {
		t.Fatalf("log = %q\nwant %s", b, want)
	}
	if got := ScriptOutput(string(b)); got != "going\n" {
		t.Fatalf("ScriptOutput = %q", got)
	}
}

func TestSpawnNonExecutableRunsUnderSh(t *testing.T) {
	dir := t.TempDir()
	j := spawn(t, dir, "exit 0\n", 0o644)
	if res := j.Wait(context.Background()); !res.OK() {
		t.Fatalf("result %+v", res)
	}
}

// A timeout kills the whole process group: the script and what it started.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	j := spawn(t, dir, "sleep 600 &\necho $! > child\nwait\n", 0o755)
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
	j := spawn(t, dir, "sleep 0.3; exit 5\n", 0o755)
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

// A run record naming something that is not an exit-status file (a damaged record: /dev/zero)
// gives an unknown status at once instead of reading forever.
func TestRecordedBounded(t *testing.T) {
	if r, ok := (JobInfo{RCFile: "/dev/zero"}).Recorded(); ok || r.Code != -1 {
		t.Fatalf("Recorded(/dev/zero) = %+v, %v", r, ok)
	}
}
