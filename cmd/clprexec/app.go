package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

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

// spec is clprexec's flag table; man/clprexec.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "clprexec",
		Usage: `clprexec --failover [group_name] -h IP [-r resource_name] [-w timeout] [-p port] [-o logfile]
clprexec --script script_file -h IP [-p port] [-w timeout] [-o logfile]
clprexec --notice [mrw_name] -h IP [-k category[.keyword]] [-p port] [-w timeout] [-o logfile]
clprexec --clear [mrw_name] -h IP [-k category[.keyword]] [-p port] [-w timeout] [-o logfile]`,
		About: `Ask a server of this cluster to fail a group over, to run a script of its script
directory, or to notify its message receive monitors. Prints "Command succeeded." on
success; a failure prints one line on stderr, and the exit status says why (see
clprexec(8)).`,
		Flags: []command.Flag{
			{Names: []string{"--failover"}, Help: "ask the server of -h to fail the group over: it moves the group\naway, to the next server of the group's failover policy"},
			{Names: []string{"--script"}, Arg: "script_file", Kind: command.Value, Help: "run script_file of the script directory of the server of -h, and\nwait for it (at most -w seconds)"},
			{Names: []string{"--notice"}, Help: "report an error to the message receive monitor mrw_name (or to\nthose of -k's category) of the server of -h"},
			{Names: []string{"--clear"}, Help: "end the error of the message receive monitor mrw_name (or of\nthose of -k's category) of the server of -h"},
			{Names: []string{"-h"}, Arg: "IP", Kind: command.Value, Help: "the IP address, or the name, of a server of this cluster"},
			{Names: []string{"-r"}, Arg: "resource_name", Kind: command.Value, Help: "with --failover and no group_name: the group of this resource"},
			{Names: []string{"-k"}, Arg: "category[.keyword]", Kind: command.Value, Help: "with --notice or --clear: the category and keyword of the notice"},
			{Names: []string{"-w"}, Arg: "timeout", Kind: command.Number, Min: 1, Max: maxWait, Takes: "a number of seconds",
				Default: strconv.Itoa(defaultWait), Help: "wait at most timeout seconds, 1 to 65535 (default 30)"},
			{Names: []string{"-p"}, Arg: "port", Kind: command.Number, Min: 1, Max: maxPort, Takes: "a port number",
				Help: "accepted for compatibility and ignored (the servers' api_url is used)"},
			{Names: []string{"-o"}, Arg: "logfile", Kind: command.Value, Help: "also append the result line to logfile"},
		},
		UsageCode: exitOption,
		Refusal:   command.InvalidOption,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, env) })
}

// request is a checked command line: one of --failover, --script, --notice, --clear.
type request struct {
	mode                           string
	group, resource, host, logfile string
	script                         string
	monitor, category, keyword     string
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

// parse checks the command line.
func parse(c *cli.Context) (request, error) {
	var f request
	for _, m := range []string{"failover", "script", "notice", "clear"} {
		if c.IsSet(m) {
			if f.mode != "" {
				f.mode = "several"
				break
			}
			f.mode = m
		}
	}
	if f.mode == "" || f.mode == "several" {
		return f, command.Fail(exitOption, "Invalid option. Give one of --failover, --script, --notice or --clear (see clprexec --help).")
	}
	for _, o := range []struct{ flag, what string }{
		{"h", "an IP address or a server name"}, {"r", "a resource name"}, {"o", "a file name"}, {"script", "a script file name"}, {"k", "a category"},
	} {
		if v := c.String(o.flag); c.IsSet(o.flag) && (v == "" || strings.HasPrefix(v, "-")) {
			return f, command.Fail(exitOption, "Invalid option. %s needs %s, not %q.", dashed(o.flag), o.what, v)
		}
	}
	f.host, f.resource, f.logfile, f.script = c.String("h"), c.String("r"), c.String("o"), c.String("script")
	f.category, f.keyword, _ = strings.Cut(c.String("k"), ".")
	if c.NArg() > 1 {
		return f, command.Fail(exitOption, "Invalid option. Give at most one %s, not %q.", operand(f.mode), c.Args().Slice())
	}
	name := c.Args().First()
	if c.NArg() == 1 && name == "" {
		return f, command.Fail(exitOption, "Invalid option. The %s is empty.", operand(f.mode))
	}
	if !c.IsSet("h") {
		return f, command.Fail(exitOption, "Invalid option. --%s needs -h with the IP address of a server of the cluster (see clprexec --help).", f.mode)
	}
	switch f.mode {
	case "failover":
		f.group = name
		if f.group == "" && f.resource == "" {
			return f, command.Fail(exitOption, "Invalid option. Give the group to fail over, or -r with a resource of it (see clprexec --help).")
		}
		if c.IsSet("k") {
			return f, command.Fail(exitOption, "Invalid option. -k goes with --notice and --clear only.")
		}
	case "script":
		if name != "" {
			return f, command.Fail(exitOption, "Invalid option. --script takes no operand %q: the script's name follows --script.", name)
		}
		if c.IsSet("k") || c.IsSet("r") {
			return f, command.Fail(exitOption, "Invalid option. --script takes neither -k nor -r.")
		}
	default:
		f.monitor = name
		if f.monitor == "" && f.category == "" {
			return f, command.Fail(exitOption, "Invalid option. --%s needs the message receive monitor's name, or -k with its category (see clprexec --help).", f.mode)
		}
		if c.IsSet("r") {
			return f, command.Fail(exitOption, "Invalid option. -r goes with --failover only.")
		}
	}
	f.wait = command.Int(c, "w")
	return f, nil
}

func dashed(flag string) string {
	if len(flag) == 1 {
		return "-" + flag
	}
	return "--" + flag
}

// operand names what the operand of mode is.
func operand(mode string) string {
	switch mode {
	case "failover":
		return "group name"
	case "script":
		return "operand"
	}
	return "monitor name"
}

// run finds the server of -h in the status of the local clpd, then asks that server: to move the
// group away, to run the script, or to pass the notice to its monitors.
func (f request) run(ctx context.Context, cl *api.Client) error {
	st, err := cl.Status(ctx)
	if err != nil {
		return fail(err)
	}
	server, ok := serverOf(st, f.host)
	if !ok {
		return command.Fail(exitUnreachable, "clprexec: %s is not an address of a server of cluster %s: clprexec reaches the servers of its own cluster (they share its certificates)", f.host, st.Name)
	}
	switch f.mode {
	case "script":
		_, err = cl.Rexec(ctx, api.RexecRequest{Op: api.RexecScript, Script: f.script, Timeout: f.wait, Host: server})
		return failed(err)
	case "notice", "clear":
		op := api.RexecNotice
		if f.mode == "clear" {
			op = api.RexecClear
		}
		_, err = cl.Rexec(ctx, api.RexecRequest{Op: op, Monitor: f.monitor, Category: f.category, Keyword: f.keyword, Host: server})
		return failed(err)
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
	return failed(cl.MoveGroup(ctx, api.GroupRequest{Group: group, Host: server}))
}

func failed(err error) error {
	if err != nil {
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
