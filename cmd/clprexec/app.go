package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// help is what --help prints; man/clprexec.8 documents the same synopsis and options.
const help = `Usage:
  clprexec --failover [group_name] -h IP [-r resource_name] [-w timeout] [-p port] [-o logfile]
  clprexec --script script_file -h IP [-p port] [-w timeout] [-o logfile]
  clprexec --notice [mrw_name] -h IP [-k category[.keyword]] [-p port] [-w timeout] [-o logfile]

Ask a server of this cluster to fail a group over. Prints "Command succeeded." on success;
a failure prints one line on stderr, and the exit status says why (see clprexec(8)).
--script and --notice are not supported yet: they are refused.

Options:
  --failover             ask the server of -h to fail the group over: it moves the group
                         away, to the next server of the group's failover policy
  --script script_file   run a script on the server of -h (not supported yet: refused)
  --notice               notify a message receive monitor (not supported yet: refused)
  -h IP                  the IP address, or the name, of a server of this cluster
  -r resource_name       with --failover and no group_name: the group of this resource
  -k category[.keyword]  with --notice: the category and keyword of the notice
  -w timeout             wait at most timeout seconds, 1 to 65535 (default 30)
  -p port                accepted for compatibility and ignored (the servers' api_url is used)
  -o logfile             also append the result line to logfile
  --help                 show this help
`

// Exit statuses. 0 is success and 1 "Log in as root." (command.RequireRoot).
const (
	exitOption      = 2
	exitUnreachable = 3 // the server cannot be reached, or is no server of this cluster
	exitFailed      = 4
	exitTimeout     = 5
)

const (
	defaultWait = 30    // -w
	maxWait     = 65535 // -w
	maxPort     = 65535 // -p
)

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "clprexec",
		Usage: "ask a server of the cluster to fail a group over",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "failover", Usage: "fail the group over"},
			&cli.StringFlag{Name: "script", Usage: "run `script_file` on the server (not supported)"},
			&cli.BoolFlag{Name: "notice", Usage: "notify a message receive monitor (not supported)"},
			&cli.StringFlag{Name: "h", Usage: "the `IP` address or name of a server of this cluster"},
			&cli.StringFlag{Name: "r", Usage: "fail over the group of `resource_name`"},
			&cli.StringFlag{Name: "k", Usage: "`category[.keyword]` of the notice"},
			&cli.IntFlag{Name: "w", Usage: "wait at most `timeout` seconds (default 30)"},
			&cli.IntFlag{Name: "p", Usage: "`port`, ignored"},
			&cli.StringFlag{Name: "o", Usage: "also append the result line to `logfile`"},
		},
		Action: func(c *cli.Context) error { return action(c, stdout, env) },
	}
	command.Setup(app, stdout, stderr, exitOption, help)
	return app
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	valued := func(f string) bool {
		switch strings.TrimLeft(f, "-") {
		case "script", "h", "r", "k", "w", "p", "o":
			return true
		}
		return false
	}
	app := newApp(stdout, stderr, env)
	// A valued flag that ends the command line has no value. Reordered, it would take the
	// positional argument moved after it ("--failover group -h" would ask server "group").
	if rest := args[1:]; len(rest) > 0 {
		last := rest[len(rest)-1]
		if strings.HasPrefix(last, "-") && !strings.Contains(last, "=") && valued(last) &&
			!slices.Contains(rest, "--") && !slices.Contains(rest, "--help") && !slices.Contains(rest, "-help") {
			return command.Run(app, []string{args[0], last})
		}
	}
	return command.Run(app, append(args[:1:1], compat.Reorder(args[1:], valued)...))
}

