package main

import (
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const manPath = "../../man/clplogcmd.8"

// manSections splits a man page into its .SH sections, keyed by section name.
func manSections(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(manPath)
	if err != nil {
		t.Fatal(err)
	}
	secs := map[string][]string{}
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(l, ".SH "); ok {
			cur = strings.Trim(name, `"`)
			continue
		}
		if cur != "" {
			secs[cur] = append(secs[cur], l)
		}
	}
	return secs
}

var fontEscape = regexp.MustCompile(`\\f[BIRP]`)

// roffText is the plain text of roff source lines, words separated by single blanks: enough of
// roff for the sections that the help text repeats (font escapes, \-, .B/.I/.BR/.IR and
// paragraph macros), so the comparison fails on wording, not on markup.
func roffText(lines []string) string {
	var words []string
	for _, l := range lines {
		if strings.HasPrefix(l, `.\"`) {
			continue
		}
		if strings.HasPrefix(l, ".") {
			macro, rest, _ := strings.Cut(l, " ")
			switch macro {
			case ".B", ".I", ".BR", ".IR", ".RB", ".RI", ".BI", ".IB":
				// The alternating-font macros join their arguments without blanks.
				l = strings.Join(strings.Fields(rest), "")
				if macro == ".B" || macro == ".I" {
					l = rest
				}
			default:
				continue // .PP, .TP, ... carry no words
			}
		}
		l = fontEscape.ReplaceAllString(l, "")
		l = strings.ReplaceAll(l, `\-`, "-")
		l = strings.ReplaceAll(l, `\&`, "")
		words = append(words, strings.Fields(l)...)
	}
	return strings.Join(words, " ")
}

func words(s string) string { return strings.Join(strings.Fields(s), " ") }

// The help text and the man page must say the same thing: NAME, SYNOPSIS and DESCRIPTION.
func TestManMatchesHelp(t *testing.T) {
	secs := manSections(t)
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
		got := roffText(secs[tt.section])
		if got != words(tt.want) {
			t.Errorf("man page %s:\n%s\nhelp text:\n%s", tt.section, got, words(tt.want))
		}
	}
}

// optionTag matches an option in a .TP tag line: \-m, \-\-syslog.
var optionTag = regexp.MustCompile(`((?:\\-){1,2})([A-Za-z][A-Za-z0-9-]*)`)

// Every flag the App takes is documented in OPTIONS, and OPTIONS documents no flag the App does
// not take. One-letter flags are written with one dash and long ones with two, as typed.
func TestManOptionsMatchFlags(t *testing.T) {
	app := newApp(io.Discard, io.Discard, func(string) string { return "" })
	app.Setup() // adds the help flag, which the page documents too
	var fromApp []string
	for _, f := range app.Flags {
		for _, n := range f.Names() {
			if len(n) == 1 {
				fromApp = append(fromApp, "-"+n)
			} else {
				fromApp = append(fromApp, "--"+n)
			}
		}
	}

	var fromMan []string
	opts := manSections(t)["OPTIONS"]
	if len(opts) == 0 {
		t.Fatal("the man page has no OPTIONS section")
	}
	for i, l := range opts {
		// The tag of a .TP item is the next line; the item's body may mention other options
		// in passing and does not count.
		if i == 0 || opts[i-1] != ".TP" {
			continue
		}
		for _, m := range optionTag.FindAllStringSubmatch(l, -1) {
			fromMan = append(fromMan, strings.ReplaceAll(m[1], `\-`, "-")+m[2])
		}
	}

	sort.Strings(fromApp)
	sort.Strings(fromMan)
	if strings.Join(fromApp, " ") != strings.Join(fromMan, " ") {
		t.Errorf("flags of the App: %v\nflags in the man page OPTIONS: %v", fromApp, fromMan)
	}
}

// The synopsis names every flag except help, so a reader of either sees the whole command.
func TestSynopsisNamesEveryFlag(t *testing.T) {
	app := newApp(io.Discard, io.Discard, func(string) string { return "" })
	for _, f := range app.Flags {
		for _, n := range f.Names() {
			dash := "--"
			if len(n) == 1 {
				dash = "-"
			}
			if !regexp.MustCompile(`(^|[ \[|])` + regexp.QuoteMeta(dash+n) + `($|[ \]|])`).MatchString(usageText) {
				t.Errorf("usage text %q does not name %s%s", usageText, dash, n)
			}
		}
	}
}
