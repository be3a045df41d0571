package main

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"clpkit/internal/command/commandtest"
	"clpkit/internal/fsmoncmd"
	"clpkit/pkg/fsmon"
)

func world(t testing.TB) func(string) string {
	dir := t.TempDir()
	vars := map[string]string{"CLPKIT_ALERT_LOG": filepath.Join(dir, "alert.log"), "CLPKIT_SERVER": "server1",
		fsmon.EnvDir: filepath.Join(dir, "fsmon")}
	return func(k string) string { return vars[k] }
}

// Message 11 says which parameter and why on standard error; -n is a port, glued or not.
func TestInvalidParameterSaysWhich(t *testing.T) {
	for _, tt := range []struct{ args, stderr string }{
		{"w -d /e -n 70000", "Invalid parameter in the clp_nfsmon. -n takes a port number from 1 to 65535, not 70000.\n"},
		{"w -d /e -n0", "Invalid parameter in the clp_nfsmon. -n takes a port number from 1 to 65535, not 0.\n"},
		{"w -d /e -a nfs-server", "Invalid parameter in the clp_nfsmon. -a \"nfs-server\": not an IP address.\n"},
		{"w -d /e -s share", "Invalid parameter in the clp_nfsmon. Option -s is not supported yet.\n"},
		{"w -d /e -disp", "Invalid parameter in the clp_nfsmon. -disp goes alone after the monitor ID.\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"clp_nfsmon"}, strings.Fields(tt.args)...), &stdout, &stderr, world(t))
		if code != 2 || stdout.Len() != 0 || stderr.String() != tt.stderr {
			t.Errorf("clp_nfsmon %s: status %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, stdout.String(), stderr.String(), tt.stderr)
		}
	}
}

// A fuzzed line that would watch is refused instead of probing for ever.
func FuzzArgs(f *testing.F) {
	s := spec()
	s.Build = func(fsmoncmd.Values, func(string) string) (fsmon.Probe, error) {
		return nil, &fsmoncmd.UsageError{Err: errors.New("fuzzing: no watch")}
	}
	run := func(args []string, stdout, stderr io.Writer, env func(string) string) int {
		return fsmoncmd.Run(s, args, stdout, stderr, env)
	}
	commandtest.Fuzz(f, s.Table(), run, world(f))
}
