package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"clpkit/internal/command"
)

const manPath = "../../man/clplogcmd.8"

func readMan(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(manPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func help(t *testing.T) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"clplogcmd", "--help"}, &stdout, &stderr, os.Getenv); code != 0 {
		t.Fatalf("clplogcmd --help: exit status %d, stderr %q", code, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("clplogcmd --help wrote to stderr: %q", stderr.String())
	}
	return stdout.String()
}

func words(s string) string { return strings.Join(strings.Fields(s), " ") }

// The help text and the man page must say the same thing: NAME, SYNOPSIS and DESCRIPTION.
func TestManMatchesHelp(t *testing.T) {
	page := readMan(t)
	app := newApp(io.Discard, io.Discard, func(string) string { return "" })
	tests := []struct {
		section string
		want    string
	}{
		{"NAME", app.Name + " - " + app.Usage},
		{"SYNOPSIS", app.UsageText},
		{"DESCRIPTION", app.Description},
	}
	for _, tt := range tests {
		if got := command.ManSection(page, tt.section); got != words(tt.want) {
			t.Errorf("man page %s:\n%s\nhelp text:\n%s", tt.section, got, words(tt.want))
		}
	}
}

// The SYNOPSIS is the usage line of --help, and OPTIONS documents exactly the options --help
// lists, each spelling with its argument name ("-l level", "-L level", "--help", "-h").
func TestManPageMatchesHelp(t *testing.T) {
	if err := command.CheckManPage(manPath, help(t)); err != nil {
		t.Error(err)
	}
}

// --help lists exactly the flags the App takes (help included), with an argument name for each
// flag that takes a value, and its usage line names every flag but help. With the test above,
// OPTIONS therefore documents exactly the App's flags, one-letter flags with one dash and long
// ones with two, as typed.
func TestHelpMatchesFlags(t *testing.T) {
	app := newApp(io.Discard, io.Discard, func(string) string { return "" })
	app.Setup() // adds the help flag, which --help and the page document too
	if err := command.CheckHelpMatchesApp(app, help(t)); err != nil {
		t.Error(err)
	}
}

// The usage text names every flag except help, so a reader of either sees the whole command.
func TestSynopsisNamesEveryFlag(t *testing.T) {
	app := newApp(io.Discard, io.Discard, func(string) string { return "" })
	for _, f := range app.Flags {
		for _, n := range f.Names() {
			opt := "--" + n
			if len(n) == 1 {
				opt = "-" + n
			}
			found := false
			for _, w := range strings.FieldsFunc(usageText, func(r rune) bool { return strings.ContainsRune(" []|", r) }) {
				found = found || w == opt
			}
			if !found {
				t.Errorf("usage text %q does not name %s", usageText, opt)
			}
		}
	}
}
