package main

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// spec is clpgrp's flag table; man/clpgrp.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "clpgrp",
		Usage: `clpgrp -s [group_name] [-h hostname] [-f] [--apito timeout]
clpgrp -t [group_name] [-h hostname] [-f] [--apito timeout]
clpgrp -m [group_name] [-h hostname] [-a hostname] [--apito timeout]
clpgrp -n group_name`,
		About: `Operate failover groups. Prints "Command succeeded." on success; any failure prints one
line on stderr and exits 1.`,
		Flags: []command.Flag{
			{Names: []string{"-s"}, Help: "start the group (every group when none is named)"},
			{Names: []string{"-t"}, Help: "stop the group (every group when none is named)"},
			{Names: []string{"-m"}, Help: "move the group to another server"},
			{Names: []string{"-n"}, Arg: "group_name", Kind: command.Value, Help: "print the server that runs the group (nothing when it runs nowhere)"},
			command.HostFlag(),
			{Names: []string{"-a"}, Arg: "hostname", Kind: command.Value, Help: "destination of -m (default: next Online server of the failover policy)"},
			{Names: []string{"-f"}, Help: "with -s, accepted for compatibility: a group another server holds is never\n" +
				"started here (it would run twice); with -t, stop the group on the server\n" +
				"that runs it, also when that is another server"},
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
	if err := command.RequireRoot(); err != nil {
		return err
	}
	ctx, cancel := command.APIContext(command.Int(c, "apito"))
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
	var err error
	switch {
	case c.Bool("s"):
		err = cl.StartGroup(ctx, req)
	case c.Bool("t"):
		err = cl.StopGroup(ctx, req)
		if req.Force && req.Group != "" && api.Code(err) == status.CodeStartedOther {
			// The answer tells the operator to use -f, which was given: CLUSTERPRO's -t -f stops
			// the group where it runs, so the stop goes to that server (clpd relays it, as -h).
			err = stopWhereRunning(ctx, cl, req)
		}
	case c.Bool("m"):
		err = cl.MoveGroup(ctx, req)
	}
	if err != nil {
		return command.Fail(1, "%v", err)
	}
	fmt.Fprintln(stdout, "Command succeeded.")
	return nil
}

// stopWhereRunning sends the stop of req to the server that runs its group.
func stopWhereRunning(ctx context.Context, cl *api.Client, req api.GroupRequest) error {
	owner, err := cl.Current(ctx, req.Group)
	switch {
	case err != nil:
		return err
	case owner == "":
		return status.ErrAlreadyStopped()
	}
	req.Host = owner
	return cl.StopGroup(ctx, req)
}
