package main

import (
	"bytes"
	"io"
	"os"
	"testing"

	"clpkit/internal/command"
)

// The man page repeats the synopsis and options of --help word for word, and --help lists
// exactly the flags the command parses.
func TestDocs(t *testing.T) {
	command.TestDocs(t, "mfds", "../../man/mfds.8", run, newApp(io.Discard, io.Discard, os.Getenv))
}

// -h, -? and /? print the help and act on nothing: "mfds -h" once acted on the default.
func TestHelpLetters(t *testing.T) {
	for _, a := range []string{"-h", "-?", "/?"} {
		var out, errOut bytes.Buffer
		code := run([]string{"mfds", a}, &out, &errOut, func(string) string { return "" })
		if code != 0 || out.String() != help || errOut.Len() != 0 {
			t.Errorf("mfds %s: exit %d, stderr %q, stdout is the help: %v", a, code, errOut.String(), out.String() == help)
		}
	}
}
