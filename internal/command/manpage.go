package command

// This file checks that a command's man page and its --help text say the same thing where they
// overlap: the synopsis lines and the set of options with their argument names. Tests of each
// command call CheckManPage with the text `<name> --help` prints, so neither can drift alone.
//
// Only as much roff is understood as section 8 pages here use: .SH sections, the font macros
// (.B, .I, .BR, .IR, ...), breaks (.br, .PP, .TP, .nf, ...), and the escapes \fB \fI \fR \fP \-
// \& \e and a few others. Anything else is ignored, never guessed at.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// CheckManPage reads the man page at manPath and returns an error listing every way it disagrees
// with help (the text --help prints), or nil. See ManPageProblems for what is compared.
func CheckManPage(manPath, help string) error {
	b, err := os.ReadFile(manPath)
	if err != nil {
		return err
	}
	if p := ManPageProblems(string(b), help); len(p) > 0 {
		return fmt.Errorf("%s disagrees with --help:\n  %s", manPath, strings.Join(p, "\n  "))
	}
	return nil
}

// ManPageProblems compares a man page's roff source with a help text and returns one sentence per
// difference, or nil:
//
//   - the SYNOPSIS section lists exactly the help's usage lines (the lines under "Usage:"), in
//     the same order, words compared with blanks collapsed; in the page, a synopsis line ends at
//     a break (.br, .PP, ...) or, between .nf and .fi, at the end of each source line;
//   - the options of the help's "Options:" section, each spelling with its argument name
//     ("-c file", "--config file", "--check"), are exactly those of the .TP tags in the page's
//     OPTIONS section. In either, "-c, --config file" gives file to both spellings.
func ManPageProblems(page, help string) []string {
	var problems []string
	secs := manSections(page)

	usage, err := HelpUsage(help)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if syn, ok := secs["SYNOPSIS"]; !ok {
		problems = append(problems, "the man page has no SYNOPSIS section")
	} else if err == nil {
		problems = append(problems, compareSynopsis(roffOutputLines(syn), usage)...)
	}

	hopts, herr := HelpOptions(help)
	if herr != nil {
		problems = append(problems, herr.Error())
	}
	mopts, merr := manOptions(secs)
	if merr != nil {
		problems = append(problems, merr.Error())
	}
	if herr == nil && merr == nil {
		problems = append(problems, compareOptions(hopts, mopts)...)
	}
	return problems
}

func compareSynopsis(man, usage []string) []string {
	var problems []string
	for i := 0; i < max(len(man), len(usage)); i++ {
		switch {
		case i >= len(man):
			problems = append(problems, fmt.Sprintf("SYNOPSIS lacks usage line %d of --help: %q", i+1, usage[i]))
		case i >= len(usage):
			problems = append(problems, fmt.Sprintf("SYNOPSIS line %d is not a usage line of --help: %q", i+1, man[i]))
		case man[i] != usage[i]:
			problems = append(problems, fmt.Sprintf("SYNOPSIS line %d is %q, but usage line %d of --help is %q", i+1, man[i], i+1, usage[i]))
		}
	}
	return problems
}

func compareOptions(help, man []string) []string {
	var problems []string
	for _, dup := range duplicates(help) {
		problems = append(problems, fmt.Sprintf("option %q is listed more than once in the Options of --help", dup))
	}
	for _, dup := range duplicates(man) {
		problems = append(problems, fmt.Sprintf("option %q is documented more than once in OPTIONS", dup))
	}
	for _, o := range help {
		if !slices.Contains(man, o) {
			problems = append(problems, fmt.Sprintf("option %q of --help is not documented in OPTIONS%s", o, hint(o, man)))
		}
	}
	for _, o := range man {
		if !slices.Contains(help, o) {
			problems = append(problems, fmt.Sprintf("option %q of OPTIONS is not in the Options of --help%s", o, hint(o, help)))
		}
	}
	return problems
}

