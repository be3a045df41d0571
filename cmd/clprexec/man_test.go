package main

import (
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, and --help and --version answer.
func TestDocs(t *testing.T) {
	commandtest.Docs(t, spec(), "../../man/clprexec.8", run)
}

// An option clprexec does not have is named as typed, not as urfave's "flag provided but not
// defined: -x".
func TestUnknownOptions(t *testing.T) {
	commandtest.Unknown(t, spec(), run, commandtest.NoEnv)
}

func FuzzArgs(f *testing.F) {
	commandtest.Fuzz(f, spec(), run, commandtest.FakeClpd(f))
}
