package main

import (
	"bytes"
	"strings"
	"testing"

	"clpkit/internal/command/commandtest"
)

// The man page has the synopsis and options of the flag table, --help and --version answer, and
// an option it does not have is named as typed (not as urfave's "flag provided but not defined").
func TestDocs(t *testing.T) {
	commandtest.Command(t, spec(), "../../man/clpgrp.8", run)
}

// --apito is range-checked before anything is asked: 18446744074 seconds once overflowed into a
// 0.29 s wait.
func TestApitoRange(t *testing.T) {
	for _, v := range []string{"0", "86401", "18446744074", "-5", "99999999999999999999"} {
		var out, errOut bytes.Buffer
		args := append(strings.Fields("clpgrp -s g"), "--apito", v)
		code := run(args, &out, &errOut, func(string) string { return "" })
		want := "Invalid option. --apito takes a number of seconds from 1 to 86400, not " + v + ".\n"
		if code != 1 || out.Len() != 0 || errOut.String() != want {
			t.Errorf("%s: exit %d, stderr %q, want 1 and %q", strings.Join(args, " "), code, errOut.String(), want)
		}
	}
}

func FuzzArgs(f *testing.F) { commandtest.Fuzz(f, spec(), run, commandtest.FakeClpd(f)) }
