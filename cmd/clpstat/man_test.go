package main

import (
	"bytes"
	"io"
	"os"
	"testing"

	"clpkit/cmd/internal/command"
)

// The man page repeats the synopsis and options of --help; they must agree, word for word.
func TestManPageMatchesHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"clpstat", "--help"}, &stdout, &stderr, os.Getenv); code != 0 {
		t.Fatalf("clpstat --help: exit status %d, stderr %q", code, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("clpstat --help wrote to stderr: %q", stderr.String())
	}
	if err := command.CheckManPage("../../man/clpstat.8", stdout.String()); err != nil {
		t.Error(err)
	}
}

// --help lists exactly the flags the command parses, with an argument name for each flag that
// takes a value, and its usage lines name every flag.
func TestHelpMatchesFlags(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"clpstat", "--help"}, &stdout, io.Discard, os.Getenv); code != 0 {
		t.Fatalf("clpstat --help: exit status %d", code)
	}
	if err := command.CheckHelpMatchesApp(newApp(io.Discard, io.Discard, os.Getenv), stdout.String()); err != nil {
		t.Error(err)
	}
}
