package command

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// demo is a table with one flag of each kind.
func demo() Spec {
	return Spec{
		Name:  "demo",
		Usage: "demo [-f] [-h hostname] [-m name ...] [--apito timeout] [--sv [server]] [-c, --config file]\n    group",
		About: "Do demo things.",
		Flags: []Flag{
			{Names: []string{"-f"}, Help: "force"},
			{Names: []string{"-h"}, Arg: "hostname", Kind: Value, Help: "the host"},
			{Names: []string{"-m"}, Arg: "name", Kind: List, Help: "a name;\nrepeat it"},
			APITimeoutFlag(),
			{Names: []string{"--sv"}, Arg: "server", Kind: Optional, Help: "servers"},
			{Names: []string{"-c", "--config"}, Arg: "file", Kind: Value, Default: "/etc/demo", Help: "the configuration"},
			{Names: []string{"-stop"}, Arg: "wait", Kind: Optional, Section: "Operations", Help: "stop"},
		},
		After:     "Exit status: 0 or 3.",
		UsageCode: 3,
		Refusal:   InvalidOption,
	}
}

func TestHelp(t *testing.T) {
	want := `Usage:
  demo [-f] [-h hostname] [-m name ...] [--apito timeout] [--sv [server]] [-c, --config file]
      group

Do demo things.

Options:
  -f                 force
  -h hostname        the host
  -m name            a name;
                     repeat it
  --apito timeout    wait at most timeout seconds, 1 to 86400 (default: the daemon's api_timeout)
  --sv [server]      servers
  -c, --config file  the configuration
  --version          print the version and exit
  --help             show this help

Operations:
  -stop [wait]       stop

Exit status: 0 or 3.
`
	if got := demo().Help(); got != want {
		t.Errorf("Help:\n%s\nwant:\n%s", got, want)
	}
	if got := demo().UsageLines(); !slices.Equal(got, []string{"demo [-f] [-h hostname] [-m name ...] [--apito timeout] [--sv [server]] [-c, --config file] group"}) {
		t.Errorf("UsageLines = %q", got)
	}
}

// read runs demo on args and returns what its action saw: the flags set, with their values,
// and the operands.
func read(t *testing.T, s Spec, args ...string) (string, int, string) {
	t.Helper()
	var seen string
	var stdout, stderr bytes.Buffer
	code := s.Run(append([]string{s.Name}, args...), &stdout, &stderr, func(c *cli.Context) error {
		var set []string
		for _, f := range s.Flags {
			k := f.Key()
			switch {
			case f.Section != "" || !c.IsSet(k):
			case f.Kind == Switch:
				if c.Bool(k) {
					set = append(set, k)
				}
			case f.Kind == List:
				set = append(set, k+"="+strings.Join(c.StringSlice(k), ","))
			default:
				set = append(set, k+"="+c.String(k))
			}
		}
		seen = strings.Join(set, " ") + " | " + strings.Join(c.Args().Slice(), " ")
		return nil
	})
	return seen, code, stdout.String() + stderr.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		args string
		want string // what the action saw, or the line on stderr
		code int
	}{
		{"g -h server1 -f", "f h=server1 | g", 0},
		{"-h=server1 g", "h=server1 | g", 0},
		{"--h server1 -apito 5", "h=server1 apito=5 | ", 0},
		{"-h -f g", "h=-f | g", 0},
		{"-m a,b -m c", "m=a,b,c | ", 0},
		{"--sv", "sv= | ", 0},
		{"--sv s1 g", "sv=s1 | g", 0},
		{"--sv -f", "f sv= | ", 0},
		{"--config x", "c=x | ", 0},
		{"-c x", "c=x | ", 0},
		{"g -- -f", " | g -f", 0},
		{"-f=false", " | ", 0},
		{"- g", " | - g", 0},
		{"--apito 010", "apito=010 | ", 0},
		{"--grp", "demo: option --grp is not supported yet\n", 3},
		{"-grp=x", "demo: option -grp is not supported yet\n", 3},
		{"---f", "demo: option ---f is not supported yet\n", 3},
		{"-=x", "demo: option -=x is not supported yet\n", 3},
		{"g -h", "demo: option -h needs its argument hostname (see demo --help)\n", 3},
		{"--apito", "demo: option --apito needs its argument timeout (see demo --help)\n", 3},
		{"--apito 0", "Invalid option. --apito takes a number of seconds from 1 to 86400, not 0.\n", 3},
		{"--apito 18446744074", "Invalid option. --apito takes a number of seconds from 1 to 86400, not 18446744074.\n", 3},
		{"--apito=soon", "Invalid option. --apito takes a number of seconds from 1 to 86400, not \"soon\".\n", 3},
		{"--apito ''", "Invalid option. --apito takes a number of seconds from 1 to 86400, not \"''\".\n", 3},
		{"-f -h x --help", demo().Help(), 0},
		{"-help", demo().Help(), 0},
		{"-h --help", "h=--help | ", 0},
		{"--version", "demo (clpkit) ", 0},
		{"-f=maybe", "demo: invalid boolean value \"maybe\" for -f: parse error (see demo --help)\n", 3},
	}
	for _, tt := range tests {
		seen, code, out := read(t, demo(), strings.Fields(tt.args)...)
		if code == 0 && seen != "" {
			out = seen
		}
		if code != tt.code || !strings.HasPrefix(out, tt.want) {
			t.Errorf("demo %s: status %d, %q; want %d, %q", tt.args, code, out, tt.code, tt.want)
		}
	}
}

func TestHelpLettersAndDashes(t *testing.T) {
	s := demo()
	s.Flags = s.Flags[:1]
	s.HelpLetters, s.Dashes = true, true
	for _, a := range []string{"-h", "-?", "--h"} {
		if _, code, out := read(t, s, a); code != 0 || out != s.Help() {
			t.Errorf("demo %s: status %d, %q", a, code, out)
		}
	}
	if seen, code, _ := read(t, s, "\u2013f"); code != 0 || seen != "f | " {
		t.Errorf("demo \u2013f: status %d, saw %q", code, seen)
	}
}

// An unknown option is refused before anything is done, whatever else the line holds.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"-f\x00g", "--apito\x0099999999999999999999", "--sv\x00-h\x00x", "-m\x00a,b\x00--\x00-z"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		var stderr bytes.Buffer
		code := demo().Run(append([]string{"demo"}, args...), io.Discard, &stderr, func(*cli.Context) error { return nil })
		if code != 0 && (strings.Count(stderr.String(), "\n") != 1 || code != 3) {
			t.Errorf("%q: status %d, stderr %q", args, code, stderr.String())
		}
	})
}
