package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"clpkit/compat"
	"clpkit/pkg/psaver"
)

// TestRefusals runs padmin in-process where no pcheck answers or the command line is wrong.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dump := write("ps.dmp", "pname  = /usr/bin/java\n")
	pf := write("pfile", "IPCKEY 0x2a\nSHM_DUMP_FILE "+dump+"\n/usr/bin/java:/x:y\n")
	noDump := write("pfile2", "IPCKEY 0x2b\n")
	bad := write("pfile3", "IPCKEY zz\n")
	runDir := filepath.Join(dir, "run")
	sock := filepath.Join(runDir, "0x0000002a.sock")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no -f", []string{"-c", "stop"}, 2, "padmin: -f pfile is required (see padmin --help)"},
		{"unknown option", []string{"-f", pf, "-c", "stop", "--all"}, 2, "padmin: option --all is not supported yet"},
		{"-c without its command", []string{"-f", pf, "-c"}, 2, "padmin: option -c needs its argument command (see padmin --help)"},
		{"no -c", []string{"-f", pf}, 2, "padmin: -c command is required: show pent, stop, start or reload"},
		{"show without pent", []string{"-f", pf, "-c", "show"}, 2, `padmin: unknown command "show": accepted are show pent, stop, start, reload`},
		{"unknown command", []string{"-f", pf, "-c", "kill"}, 2, `padmin: unknown command "kill": accepted are show pent, stop, start, reload`},
		{"bad IPCKEY", []string{"-f", bad, "-c", "stop"}, 2, "padmin: " + bad + `:1: IPCKEY: "zz" is not a number: write the key in hexadecimal, e.g. 0x0000abcd`},
		// The seed's own command line, en dashes and all; the broken PENT line does not matter.
		{"no pcheck, seed's dashes", []string{"\u2013f", pf, "\u2013c", "show", "pent"}, 1,
			"padmin: no pcheck is running for " + pf + " (IPCKEY 0x0000002a: nothing listens on " + sock + "); its last state is in " + dump},
		{"no pcheck, quoted command, no dump", []string{"-c", "show pent", "-f", noDump}, 1,
			"padmin: no pcheck is running for " + noDump + " (IPCKEY 0x0000002b: nothing listens on " + filepath.Join(runDir, "0x0000002b.sock") + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return map[string]string{psaver.EnvRunDir: runDir}[k] }
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"padmin"}, tt.args...), &stdout, &stderr, env)
			if code != tt.code || stderr.String() != tt.stderr+"\n" || stdout.Len() != 0 {
				t.Errorf("exit %d, stderr %q, stdout %q\nwant exit %d, stderr %q", code, stderr.String(), stdout.String(), tt.code, tt.stderr)
			}
		})
	}
}

// Without syslog, padmin's line goes to standard error alone: "syslog is not available" came
// before it on every call.
func TestNoSyslogWarning(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "start.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pfile := filepath.Join(dir, "pfile")
	if err := os.WriteFile(pfile, []byte("IPCKEY 0x2c\n/nonexistent/java:"+script+":86400:1000:continue\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(dir, "run")
	cfg, err := compat.LoadPfile(pfile)
	if err != nil {
		t.Fatal(err)
	}
	// A pcheck with no entry, in this process.
	inst, err := psaver.Claim(runDir, cfg.Pfile, cfg.IPCKey, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	eng, err := psaver.New(cfg, psaver.Options{PID: os.Getpid(), Notify: func(psaver.Event) {}, State: func(psaver.Snapshot) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { _ = eng.Run(ctx) })
	srv := &psaver.Server{Engine: eng, Pfile: cfg.Pfile, PID: os.Getpid(), Load: func() (psaver.Config, error) { return compat.LoadPfile(pfile) }}
	wg.Go(func() { _ = srv.Serve(ctx, inst.Listener) })

	env := func(k string) string {
		return map[string]string{psaver.EnvRunDir: runDir, psaver.EnvSyslogSocket: filepath.Join(dir, "no-syslog"),
			"CLPKIT_ALERT_LOG": filepath.Join(dir, "none.log")}[k]
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"padmin", "-f", pfile, "-c", "stop"}, &stdout, &stderr, env)
	want := "]: Command execute. [stop] pfile='" + pfile + "'\n"
	if code != 0 || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("padmin -c stop without syslog: status %d, stdout %q, stderr %q; want 0 and one line ending %q", code, stdout.String(), stderr.String(), want)
	}
}
