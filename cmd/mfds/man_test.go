package main

import (
	"bytes"
	"path/filepath"
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, and --help and --version answer.
func TestDocs(t *testing.T) {
	commandtest.Docs(t, spec(), "../../man/mfds.8", run)
}

// noConfig is an environment whose configuration does not exist: a fuzzed line that gets past
// the parser stops there, having done nothing.
func noConfig(tb testing.TB) func(string) string {
	missing := filepath.Join(tb.TempDir(), "mfes.toml")
	return func(k string) string {
		if k == "CLPKIT_MFES_CONFIG" {
			return missing
		}
		return ""
	}
}

func FuzzArgs(f *testing.F) {
	commandtest.Fuzz(f, spec(), run, noConfig(f))
}

// -h, -? and /? print the help and act on nothing: "mfds -h" once acted on the default.
func TestHelpLetters(t *testing.T) {
	for _, a := range []string{"-h", "-?", "/?"} {
		var out, errOut bytes.Buffer
		code := run([]string{"mfds", a}, &out, &errOut, noConfig(t))
		if code != 0 || out.String() != spec().Help() || errOut.Len() != 0 {
			t.Errorf("mfds %s: exit %d, stderr %q, stdout is the help: %v", a, code, errOut.String(), out.String() == spec().Help())
		}
	}
}
