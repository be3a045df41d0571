package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// spec is clpstat's flag table; man/clpstat.8 documents the same synopsis and options.
func spec() command.Spec {
	// --sv, --hb, --grp, --rsc and --mon take an optional name: the next argument when it does
	// not start with '-' (configured names start with a letter or digit).
	optional := func(name, arg, help string) command.Flag {
		return command.Flag{Names: []string{name}, Arg: arg, Kind: command.Optional, Help: help}
	}
	return command.Spec{
		Name: "clpstat",
		Usage: `clpstat [-s] [--local] [--long] [-h hostname]
clpstat -g [-h hostname]
clpstat -m [-h hostname]
clpstat -n [-h hostname]
clpstat -p [-h hostname]
clpstat -i [--detail] [-h hostname]
clpstat --cl [--detail] [-h hostname]
clpstat --sv [server] [-h hostname]
clpstat --hb [hb] [-h hostname]
clpstat --grp [group] [-h hostname]
clpstat --rsc [resource] [-h hostname]
clpstat --mon [name] [-h hostname]
clpstat -o json [-h hostname]`,
		About: `Display the cluster status. Exits 0 whenever clpd answers (a stopped cluster is
shown Offline); prints one line on stderr and exits 1 when it does not.
-g, -m, -n, -p, -i, --cl, --sv, --hb, --grp, --rsc, --mon and -o cannot be
combined.`,
		Flags: []command.Flag{
			{Names: []string{"-s"}, Help: "the status block (the default)"},
			{Names: []string{"--local"}, Help: "the status as this server sees it; monitor lines give\n" +
				"each monitor's state on this server, and groups running\non another server are Offline here"},
			{Names: []string{"--long"}, Help: "wider name columns (the colon at column 38)"},
			{Names: []string{"-g"}, Help: "the group map: which group runs on which server"},
			{Names: []string{"-m"}, Help: "the monitor status: each monitor's state on each server"},
			{Names: []string{"-n"}, Help: "the heartbeat status: each heartbeat on each server"},
			{Names: []string{"-p"}, Help: "the network partition resolution status: which servers\nthe witness answers"},
			{Names: []string{"-i"}, Help: "the whole configuration: --cl, --sv, --hb, --grp, --rsc\nand --mon in one display"},
			{Names: []string{"--cl"}, Help: "the cluster's name and comment"},
			{Names: []string{"--detail"}, Help: "with --cl or -i: the cluster's settings too"},
			optional("--sv", "server", "the servers' settings, or only those of server"),
			optional("--hb", "hb", "the heartbeat resources' settings, or only those of hb"),
			optional("--grp", "group", "the groups' settings, or only those of group"),
			optional("--rsc", "resource", "the group resources' settings, or only those of resource"),
			optional("--mon", "name", "the monitor resources' settings, or only those of name"),
			{Names: []string{"-o"}, Arg: "format", Kind: command.Value, Help: "output format: json (schema clpkit.status/v1)"},
			{Names: []string{"-h"}, Arg: "hostname", Kind: command.Value, Help: "ask that server (default: this server)"},
		},
		UsageCode: 1,
		Refusal:   command.InvalidOption,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, env) })
}

// itemDisplay is a configuration display of the items of one kind, all of them or those its
// option names: the option (its name argument is optional), the renderer, and what the message
// of a name the cluster does not have says (the renderer wraps unknown for it).
type itemDisplay struct {
	option  string
	write   func(io.Writer, status.Cluster, string) error
	unknown error
	what    string
	list    string
}

// itemDisplays are the displays of one kind of item, in the order of the displays.
func itemDisplays() []itemDisplay {
	return []itemDisplay{
		{"sv", compat.WriteServerConfig, compat.ErrUnknownServer, "server", "clpstat --sv"},
		{"hb", compat.WriteHeartbeatConfig, compat.ErrUnknownHeartbeat, "heartbeat resource", "clpstat --hb"},
		{"grp", compat.WriteGroupConfig, compat.ErrUnknownGroup, "group", "clpstat --grp"},
		{"rsc", compat.WriteResourceConfig, compat.ErrUnknownResource, "group resource", "clpstat --rsc"},
		{"mon", compat.WriteMonitorConfig, compat.ErrUnknownMonitor, "monitor resource", "clpstat -m"},
	}
}

