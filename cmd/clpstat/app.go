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
  clpstat -n [-h hostname]
  clpstat -p [-h hostname]
  clpstat -i [--detail] [-h hostname]
  clpstat --cl [--detail] [-h hostname]
  clpstat --sv [server] [-h hostname]
  clpstat --hb [hb] [-h hostname]
  clpstat --grp [group] [-h hostname]
  clpstat --rsc [resource] [-h hostname]
  clpstat --mon [name] [-h hostname]
  clpstat -o json [-h hostname]

Display the cluster status. Exits 0 whenever clpd answers (a stopped cluster is
shown Offline); prints one line on stderr and exits 1 when it does not.
-g, -m, -n, -p, -i, --cl, --sv, --hb, --grp, --rsc, --mon and -o cannot be
combined.

Options:
  -s                 the status block (the default)
  --local            the status as this server sees it; monitor lines give
                     each monitor's state on this server, and groups running
                     on another server are Offline here
  --long             wider name columns (the colon at column 38)
  -g                 the group map: which group runs on which server
  -m                 the monitor status: each monitor's state on each server
  -n                 the heartbeat status: each heartbeat on each server
  -p                 the network partition resolution status: which servers
                     the witness answers
  -i                 the whole configuration: --cl, --sv, --hb, --grp, --rsc
                     and --mon in one display
  --cl               the cluster's name and comment
  --detail           with --cl or -i: the cluster's settings too
  --sv [server]      the servers' settings, or only those of server
  --hb [hb]          the heartbeat resources' settings, or only those of hb
  --grp [group]      the groups' settings, or only those of group
  --rsc [resource]   the group resources' settings, or only those of resource
  --mon [name]       the monitor resources' settings, or only those of name
  -o format          output format: json (schema clpkit.status/v1)
  -h hostname        ask that server (default: this server)
  --help             show this help
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
			&cli.BoolFlag{Name: "n"},
			&cli.BoolFlag{Name: "p"},
			&cli.BoolFlag{Name: "i"},
			&cli.BoolFlag{Name: "cl"},
			&cli.BoolFlag{Name: "detail"},
			// --sv, --hb, --grp, --rsc and --mon take an optional name, which urfave/cli cannot
			// express: run() rewrites each into --opt=<name> or --opt= before the App parses
			// the line (optionalValues).
			&cli.StringFlag{Name: "sv"},
			&cli.StringFlag{Name: "hb"},
			&cli.StringFlag{Name: "grp"},
			&cli.StringFlag{Name: "rsc"},
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
	args = append(args[:1:1], optionalValues(args[1:])...)
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], compat.Reorder(args[1:], valued)...))
}

// valued reports whether a flag, as written, consumes the next argument.
func valued(f string) bool { return f == "-o" || f == "-h" }

// optional lists the options whose name argument is optional, in the order of the displays.
var optional = []string{"sv", "hb", "grp", "rsc", "mon"}

