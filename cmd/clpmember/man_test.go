package main

import (
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, and --help and --version answer.
func TestDocs(t *testing.T) {
	commandtest.Docs(t, spec(), "../../man/clpmember.8", run)
}

// An option clpmember does not have is named as typed.
func TestUnknownOptions(t *testing.T) {
	commandtest.Unknown(t, spec(), run, commandtest.NoEnv)
}

func FuzzArgs(f *testing.F) {
	commandtest.Fuzz(f, spec(), run, commandtest.FakeClpd(f))
}
