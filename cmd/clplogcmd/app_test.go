package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"clpkit/pkg/alert"
)

// fixedNow is the clock of the in-process tests, in a non-UTC zone so the offset is exercised.
var fixedNow = time.Date(2026, 11, 22, 11, 35, 18, 123456789, time.FixedZone("JST", 9*3600))

const fixedStamp = "2026-11-22T11:35:18.123+09:00"

// fakeSyslog stands in for the local syslog socket.
type fakeSyslog struct {
	mu   sync.Mutex
	recs []alert.Record
}

func (f *fakeSyslog) Write(_ context.Context, r alert.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, r)
	return nil
}

type appRun struct {
	code           int
	stdout, stderr string
	file           string // alert log content, "" when the file does not exist
	syslog         []alert.Record
}

// runInProcess runs clplogcmd with args against a private alert log. haveSyslog says whether
// the machine "has" a syslog socket; env adds environment variables.
func runInProcess(t *testing.T, haveSyslog bool, env map[string]string, args ...string) appRun {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "log", "alert.log")
	vars := map[string]string{alert.EnvPath: logPath}
	for k, v := range env {
		vars[k] = v
	}
	if vars[alert.EnvPath] == "-" { // the test wants no override
		delete(vars, alert.EnvPath)
	}
	sys := &fakeSyslog{}
	var stdout, stderr bytes.Buffer
	d := deps{
		stdout:   &stdout,
		stderr:   &stderr,
		getenv:   func(k string) string { return vars[k] },
		hostname: func() (string, error) { return "host1.example.com", nil },
		now:      func() time.Time { return fixedNow },
		dialSyslog: func() (alert.Sink, error) {
			if !haveSyslog {
				return nil, alert.ErrNoSyslog
			}
			return sys, nil
		},
	}
	code := runWith(d, append([]string{"clplogcmd"}, args...))
	r := appRun{code: code, stdout: stdout.String(), stderr: stderr.String(), syslog: sys.recs}
	if b, err := os.ReadFile(vars[alert.EnvPath]); err == nil {
		r.file = string(b)
	}
	return r
}

