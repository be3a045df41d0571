package main

import (
	"bufio"
	"context"
	"io"
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
  clpstat -o json [-h hostname]

Display the cluster status. Exits 0 whenever clpd answers (a stopped cluster is
shown Offline); prints one line on stderr and exits 1 when it does not.

Options:
  -s               the status block (the default)
  --local          the status as this server sees it
  --long           wider name columns (the colon at column 38)
  -g               the group map: which group runs on which server
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
			&cli.StringFlag{Name: "o"},
			&cli.StringFlag{Name: "h"},
		},
		Action: func(c *cli.Context) error { return action(c, stdout, env) },
	}
	command.Setup(app, stdout, stderr, 1, help)
	return app
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	valued := func(f string) bool { return f == "-o" || f == "-h" }
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], compat.Reorder(args[1:], valued)...))
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	if c.NArg() > 0 {
		return command.Fail(1, "Invalid option. clpstat takes no argument %q (see clpstat --help).", c.Args().First())
	}
	if c.IsSet("o") && c.String("o") != "json" {
		return command.Fail(1, "Invalid option. -o accepts only json, not %q.", c.String("o"))
	}
	if c.Bool("g") && (c.IsSet("o") || c.Bool("long")) {
		return command.Fail(1, "Invalid option. -g cannot be combined with -o or --long.")
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := api.NewClient(command.Socket(env)).Status(ctx)
	if err != nil {
		return command.Fail(1, "%v", err)
	}
	// Asking another server needs the link between servers; asking ourselves by name is the
	// same answer as asking without -h.
	if h := c.String("h"); h != "" && h != st.LocalServer {
		found := false
		for _, s := range st.Servers {
			found = found || s.Name == h
		}
		if !found {
			return command.Fail(1, "Invalid server name %q: the cluster's servers are listed by clpstat.", h)
		}
		return command.Fail(1, "Could not connect to server %s: requests to another server are not supported yet; run clpstat on %s.", h, h)
	}
	w := bufio.NewWriter(stdout)
	switch {
	case c.IsSet("o"):
		err = compat.WriteJSON(w, st)
	case c.Bool("g"):
		err = compat.WriteGroupMap(w, st)
	default:
		err = compat.WriteStatus(w, st, compat.StatusOptions{Long: c.Bool("long")})
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return command.Fail(1, "clpstat: writing the status: %v", err)
	}
	return nil
}
