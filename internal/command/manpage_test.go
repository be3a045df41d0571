package command

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// goodHelp and goodPage agree; the tests below break one side at a time.
const goodHelp = `Usage:
  demo [-c file] [--server name]
  demo --check [-c file]
  demo -n group_name

Does demo things.

Options:
  -c, --config file  cluster configuration (default /etc/demo.toml)
  --server name      this server's name, a description long enough to wrap
                     onto a second line that starts -like an option- deeper
  --check            validate and exit
  -n group_name      print the server
  --help             show this help

Exit status: 0 fine.
`

const goodPage = `.\" A test page.
.TH DEMO 8 "2026-11-22" "clpkit" "clpkit Manual"
.nh
.SH NAME
demo \- do demo things
.SH SYNOPSIS
.B demo
[\fB\-c\fR \fIfile\fR]
[\fB\-\-server\fR \fIname\fR]
.br
.B demo
\fB\-\-check\fR
.\" a comment between the words of a line
[\fB\-c\fR \fIfile\fR]
.br
.B demo
.BI \-n " group_name"
.SH DESCRIPTION
.B demo
does demo things, see
.BR \-\-check .
.SH OPTIONS
.TP
\fB\-c\fR, \fB\-\-config\fR \fIfile\fR
The configuration; \fB\-x\fR mentioned in a body does not count.
.TP
.BI \-\-server " name"
The server.
.TP
.B \-\-check
Check.
.RS
.TP
.B json
A value, not an option.
.RE
.TP
\fB\-n\fR \fIgroup_name\fR
Print it.
.TP
.B \-\-help
Help.
.SH "EXIT STATUS"
.TP
.B \-q
Not in OPTIONS, so not an option here.
`

func TestManPageProblemsAgree(t *testing.T) {
	if p := ManPageProblems(goodPage, goodHelp); p != nil {
		t.Fatalf("problems in agreeing texts:\n%s", strings.Join(p, "\n"))
	}
}

