package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/alert"
)

type procResult struct {
	code           int
	stdout, stderr string
}

// runBinary runs bin with args and the given alert log and server, and nothing else of ours
// from the environment.
func runBinary(t *testing.T, bin, logPath string, args ...string) procResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CLPKIT_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, alert.EnvPath+"="+logPath, alert.EnvServer+"=server1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return procResult{code, stdout.String(), stderr.String()}
}

// TestBinary builds the command once and runs it as a real process in every subtest.
func TestBinary(t *testing.T) {
	bin := cmdtest.Build(t, "clplogcmd")
	t.Run("cases", func(t *testing.T) { testBinaryCases(t, bin) })
	t.Run("concurrent", func(t *testing.T) { testBinaryConcurrent(t, bin) })
}

func testBinaryCases(t *testing.T, bin string) {
	_, statErr := os.Stat("/dev/log")
	haveSyslog := statErr == nil

	type want struct {
		id    int
		level string
		text  string
	}
	tests := []struct {
		name       string
		args       []string
		logIsDir   bool   // make the alert log path a directory, so that it cannot be written
		wantCode   int    // exit status
		wantRecord *want  // the one record expected in the alert log, nil for none
		wantStderr string // exact stderr
		needNoSys  bool   // only meaningful on a machine without a syslog socket
	}{
		{name: "legacy -m -i -l", args: []string{"-m", "disk almost full", "-i", "3", "-l", "WARN", "--alert"},
			wantRecord: &want{3, "WARN", "disk almost full"}},
		{name: "-L before -m", args: []string{"-L", "WARN", "-m", "network delay observed", "--alert"},
			wantRecord: &want{1, "WARN", "network delay observed"}},
		{name: "--alert --syslog -l ERROR, no syslog", args: []string{"-m", "vMA#1 kills iSCSI#1", "--alert", "--syslog", "-l", "ERROR"},
			needNoSys: true, wantCode: 1, wantRecord: &want{1, "ERR", "vMA#1 kills iSCSI#1"},
			wantStderr: "clplogcmd: syslog is not available: no socket at /dev/log, /var/run/syslog or /var/run/log\n"},
		{name: "default destinations", args: []string{"-m", "group started", "-l", "info"},
			wantRecord: &want{1, "INFO", "group started"}},
		{name: "--mail notice", args: []string{"-L", "WARN", "--mail", "-m", "x", "--alert"},
			wantRecord: &want{1, "WARN", "x"},
			wantStderr: "clplogcmd: --mail ignored: no mail destination is configured in clpkit\n"},
		{name: "missing -m", args: []string{"-i", "3"}, wantCode: 1,
			wantStderr: "clplogcmd: missing -m message (see clplogcmd --help)\n"},
		{name: "bad level", args: []string{"-m", "x", "-l", "CRIT"}, wantCode: 1,
			wantStderr: "clplogcmd: -l: unknown level \"CRIT\": accepted are INFO, WARN, WARNING, ERR, ERROR (any case)\n"},
		{name: "bad -i", args: []string{"-m", "x", "-i", "3a"}, wantCode: 1,
			wantStderr: "clplogcmd: -i takes an event ID from 0 to 2147483647, not \"3a\".\n"},
		{name: "unknown option", args: []string{"-m", "x", "--event", "3"}, wantCode: 1,
			wantStderr: "clplogcmd: option --event is not supported yet\n"},
		{name: "unwritable alert log", args: []string{"-m", "x", "--alert"}, logIsDir: true, wantCode: 1,
			wantStderr: "clplogcmd: cannot write alert log LOG: is a directory\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needNoSys && haveSyslog {
				t.Skip("this machine has /dev/log; the case is about a machine without one")
			}
			logPath := filepath.Join(t.TempDir(), "log", "alert.log")
			if tt.logIsDir {
				if err := os.MkdirAll(logPath, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			before := time.Now().Truncate(time.Millisecond)
			r := runBinary(t, bin, logPath, tt.args...)
			after := time.Now()

			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if want := strings.ReplaceAll(tt.wantStderr, "LOG", logPath); r.stderr != want {
				t.Errorf("stderr = %q, want %q", r.stderr, want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q", r.stdout)
			}
			if tt.logIsDir {
				return
			}
			b, err := os.ReadFile(logPath)
			if tt.wantRecord == nil {
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("alert log exists after a failed call: %q, %v", b, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Check the line field by field, as a script with awk would.
			line := strings.TrimSuffix(string(b), "\n")
			if strings.Contains(line, "\n") {
				t.Fatalf("more than one line: %q", b)
			}
			f := strings.SplitN(line, " ", 6)
			if len(f) != 6 {
				t.Fatalf("line %q has %d fields", line, len(f))
			}
			ts, err := time.Parse(alert.TimeLayout, f[0])
			if err != nil || ts.Before(before) || ts.After(after) || len(f[0]) != len("2026-11-22T02:35:18.123+00:00") {
				t.Errorf("time field %q (%v) not in [%v, %v]", f[0], err, before, after)
			}
			w := tt.wantRecord
			got := f[1] + "|" + f[2] + "|" + f[3] + "|" + f[4] + "|" + f[5]
			if exp := "server1|logcmd|" + strconv.Itoa(w.id) + "|" + w.level + "|" + w.text; got != exp {
				t.Errorf("fields %q, want %q", got, exp)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		r := runBinary(t, bin, filepath.Join(t.TempDir(), "alert.log"), "--help")
		if r.code != 0 || r.stderr != "" || r.stdout != spec().Help() {
			t.Errorf("exit %d, stderr %q, stdout:\n%s", r.code, r.stderr, r.stdout)
		}
	})
}

// Scripts of several resources log at the same moment; every record must arrive whole.
func testBinaryConcurrent(t *testing.T, bin string) {
	logPath := filepath.Join(t.TempDir(), "alert.log")
	const procs = 16
	long := strings.Repeat("x", 8000)
	var wg sync.WaitGroup
	results := make([]procResult, procs)
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = runBinary(t, bin, logPath, "-m", fmt.Sprintf("p%d %s", i, long), "-i", strconv.Itoa(i), "--alert")
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("process %d: exit %d, %q", i, r.code, r.stderr)
		}
	}
	recs, err := alert.Read(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != procs {
		t.Fatalf("%d records, want %d", len(recs), procs)
	}
	seen := map[int]bool{}
	for _, r := range recs {
		if r.Text != fmt.Sprintf("p%d %s", r.ID, long) || seen[r.ID] {
			t.Fatalf("mangled or repeated record %d: %.60q", r.ID, r.Text)
		}
		seen[r.ID] = true
	}
}