// failover is a checked --failover command line.
type failover struct {
	group, resource, host, logfile string
	wait                           int
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	f, err := parse(c)
	if err != nil {
		return err
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	// The log file is opened before anything is asked, so that a request never goes out
	// unrecorded.
	var log io.Writer = io.Discard
	if f.logfile != "" {
		lf, err := os.OpenFile(f.logfile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return command.Fail(exitOption, "clprexec: cannot open the log file of -o: %v", err)
		}
		defer lf.Close()
		log = lf
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(f.wait)*time.Second)
	defer cancel()
	if err := f.run(ctx, api.NewClient(command.Socket(env))); err != nil {
		fmt.Fprintln(log, err.Error())
		return err
	}
	fmt.Fprintln(stdout, "Command succeeded.")
	fmt.Fprintln(log, "Command succeeded.")
	return nil
}

// parse checks the command line; only --failover gets past it.
func parse(c *cli.Context) (failover, error) {
	var f failover
	n := 0
	for _, m := range []string{"failover", "script", "notice"} {
		if c.IsSet(m) {
			n++
		}
	}
	if n != 1 {
		return f, command.Fail(exitOption, "Invalid option. Give one of --failover, --script or --notice (see clprexec --help).")
	}
	for _, m := range []string{"script", "notice"} {
		if c.IsSet(m) {
			return f, command.Fail(exitOption, "clprexec: option --%s is not supported yet", m)
		}
	}
	for _, o := range []struct{ flag, what string }{
		{"h", "an IP address or a server name"}, {"r", "a resource name"}, {"o", "a file name"},
	} {
		if v := c.String(o.flag); c.IsSet(o.flag) && (v == "" || strings.HasPrefix(v, "-")) {
			return f, command.Fail(exitOption, "Invalid option. -%s needs %s, not %q.", o.flag, o.what, v)
		}
	}
	f.host, f.resource, f.logfile = c.String("h"), c.String("r"), c.String("o")
	if c.NArg() > 1 {
		return f, command.Fail(exitOption, "Invalid option. Give at most one group name, not %q.", c.Args().Slice())
	}
	f.group = c.Args().First()
	if c.NArg() == 1 && f.group == "" {
		return f, command.Fail(exitOption, "Invalid option. The group name is empty.")
	}
	if !c.IsSet("h") {
		return f, command.Fail(exitOption, "Invalid option. --failover needs -h with the IP address of a server of the cluster (see clprexec --help).")
	}
	if f.group == "" && f.resource == "" {
		return f, command.Fail(exitOption, "Invalid option. Give the group to fail over, or -r with a resource of it (see clprexec --help).")
	}
	if c.IsSet("k") {
		return f, command.Fail(exitOption, "Invalid option. -k goes with --notice only.")
	}
	f.wait = defaultWait
	if c.IsSet("w") {
		if f.wait = c.Int("w"); f.wait < 1 || f.wait > maxWait {
			return f, command.Fail(exitOption, "Invalid option. -w takes 1 to %d seconds, not %d.", maxWait, f.wait)
		}
	}
	if p := c.Int("p"); c.IsSet("p") && (p < 1 || p > maxPort) {
		return f, command.Fail(exitOption, "Invalid option. -p takes a port number, 1 to %d, not %d.", maxPort, p)
	}
	return f, nil
}

// run finds the server of -h and the group in the status of the local clpd, then asks that
// server to move the group away.
func (f failover) run(ctx context.Context, cl *api.Client) error {
	st, err := cl.Status(ctx)
	if err != nil {
		return fail(err)
	}
	server, ok := serverOf(st, f.host)
	if !ok {
		return command.Fail(exitUnreachable, "clprexec: %s is not an address of a server of cluster %s: clprexec reaches the servers of its own cluster (they share its certificates)", f.host, st.Name)
	}
	group := f.group
	if f.resource != "" {
		g, ok := groupOf(st, f.resource)
		switch {
		case !ok:
			return command.Fail(exitFailed, "%s", status.ErrInvalidResource(f.resource).Msg)
		case group == "":
			group = g
		case g != group:
			return command.Fail(exitFailed, "clprexec: resource %s belongs to group %s, not %s.", f.resource, g, group)
		}
	}
	if err := cl.MoveGroup(ctx, api.GroupRequest{Group: group, Host: server}); err != nil {
		return fail(err)
	}
	return nil
}

// serverOf returns the name of the server of st that host names: by its name, or by its address.
func serverOf(st status.Cluster, host string) (string, bool) {
	for _, s := range st.Servers {
		if s.Name == host {
			return s.Name, true
		}
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "", false
	}
	for _, s := range st.Servers {
		if a := net.ParseIP(s.Address); a != nil && a.Equal(ip) {
			return s.Name, true
		}
	}
	return "", false
}

// groupOf returns the group that holds resource.
func groupOf(st status.Cluster, resource string) (string, bool) {
	for _, g := range st.Groups {
		for _, r := range g.Resources {
			if r.Name == resource {
				return g.Name, true
			}
		}
	}
	return "", false
}

// fail maps a failed request to clprexec's exit status, with clpd's message.
func fail(err error) error {
	code := exitFailed
	switch api.Code(err) {
	case api.CodeNoDaemon, status.CodeInvalidServer:
		// clpd does not answer (this server's, or the other one's through it), or it cannot
		// relay to the server (no cluster certificates).
		code = exitUnreachable
	case status.CodeTimeout:
		code = exitTimeout
	}
	return command.Fail(code, "%v", err)
}
