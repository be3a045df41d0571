package main

import (
	"strings"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/internal/command/commandtest"
)

// Message 11 says which parameter and why on standard error; -n is a port, glued or not.
func TestInvalidParameterSaysWhich(t *testing.T) {
	for _, tt := range []struct{ args, stderr string }{
		{"w -d /e -n 70000", "Invalid parameter in the clp_nfsmon. -n takes a port number from 1 to 65535, not 70000.\n"},
		{"w -d /e -n0", "Invalid parameter in the clp_nfsmon. -n takes a port number from 1 to 65535, not 0.\n"},
		{"w -d /e -a nfs-server", "Invalid parameter in the clp_nfsmon. -a \"nfs-server\": not an IP address.\n"},
		{"w -d /e -s share", "Invalid parameter in the clp_nfsmon. Option -s is not supported yet.\n"},
		{"w -d /e -disp", "Invalid parameter in the clp_nfsmon. -disp goes alone after the monitor ID.\n"},
	} {
		env, _ := cmdtest.FsmonEnv(t)
		cmdtest.Expect(t, "clp_nfsmon", run, strings.Fields(tt.args), env, 2, "", tt.stderr)
	}
}

// A fuzzed line that would watch is refused instead of probing for ever.
func FuzzArgs(f *testing.F) {
	env, _ := cmdtest.FsmonEnv(f)
	commandtest.Fuzz(f, spec().Table(), cmdtest.FsmonWithoutWatch(spec()), env)
}