// chosenItemDisplay is the item display the command line asks for, or nil.
func chosenItemDisplay(c *cli.Context) *itemDisplay {
	for _, d := range itemDisplays() {
		if c.IsSet(d.option) {
			return &d
		}
	}
	return nil
}

// displays are the options that each choose a display, in the order the "cannot be combined"
// message names them.
func displays() []string {
	return []string{"-g", "-m", "-n", "-p", "-i", "--cl", "--sv", "--hb", "--grp", "--rsc", "--mon", "-o"}
}

// conflict returns the "cannot be combined" failure of a command line that asks for more than
// one display (-g, -m, -n, -p, -i, --cl, --sv, --hb, --grp, --rsc, --mon, -o), or for --long
// with a display other than the status block and JSON, or for --detail without --cl or -i; nil
// when the line is consistent. The first display set, in that order, is the subject of the
// message.
func conflict(c *cli.Context) error {
	var set []string
	for _, f := range displays() {
		if c.IsSet(strings.TrimLeft(f, "-")) {
			set = append(set, f)
		}
	}
	if len(set) == 0 {
		if c.Bool("detail") {
			return command.Fail(1, "Invalid option. --detail needs --cl or -i.")
		}
		return nil
	}
	others := set[1:]
	if set[0] != "-o" && c.Bool("long") {
		others = append(others, "--long")
	}
	switch len(others) {
	case 0:
	case 1:
		return command.Fail(1, "Invalid option. %s cannot be combined with %s.", set[0], others[0])
	default:
		return command.Fail(1, "Invalid option. %s cannot be combined with %s or %s.", set[0], strings.Join(others[:len(others)-1], ", "), others[len(others)-1])
	}
	if c.Bool("detail") && set[0] != "--cl" && set[0] != "-i" {
		return command.Fail(1, "Invalid option. --detail needs --cl or -i, not %s.", set[0])
	}
	return nil
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	if c.NArg() > 0 {
		return command.Fail(1, "Invalid option. clpstat takes no argument %q (see clpstat --help).", c.Args().First())
	}
	if c.IsSet("o") && c.String("o") != "json" {
		return command.Fail(1, "Invalid option. -o accepts only json, not %q.", c.String("o"))
	}
	if err := conflict(c); err != nil {
		return err
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// -h asks another server: the local clpd relays the request over the cluster's TLS link, and
	// the answer is that server's view (its '*', its --local).
	st, err := api.NewClient(command.Socket(env)).StatusOf(ctx, c.String("h"))
	if err != nil {
		return command.Fail(1, "%v", err)
	}
	w := bufio.NewWriter(stdout)
	item := chosenItemDisplay(c)
	switch {
	case c.IsSet("o"):
		err = compat.WriteJSON(w, st)
	case c.Bool("g"):
		err = compat.WriteGroupMap(w, st)
	case c.Bool("m"):
		err = compat.WriteMonitorStatus(w, st)
	case c.Bool("n"):
		err = compat.WriteHeartbeatStatus(w, st)
	case c.Bool("p"):
		err = compat.WriteNPStatus(w, st)
	case c.Bool("i"):
		err = compat.WriteConfig(w, st, c.Bool("detail"))
	case c.Bool("cl"):
		err = compat.WriteClusterConfig(w, st, c.Bool("detail"))
	case item != nil:
		err = item.write(w, st, c.String(item.option))
	default:
		err = compat.WriteStatus(w, st, compat.StatusOptions{Long: c.Bool("long"), Local: c.Bool("local")})
	}
	if item != nil && errors.Is(err, item.unknown) {
		// Nothing was written, so stdout stays empty.
		return command.Fail(1, "Invalid %s name %q: the cluster's %ss are listed by %s.", item.what, c.String(item.option), item.what, item.list)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return command.Fail(1, "clpstat: writing the status: %v", err)
	}
	return nil
}
