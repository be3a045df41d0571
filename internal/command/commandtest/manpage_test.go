package commandtest

import (
	"reflect"
	"strings"
	"testing"
)

// goodUsage, goodOptions and goodPage agree; the tests below break one side at a time.
func goodUsage() []string {
	return []string{"demo [-c file] [--server name]", "demo --check [-c file]", "demo -n group_name"}
}

func goodOptions() []string {
	return []string{"-c file", "--config file", "--server name", "--check", "-n group_name", "--help"}
}

func without(list []string, s string) []string {
	var out []string
	for _, l := range list {
		if l != s {
			out = append(out, l)
		}
	}
	return out
}

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
	if p := ManPageProblems(goodPage, goodUsage(), goodOptions()); p != nil {
		t.Fatalf("problems in agreeing texts:\n%s", strings.Join(p, "\n"))
	}
}

func TestManPageProblemsFindDifferences(t *testing.T) {
	tests := []struct {
		name    string
		page    string
		usage   []string
		options []string
		// want are substrings that must each appear in one problem.
		want []string
	}{
		{
			name: "option missing from the page",
			page: strings.Replace(goodPage, ".TP\n.B \\-\\-check\nCheck.\n", "", 1),
			want: []string{`option "--check" of the table is not documented in OPTIONS`},
		},
		{
			name:    "option missing from the table",
			page:    goodPage,
			options: without(goodOptions(), "--check"),
			want:    []string{`option "--check" of OPTIONS is not in the table`},
		},
		{
			name: "one spelling of an item missing from the page",
			page: strings.Replace(goodPage, `\fB\-c\fR, \fB\-\-config\fR \fIfile\fR`, `\fB\-\-config\fR \fIfile\fR`, 1),
			want: []string{`option "-c file" of the table is not documented in OPTIONS`},
		},
		{
			name: "argument name differs",
			page: strings.Replace(goodPage, `\fB\-n\fR \fIgroup_name\fR`, `\fB\-n\fR \fIgroup\fR`, 1),
			want: []string{
				`option "-n group_name" of the table is not documented in OPTIONS (the other side has "-n group")`,
				`option "-n group" of OPTIONS is not in the table`,
			},
		},
		{
			name: "argument missing in the page",
			page: strings.Replace(goodPage, ".BI \\-\\-server \" name\"", ".B \\-\\-server", 1),
			want: []string{`option "--server name" of the table is not documented in OPTIONS`},
		},
		{
			name: "option documented twice",
			page: strings.Replace(goodPage, ".TP\n.B \\-\\-help\n", ".TP\n.B \\-\\-check\nAgain.\n.TP\n.B \\-\\-help\n", 1),
			want: []string{`option "--check" is documented more than once in OPTIONS`},
		},
		{
			name:    "option twice in the table",
			page:    goodPage,
			options: append(goodOptions(), "--check"),
			want:    []string{`option "--check" is in the table more than once`},
		},
		{
			name: "synopsis line differs",
			page: strings.Replace(goodPage, "[\\fB\\-\\-server\\fR \\fIname\\fR]", "[\\fB\\-\\-server\\fR \\fIhost\\fR]", 1),
			want: []string{`SYNOPSIS line 1 is "demo [-c file] [--server host]", but usage line 1 is "demo [-c file] [--server name]"`},
		},
		{
			name: "synopsis lines run together without a break",
			page: strings.Replace(goodPage, "[\\fB\\-\\-server\\fR \\fIname\\fR]\n.br\n", "[\\fB\\-\\-server\\fR \\fIname\\fR]\n", 1),
			want: []string{`SYNOPSIS line 1 is "demo [-c file] [--server name] demo --check [-c file]"`, "SYNOPSIS lacks usage line 3"},
		},
		{
			name: "synopsis has a line the table does not",
			page: strings.Replace(goodPage, ".SH DESCRIPTION", ".br\n.B demo \\-\\-version\n.SH DESCRIPTION", 1),
			want: []string{`SYNOPSIS line 4 is not a usage line: "demo --version"`},
		},
		{
			name:  "the table has a usage line the page does not",
			page:  goodPage,
			usage: append(goodUsage(), "demo --version"),
			want:  []string{`SYNOPSIS lacks usage line 4: "demo --version"`},
		},
		{
			name: "no SYNOPSIS or OPTIONS in the page",
			page: ".TH DEMO 8\n.SH NAME\ndemo \\- demo\n",
			want: []string{"no SYNOPSIS section", "no OPTIONS section"},
		},
		{
			name: "OPTIONS without .TP items",
			page: strings.Replace(goodPage, ".TP\n", ".PP\n", -1),
			want: []string{"documents no option in a .TP tag"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			usage, options := tt.usage, tt.options
			if usage == nil {
				usage = goodUsage()
			}
			if options == nil {
				options = goodOptions()
			}
			got := ManPageProblems(tt.page, usage, options)
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

func TestNamedIn(t *testing.T) {
	usage := []string{"x -m message [-l|-L level] [--long] [-h hostname]"}
	for opt, want := range map[string]bool{"-m": true, "-l": true, "-L": true, "--long": true, "-h": true, "--lo": false, "-o": false} {
		if got := namedIn(usage, opt); got != want {
			t.Errorf("namedIn(%q) = %v, want %v", opt, got, want)
		}
	}
}
