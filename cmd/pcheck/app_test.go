package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/cmdtest"
	"clpkit/internal/syslogtest"
	"clpkit/pkg/psaver"
)

func TestMain(m *testing.M) {
	cmdtest.Child("pcheck", run)
	os.Exit(m.Run())
}

// TestRefusals runs pcheck in-process on command lines and pfiles it must refuse: one line on
// stderr, the documented status, nothing on stdout, and the same line in syslog for pfile and
// instance problems (under a cluster monitor, syslog is where the operator looks).
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	script := cmdtest.RestartScript(t, dir)
	good := cmdtest.WriteFile(t, dir, "pfile_good", "IPCKEY 0x77\n/usr/bin/java:"+script+":86400:3:exit\n", 0o644)
	badGrace := cmdtest.WriteFile(t, dir, "pfile_grace", "IPCKEY 0x78\n\n/usr/bin/java:"+script+":8640O:3:exit\n", 0o644)
	loose := cmdtest.WriteFile(t, dir, "pfile_loose", "IPCKEY 0x79\n/usr/bin/java:"+script+":86400:3:exit\n", 0o666)
	badAct := cmdtest.WriteFile(t, dir, "pfile_act", "IPCKEY 0x7a\n/usr/bin/java:"+script+":86400:3:reboot\n", 0o644)
	runDir := filepath.Join(dir, "run")

	// Another pcheck holds the good pfile.
	held, err := psaver.Claim(runDir, good, 0x77, 4321)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		logged bool
	}{
		{"no -f", []string{}, 2, "pcheck: -f pfile is required (see pcheck --help)", false},
		{"operand", []string{"-f", good, "extra"}, 2, `pcheck: unexpected argument "extra" (see pcheck --help)`, false},
		{"unknown flag", []string{"-x"}, 2, "pcheck: option -x is not supported yet", false},
		{"bad timeout", []string{"-f", good, "--script-timeout", "0"}, 2, "pcheck: --script-timeout takes a number of seconds from 1 to 86400, not 0.", false},
		{"timeout too long", []string{"-f", good, "--script-timeout", "9223372036854775808"}, 2, "pcheck: --script-timeout takes a number of seconds from 1 to 86400, not 9223372036854775808.", false},
		{"unknown long option", []string{"-f", good, "--grp"}, 2, "pcheck: option --grp is not supported yet", false},
		{"missing pfile", []string{"-f", filepath.Join(dir, "none")}, 2, "pcheck: " + filepath.Join(dir, "none") + ": no such file or directory", true},
		{"bad grace", []string{"-f", badGrace}, 2, "pcheck: " + badGrace + `:3: grace: "8640O" is not a whole number of seconds from 0 to 31536000`, true},
		{"world-writable pfile", []string{"-f", loose}, 2, "pcheck: " + loose + ": mode 0666 lets group or others write it: chmod 644 (-rw-r--r--)", true},
		{"unknown action", []string{"-f", badAct}, 2, "pcheck: " + badAct + `:2: retry_over_action: unknown action "reboot": accepted are exit, continue`, true},
		{"already running", []string{"\u2013f", good}, 3, "pcheck: " + good + " is already watched by pcheck (pid 4321)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock, logged := syslogtest.Listen(t, "")
			env := cmdtest.Env(map[string]string{psaver.EnvSyslogSocket: sock, psaver.EnvRunDir: runDir, "CLPKIT_ALERT_LOG": filepath.Join(dir, "none.log")})
			cmdtest.Expect(t, "pcheck", run, tt.args, env, tt.code, "", tt.stderr+"\n")
			select {
			case msg := <-logged:
				if !tt.logged {
					t.Errorf("logged %q", msg)
				} else if want := strings.TrimPrefix(tt.stderr, "pcheck: ") + "\n"; !strings.HasSuffix(msg, "]: "+want) || !strings.HasPrefix(msg, "<27>") {
					t.Errorf("syslog got %q, want err priority and %q", msg, want)
				}
			case <-time.After(200 * time.Millisecond):
				if tt.logged {
					t.Error("nothing logged")
				}
			}
		})
	}
}

// Without syslog, a refused pcheck still says one line: "syslog is not available" came first
// on every call, before the refusal the man page documents.
func TestRefusalWithoutSyslog(t *testing.T) {
	dir := t.TempDir()
	pfile := cmdtest.WriteFile(t, dir, "pfile", "IPCKEY 0x7b\n/usr/bin/java:"+cmdtest.RestartScript(t, dir)+":86400:3:exit\n", 0o644)
	runDir := filepath.Join(dir, "run")
	held, err := psaver.Claim(runDir, pfile, 0x7b, 4321)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	env := cmdtest.Env(map[string]string{psaver.EnvSyslogSocket: filepath.Join(dir, "no-syslog"), psaver.EnvRunDir: runDir,
		"CLPKIT_ALERT_LOG": filepath.Join(dir, "none.log")})
	for _, tt := range []struct{ args, stderr string }{
		{"-f " + pfile, "pcheck: " + pfile + " is already watched by pcheck (pid 4321)\n"},
		{"-f " + filepath.Join(dir, "none"), "pcheck: " + filepath.Join(dir, "none") + ": no such file or directory\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"pcheck"}, strings.Fields(tt.args)...), &stdout, &stderr, env)
		if code == 0 || stderr.String() != tt.stderr {
			t.Errorf("pcheck %s: status %d, stderr %q; want %q", tt.args, code, stderr.String(), tt.stderr)
		}
	}
}

// A pcheck that starts without the syslog it expects says so once, at its start, and not again
// while it runs.
func TestSyslogWarningOnce(t *testing.T) {
	dir := t.TempDir()
	pfile := cmdtest.WriteFile(t, dir, "pfile", "IPCKEY 0x7c\nMONITOR_INTERVAL 1\n/nonexistent/java:"+cmdtest.RestartScript(t, dir)+":86400:1000:continue\n", 0o644)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-f", pfile)
	cmd.Env = []string{cmdtest.ChildEnv + "=1", psaver.EnvSyslogSocket + "=" + filepath.Join(dir, "no-syslog"),
		psaver.EnvRunDir + "=" + filepath.Join(dir, "run"), "CLPKIT_ALERT_LOG=" + filepath.Join(dir, "none.log")}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// Several messages after the start (the entry's restarts) are enough to see the warning is
	// not repeated with them.
	var stderr strings.Builder
	deadline := time.After(20 * time.Second)
	for n := 0; n < 6; n++ {
		select {
		case l := <-lines:
			stderr.WriteString(l + "\n")
		case <-deadline:
			t.Fatalf("pcheck said too little:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		stderr.WriteString(l + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("pcheck after SIGTERM: %v\n%s", err, stderr.String())
	}
	warning := "pcheck: syslog is not available"
	if n := strings.Count(stderr.String(), warning); n != 1 || !strings.HasPrefix(stderr.String(), warning) {
		t.Errorf("the warning is said %d times, want once and first:\n%s", n, stderr.String())
	}
}
