package main

import (
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, and --help and --version answer.
func TestDocs(t *testing.T) {
	commandtest.Docs(t, spec(), "../../man/casstop.8", run)
}

func FuzzArgs(f *testing.F) { commandtest.Fuzz(f, spec(), run, commandtest.NoMFESConfig(f)) }

// -h, -? and /? print the help and act on nothing.
func TestHelpLetters(t *testing.T) {
	commandtest.HelpLetters(t, spec(), run, commandtest.NoMFESConfig(t))
}