func TestManPageProblemsFindDifferences(t *testing.T) {
	tests := []struct {
		name       string
		page, help string
		// want are substrings that must each appear in one problem.
		want []string
	}{
		{
			name: "option missing from the page",
			page: strings.Replace(goodPage, ".TP\n.B \\-\\-check\nCheck.\n", "", 1),
			help: goodHelp,
			want: []string{`option "--check" of --help is not documented in OPTIONS`},
		},
		{
			name: "option missing from the help",
			page: goodPage,
			help: strings.Replace(goodHelp, "  --check            validate and exit\n", "", 1),
			want: []string{`option "--check" of OPTIONS is not in the Options of --help`},
		},
		{
			name: "one spelling of an item missing from the page",
			page: strings.Replace(goodPage, `\fB\-c\fR, \fB\-\-config\fR \fIfile\fR`, `\fB\-\-config\fR \fIfile\fR`, 1),
			help: goodHelp,
			want: []string{`option "-c file" of --help is not documented in OPTIONS`},
		},
		{
			name: "argument name differs",
			page: strings.Replace(goodPage, `\fB\-n\fR \fIgroup_name\fR`, `\fB\-n\fR \fIgroup\fR`, 1),
			help: goodHelp,
			want: []string{
				`option "-n group_name" of --help is not documented in OPTIONS (the other side has "-n group")`,
				`option "-n group" of OPTIONS is not in the Options of --help`,
			},
		},
		{
			name: "argument missing in the page",
			page: strings.Replace(goodPage, ".BI \\-\\-server \" name\"", ".B \\-\\-server", 1),
			help: goodHelp,
			want: []string{`option "--server name" of --help is not documented in OPTIONS`},
		},
		{
			name: "option documented twice",
			page: strings.Replace(goodPage, ".TP\n.B \\-\\-help\n", ".TP\n.B \\-\\-check\nAgain.\n.TP\n.B \\-\\-help\n", 1),
			help: goodHelp,
			want: []string{`option "--check" is documented more than once in OPTIONS`},
		},
		{
			name: "synopsis line differs",
			page: strings.Replace(goodPage, "[\\fB\\-\\-server\\fR \\fIname\\fR]", "[\\fB\\-\\-server\\fR \\fIhost\\fR]", 1),
			help: goodHelp,
			want: []string{`SYNOPSIS line 1 is "demo [-c file] [--server host]", but usage line 1 of --help is "demo [-c file] [--server name]"`},
		},
		{
			name: "synopsis lines run together without a break",
			page: strings.Replace(goodPage, "[\\fB\\-\\-server\\fR \\fIname\\fR]\n.br\n", "[\\fB\\-\\-server\\fR \\fIname\\fR]\n", 1),
			help: goodHelp,
			want: []string{`SYNOPSIS line 1 is "demo [-c file] [--server name] demo --check [-c file]"`, "SYNOPSIS lacks usage line 3"},
		},
		{
			name: "synopsis has a line the help does not",
			page: strings.Replace(goodPage, ".SH DESCRIPTION", ".br\n.B demo \\-\\-version\n.SH DESCRIPTION", 1),
			help: goodHelp,
			want: []string{`SYNOPSIS line 4 is not a usage line of --help: "demo --version"`},
		},
		{
			name: "help has a usage line the page does not",
			page: goodPage,
			help: strings.Replace(goodHelp, "  demo -n group_name\n", "  demo -n group_name\n  demo --version\n", 1),
			want: []string{`SYNOPSIS lacks usage line 4 of --help: "demo --version"`},
		},
		{
			name: "no SYNOPSIS or OPTIONS in the page",
			page: ".TH DEMO 8\n.SH NAME\ndemo \\- demo\n",
			help: goodHelp,
			want: []string{"no SYNOPSIS section", "no OPTIONS section"},
		},
		{
			name: "OPTIONS without .TP items",
			page: strings.Replace(goodPage, ".TP\n", ".PP\n", -1),
			help: goodHelp,
			want: []string{"documents no option in a .TP tag"},
		},
		{
			name: "no Usage or Options in the help",
			page: goodPage,
			help: "demo does things.\n",
			want: []string{`--help has no "Usage:" section`, `--help has no "Options:" section`},
		},
		{
			name: "help option separated from its description by one blank",
			page: goodPage,
			help: strings.Replace(goodHelp, "  --check            validate and exit", "  --check validate and exit", 1),
			want: []string{`--help option line "--check validate and exit": --check has more than one argument name`},
		},
		{
			name: "help line at option indentation that is not an option",
			page: goodPage,
			help: strings.Replace(goodHelp, "  --help ", "  help ", 1),
			want: []string{`"help" is not an option`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ManPageProblems(tt.page, tt.help)
			if len(got) == 0 {
				t.Fatal("no problem found")
			}
			for _, w := range tt.want {
				found := false
				for _, p := range got {
					found = found || strings.Contains(p, w)
				}
				if !found {
					t.Errorf("no problem contains %q; problems:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

// The layout urfave/cli's template prints (clplogcmd) parses as well: upper-case headings,
// three-blank indent, an argument on each of two spellings, and "--help, -h".
func TestHelpUrfaveLayout(t *testing.T) {
	help := `NAME:
   x - y

USAGE:
   x -m message [-l|-L level] [--syslog]

DESCRIPTION:
   Text that mentions
   Options: in passing.

OPTIONS:
   -m message          the message
   -l level, -L level  the level (default: "INFO")
   --syslog            send it
   --help, -h          show help

See x(8).
`
	usage, err := HelpUsage(help)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"x -m message [-l|-L level] [--syslog]"}; !reflect.DeepEqual(usage, want) {
		t.Errorf("usage = %q, want %q", usage, want)
	}
	opts, err := HelpOptions(help)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-m message", "-l level", "-L level", "--syslog", "--help", "-h"}
	if !reflect.DeepEqual(opts, want) {
		t.Errorf("options = %q, want %q", opts, want)
	}
}

func TestHelpUsageForms(t *testing.T) {
	tests := []struct {
		help string
		want []string
	}{
		// Text on the heading's line is the first usage line; deeper lines continue a line.
		{"Usage: demo -a\n        [-b]\n  demo -c\nOptions:\n  -a  a\n", []string{"demo -a [-b]", "demo -c"}},
		{"Usage:\n  demo -a\n    [-b]\n\n  demo   -c\n\nDemo.\n  indented, but after a heading-level line\n",
			[]string{"demo -a [-b]", "demo -c"}},
		{"usage:\n\tdemo\n", []string{"demo"}},
	}
	for _, tt := range tests {
		got, err := HelpUsage(tt.help)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("HelpUsage(%q) = %q, %v; want %q", tt.help, got, err, tt.want)
		}
	}
	if _, err := HelpUsage("Usage:\n\nDemo.\n"); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty usage: %v", err)
	}
}

func TestParseOptionSpec(t *testing.T) {
	tests := []struct {
		spec string
		want []string
		err  string
	}{
		{"-c, --config file", []string{"-c file", "--config file"}, ""},
		{"-c file, --config file", []string{"-c file", "--config file"}, ""},
		{"--apito=timeout", []string{"--apito timeout"}, ""},
		{"-l level, -L level", []string{"-l level", "-L level"}, ""},
		{"--help, -h", []string{"--help", "-h"}, ""},
		{"-stop [n]", []string{"-stop [n]"}, ""},
		{"--check validate it", nil, "more than one argument name"},
		{"json", nil, "is not an option"},
		{"-c,", nil, "empty option spelling"},
	}
	for _, tt := range tests {
		got, err := parseOptionSpec(tt.spec)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parseOptionSpec(%q) error = %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseOptionSpec(%q) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
}

func TestRoffText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`\fB\-\-long\fR \fIfile\fP`, "--long file"},
		{`\f(CWcode\f[]`, "code"},
		{`a\&.b \e c\ d`, `a.b \ c d`},
		{`x \(em y\[em]z \(aqq\(aq`, "x \u2014 y\u2014z 'q'"},
		{`text \" a comment`, "text "},
		{`.B "two words" more`, "two words more"},
		{`.BR clpd (8),`, "clpd(8),"},
		{`.IR file .`, "file."},
		{`.BI \-o " format"`, "-o format"},
		{`.PP`, ""},
		{`.\" comment`, ""},
	}
	for _, tt := range tests {
		if got := roffInline(tt.in); got != tt.want {
			t.Errorf("roffInline(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRoffOutputLines(t *testing.T) {
	src := []string{
		".B demo", "\\fB\\-a\\fR", "", "second", ".br", "third", ".nf", "raw one", "raw  two", ".fi",
		"filled", "again", ".PP", ".TP", ".B \\-x", "body",
	}
	want := []string{"demo -a", "second", "third", "raw one", "raw two", "filled again", "-x body"}
	if got := roffOutputLines(src); !reflect.DeepEqual(got, want) {
		t.Errorf("roffOutputLines = %q, want %q", got, want)
	}
}

func TestManSection(t *testing.T) {
	if got, want := ManSection(goodPage, "description"), "demo does demo things, see --check."; got != want {
		t.Errorf("DESCRIPTION = %q, want %q", got, want)
	}
	if got := ManSection(goodPage, "exit status"); got != "-q Not in OPTIONS, so not an option here." {
		t.Errorf(`"EXIT STATUS" = %q`, got)
	}
	if got := ManSection(goodPage, "BUGS"); got != "" {
		t.Errorf("missing section = %q", got)
	}
}

func TestCheckManPage(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.8")
	if err := os.WriteFile(good, []byte(goodPage), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckManPage(good, goodHelp); err != nil {
		t.Errorf("good page: %v", err)
	}
	bad := filepath.Join(dir, "bad.8")
	if err := os.WriteFile(bad, []byte(strings.Replace(goodPage, ".B \\-\\-check\n", ".B \\-\\-chek\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckManPage(bad, goodHelp)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `"--chek"`) || !strings.Contains(err.Error(), `"--check"`) {
		t.Errorf("bad page: %v", err)
	}
	if err := CheckManPage(filepath.Join(dir, "missing.8"), goodHelp); err == nil {
		t.Error("missing page: no error")
	}
}

func demoApp(flags ...cli.Flag) *cli.App {
	app := &cli.App{Name: "demo", Flags: flags}
	Setup(app, io.Discard, io.Discard, 2, goodHelp)
	return app
}

func TestCheckHelpMatchesApp(t *testing.T) {
	config := &cli.StringFlag{Name: "config", Aliases: []string{"c"}}
	server := &cli.StringFlag{Name: "server"}
	check := &cli.BoolFlag{Name: "check"}
	n := &cli.StringFlag{Name: "n"}
	if err := CheckHelpMatchesApp(demoApp(config, server, check, n), goodHelp); err != nil {
		t.Errorf("matching app: %v", err)
	}
	tests := []struct {
		name string
		app  *cli.App
		help string
		want string
	}{
		{"flag missing from help", demoApp(config, server, check, n, &cli.BoolFlag{Name: "version"}), goodHelp,
			"flag --version of the App is not in the Options of --help"},
		{"help option not a flag", demoApp(config, server, n), goodHelp,
			"option --check of --help is not a flag of the App"},
		{"argument on a bool flag", demoApp(config, &cli.BoolFlag{Name: "server"}, check, n), goodHelp,
			"--help gives --server an argument, but the App's flag takes none"},
		{"no argument on a value flag", demoApp(config, server, &cli.IntFlag{Name: "check"}, n), goodHelp,
			"--help gives --check no argument, but the App's flag takes a value"},
		{"flag named in no usage line", demoApp(config, server, check, n),
			strings.Replace(goodHelp, "  demo -n group_name\n", "", 1),
			"no usage line of --help names flag -n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckHelpMatchesApp(tt.app, tt.help)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNamedIn(t *testing.T) {
	usage := []string{"x -m message [-l|-L level] [--long] [-h hostname]"}
	for opt, want := range map[string]bool{"-m": true, "-l": true, "-L": true, "--long": true, "-h": true, "--lo": false, "-o": false} {
		if got := namedIn(usage, opt); got != want {
			t.Errorf("namedIn(%q) = %v, want %v", opt, got, want)
		}
	}
}