// optionalValues gives --sv, --hb, --grp, --rsc and --mon their optional value in the
// one-argument form the flag parser reads: `--mon name` becomes `--mon=name`, and a --mon
// followed by nothing, "--" or another option becomes `--mon=` (all of them). A name is the next
// argument when it does not start with '-' (configured names start with a letter or digit);
// `--mon=name` is passed through, and `-mon` is taken for `--mon` as the flag parser does. Values
// of -o and -h are skipped, so `-h --mon` keeps naming a host, and "--" ends the options.
func optionalValues(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if name, ok := optionalName(a); ok {
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				out = append(out, "--"+name+"="+args[i])
			} else {
				out = append(out, "--"+name+"=")
			}
			continue
		}
		if valued(a) && i+1 < len(args) {
			out = append(out, a, args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

// optionalName reports which option of optional a spells, with one dash or two and no value.
func optionalName(a string) (string, bool) {
	for _, n := range optional {
		if a == "--"+n || a == "-"+n {
			return n, true
		}
	}
	return "", false
}

// displays are the options that each choose a display, in the order the "cannot be combined"
// message names them.
var displays = []struct{ flag, name string }{
	{"g", "-g"}, {"m", "-m"}, {"n", "-n"}, {"p", "-p"}, {"i", "-i"}, {"cl", "--cl"},
	{"sv", "--sv"}, {"hb", "--hb"}, {"grp", "--grp"}, {"rsc", "--rsc"}, {"mon", "--mon"}, {"o", "-o"},
}

// conflict returns the "cannot be combined" failure of a command line that asks for more than
// one display (-g, -m, -n, -p, -i, --cl, --sv, --hb, --grp, --rsc, --mon, -o), or for --long
// with a display other than the status block and JSON, or for --detail without --cl or -i; nil
// when the line is consistent. The first display set, in that order, is the subject of the
// message.
func conflict(c *cli.Context) error {
	var set []string
	for _, f := range displays {
		if c.IsSet(f.flag) {
			set = append(set, f.name)
		}
	}
	if len(set) == 0 {
		if c.Bool("detail") {
			return command.Fail(1, "Invalid option. --detail needs --cl or -i.")
		}
		return nil
	}
	others := set[1:]
	if set[0] != "-o" && c.Bool("long") {
		others = append(others, "--long")
	}
	switch len(others) {
	case 0:
	case 1:
		return command.Fail(1, "Invalid option. %s cannot be combined with %s.", set[0], others[0])
	default:
		return command.Fail(1, "Invalid option. %s cannot be combined with %s or %s.", set[0], strings.Join(others[:len(others)-1], ", "), others[len(others)-1])
	}
	if c.Bool("detail") && set[0] != "--cl" && set[0] != "-i" {
		return command.Fail(1, "Invalid option. --detail needs --cl or -i, not %s.", set[0])
	}
	return nil
}

// unknownName is the message of a configuration display asked for a name the cluster does not
// have, by the error the renderer wrapped.
var unknownName = []struct {
	err  error
	what string
	list string
}{
	{compat.ErrUnknownServer, "server", "clpstat --sv"},
	{compat.ErrUnknownHeartbeat, "heartbeat resource", "clpstat --hb"},
	{compat.ErrUnknownGroup, "group", "clpstat --grp"},
	{compat.ErrUnknownResource, "group resource", "clpstat --rsc"},
	{compat.ErrUnknownMonitor, "monitor resource", "clpstat -m"},
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
	case c.Bool("n"):
		err = compat.WriteHeartbeatStatus(w, st)
	case c.Bool("p"):
		err = compat.WriteNPStatus(w, st)
	case c.Bool("i"):
		err = compat.WriteConfig(w, st, c.Bool("detail"))
	case c.Bool("cl"):
		err = compat.WriteClusterConfig(w, st, c.Bool("detail"))
	case c.IsSet("sv"):
		err = compat.WriteServerConfig(w, st, c.String("sv"))
	case c.IsSet("hb"):
		err = compat.WriteHeartbeatConfig(w, st, c.String("hb"))
	case c.IsSet("grp"):
		err = compat.WriteGroupConfig(w, st, c.String("grp"))
	case c.IsSet("rsc"):
		err = compat.WriteResourceConfig(w, st, c.String("rsc"))
	case c.IsSet("mon"):
		err = compat.WriteMonitorConfig(w, st, c.String("mon"))
	default:
		err = compat.WriteStatus(w, st, compat.StatusOptions{Long: c.Bool("long"), Local: c.Bool("local")})
	}
	for _, u := range unknownName {
		if errors.Is(err, u.err) {
			// Nothing was written, so stdout stays empty.
			name := ""
			for _, o := range optional {
				if c.IsSet(o) {
					name = c.String(o)
				}
			}
			return command.Fail(1, "Invalid %s name %q: the cluster's %ss are listed by %s.", u.what, name, u.what, u.list)
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return command.Fail(1, "clpstat: writing the status: %v", err)
	}
	return nil
}
