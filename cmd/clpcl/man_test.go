package main

import (
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, --help and --version answer, and
// an option it does not have is named as typed (not as urfave's "flag provided but not defined").
func TestDocs(t *testing.T) {
	commandtest.Command(t, spec(), "../../man/clpcl.8", run)
}

// --apito is range-checked before anything is asked: 18446744074 seconds once overflowed into a
// 0.29 s wait.
func TestApitoRange(t *testing.T) {
	for _, v := range []string{"0", "86401", "18446744074", "-5"} {
		cmdtest.Expect(t, "clpcl", run, []string{"-s", "--apito", v}, func(string) string { return "" },
			1, "", "Invalid option. --apito takes a number of seconds from 1 to 86400, not "+v+".\n")
	}
}

func FuzzArgs(f *testing.F) { commandtest.Fuzz(f, spec(), run, commandtest.FakeClpd(f)) }
