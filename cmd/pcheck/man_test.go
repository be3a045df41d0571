package main

import (
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, --help and --version answer, and
// an option it does not have is named as typed (not as urfave's "flag provided but not defined").
func TestDocs(t *testing.T) {
	commandtest.Command(t, spec(), "../../man/pcheck.8", run)
}

// The action would watch and restart processes: only the reading of the line is fuzzed.
func FuzzArgs(f *testing.F) {
	commandtest.FuzzParse(f, spec())
}
