package command

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/pkg/version"
)

// A command's flag table (Spec) is the one place its options are written down: the command line
// is read from it, --help is printed from it, and its man page is checked against it (see
// package commandtest). Before this table, an option was written in four places that drifted
// apart: the help text, urfave Usage strings nobody saw, a list of the flags that take a value,
// and the man page.

// Kind is what an option takes.
type Kind int

const (
	// Switch takes nothing: -f.
	Switch Kind = iota
	// Value takes the next argument, whatever it looks like (-m "-5 degrees"), or a glued
	// "=value".
	Value
	// Number is a Value that must be a whole decimal number from Min to Max.
	Number
	// List is a Value that may be given several times: -m mon1 -m mon2.
	List
	// Optional may have a value: the next argument when it does not start with '-' (--sv
	// server), else none (--sv alone, which reads as ""). The MF commands' /w[seconds] is one
	// too.
	Optional
)

// Flag is one row of a command's table.
type Flag struct {
	// Names are the spellings as --help shows them, dashes included: {"-c", "--config"}. The
	// first, without its dashes, is the name the action reads it by (any of them works). The
	// command line accepts one dash or two for any of them, as Go's flag package does.
	Names []string
	// Arg names the value in --help and the man page; "" for a Switch.
	Arg  string
	Kind Kind
	// Min and Max bound a Number; Takes says what it counts in refusals ("a number of
	// seconds"; "" reads "a number").
	Min, Max int
	Takes    string
	// Default is the value when the option is not given.
	Default string
	// Help is the description --help prints; "\n" starts a new line at the description column.
	Help string
	// Section is the heading of the --help section the row is printed under; "" is "Options".
	Section string
	// Secret marks a password: its value is never printed, in any message.
	Secret bool
	// The legacy grammars' own attributes. Colon: the value may follow a colon (/s:c, /w:10).
	// Glued: the value may be glued to the letter (-n2049). Empty: "" is a value (a password).
	Colon, Glued, Empty bool
}

// Key is the name the action reads the flag by: the first spelling without its dashes.
func (f Flag) Key() string { return strings.TrimLeft(f.Names[0], "-") }

// Spelling is the flag as its --help row and its man page tag write it: "-c, --config file".
func (f Flag) Spelling() string {
	s := strings.Join(f.Names, ", ")
	switch {
	case f.Arg == "":
		return s
	case f.Kind == Optional:
		return s + " [" + f.Arg + "]"
	}
	return s + " " + f.Arg
}

// Spellings are the spellings one by one, each with the argument: "-c file", "--config file".
func (f Flag) Spellings() []string {
	out := make([]string, 0, len(f.Names))
	for _, n := range f.Names {
		g := f
		g.Names = []string{n}
		out = append(out, g.Spelling())
	}
	return out
}

// Spec is a command: its name, its table, and the text --help wraps around the table.
type Spec struct {
	Name string
	// Usage holds the usage lines, one a line; a line that starts with blanks continues the one
	// before it.
	Usage string
	// About is the text between the usage lines and the options.
	About string
	Flags []Flag
	// After is the text after the options, such as the exit statuses.
	After string
	// UsageCode is the exit status of a refused command line.
	UsageCode int
	// Refusal begins the line that refuses a bad value ("Invalid option. " as CLUSTERPRO's
	// commands say it); "" means "<name>: ".
	Refusal string
	// HelpLetters makes -h and -? print the help too, for commands where -h means nothing else.
	HelpLetters bool
	// Dashes reads an en or em dash that begins an option as '-': the seed's PDF prints
	// "padmin –f pfile –c show pent", and an operator who copies it must get the command.
	Dashes bool
}

// InvalidOption is the Refusal of CLUSTERPRO's commands.
const InvalidOption = "Invalid option. "

// HostFlag is -h of the commands whose request this server's clpd relays to another server.
func HostFlag() Flag {
	return Flag{Names: []string{"-h"}, Arg: "hostname", Kind: Value, Help: "send the request to hostname (default: this server)"}
}

