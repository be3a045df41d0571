package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/api"
)

// spec is clpcl's flag table; man/clpcl.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "clpcl",
		Usage: `clpcl -s [-a] [-h hostname] [--apito timeout]
clpcl -t [-a] [-h hostname] [--apito timeout]
clpcl -r [-a] [-h hostname] [--apito timeout]
clpcl --suspend [-a] [-h hostname]
clpcl --resume [-a] [-h hostname]`,
		About: `Operate the cluster service. Prints one line per server, "<Op> <server> : Command
succeeded." or the reason it failed; exits 1 when any server failed.`,
		Flags: []command.Flag{
			{Names: []string{"-s"}, Help: "start the cluster service: join the cluster and start auto-start groups"},
			{Names: []string{"-t"}, Help: "stop the cluster service: stop this server's groups and leave the cluster"},
			{Names: []string{"-r"}, Help: "stop, then start the cluster service"},
			{Names: []string{"--suspend"}, Help: "suspend the cluster: groups keep running, no group operation is accepted"},
			{Names: []string{"--resume"}, Help: "resume a suspended cluster"},
			{Names: []string{"-a"}, Help: "every server of the cluster"},
			command.HostFlag(),
			command.APITimeoutFlag(),
		},
		UsageCode: 1,
		Refusal:   command.InvalidOption,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, env) })
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
	if err := command.RequireRoot(); err != nil {
		return err
	}
	ctx, cancel := command.APIContext(command.Int(c, "apito"))
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
