package command

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
)

// MF is the Micro Focus grammar of a table (see compat.NormalizeMF): each one-letter option is
// its letter in either case after a slash or a dash, its value glued or not; the long options
// that take a value are written as they are. operands is how many operands the command takes.
func (s Spec) MF(operands int) compat.MFSpec {
	g := compat.MFSpec{Operands: operands}
	for _, f := range s.Flags {
		n := f.Names[0]
		if strings.HasPrefix(n, "--") {
			if f.Kind != Switch {
				g.Long = append(g.Long, n[2:])
			}
			continue
		}
		kind := compat.MFValue
		switch f.Kind {
		case Switch:
			kind = compat.MFBool
		case Optional:
			kind = compat.MFOptional
		}
		g.Options = append(g.Options, compat.MFOption{Letter: strings.ToLower(n[1:2])[0], Kind: kind, Colon: f.Colon, Secret: f.Secret})
	}
	return g
}

// RunMF runs a Micro Focus command line read with grammar g: help for --help (and, with
// HelpLetters, -h, -? and /?), the version for --version, one line and UsageCode for a line g
// refuses; any other line goes to action.
func (s Spec) RunMF(g compat.MFSpec, args []string, stdout, stderr io.Writer, action cli.ActionFunc) int {
	if s.HelpLetters && AsksHelp(args[1:]) {
		fmt.Fprint(stdout, s.Help())
		return 0
	}
	argv, err := compat.NormalizeMF(args[1:], g)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", s.Name, err, s.Name)
		return s.UsageCode
	}
	for _, a := range argv {
		if a == "--" {
			break
		}
		if a == "--version" {
			fmt.Fprint(stdout, s.Version())
			return 0
		}
	}
	return Run(s.App(stdout, stderr, action), append(args[:1:1], argv...))
}
