package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// Exit statuses of clprsc. CLUSTERPRO's own numbering is not public; these are clpkit's. 0 is
// success and 1 "Log in as root." (command.RequireRoot).
const (
	exitOption    = 2
	exitInvalid   = 3 // no such resource
	exitNotActive = 4 // no clpd, or its cluster service is not started or suspended
	exitState     = 5 // busy, already started, already stopped, started on another server
	exitFailed    = 6 // the start or stop failed
	exitTimeout   = 7
	exitOther     = 255
)

// spec is clprsc's flag table; man/clprsc.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "clprsc",
		Usage: `clprsc -s resource_name [-h hostname] [-f] [--apito timeout]
clprsc -t resource_name [-h hostname] [-f] [--apito timeout]
clprsc -n resource_name`,
		About: `Operate one resource of a failover group. -s and -t print "Command succeeded." on success;
-n prints the server the resource runs on. A failure prints one line on stderr, and the
exit status says why (see clprsc(8)).`,
		Flags: []command.Flag{
			{Names: []string{"-s"}, Arg: "resource_name", Kind: command.Value, Help: "start the resource; its group must run on the server or be able to\nstart there"},
			{Names: []string{"-t"}, Arg: "resource_name", Kind: command.Value, Help: "stop the resource"},
			{Names: []string{"-n"}, Arg: "resource_name", Kind: command.Value, Help: "print the server that runs the resource (nothing when it runs nowhere)"},
			command.HostFlag(),
			{Names: []string{"-f"}, Help: "with -s, also start the resources it depends on; with -t, also stop\nthe resources that depend on it"},
			command.APITimeoutFlag(),
		},
		UsageCode: exitOption,
		Refusal:   command.InvalidOption,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, env) })
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	var flag, op string
	n := 0
	for _, o := range []struct{ flag, op string }{
		{"s", api.ResourceStart}, {"t", api.ResourceStop}, {"n", api.ResourceCurrent},
	} {
		if c.IsSet(o.flag) {
			flag, op = o.flag, o.op
			n++
		}
	}
	if n != 1 {
		return command.Fail(exitOption, "Invalid option. Give exactly one of -s, -t or -n with a resource name (see clprsc --help).")
	}
	rsc := c.String(flag)
	if rsc == "" || strings.HasPrefix(rsc, "-") {
		return command.Fail(exitOption, "Invalid option. -%s needs a resource name, not %q.", flag, rsc)
	}
	if err := command.CheckHost(c, exitOption); err != nil {
		return err
	}
	if c.NArg() > 0 {
		return command.Fail(exitOption, "Invalid option. clprsc takes no argument %q: the resource name follows -s, -t or -n.", c.Args().First())
	}
	if op == api.ResourceCurrent && (c.IsSet("h") || c.IsSet("f") || c.IsSet("apito")) {
		return command.Fail(exitOption, "Invalid option. -n takes a resource name only, without -h, -f or --apito.")
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	ctx, cancel := command.APIContext(command.Int(c, "apito"))
	defer cancel()
	req := api.ResourceRequest{Op: op, Resource: rsc, Host: c.String("h"), Force: c.Bool("f")}
	cur, err := api.NewClient(command.Socket(env)).Resource(ctx, req)
	if err != nil {
		return command.Fail(exitCode(err), "%v", err)
	}
	if op == api.ResourceCurrent {
		if cur != "" {
			fmt.Fprintln(stdout, cur)
		}
		return nil
	}
	fmt.Fprintln(stdout, "Command succeeded.")
	return nil
}

// exitCode maps a failed request to clprsc's exit status.
func exitCode(err error) int {
	switch api.Code(err) {
	case status.CodeInvalidRsc:
		return exitInvalid
	case status.CodeNotStarted, status.CodeSuspended, api.CodeNoDaemon:
		return exitNotActive
	case status.CodeBusy, status.CodeAlreadyStarted, status.CodeAlreadyStopped, status.CodeStartedOther:
		return exitState
	case status.CodeStartFailed, status.CodeStopFailed:
		return exitFailed
	case status.CodeTimeout:
		return exitTimeout
	default:
		return exitOther
	}
}
