package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/api"
)

// help is what --help prints; man/clpstat.8 documents the same synopsis and options.
const help = `Usage:
  clpstat [-s] [--local] [--long] [-h hostname]
  clpstat -g [-h hostname]
  clpstat -m [-h hostname]
  clpstat --mon [name] [-h hostname]
  clpstat -o json [-h hostname]

Display the cluster status. Exits 0 whenever clpd answers (a stopped cluster is
shown Offline); prints one line on stderr and exits 1 when it does not.
-g, -m, --mon and -o cannot be combined.

Options:
  -s               the status block (the default)
  --local          the status as this server sees it; monitor lines give each
                   monitor's state on this server
  --long           wider name columns (the colon at column 38)
  -g               the group map: which group runs on which server
  -m               the monitor status: each monitor's state on each server
  --mon [name]     the monitor resources' settings, or only those of name
  -o format        output format: json (schema clpkit.status/v1)
  -h hostname      ask that server (default: this server)
  --help           show this help
`

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "clpstat",
		Usage: "display the cluster status",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "s"},
			&cli.BoolFlag{Name: "local"},
			&cli.BoolFlag{Name: "long"},
			&cli.BoolFlag{Name: "g"},
			&cli.BoolFlag{Name: "m"},
			// --mon takes an optional name, which urfave/cli cannot express: run() rewrites
			// every --mon into --mon=<name> or --mon= before the App parses the line.
			&cli.StringFlag{Name: "mon"},
			&cli.StringFlag{Name: "o"},
			&cli.StringFlag{Name: "h"},
		},
		Action: func(c *cli.Context) error { return action(c, stdout, env) },
	}
	command.Setup(app, stdout, stderr, 1, help)
	return app
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	args = append(args[:1:1], monValue(args[1:])...)
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], compat.Reorder(args[1:], valued)...))
}

// valued reports whether a flag, as written, consumes the next argument.
func valued(f string) bool { return f == "-o" || f == "-h" }

// monValue gives --mon its optional value in the one-argument form the flag parser reads:
// `--mon name` becomes `--mon=name`, and a --mon followed by nothing, "--" or another option
// becomes `--mon=` (all monitors). A name is the next argument when it does not start with '-'
// (configured names start with a letter or digit); `--mon=name` is passed through. Values of
// -o and -h are skipped, so `-h --mon` keeps naming a host, and "--" ends the options.
func monValue(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(out, args[i:]...)
		case a == "--mon" || a == "-mon":
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				out = append(out, "--mon="+args[i])
			} else {
				out = append(out, "--mon=")
			}
		case valued(a) && i+1 < len(args):
			out = append(out, a, args[i+1])
			i++
		default:
			out = append(out, a)
		}
	}
	return out
}

// conflict returns the "cannot be combined" failure of a command line that asks for more than
// one display (-g, -m, --mon, -o), or for --long with a display other than the status block
// and JSON; nil when the line is consistent. The first display set, in that order, is the
// subject of the message.
func conflict(c *cli.Context) error {
	var set []string
	for _, f := range []struct {
		flag, name string
	}{{"g", "-g"}, {"m", "-m"}, {"mon", "--mon"}, {"o", "-o"}} {
		if c.IsSet(f.flag) {
			set = append(set, f.name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	others := set[1:]
	if set[0] != "-o" && c.Bool("long") {
		others = append(others, "--long")
	}
	switch len(others) {
	case 0:
		return nil
	case 1:
		return command.Fail(1, "Invalid option. %s cannot be combined with %s.", set[0], others[0])
	default:
		return command.Fail(1, "Invalid option. %s cannot be combined with %s or %s.", set[0], strings.Join(others[:len(others)-1], ", "), others[len(others)-1])
	}
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	if c.NArg() > 0 {
		return command.Fail(1, "Invalid option. clpstat takes no argument %q (see clpstat --help).", c.Args().First())
	}
	if c.IsSet("o") && c.String("o") != "json" {
		return command.Fail(1, "Invalid option. -o accepts only json, not %q.", c.String("o"))
	}
	if err := conflict(c); err != nil {
		return err
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// -h asks another server: the local clpd relays the request over the cluster's TLS link, and
	// the answer is that server's view (its '*', its --local).
	st, err := api.NewClient(command.Socket(env)).StatusOf(ctx, c.String("h"))
	if err != nil {
		return command.Fail(1, "%v", err)
	}
	w := bufio.NewWriter(stdout)
	switch {
	case c.IsSet("o"):
		err = compat.WriteJSON(w, st)
	case c.Bool("g"):
		err = compat.WriteGroupMap(w, st)
	case c.Bool("m"):
		err = compat.WriteMonitorStatus(w, st)
	case c.IsSet("mon"):
		name := c.String("mon")
		err = compat.WriteMonitorConfig(w, st, name)
		if errors.Is(err, compat.ErrUnknownMonitor) {
			// Nothing was written, so stdout stays empty.
			return command.Fail(1, "Invalid monitor resource name %q: the cluster's monitor resources are listed by clpstat -m.", name)
		}
	default:
		err = compat.WriteStatus(w, st, compat.StatusOptions{Long: c.Bool("long"), Local: c.Bool("local")})
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return command.Fail(1, "clpstat: writing the status: %v", err)
	}
	return nil
}
