package main

import (
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, --help and --version answer, and
// an option it does not have is named as typed (not as urfave's "flag provided but not defined").
func TestDocs(t *testing.T) {
	commandtest.Command(t, spec(), "../../man/clpmember.8", run)
}

func FuzzArgs(f *testing.F) { commandtest.Fuzz(f, spec(), run, commandtest.FakeClpd(f)) }
