package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/alert"
)

// module is the alert module name of clplogcmd records, as CLUSTERPRO's "logcmd" type.
const module = "logcmd"

// spec is clplogcmd's flag table; man/clplogcmd.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name:  "clplogcmd",
		Usage: "clplogcmd -m message [-i event_id] [-l|-L level] [--syslog] [--alert] [--mail] [--trap]",
		About: `Write message to the clpkit alert log and to syslog, so that start, stop, monitor and
recovery scripts can report events where operators look for them. With neither --syslog nor
--alert, the message goes to both; syslog is then skipped silently when the machine has no
syslog socket. A destination named explicitly must succeed.`,
		Flags: []command.Flag{
			{Names: []string{"-m"}, Arg: "message", Kind: command.Value, Help: "the message to record (required); quote it when it has blanks"},
			{Names: []string{"-i"}, Arg: "event_id", Kind: command.Number, Min: 0, Max: math.MaxInt32, Takes: "an event ID",
				Default: "1", Help: "the event ID, a whole number from 0 to 2147483647 (default 1)"},
			{Names: []string{"-l", "-L"}, Arg: "level", Kind: command.Value, Default: "INFO",
				Help: "INFO, WARN or ERR, also WARNING and ERROR, in any case (default INFO)"},
			{Names: []string{"--syslog"}, Help: "send the message to syslog"},
			{Names: []string{"--alert"}, Help: "write the message to the alert log"},
			{Names: []string{"--mail"}, Help: "accepted for compatibility; prints a notice (no mail destination in clpkit)"},
			{Names: []string{"--trap"}, Help: "accepted for compatibility; prints a notice (no SNMP trap destination in clpkit)"},
		},
		After:       "See clplogcmd(8) for the exit status, the environment (CLPKIT_ALERT_LOG, CLPKIT_SERVER) and examples.",
		UsageCode:   1,
		HelpLetters: true,
	}
}

// deps are what clplogcmd needs from the outside world; tests replace them.
type deps struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	hostname       func() (string, error)
	now            func() time.Time
	// dialSyslog connects to the local syslog; it fails with alert.ErrNoSyslog without a socket.
	dialSyslog func() (alert.Sink, error)
}

// run is the whole command: argv in, exit status out. Every error is one line on stderr and
// exit status 1, as documented in clplogcmd(8).
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runWith(deps{
		stdout:   stdout,
		stderr:   stderr,
		getenv:   getenv,
		hostname: os.Hostname,
		now:      time.Now,
		dialSyslog: func() (alert.Sink, error) {
			s, err := alert.DialSyslog("", "")
			if err != nil {
				return nil, err // not a typed nil inside the interface
			}
			return s, nil
		},
	}, args)
}

func runWith(d deps, args []string) int {
	return spec().Run(args, d.stdout, d.stderr, func(c *cli.Context) error {
		if err := logAction(c, d); err != nil {
			// errors.Join separates with newlines; scripts' logs and our contract want one line.
			return command.Fail(1, "clplogcmd: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		return nil
	})
}

func logAction(c *cli.Context, d deps) error {
	if c.Args().Present() {
		// The standard flag parser stops at the first non-flag, so this is usually an unquoted
		// message: say so rather than silently dropping the rest of the command line.
		return fmt.Errorf("unexpected argument %q: quote a message that has blanks, as in -m \"disk full\"", c.Args().First())
	}
	if !c.IsSet("m") {
		return errors.New("missing -m message (see clplogcmd --help)")
	}
	level, err := alert.ParseLevel(c.String("l"))
	if err != nil {
		return fmt.Errorf("-l: %w", err)
	}
	id := command.Int(c, "i")
	server, err := alert.ServerName(d.getenv, d.hostname)
	if err != nil {
		return err
	}

	toAlert, toSyslog := c.Bool("alert"), c.Bool("syslog")
	// The legacy default is "alert log and syslog". Syslog is then best effort, as in the daemon:
	// containers have no /dev/log, and a script's log call must not fail for that.
	syslogRequired := toSyslog
	if !toAlert && !toSyslog {
		toAlert, toSyslog = true, true
	}

	var (
		sinks []alert.Sink
		errs  []error
	)
	if toAlert {
		sinks = append(sinks, alert.NewFileSink(alert.Path(d.getenv)))
	}
	if toSyslog {
		s, err := d.dialSyslog()
		switch {
		case err == nil:
			sinks = append(sinks, s)
		case syslogRequired:
			errs = append(errs, err)
		}
	}
	logger := alert.NewLogger(server, d.now, sinks...)
	errs = append(errs, logger.Log(context.Background(), module, id, level, c.String("m")))
	errs = append(errs, logger.Close())
	if err := errors.Join(errs...); err != nil {
		return err
	}

	if notice := unsupportedNotice(c.Bool("mail"), c.Bool("trap")); notice != "" {
		fmt.Fprintln(d.stderr, "clplogcmd: "+notice)
	}
	return nil
}

// unsupportedNotice is the one line printed for --mail and --trap, or "" when neither is given.
func unsupportedNotice(mail, trap bool) string {
	switch {
	case mail && trap:
		return "--mail and --trap ignored: no mail or SNMP trap destination is configured in clpkit"
	case mail:
		return "--mail ignored: no mail destination is configured in clpkit"
	case trap:
		return "--trap ignored: no SNMP trap destination is configured in clpkit"
	}
	return ""
}
