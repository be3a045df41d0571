package main

import (
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, and --help and --version answer.
func TestDocs(t *testing.T) {
	commandtest.Docs(t, spec(), "../../man/padmin.8", run)
}

// An option padmin does not have is named as typed, not as urfave's "flag provided but not
// defined: -x".
func TestUnknownOptions(t *testing.T) {
	commandtest.Unknown(t, spec(), run, commandtest.NoEnv)
}

// The action would stop or reload a pcheck of this machine: only the reading of the line is fuzzed.
func FuzzArgs(f *testing.F) {
	commandtest.FuzzParse(f, spec())
}
