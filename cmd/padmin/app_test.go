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
	"clpkit/internal/cmdtest"
	"clpkit/pkg/psaver"
)

// TestRefusals runs padmin in-process where no pcheck answers or the command line is wrong.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	dump := cmdtest.WriteFile(t, dir, "ps.dmp", "pname  = /usr/bin/java\n", 0o644)
	pf := cmdtest.WriteFile(t, dir, "pfile", "IPCKEY 0x2a\nSHM_DUMP_FILE "+dump+"\n/usr/bin/java:/x:y\n", 0o644)
	noDump := cmdtest.WriteFile(t, dir, "pfile2", "IPCKEY 0x2b\n", 0o644)
	bad := cmdtest.WriteFile(t, dir, "pfile3", "IPCKEY zz\n", 0o644)
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
			cmdtest.Expect(t, "padmin", run, tt.args, cmdtest.Env(map[string]string{psaver.EnvRunDir: runDir}), tt.code, "", tt.stderr+"\n")
		})
	}
}

// Without syslog, padmin's line goes to standard error alone: "syslog is not available" came
// before it on every call.
func TestNoSyslogWarning(t *testing.T) {
	dir := t.TempDir()
	pfile := cmdtest.WriteFile(t, dir, "pfile", "IPCKEY 0x2c\n/nonexistent/java:"+cmdtest.RestartScript(t, dir)+":86400:1000:continue\n", 0o644)
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

	env := cmdtest.Env(map[string]string{psaver.EnvRunDir: runDir, psaver.EnvSyslogSocket: filepath.Join(dir, "no-syslog"),
		"CLPKIT_ALERT_LOG": filepath.Join(dir, "none.log")})
	var stdout, stderr bytes.Buffer
	code := run([]string{"padmin", "-f", pfile, "-c", "stop"}, &stdout, &stderr, env)
	want := "]: Command execute. [stop] pfile='" + pfile + "'\n"
	if code != 0 || stdout.Len() != 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("padmin -c stop without syslog: status %d, stdout %q, stderr %q; want 0 and one line ending %q", code, stdout.String(), stderr.String(), want)
	}
}
