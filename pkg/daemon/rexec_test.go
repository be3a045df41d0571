package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/api"
	"clpkit/pkg/config"
	"clpkit/pkg/procwatch"
)

// clprexec --script runs only a file of the script directory that its owner alone may change,
// waits for it up to the request's timeout, kills its whole process group at the timeout, and
// says how it ended; the log shows each run.
func TestRexecScript(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{Paths: config.Paths{ScriptDir: filepath.Join(dir, "trnreq"), LogDir: dir}, Timing: config.Timing{APITimeout: time.Minute}}
	s := &service{cfg: cfg, local: "server1", scriptEnv: []string{"PATH=/usr/bin:/bin", "CLP_SERVER_NAME=server1"}}
	pidFile := filepath.Join(dir, "child.pid")
	write := func(name, body string, mode os.FileMode) {
		if err := os.MkdirAll(cfg.Paths.ScriptDir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(cfg.Paths.ScriptDir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("ok.sh", "echo \"ran on $CLP_SERVER_NAME in $PWD\"\nexit 0\n", 0o755)
	write("three.sh", "exit 3\n", 0o755)
	write("open.sh", "exit 0\n", 0o777)
	write("noexec.sh", "exit 0\n", 0o644)
	write("slow.sh", "sleep 100 &\necho $! > "+pidFile+"\nwait\n", 0o755)
	for _, tc := range []struct {
		script  string
		timeout int
		want    string
	}{
		{"ok.sh", 0, ""},
		{"three.sh", 0, "The script three.sh on server server1 ended with exit status 3."},
		{"missing.sh", 0, "The script missing.sh does not exist on server server1: place it in " + cfg.Paths.ScriptDir + " there."},
		{"../ok.sh", 0, `The script "../ok.sh" is not a file name: clprexec --script runs a file of ` + cfg.Paths.ScriptDir + " on server server1, named without a directory."},
		{"open.sh", 0, "The script " + cfg.Paths.ScriptDir + "/open.sh on server server1 may be changed by others than its owner (mode 0777): make it chmod 0755 or stricter."},
		{"noexec.sh", 0, "The script " + cfg.Paths.ScriptDir + "/noexec.sh on server server1 is not executable: chmod 0755 it."},
		{"slow.sh", 1, "The script slow.sh on server server1 was killed at its timeout (1s)."},
	} {
		start := time.Now()
		_, err := s.Rexec(context.Background(), api.RexecRequest{Op: api.RexecScript, Script: tc.script, Timeout: tc.timeout})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: %q\nwant %q", tc.script, got, tc.want)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s took %v", tc.script, took)
		}
	}
	// The timed-out script's child went with it.
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if st, err := procwatch.Stat("/proc", pid); err == nil && !st.Exited() {
		t.Errorf("the timed-out script's child %d still runs", pid)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "trnreq.log"))
	for _, w := range []string{"clprexec --script ok.sh: started\n", "ran on server1 in " + cfg.Paths.ScriptDir + "\n", "clprexec --script ok.sh: exit status 0\n",
		"clprexec --script three.sh: exit status 3\n", "clprexec --script slow.sh: killed at its timeout (1s)\n"} {
		if !strings.Contains(string(log), w) {
			t.Errorf("trnreq.log lacks %q:\n%s", w, log)
		}
	}
}