func TestRun(t *testing.T) {
	line := func(id, level, text string) string {
		return fixedStamp + " host1 logcmd " + id + " " + level + " " + text + "\n"
	}
	const noFile = ""
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		noSyslog   bool   // the machine has no syslog socket
		wantCode   int    // exit status
		wantFile   string // alert log content
		wantSyslog string // level and text that reached syslog, "" for none
		wantErr    string // substring of the one stderr line, "" for an empty stderr
	}{
		// The legacy forms, from real scripts.
		{name: "legacy -m -i -l", args: []string{"-m", "disk full", "-i", "3", "-l", "WARN"},
			wantFile: line("3", "WARN", "disk full"), wantSyslog: "WARN disk full"},
		{name: "capital -L first", args: []string{"-L", "WARN", "-m", "network delay"},
			wantFile: line("1", "WARN", "network delay"), wantSyslog: "WARN network delay"},
		{name: "defaults: ID 1, INFO, both destinations", args: []string{"-m", "started"},
			wantFile: line("1", "INFO", "started"), wantSyslog: "INFO started"},
		{name: "--alert --syslog -l ERROR", args: []string{"-m", "vMA#1 kills iSCSI#1", "--alert", "--syslog", "-l", "ERROR"},
			wantFile: line("1", "ERR", "vMA#1 kills iSCSI#1"), wantSyslog: "ERR vMA#1 kills iSCSI#1"},
		{name: "lower-case warn", args: []string{"-m", "x", "-l", "warn"}, wantFile: line("1", "WARN", "x"), wantSyslog: "WARN x"},
		{name: "lower-case err", args: []string{"-m", "x", "-l", "err"}, wantFile: line("1", "ERR", "x"), wantSyslog: "ERR x"},
		{name: "WARNING", args: []string{"-m", "x", "-l", "WARNING"}, wantFile: line("1", "WARN", "x"), wantSyslog: "WARN x"},
		{name: "mixed-case Info", args: []string{"-m", "x", "-l", "Info"}, wantFile: line("1", "INFO", "x"), wantSyslog: "INFO x"},
		{name: "-l=ERR and --m forms", args: []string{"--m", "x", "-l=ERR"}, wantFile: line("1", "ERR", "x"), wantSyslog: "ERR x"},
		{name: "message starting with a dash", args: []string{"-m", "-5 degrees", "-i", "0"},
			wantFile: line("0", "INFO", "-5 degrees"), wantSyslog: "INFO -5 degrees"},
		{name: "empty message is recorded", args: []string{"-m", ""}, wantFile: line("1", "INFO", ""), wantSyslog: "INFO "},
		{name: "multi-line message stays one record", args: []string{"-m", "a\nb\r\nc", "--alert"},
			wantFile: line("1", "INFO", "a b  c")},
		{name: "CLPKIT_SERVER names the server", args: []string{"-m", "x", "--alert"}, env: map[string]string{alert.EnvServer: "sv2"},
			wantFile: fixedStamp + " sv2 logcmd 1 INFO x\n"},

		// Destinations.
		{name: "--alert only", args: []string{"-m", "x", "--alert"}, wantFile: line("1", "INFO", "x")},
		{name: "--syslog only", args: []string{"-m", "x", "--syslog", "-l", "err"}, wantFile: noFile, wantSyslog: "ERR x"},
		{name: "default without syslog socket is silent", args: []string{"-m", "x"}, noSyslog: true,
			wantFile: line("1", "INFO", "x")},
		{name: "--syslog without socket fails", args: []string{"-m", "x", "--syslog"}, noSyslog: true,
			wantCode: 1, wantFile: noFile, wantErr: "syslog is not available"},
		{name: "--alert --syslog without socket: file written, still fails", args: []string{"-m", "x", "--alert", "--syslog"}, noSyslog: true,
			wantCode: 1, wantFile: line("1", "INFO", "x"), wantErr: "syslog is not available"},
		{name: "--mail prints a notice", args: []string{"-m", "x", "--mail"},
			wantFile: line("1", "INFO", "x"), wantSyslog: "INFO x", wantErr: "--mail ignored: no mail destination is configured in clpkit"},
		{name: "--trap prints a notice", args: []string{"--trap", "-m", "x", "--alert"},
			wantFile: line("1", "INFO", "x"), wantErr: "--trap ignored: no SNMP trap destination is configured in clpkit"},
		{name: "-L WARN --mail -m, as a real script", args: []string{"-L", "WARN", "--mail", "--trap", "-m", "x"},
			wantFile: line("1", "WARN", "x"), wantSyslog: "WARN x", wantErr: "--mail and --trap ignored"},

		// Errors: exit 1, one line, nothing written.
		{name: "missing -m", args: []string{"-l", "WARN"}, wantCode: 1, wantErr: "missing -m message"},
		{name: "no arguments", args: nil, wantCode: 1, wantErr: "missing -m message"},
		{name: "-m without value", args: []string{"-m"}, wantCode: 1, wantErr: "option -m needs its argument message (see clplogcmd --help)"},
		{name: "unknown level", args: []string{"-m", "x", "-l", "NOTICE"}, wantCode: 1,
			wantErr: `-l: unknown level "NOTICE": accepted are INFO, WARN, WARNING, ERR, ERROR (any case)`},
		{name: "-i not a number", args: []string{"-m", "x", "-i", "abc"}, wantCode: 1, wantErr: `-i takes an event ID from 0 to 2147483647, not "abc".`},
		{name: "-i negative", args: []string{"-m", "x", "-i", "-1"}, wantCode: 1, wantErr: `-i takes an event ID from 0 to 2147483647, not -1.`},
		{name: "-i too large", args: []string{"-m", "x", "-i", "2147483648"}, wantCode: 1, wantErr: `-i takes an event ID from 0 to 2147483647, not 2147483648.`},
		{name: "-i empty", args: []string{"-m", "x", "-i", ""}, wantCode: 1, wantErr: `-i takes an event ID from 0 to 2147483647, not "".`},
		{name: "unquoted message", args: []string{"-m", "disk", "full"}, wantCode: 1, wantErr: `unexpected argument "full"`},
		{name: "help is not a subcommand", args: []string{"help"}, wantCode: 1, wantErr: `unexpected argument "help"`},
		{name: "unknown option", args: []string{"-m", "x", "-x"}, wantCode: 1, wantErr: "option -x is not supported yet"},
		{name: "unwritable alert log", args: []string{"-m", "x", "--alert"}, env: map[string]string{alert.EnvPath: "/proc/no/alert.log"},
			wantCode: 1, wantErr: "cannot write alert log /proc/no/alert.log: mkdir /proc/no: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runInProcess(t, !tt.noSyslog, tt.env, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if r.file != tt.wantFile {
				t.Errorf("alert log =\n%q\nwant\n%q", r.file, tt.wantFile)
			}
			var gotSyslog string
			if len(r.syslog) > 1 {
				t.Errorf("syslog got %d records", len(r.syslog))
			}
			if len(r.syslog) == 1 {
				s := r.syslog[0]
				gotSyslog = s.Level.String() + " " + s.Text
				wantServer := "host1" // host1.example.com, cut at the first dot
				if v := tt.env[alert.EnvServer]; v != "" {
					wantServer = v
				}
				if s.Module != "logcmd" || s.Server != wantServer || !s.Time.Equal(fixedNow) {
					t.Errorf("syslog record %+v", s)
				}
			}
			if gotSyslog != tt.wantSyslog {
				t.Errorf("syslog got %q, want %q", gotSyslog, tt.wantSyslog)
			}
			if tt.wantErr == "" {
				if r.stderr != "" {
					t.Errorf("stderr = %q, want nothing", r.stderr)
				}
			} else if !strings.HasPrefix(r.stderr, "clplogcmd: ") || !strings.Contains(r.stderr, tt.wantErr) ||
				strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
				t.Errorf("stderr = %q, want one line \"clplogcmd: ...%s...\"", r.stderr, tt.wantErr)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

// Errors from several destinations are still one line.
func TestRunJoinsErrorsOnOneLine(t *testing.T) {
	r := runInProcess(t, false, map[string]string{alert.EnvPath: "/proc/no/alert.log"}, "-m", "x", "--alert", "--syslog")
	want := "clplogcmd: syslog is not available: no socket at /dev/log, /var/run/syslog or /var/run/log; " +
		"cannot write alert log /proc/no/alert.log: mkdir /proc/no: no such file or directory\n"
	if r.code != 1 || r.stderr != want {
		t.Fatalf("exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help", "-?"} {
		t.Run(arg, func(t *testing.T) {
			r := runInProcess(t, true, nil, "-m", "x", arg)
			if r.code != 0 || r.stderr != "" || r.stdout != spec().Help() {
				t.Fatalf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
			}
			if r.file != "" || len(r.syslog) != 0 {
				t.Errorf("help logged something: %q %v", r.file, r.syslog)
			}
		})
	}
}