// CheckHost refuses, with status code, a -h (HostFlag) without a host: empty, or an option it
// took for one.
func CheckHost(c *cli.Context, code int) error {
	if h := c.String("h"); c.IsSet("h") && (h == "" || strings.HasPrefix(h, "-")) {
		return Fail(code, InvalidOption+"-h needs a host name, not %q.", h)
	}
	return nil
}

// helpFlag and versionFlag end every table's Options; Run answers them itself.
func helpFlag() Flag { return Flag{Names: []string{"--help"}, Help: "show this help"} }
func versionFlag() Flag {
	return Flag{Names: []string{"--version"}, Help: "print the version and exit"}
}

// All is the whole table: the command's flags with --version and --help after the last row of
// Options.
func (s Spec) All() []Flag {
	last := -1
	for i, f := range s.Flags {
		if f.Section == "" {
			last = i
		}
	}
	out := make([]Flag, 0, len(s.Flags)+2)
	out = append(out, s.Flags[:last+1]...)
	out = append(out, versionFlag(), helpFlag())
	return append(out, s.Flags[last+1:]...)
}

// UsageLines are the usage lines, continuations joined and blanks collapsed.
func (s Spec) UsageLines() []string {
	var out []string
	for _, l := range strings.Split(strings.Trim(s.Usage, "\n"), "\n") {
		w := strings.Join(strings.Fields(l), " ")
		if w == "" {
			continue
		}
		if strings.HasPrefix(l, " ") && len(out) > 0 {
			out[len(out)-1] += " " + w
			continue
		}
		out = append(out, w)
	}
	return out
}

// Help is what --help prints.
func (s Spec) Help() string {
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, l := range strings.Split(strings.Trim(s.Usage, "\n"), "\n") {
		b.WriteString("  " + l + "\n")
	}
	if s.About != "" {
		b.WriteString("\n" + strings.Trim(s.About, "\n") + "\n")
	}
	all := s.All()
	col := 0
	for _, f := range all {
		col = max(col, len(f.Spelling())+2)
	}
	section := "-"
	for _, f := range all {
		if f.Section != section {
			section = f.Section
			head := section
			if head == "" {
				head = "Options"
			}
			b.WriteString("\n" + head + ":\n")
		}
		lines := strings.Split(f.Help, "\n")
		fmt.Fprintf(&b, "  %-*s%s\n", col, f.Spelling(), lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "  %*s%s\n", col, "", l)
		}
	}
	if s.After != "" {
		b.WriteString("\n" + strings.Trim(s.After, "\n") + "\n")
	}
	return b.String()
}

// Version is what --version prints.
func (s Spec) Version() string { return s.Name + " (clpkit) " + version.String() + "\n" }

// lookup finds the flag a typed name (without dashes) stands for.
func (s Spec) lookup(name string) (Flag, bool) {
	for _, f := range s.All() {
		for _, n := range f.Names {
			if strings.TrimLeft(n, "-") == name {
				return f, true
			}
		}
	}
	return Flag{}, false
}

// refusal is the beginning of a line that refuses a value.
func (s Spec) refusal() string {
	if s.Refusal != "" {
		return s.Refusal
	}
	return s.Name + ": "
}

// Unsupported is the line for an option the command does not have (yet), spelled as typed.
func (s Spec) Unsupported(typed string) error {
	return Fail(s.UsageCode, "%s: option %s is not supported yet", s.Name, compat.ShownArg(typed))
}

// parsed is a command line read against the table.
type parsed struct {
	help, version bool
	// argv is the line for the urfave App: every option as -name or -name=value, then "--"
	// and the operands, so that the App can misread nothing.
	argv []string
}

