package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// help is what --help prints; man/clprsc.8 documents the same synopsis and options.
const help = `Usage:
  clprsc -s resource_name [-h hostname] [-f] [--apito timeout]
  clprsc -t resource_name [-h hostname] [-f] [--apito timeout]
  clprsc -n resource_name

Operate one resource of a failover group. -s and -t print "Command succeeded." on success;
-n prints the server the resource runs on. A failure prints one line on stderr, and the
exit status says why (see clprsc(8)).

Options:
  -s resource_name  start the resource; its group must run on the server or be able to
                    start there
  -t resource_name  stop the resource
  -n resource_name  print the server that runs the resource (nothing when it runs nowhere)
  -h hostname       send the request to hostname (default: this server)
  -f                with -s, also start the resources it depends on; with -t, also stop
                    the resources that depend on it
  --apito timeout   wait at most timeout seconds, 1 to 86400 (default: the daemon's
                    api_timeout)
  --help            show this help
`

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

// maxAPITimeout bounds --apito: one day.
const maxAPITimeout = 3600 * 24

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "clprsc",
		Usage: "operate one resource",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "s", Usage: "start `resource_name`"},
			&cli.StringFlag{Name: "t", Usage: "stop `resource_name`"},
			&cli.StringFlag{Name: "n", Usage: "print the server that runs `resource_name`"},
			&cli.StringFlag{Name: "h", Usage: "send the request to `hostname` (default: this server)"},
			&cli.BoolFlag{Name: "f", Usage: "also start what it depends on (-s), or stop what depends on it (-t)"},
			&cli.IntFlag{Name: "apito", Usage: "wait at most `timeout` seconds"},
		},
		Action: func(c *cli.Context) error { return action(c, stdout, env) },
	}
	command.Setup(app, stdout, stderr, exitOption, help)
	return app
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	valued := func(f string) bool {
		switch strings.TrimLeft(f, "-") {
		case "s", "t", "n", "h", "apito":
			return true
		}
		return false
	}
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], compat.Reorder(args[1:], valued)...))
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
	if h := c.String("h"); c.IsSet("h") && (h == "" || strings.HasPrefix(h, "-")) {
		return command.Fail(exitOption, "Invalid option. -h needs a host name, not %q.", h)
	}
	if c.NArg() > 0 {
		return command.Fail(exitOption, "Invalid option. clprsc takes no argument %q: the resource name follows -s, -t or -n.", c.Args().First())
	}
	if op == api.ResourceCurrent && (c.IsSet("h") || c.IsSet("f") || c.IsSet("apito")) {
		return command.Fail(exitOption, "Invalid option. -n takes a resource name only, without -h, -f or --apito.")
	}
	if c.IsSet("apito") {
		if t := c.Int("apito"); t < 1 || t > maxAPITimeout {
			return command.Fail(exitOption, "Invalid option. --apito takes 1 to %d seconds, not %d.", maxAPITimeout, t)
		}
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	ctx, cancel := command.APIContext(c.Int("apito"))
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
