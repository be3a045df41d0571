package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// Exit statuses. 0 is success and 1 "Log in as root." (command.RequireRoot).
const (
	exitOption    = 2
	exitNotActive = 3 // clpd does not answer, or its cluster service is not started
	exitFailed    = 4
)

// spec is clpdown's flag table; man/clpdown.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name:  "clpdown",
		Usage: "clpdown [-r] [-h hostname]",
		About: `Stop the cluster service on the server, then shut the machine down (or reboot it) with
the [os] commands of the configuration. Prints "Command succeeded." on success; a failure
prints one line on stderr, and the exit status says why (see clpdown(8)).`,
		Flags: []command.Flag{
			{Names: []string{"-r"}, Help: "reboot the machine instead of shutting it down"},
			command.HostFlag(),
		},
		UsageCode: exitOption,
		Refusal:   command.InvalidOption,
	}
}

// run reads the whole line before anything is done: "clpdown server2 -h" is refused (an operand,
// and -h without its host), never read as "-h server2".
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, env) })
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	if c.NArg() > 0 {
		return command.Fail(exitOption, "Invalid option. clpdown takes no argument %q (see clpdown --help).", c.Args().First())
	}
	if err := command.CheckHost(c, exitOption); err != nil {
		return err
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	op := api.ClusterDown
	if c.Bool("r") {
		op = api.ClusterDownReboot
	}
	// No deadline of its own: clpd bounds the stop by its api_timeout.
	ctx, cancel := command.APIContext(0)
	defer cancel()
	res, err := api.NewClient(command.Socket(env)).Cluster(ctx, api.ClusterRequest{Op: op, Host: c.String("h")})
	if err != nil {
		return command.Fail(exitCode(api.Code(err)), "%v", err)
	}
	for _, r := range res {
		if r.Error != nil {
			return command.Fail(exitCode(r.Error.Code), "%s", r.Error.Msg)
		}
	}
	fmt.Fprintln(stdout, "Command succeeded.")
	return nil
}

// exitCode maps the code of a failed request to clpdown's exit status.
func exitCode(code status.Code) int {
	switch code {
	case status.CodeNotStarted, api.CodeNoDaemon:
		return exitNotActive
	default:
		return exitFailed
	}
}
