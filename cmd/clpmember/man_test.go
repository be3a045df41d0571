package main

import (
	"io"
	"os"
	"testing"

	"clpkit/internal/command"
)

// The man page repeats the synopsis and options of --help word for word, and --help lists
// exactly the flags the command parses.
func TestDocs(t *testing.T) {
	command.TestDocs(t, "clpmember", "../../man/clpmember.8", run, newApp(io.Discard, io.Discard, os.Getenv))
}