// parse reads args (without the command name) against the table: options anywhere (legacy
// lines put operands first: clpgrp -s failover1 -h server1), each checked against the table,
// numbers against their range. "--" ends the options.
func (s Spec) parse(args []string) (parsed, error) {
	var p parsed
	var opts, operands []string
	if s.Dashes {
		args = compat.FixDashes(args)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		typed, value, glued := strings.Cut(a, "=")
		name := strings.TrimPrefix(strings.TrimPrefix(typed, "-"), "-")
		if s.HelpLetters && (name == "h" || name == "?") && !glued {
			p.help = true
			return p, nil
		}
		f, ok := s.lookup(name)
		if !ok {
			if typed == "-" || typed == "--" {
				typed = a
			}
			return p, s.Unsupported(typed)
		}
		switch f.Key() {
		case "help":
			p.help = true
			return p, nil
		case "version":
			p.version = true
			return p, nil
		}
		if f.Kind == Switch {
			// A glued value ("-f=false") is the App's to read, as Go's flag package reads it.
			if glued {
				opts = append(opts, "-"+name+"="+value)
			} else {
				opts = append(opts, "-"+name)
			}
			continue
		}
		if !glued {
			switch {
			case f.Kind == Optional:
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
					i++
					value = args[i]
				}
			case i+1 >= len(args):
				return p, Fail(s.UsageCode, "%s: option %s needs its argument %s (see %s --help)", s.Name, compat.ShownArg(typed), f.Arg, s.Name)
			default:
				i++
				value = args[i]
			}
		}
		if f.Kind == Number {
			if _, err := s.number(f, typed, value); err != nil {
				return p, err
			}
		}
		opts = append(opts, "-"+name+"="+value)
	}
	p.argv = append(append(opts, "--"), operands...)
	return p, nil
}

// number reads a Number's value: decimal, blanks around it allowed, from f.Min to f.Max.
func (s Spec) number(f Flag, typed, value string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(value))
	if err != nil || n < f.Min || n > f.Max {
		takes := f.Takes
		if takes == "" {
			takes = "a number"
		}
		shown := strings.TrimSpace(value)
		if !isInteger(shown) {
			shown = strconv.Quote(value)
		}
		return 0, Fail(s.UsageCode, "%s%s takes %s from %d to %d, not %s.", s.refusal(), compat.ShownArg(typed), takes, f.Min, f.Max, shown)
	}
	return n, nil
}

// isInteger reports whether s is written as a whole number, however large.
func isInteger(s string) bool {
	return compat.AllDigits(strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+"))
}

// Int returns the value of the Number flag name: what was given (parse checked it), else its
// Default, else 0.
func Int(c *cli.Context, name string) int {
	v := c.String(name)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0
	}
	return n
}

// App returns the urfave App that reads what parse wrote, with action as its Action.
func (s Spec) App(stdout, stderr io.Writer, action cli.ActionFunc) *cli.App {
	var flags []cli.Flag
	for _, f := range s.Flags {
		names := make([]string, len(f.Names))
		for i, n := range f.Names {
			names[i] = strings.TrimLeft(n, "-")
		}
		switch f.Kind {
		case Switch:
			flags = append(flags, &cli.BoolFlag{Name: names[0], Aliases: names[1:]})
		case List:
			flags = append(flags, &cli.StringSliceFlag{Name: names[0], Aliases: names[1:]})
		default:
			flags = append(flags, &cli.StringFlag{Name: names[0], Aliases: names[1:], Value: f.Default})
		}
	}
	app := &cli.App{
		Name:  s.Name,
		Flags: flags,
		// A value is taken whole, commas included (a monitor name, a passed-through option).
		DisableSliceFlagSeparator: true,
		Action:                    action,
	}
	Setup(app, stdout, stderr, s.UsageCode, s.Help())
	return app
}

// Run runs the command line args (args[0] is the command's name) against the table: --help and
// --version are answered here, a refused line gets one line on stderr and UsageCode, and any
// other line goes to action. It returns the exit status.
func (s Spec) Run(args []string, stdout, stderr io.Writer, action cli.ActionFunc) int {
	p, err := s.parse(args[1:])
	switch {
	case err != nil:
		fmt.Fprintln(stderr, err)
		return exitCode(err)
	case p.help:
		fmt.Fprint(stdout, s.Help())
		return 0
	case p.version:
		fmt.Fprint(stdout, s.Version())
		return 0
	}
	return Run(s.App(stdout, stderr, action), append(args[:1:1], p.argv...))
}

func exitCode(err error) int {
	if f, ok := err.(*Failure); ok {
		return f.Code
	}
	return 1
}
