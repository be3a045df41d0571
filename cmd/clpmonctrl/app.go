package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// Exit statuses, CLUSTERPRO's numbering for clpmonctrl. 0 is success and 1 "Log in as root."
// (command.RequireRoot).
const (
	exitOption      = 2
	exitRefused     = 4 // the configuration or the daemon refused the request
	exitNoMonitor   = 5
	exitNotActive   = 10
	exitSuspended   = 11
	exitWaitTimeout = 90
	exitOther       = 255
)

const (
	defaultWait    = 5     // -w
	maxWait        = 65535 // -w
	separatorWidth = 65    // the rules of -v, as wide as clpstat's
	// finalActionLimit is the threshold -v shows for the final action: it runs once.
	finalActionLimit = 1
)

// spec is clpmonctrl's flag table; man/clpmonctrl.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "clpmonctrl",
		Usage: `clpmonctrl -s [-h hostname] [-m monitor_name ...] [-w wait_time]
clpmonctrl -r [-h hostname] [-m monitor_name ...] [-w wait_time]
clpmonctrl -c [-h hostname] [-m monitor_name ...]
clpmonctrl -v [-h hostname] [-m monitor_name ...]`,
		About: `Control monitor resources. -s, -r and -c print "Command succeeded." on success; -v prints
the recovery counters of each monitor. A failure prints one line on stderr, and the exit
status says why (see clpmonctrl(8)).`,
		Flags: []command.Flag{
			{Names: []string{"-s"}, Help: "suspend monitoring (every monitor when no -m is given)"},
			{Names: []string{"-r"}, Help: "resume monitoring (every monitor when no -m is given)"},
			{Names: []string{"-c"}, Help: "clear the recovery counters: recovery script, restart, failover and\nfinal action (every monitor when no -m is given)"},
			{Names: []string{"-v"}, Help: "show the recovery counters against their thresholds"},
			command.HostFlag(),
			{Names: []string{"-m"}, Arg: "monitor_name", Kind: command.List, Help: "operate on this monitor only; repeat it for several (-m mon1 -m mon2)"},
			{Names: []string{"-w"}, Arg: "wait_time", Kind: command.Number, Min: 1, Max: maxWait, Takes: "a number of seconds",
				Default: strconv.Itoa(defaultWait), Help: "with -s or -r: wait at most wait_time seconds, 1 to 65535, for the\nmonitors to be suspended or resumed (default 5)"},
		},
		UsageCode: exitOption,
		Refusal:   command.InvalidOption,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, env) })
}

func action(c *cli.Context, stdout io.Writer, env func(string) string) error {
	var op string
	n := 0
	for _, o := range []struct{ flag, op string }{
		{"s", api.MonitorSuspend}, {"r", api.MonitorResume}, {"c", api.MonitorClear}, {"v", api.MonitorShow},
	} {
		if c.Bool(o.flag) {
			op = o.op
			n++
		}
	}
	if n != 1 {
		return command.Fail(exitOption, "Invalid option. Give exactly one of -s, -r, -c or -v (see clpmonctrl --help).")
	}
	monitors := c.StringSlice("m")
	for _, m := range monitors {
		if m == "" || strings.HasPrefix(m, "-") {
			return command.Fail(exitOption, "Invalid option. -m needs a monitor name, not %q.", m)
		}
	}
	if err := command.CheckHost(c, exitOption); err != nil {
		return err
	}
	if c.NArg() > 0 {
		return command.Fail(exitOption, "Invalid option. clpmonctrl takes no argument %q: give each monitor with its own -m (-m mon1 -m mon2).", c.Args().First())
	}
	if c.IsSet("w") && op != api.MonitorSuspend && op != api.MonitorResume {
		return command.Fail(exitOption, "Invalid option. -w goes with -s or -r only.")
	}
	if err := command.RequireRoot(); err != nil {
		return err
	}
	// -s and -r wait at most wait_time for clpd to report the monitors suspended or resumed;
	// -c and -v wait as long as clpd does (it bounds every request by its api_timeout).
	seconds := 0
	if op == api.MonitorSuspend || op == api.MonitorResume {
		seconds = command.Int(c, "w")
	}
	ctx, cancel := command.APIContext(seconds)
	defer cancel()
	req := api.MonitorRequest{Op: op, Monitors: monitors, Host: c.String("h")}
	ms, err := api.NewClient(command.Socket(env)).Monitors(ctx, req)
	if err != nil {
		return command.Fail(exitCode(err), "%v", err)
	}
	if op == api.MonitorShow {
		if err := writeCounters(stdout, ms, req.Host); err != nil {
			return command.Fail(exitOther, "clpmonctrl: %v", err)
		}
		return nil
	}
	fmt.Fprintln(stdout, "Command succeeded.")
	return nil
}

// exitCode maps a failed request to clpmonctrl's exit status.
func exitCode(err error) int {
	switch api.Code(err) {
	case status.CodeInvalidMonitor:
		return exitNoMonitor
	case status.CodeNotStarted, api.CodeNoDaemon:
		return exitNotActive
	case status.CodeSuspended:
		return exitSuspended
	case status.CodeTimeout:
		return exitWaitTimeout
	case "", status.CodeInternal:
		// No code (an unreadable answer) or the daemon's own failure.
		return exitOther
	default:
		return exitRefused
	}
}

// writeCounters prints the -v report: per monitor, a header in the clpstat -m style and the
// recovery counters against their thresholds, then a closing rule. The layout is reconstructed,
// not copied from CLUSTERPRO (see clpmonctrl(8)).
func writeCounters(w io.Writer, ms []status.Monitor, host string) error {
	var b strings.Builder
	for i, m := range ms {
		state := m.State
		if state == "" {
			state = status.Unknown
		}
		c := serverCounters(m, host)
		final := c.FinalActionIs
		if final == "" {
			final = "none"
		}
		fmt.Fprintf(&b, "Monitor%d [%s : %s]\n", i, m.Name, state)
		fmt.Fprintf(&b, "  %s\n", strings.Repeat("-", separatorWidth))
		fmt.Fprintf(&b, "    %-19s : %d / %d\n", "RecoveryScriptCount", c.Recovery, c.RecoveryMax)
		fmt.Fprintf(&b, "    %-19s : %d / %d\n", "RestartCount", c.Restart, c.RestartMax)
		fmt.Fprintf(&b, "    %-19s : %d / %d\n", "FailoverCount", c.Failover, c.FailoverMax)
		fmt.Fprintf(&b, "    %-19s : %d / %d (%s)\n", "FinalActionCount", c.FinalAction, finalActionLimit, final)
	}
	fmt.Fprintf(&b, "%s\n", strings.Repeat("=", separatorWidth))
	_, err := io.WriteString(w, b.String())
	return err
}

// serverCounters picks the counters of the server that answered. The answer does not name that
// server, so this relies on clpd listing the answering server's entry first in Servers (it
// counts recoveries for the monitors it runs); the entry named by -h is preferred when there is
// one, in case clpd answered for that server with another server's entry first. A monitor with no
// entry shows zeros.
func serverCounters(m status.Monitor, host string) status.Counters {
	if host != "" {
		for _, s := range m.Servers {
			if s.Server == host {
				return s.Counters
			}
		}
	}
	if len(m.Servers) > 0 {
		return m.Servers[0].Counters
	}
	return status.Counters{}
}