// hint names the same option with another argument, the commonest slip.
func hint(opt string, in []string) string {
	name, _, _ := strings.Cut(opt, " ")
	for _, o := range in {
		if n, _, _ := strings.Cut(o, " "); n == name {
			return fmt.Sprintf(" (the other side has %q)", o)
		}
	}
	return ""
}

func duplicates(list []string) []string {
	var dups []string
	seen := map[string]bool{}
	for _, s := range list {
		if seen[s] && !slices.Contains(dups, s) {
			dups = append(dups, s)
		}
		seen[s] = true
	}
	return dups
}

// CheckHelpMatchesApp checks a help text against the urfave/cli App that parses the command line:
// its Options section lists exactly the App's flags (plus --help, which Run answers itself), an
// option has an argument name exactly when its flag takes a value, and every flag but --help is
// named in at least one usage line by one of its names.
func CheckHelpMatchesApp(app *cli.App, help string) error {
	opts, err := HelpOptions(help)
	if err != nil {
		return err
	}
	usage, err := HelpUsage(help)
	if err != nil {
		return err
	}
	// option name -> whether it has an argument in the help
	inHelp := map[string]bool{}
	for _, o := range opts {
		name, arg, _ := strings.Cut(o, " ")
		inHelp[name] = arg != ""
	}
	var problems []string
	inApp := map[string]bool{"--help": true}
	for _, f := range app.Flags {
		takesValue := false
		if d, ok := f.(cli.DocGenerationFlag); ok {
			takesValue = d.TakesValue()
		}
		named := false
		for _, n := range f.Names() {
			opt := dashed(n)
			inApp[opt] = true
			hasArg, ok := inHelp[opt]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("flag %s of the App is not in the Options of --help", opt))
			case hasArg && !takesValue:
				problems = append(problems, fmt.Sprintf("--help gives %s an argument, but the App's flag takes none", opt))
			case !hasArg && takesValue:
				problems = append(problems, fmt.Sprintf("--help gives %s no argument, but the App's flag takes a value", opt))
			}
			named = named || n == "help" || namedIn(usage, opt)
		}
		if !named {
			problems = append(problems, fmt.Sprintf("no usage line of --help names flag %s", dashed(f.Names()[0])))
		}
	}
	for _, o := range opts {
		if name, _, _ := strings.Cut(o, " "); !inApp[name] {
			problems = append(problems, fmt.Sprintf("option %s of --help is not a flag of the App", name))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// dashed writes a flag name as typed: one dash for one letter, two otherwise.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// namedIn reports whether a usage line names opt as a word of its own: "[-h hostname]",
// "-l|-L level" and "clpgrp -n group_name" name -h, -L and -n; "--long" does not name -l.
func namedIn(usage []string, opt string) bool {
	re := regexp.MustCompile(`(^|[ \[|])` + regexp.QuoteMeta(opt) + `($|[ \]|=])`)
	for _, u := range usage {
		if re.MatchString(u) {
			return true
		}
	}
	return false
}

// HelpUsage returns the usage lines of a help text, blanks collapsed: the lines indented under a
// "Usage:" (or "USAGE:") heading at the start of a line, up to the next line that is not
// indented. Text after the heading on its own line counts as the first usage line, and a line
// indented deeper than the least indented one continues the line before it.
func HelpUsage(help string) ([]string, error) {
	head, body, ok := helpSection(help, "usage")
	if !ok {
		return nil, errors.New(`--help has no "Usage:" section`)
	}
	var lines []string
	if head != "" {
		lines = append(lines, words(head))
	}
	base := minIndent(body)
	for _, l := range body {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if indent(l) > base && len(lines) > 0 {
			lines[len(lines)-1] += " " + words(l)
			continue
		}
		lines = append(lines, words(l))
	}
	if len(lines) == 0 {
		return nil, errors.New(`the "Usage:" section of --help is empty`)
	}
	return lines, nil
}

// HelpOptions returns the options of a help text's "Options:" (or "OPTIONS:") section, one entry
// per spelling with its argument name: "-c, --config file  cluster configuration" gives
// "-c file" and "--config file". Option lines are the section's least indented lines; the
// spelling ends at the first run of two blanks (or a tab), and deeper indented lines continue the
// description. A least-indented line that is not an option is an error, so that a description
// separated by a single blank is caught rather than read as arguments.
func HelpOptions(help string) ([]string, error) {
	_, body, ok := helpSection(help, "options")
	if !ok {
		return nil, errors.New(`--help has no "Options:" section`)
	}
	base := minIndent(body)
	var opts []string
	var errs []string
	for _, l := range body {
		if strings.TrimSpace(l) == "" || indent(l) != base {
			continue
		}
		spec := strings.TrimSpace(l)
		if i := specEnd.FindStringIndex(spec); i != nil {
			spec = spec[:i[0]]
		}
		o, err := parseOptionSpec(spec)
		if err != nil {
			errs = append(errs, fmt.Sprintf("--help option line %q: %v", strings.TrimSpace(l), err))
			continue
		}
		opts = append(opts, o...)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	if len(opts) == 0 {
		return nil, errors.New(`the "Options:" section of --help lists no option`)
	}
	return opts, nil
}

var specEnd = regexp.MustCompile(`\t| {2,}`)

// helpSection finds the heading named name (case-insensitive, followed by ':') at the start of a
// line, and returns the text after the colon and the lines below it up to the next non-blank
// line that is not indented.
func helpSection(help, name string) (string, []string, bool) {
	lines := strings.Split(help, "\n")
	for i, l := range lines {
		h, rest, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(h, name) {
			continue
		}
		var body []string
		for _, b := range lines[i+1:] {
			if strings.TrimSpace(b) != "" && indent(b) == 0 {
				break
			}
			body = append(body, b)
		}
		return strings.TrimSpace(rest), body, true
	}
	return "", nil, false
}

// minIndent is the least indentation of the non-blank lines, -1 when all are blank.
func minIndent(lines []string) int {
	base := -1
	for _, l := range lines {
		if strings.TrimSpace(l) != "" && (base < 0 || indent(l) < base) {
			base = indent(l)
		}
	}
	return base
}

func indent(l string) int { return len(l) - len(strings.TrimLeft(l, " \t")) }

func words(s string) string { return strings.Join(strings.Fields(s), " ") }

var optionName = regexp.MustCompile(`^--?[A-Za-z0-9][A-Za-z0-9_-]*$`)

// parseOptionSpec reads "-c, --config file", "-l level, -L level" or "--apito=timeout" into one
// entry per spelling. A spelling without an argument takes the argument of the last spelling,
// as "-c, --config file" means "-c file" too.
func parseOptionSpec(spec string) ([]string, error) {
	type opt struct{ name, arg string }
	var parts []opt
	for _, p := range strings.Split(spec, ",") {
		f := strings.Fields(p)
		if len(f) == 0 {
			return nil, errors.New("empty option spelling")
		}
		name, arg, _ := strings.Cut(f[0], "=")
		if !optionName.MatchString(name) {
			return nil, fmt.Errorf("%q is not an option", f[0])
		}
		if arg != "" {
			f = append([]string{name, arg}, f[1:]...)
		}
		if len(f) > 2 {
			return nil, fmt.Errorf("%s has more than one argument name: %q", name, strings.Join(f[1:], " "))
		}
		o := opt{name: name}
		if len(f) == 2 {
			o.arg = f[1]
		}
		parts = append(parts, o)
	}
	last := parts[len(parts)-1].arg
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.arg == "" {
			p.arg = last
		}
		out = append(out, strings.TrimSpace(p.name+" "+p.arg))
	}
	return out, nil
}

// manOptions returns the options of the .TP (and .TQ) tags of the OPTIONS section. A tag that
// does not begin with a dash (an operand, a value) is not an option and is skipped.
func manOptions(secs map[string][]string) ([]string, error) {
	lines, ok := secs["OPTIONS"]
	if !ok {
		return nil, errors.New("the man page has no OPTIONS section")
	}
	var opts []string
	var errs []string
	tagNext := false
	for _, l := range lines {
		if isComment(l) {
			continue
		}
		if tagNext {
			tagNext = false
			tag := words(roffInline(l))
			if !strings.HasPrefix(tag, "-") {
				continue
			}
			o, err := parseOptionSpec(tag)
			if err != nil {
				errs = append(errs, fmt.Sprintf("OPTIONS tag %q: %v", tag, err))
				continue
			}
			opts = append(opts, o...)
			continue
		}
		if m, _ := macro(l); m == "TP" || m == "TQ" {
			tagNext = true
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	if len(opts) == 0 {
		return nil, errors.New("the OPTIONS section of the man page documents no option in a .TP tag")
	}
	return opts, nil
}

// ManSection returns the plain text of a man page section (.SH name, case-insensitive), its
// words separated by single blanks; "" when the page has no such section. Tests compare it with
// help text that repeats the section.
func ManSection(page, name string) string {
	lines, ok := manSections(page)[strings.ToUpper(name)]
	if !ok {
		return ""
	}
	return words(strings.Join(roffOutputLines(lines), " "))
}

// manSections splits roff source into its .SH sections, keyed by upper-case name.
func manSections(page string) map[string][]string {
	secs := map[string][]string{}
	cur := ""
	for _, l := range strings.Split(page, "\n") {
		if m, args := macro(l); m == "SH" {
			cur = strings.ToUpper(strings.Join(args, " "))
			secs[cur] = []string{}
			continue
		}
		if cur != "" {
			secs[cur] = append(secs[cur], l)
		}
	}
	return secs
}

// breaks reports whether a request or macro ends an output line.
func breaks(m string) bool {
	switch m {
	case "br", "sp", "PP", "P", "LP", "TP", "TQ", "IP", "HP", "RS", "RE", "SS", "SY", "YS", "EX", "EE",
		"nf", "fi", "in", "ti", "bp":
		return true
	}
	return false
}

// roffOutputLines renders roff source lines to the lines a reader sees, without filling to a
// width: filled text runs on until a break; between .nf and .fi every source line is a line.
// Empty lines are dropped.
func roffOutputLines(src []string) []string {
	var out []string
	var cur []string
	flush := func() {
		if s := words(strings.Join(cur, " ")); s != "" {
			out = append(out, s)
		}
		cur = nil
	}
	nofill := false
	for _, l := range src {
		if isComment(l) {
			continue
		}
		if m, _ := macro(l); m != "" {
			if breaks(m) {
				flush()
				switch m {
				case "nf", "EX":
					nofill = true
				case "fi", "EE":
					nofill = false
				}
			}
		}
		if l == "" {
			flush() // a blank source line is a break in roff
			continue
		}
		cur = append(cur, roffInline(l))
		if nofill {
			flush()
		}
	}
	flush()
	return out
}

func isComment(l string) bool {
	return strings.HasPrefix(l, `.\"`) || strings.HasPrefix(l, `'\"`) || strings.HasPrefix(l, `\"`)
}

// macro returns the name and arguments of a control line ("." or "'" first), or "" for text.
func macro(l string) (string, []string) {
	if l == "" || (l[0] != '.' && l[0] != '\'') {
		return "", nil
	}
	args := splitArgs(strings.TrimLeft(l[1:], " \t"))
	if len(args) == 0 {
		return "", nil
	}
	return args[0], args[1:]
}

// splitArgs splits macro arguments at blanks, keeping "quoted strings" and escaped characters
// (\ is a blank that does not split) whole. Quotes are removed; escapes are kept for roffInline.
func splitArgs(s string) []string {
	var args []string
	var b strings.Builder
	in, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if s[i+1] == '"' {
				i = len(s) // comment to the end of the line
				continue
			}
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
			in = true
		case c == '"' && quoted:
			if i+1 < len(s) && s[i+1] == '"' { // "" is a quote inside a quoted argument
				b.WriteByte('"')
				i++
				continue
			}
			quoted = false
		case c == '"' && !in:
			quoted, in = true, true
		case (c == ' ' || c == '\t') && !quoted:
			if in {
				args = append(args, b.String())
				b.Reset()
				in = false
			}
		default:
			b.WriteByte(c)
			in = true
		}
	}
	if in {
		args = append(args, b.String())
	}
	return args
}

// roffInline returns the text of one source line: a text line with its escapes resolved, or the
// words of a font macro (.B, .I joined by blanks; .BR, .IR, ... alternating fonts, joined
// without). Other control lines carry no text and give "".
func roffInline(l string) string {
	m, args := macro(l)
	if m == "" {
		if strings.HasPrefix(l, ".") || strings.HasPrefix(l, "'") {
			return ""
		}
		return unescape(l)
	}
	sep := ""
	switch m {
	case "B", "I", "SM", "SB":
		sep = " "
	case "BR", "BI", "IB", "IR", "RB", "RI":
	default:
		return ""
	}
	for i, a := range args {
		args[i] = unescape(a)
	}
	return strings.Join(args, sep)
}

// glyph returns the special character \(xx or \[xx] that pages here use, "" for others.
func glyph(name string) string {
	return map[string]string{
		"em": "\u2014", "en": "\u2013", "hy": "-", "mi": "-", "aq": "'", "dq": `"`, "lq": "\u201c",
		"rq": "\u201d", "oq": "\u2018", "cq": "\u2019", "bu": "\u2022", "ga": "`", "ti": "~", "rs": `\`,
		"ha": "^", "lB": "[", "rB": "]", "lC": "{", "rC": "}", "la": "<", "ra": ">", "ba": "|",
	}[name]
}

// unescape resolves roff escapes in text: fonts and zero-width escapes vanish, \- \e \(xx and
// friends become their characters, \" starts a comment.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch e := s[i]; e {
		case '"':
			return b.String()
		case 'f', '*', 'n', 'F', 'm', 'M':
			// \fB, \f(CW, \f[BI], \*x, \*(xx, \*[name], \n...: the name is dropped.
			i = skipName(s, i+1)
		case '(':
			if i+2 < len(s) {
				b.WriteString(glyph(s[i+1 : i+3]))
				i += 2
			}
		case '[':
			if j := strings.IndexByte(s[i:], ']'); j > 0 {
				b.WriteString(glyph(s[i+1 : i+j]))
				i += j
			}
		case '-':
			b.WriteByte('-')
		case 'e', '\\':
			b.WriteByte('\\')
		case ' ', '~', '0':
			b.WriteByte(' ')
		case '&', '|', '^', ')', ',', '/', 'c', ':':
			// zero width
		default:
			b.WriteByte(e)
		}
	}
	return b.String()
}

// skipName returns the index of the last byte of the escape name starting at s[i]: one
// character, "(xx" or "[name]".
func skipName(s string, i int) int {
	if i >= len(s) {
		return len(s) - 1
	}
	switch s[i] {
	case '(':
		return min(i+2, len(s)-1)
	case '[':
		if j := strings.IndexByte(s[i:], ']'); j >= 0 {
			return i + j
		}
		return len(s) - 1
	}
	return i
}

// RunFunc is a command's run function: args to an exit status.
type RunFunc func(args []string, stdout, stderr io.Writer, env func(string) string) int

// TestDocs is the test every command runs on its documentation: --help exits 0 and writes only
// to stdout, the man page repeats its synopsis and options word for word, and the help lists
// exactly the flags app parses. manPath is relative to the test's package directory.
func TestDocs(t testing.TB, name, manPath string, run RunFunc, app *cli.App) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run([]string{name, "--help"}, &stdout, &stderr, os.Getenv); code != 0 {
		t.Fatalf("%s --help: exit status %d, stderr %q", name, code, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("%s --help wrote to stderr: %q", name, stderr.String())
	}
	if err := CheckManPage(manPath, stdout.String()); err != nil {
		t.Error(err)
	}
	if err := CheckHelpMatchesApp(app, stdout.String()); err != nil {
		t.Error(err)
	}
}
