package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/api"
)

// Exit statuses. 0 is success and 1 "Log in as root." (command.RequireRoot).
const (
	exitOption    = 2
	exitNotActive = 3 // clpd does not answer
	exitFailed    = 4 // refused or failed: the line on stderr says why
)

// spec is clpmember's flag table; man/clpmember.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "clpmember",
		Usage: `clpmember [list] [-h hostname]
clpmember add name [--peer-url url] [-h hostname]
clpmember remove name [--force] [-h hostname]`,
		About: `List, add or remove the members of the cluster's embedded store (etcd). A server added
with "add" joins the store when its clpd first starts; "remove" takes a server (or the
witness) out of it. The members are printed as they stand afterwards. A failure prints
one line on stderr, and the exit status says why (see clpmember(8)).`,
		Flags: []command.Flag{
			{Names: []string{"--peer-url"}, Arg: "url", Kind: command.Value, Help: "the new member's etcd peer URL (default: the one this server's\nconfiguration gives the server or witness named)"},
			{Names: []string{"--force"}, Help: "remove the member of a server whose cluster service runs"},
			command.HostFlag(),
		},
		UsageCode: exitOption,
		Refusal:   command.InvalidOption,
	}
}

// run reads options before or after the operands: "clpmember add server3 --peer-url URL" reads
// as written.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, env) })
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	r := api.MemberRequest{Op: api.MemberList, Host: c.String("h"), PeerURL: c.String("peer-url"), Force: c.Bool("force")}
	args := c.Args().Slice()
	if len(args) > 0 {
		r.Op = args[0]
	}
	if err := command.CheckHost(c, exitOption); err != nil {
		return err
	}
	switch {
	case r.Op != api.MemberList && r.Op != api.MemberAdd && r.Op != api.MemberRemove:
		return command.Fail(exitOption, "Invalid option. %q is not an operation: use list, add or remove (see clpmember --help).", r.Op)
	case r.Op == api.MemberList && len(args) > 1:
		return command.Fail(exitOption, "Invalid option. list takes no name, not %q.", args[1])
	case r.Op != api.MemberList && len(args) != 2:
		return command.Fail(exitOption, "Invalid option. %s takes one server name (see clpmember --help).", r.Op)
	case c.IsSet("peer-url") && r.Op != api.MemberAdd:
		return command.Fail(exitOption, "Invalid option. --peer-url goes with add only.")
	case r.Force && r.Op != api.MemberRemove:
		return command.Fail(exitOption, "Invalid option. --force goes with remove only.")
	}
	if len(args) == 2 {
		r.Name = args[1]
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	// No deadline of its own: clpd bounds the change by its api_timeout.
	ctx, cancel := command.APIContext(0)
	defer cancel()
	ms, err := api.NewClient(command.Socket(env)).Members(ctx, r)
	if err != nil {
		code := exitFailed
		if api.Code(err) == api.CodeNoDaemon {
			code = exitNotActive
		}
		return command.Fail(code, "%v", err)
	}
	printMembers(stdout, ms)
	switch r.Op {
	case api.MemberAdd:
		fmt.Fprintf(stdout, "Command succeeded. Start clpd on %s with a configuration that declares it: it joins the store.\n", r.Name)
	case api.MemberRemove:
		fmt.Fprintf(stdout, "Command succeeded. Remove %s from every server's configuration.\n", r.Name)
	}
	return nil
}

// printMembers writes the members as a table an operator reads and a script can cut: one member a line,
// "-" for what a member has not got.
func printMembers(w io.Writer, ms []api.Member) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tPEER URL\tCLIENT URL")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dash(m.Name), dash(m.Role), state(m), dash(m.PeerURL), dash(m.ClientURL))
	}
	tw.Flush()
}

func state(m api.Member) string {
	var s []string
	switch {
	case !m.Started:
		s = append(s, "added")
	case m.Learner:
		s = append(s, "learner")
	default:
		s = append(s, "voting")
	}
	if m.Leader {
		s = append(s, "leader")
	}
	return strings.Join(s, ",")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
