package main

import (
	"path/filepath"
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, and --help and --version answer.
func TestDocs(t *testing.T) {
	commandtest.Docs(t, spec(), "../../man/mdump.8", run)
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
