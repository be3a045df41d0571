package commandtest

// This file checks that a command's man page says what its flag table says: the synopsis lines
// are the table's usage lines, and the options of the OPTIONS section are the table's, each
// spelling with its argument name.
//
// Only as much roff is understood as section 8 pages here use: .SH sections, the font macros
// (.B, .I, .BR, .IR, ...), breaks (.br, .PP, .TP, .nf, ...), and the escapes \fB \fI \fR \fP \-
// \& \e and a few others. Anything else is ignored, never guessed at.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"clpkit/internal/command"
)

// SpecOptions are the options of a table as a man page's OPTIONS tags must spell them, one
// entry per spelling with its argument: "-c file", "--config file", "--help".
func SpecOptions(s command.Spec) []string {
	var out []string
	for _, f := range s.All() {
		out = append(out, f.Spellings()...)
	}
	return out
}

// ManPageProblems compares a man page's roff source with a command's usage lines and options
// (see SpecOptions) and returns one sentence per difference, or nil:
//
//   - the SYNOPSIS section lists exactly the usage lines, in the same order, words compared with
//     blanks collapsed; in the page, a synopsis line ends at a break (.br, .PP, ...) or, between
//     .nf and .fi, at the end of each source line;
//   - the options, each spelling with its argument name ("-c file", "--config file",
//     "--check"), are exactly those of the .TP tags in the page's OPTIONS section, where
//     "-c, --config file" gives file to both spellings.
func ManPageProblems(page string, usage, options []string) []string {
	var problems []string
	secs := manSections(page)
	if syn, ok := secs["SYNOPSIS"]; !ok {
		problems = append(problems, "the man page has no SYNOPSIS section")
	} else {
		problems = append(problems, compareSynopsis(roffOutputLines(syn), usage)...)
	}
	mopts, err := manOptions(secs)
	if err != nil {
		return append(problems, err.Error())
	}
	return append(problems, compareOptions(options, mopts)...)
}

func compareSynopsis(man, usage []string) []string {
	var problems []string
	for i := 0; i < max(len(man), len(usage)); i++ {
		switch {
		case i >= len(man):
			problems = append(problems, fmt.Sprintf("SYNOPSIS lacks usage line %d: %q", i+1, usage[i]))
		case i >= len(usage):
			problems = append(problems, fmt.Sprintf("SYNOPSIS line %d is not a usage line: %q", i+1, man[i]))
		case man[i] != usage[i]:
			problems = append(problems, fmt.Sprintf("SYNOPSIS line %d is %q, but usage line %d is %q", i+1, man[i], i+1, usage[i]))
		}
	}
	return problems
}

func compareOptions(help, man []string) []string {
	var problems []string
	for _, dup := range duplicates(help) {
		problems = append(problems, fmt.Sprintf("option %q is in the table more than once", dup))
	}
	for _, dup := range duplicates(man) {
		problems = append(problems, fmt.Sprintf("option %q is documented more than once in OPTIONS", dup))
	}
	for _, o := range help {
		if !slices.Contains(man, o) {
			problems = append(problems, fmt.Sprintf("option %q of the table is not documented in OPTIONS%s", o, hint(o, man)))
		}
	}
	for _, o := range man {
		if !slices.Contains(help, o) {
			problems = append(problems, fmt.Sprintf("option %q of OPTIONS is not in the table%s", o, hint(o, help)))
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

// manOptions returns the options of the .TP (and .TQ) tags of the OPTIONS and OPERATIONS
// sections. A tag that does not begin with a dash (an operand, a value) is not an option and is
// skipped.
func manOptions(secs map[string][]string) ([]string, error) {
	lines, ok := secs["OPTIONS"]
	if !ok {
		return nil, errors.New("the man page has no OPTIONS section")
	}
	// The forms that act on a running watcher (clp_sambamon -stop) have a section of their own.
	lines = append(slices.Clone(lines), secs["OPERATIONS"]...)
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
