package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/api"
)

// help is what --help prints; man/clpgrp.8 documents the same synopsis and options.
const help = `Usage:
  clpgrp -s [group_name] [-h hostname] [-f] [--apito timeout]
  clpgrp -t [group_name] [-h hostname] [-f] [--apito timeout]
  clpgrp -m [group_name] [-h hostname] [-a hostname] [--apito timeout]
  clpgrp -n group_name

Operate failover groups. Prints "Command succeeded." on success; any failure prints one
line on stderr and exits 1.

Options:
  -s               start the group (every group when none is named)
  -t               stop the group (every group when none is named)
  -m               move the group to another server
  -n group_name    print the server that runs the group (nothing when it runs nowhere)
  -h hostname      send the request to hostname (default: this server)
  -a hostname      destination of -m (default: next Online server of the failover policy)
  -f               accepted for compatibility: a group another server holds is never
                   started here (it would run twice)
  --apito timeout  wait at most timeout seconds (default: the daemon's api_timeout)
  --help           show this help
`

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "clpgrp",
		Usage: "operate failover groups",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "s", Usage: "start the group (every group when none is named)"},
			&cli.BoolFlag{Name: "t", Usage: "stop the group (every group when none is named)"},
			&cli.BoolFlag{Name: "m", Usage: "move the group to another server"},
			&cli.StringFlag{Name: "n", Usage: "print the server that runs `group_name`"},
			&cli.StringFlag{Name: "h", Usage: "send the request to `hostname` (default: this server)"},
			&cli.StringFlag{Name: "a", Usage: "destination `hostname` of -m (default: next server of the failover policy)"},
			&cli.BoolFlag{Name: "f", Usage: "with -s, start the group here even if another server runs it"},
			&cli.IntFlag{Name: "apito", Usage: "wait at most `timeout` seconds for the operation (default 3600)"},
		},
		Action: func(c *cli.Context) error { return action(c, stdout, env) },
	}
	command.Setup(app, stdout, stderr, 1, help)
	return app
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	valued := func(f string) bool { return f == "-n" || f == "-h" || f == "-a" || f == "--apito" || f == "-apito" }
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], compat.Reorder(args[1:], valued)...))
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	ops := 0
	for _, f := range []string{"s", "t", "m", "n"} {
		if c.IsSet(f) {
			ops++
		}
	}
	if ops != 1 {
		return command.Fail(1, "Invalid option. Give exactly one of -s, -t, -m or -n (see clpgrp --help).")
	}
	if c.NArg() > 1 {
		return command.Fail(1, "Invalid option. Give at most one group name, not %q.", c.Args().Slice())
	}
	if c.IsSet("a") && !c.Bool("m") {
		return command.Fail(1, "Invalid option. -a names the destination of -m only.")
	}
	if c.Bool("f") && c.Bool("m") {
		return command.Fail(1, "Invalid option. -f goes with -s or -t only.")
	}
	apito, err := command.APITimeout(c, 1)
	if err != nil {
		return err
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	ctx, cancel := command.APIContext(apito)
	defer cancel()
	cl := api.NewClient(command.Socket(env))
	if c.IsSet("n") {
		if c.NArg() > 0 {
			return command.Fail(1, "Invalid option. -n takes one group name.")
		}
		cur, err := cl.Current(ctx, c.String("n"))
		if err != nil {
			return command.Fail(1, "%v", err)
		}
		if cur != "" {
			fmt.Fprintln(stdout, cur)
		}
		return nil
	}
	req := api.GroupRequest{Group: c.Args().First(), Host: c.String("h"), Dest: c.String("a"), Force: c.Bool("f")}
	err = nil
	switch {
	case c.Bool("s"):
		err = cl.StartGroup(ctx, req)
	case c.Bool("t"):
		err = cl.StopGroup(ctx, req)
	case c.Bool("m"):
		err = cl.MoveGroup(ctx, req)
	}
	if err != nil {
		return command.Fail(1, "%v", err)
	}
	fmt.Fprintln(stdout, "Command succeeded.")
	return nil
}
