package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/psaver"
)

// listenSyslog is a syslog daemon for one test (a unixgram socket in a temporary directory).
func listenSyslog(t *testing.T) (string, chan string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "log")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 100)
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return p, ch
}

// TestRefusals runs pcheck in-process on command lines and pfiles it must refuse: one line on
// stderr, the documented status, nothing on stdout, and the same line in syslog for pfile and
// instance problems (under a cluster monitor, syslog is where the operator looks).
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "start.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pfile := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := pfile("pfile_good", "IPCKEY 0x77\n/usr/bin/java:"+script+":86400:3:exit\n", 0o644)
	badGrace := pfile("pfile_grace", "IPCKEY 0x78\n\n/usr/bin/java:"+script+":8640O:3:exit\n", 0o644)
	loose := pfile("pfile_loose", "IPCKEY 0x79\n/usr/bin/java:"+script+":86400:3:exit\n", 0o666)
	badAct := pfile("pfile_act", "IPCKEY 0x7a\n/usr/bin/java:"+script+":86400:3:reboot\n", 0o644)
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
		{"unknown flag", []string{"-x"}, 2, "pcheck: flag provided but not defined: -x (see pcheck --help)", false},
		{"bad timeout", []string{"-f", good, "--script-timeout", "0"}, 2, "pcheck: --script-timeout must be a positive number of seconds, not 0", false},
		{"missing pfile", []string{"-f", filepath.Join(dir, "none")}, 2, "pcheck: " + filepath.Join(dir, "none") + ": no such file or directory", true},
		{"bad grace", []string{"-f", badGrace}, 2, "pcheck: " + badGrace + `:3: grace: "8640O" is not a whole number of seconds from 0 to 31536000`, true},
		{"world-writable pfile", []string{"-f", loose}, 2, "pcheck: " + loose + ": mode 0666 lets group or others write it: chmod 644 (-rw-r--r--)", true},
		{"unknown action", []string{"-f", badAct}, 2, "pcheck: " + badAct + `:2: retry_over_action: unknown action "reboot": accepted are exit, continue`, true},
		{"already running", []string{"\u2013f", good}, 3, "pcheck: " + good + " is already watched by pcheck (pid 4321)", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock, logged := listenSyslog(t)
			env := func(k string) string {
				return map[string]string{psaver.EnvSyslogSocket: sock, psaver.EnvRunDir: runDir, "CLPKIT_ALERT_LOG": filepath.Join(dir, "none.log")}[k]
			}
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"pcheck"}, tt.args...), &stdout, &stderr, env)
			if code != tt.code || stderr.String() != tt.stderr+"\n" || stdout.Len() != 0 {
				t.Errorf("exit %d, stderr %q, stdout %q\nwant exit %d, stderr %q", code, stderr.String(), stdout.String(), tt.code, tt.stderr)
			}
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
