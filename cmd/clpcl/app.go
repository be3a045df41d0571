package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/api"
)

// help is what --help prints; man/clpcl.8 documents the same synopsis and options.
const help = `Usage:
  clpcl -s [-a] [-h hostname] [--apito timeout]
  clpcl -t [-a] [-h hostname] [--apito timeout]
  clpcl -r [-a] [-h hostname] [--apito timeout]
  clpcl --suspend [-a] [-h hostname]
  clpcl --resume [-a] [-h hostname]

Operate the cluster service. Prints one line per server, "<Op> <server> : Command
succeeded." or the reason it failed; exits 1 when any server failed.

Options:
  -s               start the cluster service: join the cluster and start auto-start groups
  -t               stop the cluster service: stop this server's groups and leave the cluster
  -r               stop, then start the cluster service
  --suspend        suspend the cluster: groups keep running, no group operation is accepted
  --resume         resume a suspended cluster
  -a               every server of the cluster
  -h hostname      send the request to hostname (default: this server)
  --apito timeout  wait at most timeout seconds (default: the daemon's api_timeout)
  --help           show this help
`

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "clpcl",
		Usage: "operate the cluster service",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "s"},
			&cli.BoolFlag{Name: "t"},
			&cli.BoolFlag{Name: "r"},
			&cli.BoolFlag{Name: "suspend"},
			&cli.BoolFlag{Name: "resume"},
			&cli.BoolFlag{Name: "a"},
			&cli.StringFlag{Name: "h"},
			&cli.IntFlag{Name: "apito"},
		},
		Action: func(c *cli.Context) error { return action(c, stdout, env) },
	}
	command.Setup(app, stdout, stderr, 1, help)
	return app
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	valued := func(f string) bool { return f == "-h" || f == "--apito" || f == "-apito" }
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], compat.Reorder(args[1:], valued)...))
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	if c.NArg() > 0 {
		return command.Fail(1, "Invalid option. clpcl takes no argument %q (see clpcl --help).", c.Args().First())
	}
	// Each flag, its request, and the verb of its result lines.
	ops := []struct{ flag, op, verb string }{
		{"s", api.ClusterStart, "Start"},
		{"t", api.ClusterStop, "Stop"},
		{"r", api.ClusterRestart, "Restart"},
		{"suspend", api.ClusterSuspend, "Suspend"},
		{"resume", api.ClusterResume, "Resume"},
	}
	var op, verb string
	n := 0
	for _, o := range ops {
		if c.Bool(o.flag) {
			op, verb = o.op, o.verb
			n++
		}
	}
	if n != 1 {
		return command.Fail(1, "Invalid option. Give exactly one of -s, -t, -r, --suspend or --resume (see clpcl --help).")
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
	res, err := api.NewClient(command.Socket(env)).Cluster(ctx, api.ClusterRequest{Op: op, All: c.Bool("a"), Host: c.String("h")})
	if err != nil {
		return command.Fail(1, "%v", err)
	}
	failed := false
	for _, r := range res {
		if r.Error != nil {
			fmt.Fprintf(stdout, "%s %s : %s\n", verb, r.Server, r.Error.Msg)
			failed = true
			continue
		}
		fmt.Fprintf(stdout, "%s %s : Command succeeded.\n", verb, r.Server)
	}
	if failed {
		return command.Fail(1, "")
	}
	return nil
}
