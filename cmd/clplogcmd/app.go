package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/pkg/alert"
)

// module is the alert module name of clplogcmd records, as CLUSTERPRO's "logcmd" type.
const module = "logcmd"

// The help texts below are kept equal to man/clplogcmd.8 (NAME, SYNOPSIS, DESCRIPTION); the
// tests compare them, so edit both together.
const (
	usage     = "write a message to the clpkit alert log and to syslog"
	usageText = "clplogcmd -m message [-i event_id] [-l|-L level] [--syslog] [--alert] [--mail] [--trap]"

	description = "clplogcmd records message in the clpkit alert log and in syslog, so that start, stop, " +
		"monitor and recovery scripts can report events where operators look for them. It takes the " +
		"options of the CLUSTERPRO command of the same name, and existing scripts run unchanged.\n\n" +
		"Each alert log record is one line of six blank-separated fields: the time (RFC 3339 with " +
		"milliseconds and zone), the server, the module (logcmd), the event ID, the level (INFO, WARN " +
		"or ERR) and the message. Line breaks in the message become blanks.\n\n" +
		"With neither --syslog nor --alert, the message goes to both; syslog is then skipped silently " +
		"when the machine has no syslog socket. A destination named explicitly must succeed. --mail and " +
		"--trap are accepted for compatibility: clpkit has no mail or SNMP trap destination, so they " +
		"only print a notice on standard error."
)

// helpTemplate is urfave's default minus the "GLOBAL" of "GLOBAL OPTIONS" (there are no
// subcommands) and with a pointer to the man page, which holds exit codes and examples.
const helpTemplate = `NAME:
   {{.Name}} - {{.Usage}}

USAGE:
   {{wrap .UsageText 3}}

DESCRIPTION:
   {{wrap .Description 3}}

OPTIONS:{{range .VisibleFlags}}
   {{.}}{{end}}

See clplogcmd(8) for the exit status, the environment (CLPKIT_ALERT_LOG, CLPKIT_SERVER) and examples.
`

// deps are what clplogcmd needs from the outside world; tests replace them.
type deps struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	hostname       func() (string, error)
	now            func() time.Time
	// dialSyslog connects to the local syslog; it fails with alert.ErrNoSyslog without a socket.
	dialSyslog func() (alert.Sink, error)
}

// newApp returns the clplogcmd App writing to stdout and stderr, with the environment read
// through getenv (os.Getenv in main). Errors are returned by Run, never printed or turned into an
// os.Exit, so that tests can run the App in-process; see run for the command-line behaviour.
func newApp(stdout, stderr io.Writer, getenv func(string) string) *cli.App {
	return newAppWith(deps{
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
	})
}

func newAppWith(d deps) *cli.App {
	return &cli.App{
		Name:                  "clplogcmd",
		HelpName:              "clplogcmd",
		Usage:                 usage,
		UsageText:             usageText,
		Description:           fill(description, 76),
		CustomAppHelpTemplate: helpTemplate,
		// No "help" subcommand: clplogcmd takes no arguments, and `clplogcmd help` must be an
		// error rather than a silent success that logged nothing.
		HideHelpCommand: true,
		Writer:          d.stdout,
		ErrWriter:       d.stderr,
		// urfave's default exit handler calls os.Exit; run decides the exit code instead.
		ExitErrHandler: func(*cli.Context, error) {},
		// Without this urfave prints "Incorrect Usage" and the whole help; scripts' logs want
		// one line.
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%v (see clplogcmd --help)", err)
		},
		// Flags are parsed by the standard flag package: any order, "-m" and "--m" alike, and a
		// value is taken from the next argument even when it starts with '-' (-m "-5 degrees").
		// They are strings rather than int or level types so that a bad value gets our message.
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "m", Usage: "the `message` to record (required)"},
			&cli.StringFlag{Name: "i", Value: "1", Usage: "the `event_id`, a whole number from 0 to 2147483647"},
			&cli.StringFlag{
				Name: "l", Aliases: []string{"L"}, Value: "INFO",
				Usage: "the `level`: INFO, WARN or ERR, also WARNING and ERROR, in any case",
			},
			&cli.BoolFlag{Name: "syslog", Usage: "send the message to syslog", DisableDefaultText: true},
			&cli.BoolFlag{Name: "alert", Usage: "write the message to the alert log", DisableDefaultText: true},
			&cli.BoolFlag{Name: "mail", Usage: "accepted for compatibility; prints a notice (no mail destination in clpkit)", DisableDefaultText: true},
			&cli.BoolFlag{Name: "trap", Usage: "accepted for compatibility; prints a notice (no SNMP trap destination in clpkit)", DisableDefaultText: true},
		},
		Action: func(c *cli.Context) error { return logAction(c, d) },
	}
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
	id, err := strconv.Atoi(strings.TrimSpace(c.String("i")))
	if err != nil || id < 0 || id > math.MaxInt32 {
		return fmt.Errorf("-i: invalid event ID %q: want a whole number from 0 to %d", c.String("i"), math.MaxInt32)
	}
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
	errs = append(errs, logger.Log(c.Context, module, id, level, c.String("m")))
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

// fill wraps each paragraph of s at width columns. urfave/cli wraps help text only through its
// package-level HelpPrinter, which we leave alone, so the text is wrapped before it is handed over.
func fill(s string, width int) string {
	paras := strings.Split(s, "\n\n")
	for i, p := range paras {
		var b strings.Builder
		col := 0
		for _, w := range strings.Fields(p) {
			switch {
			case col == 0:
			case col+1+len(w) > width:
				b.WriteByte('\n')
				col = 0
			default:
				b.WriteByte(' ')
				col++
			}
			b.WriteString(w)
			col += len(w)
		}
		paras[i] = b.String()
	}
	return strings.Join(paras, "\n\n")
}

// run is the whole command: it runs the App on args (args[0] is the program name) and returns
// the exit status, after printing any error as one line on stderr. Exit status: 0 success,
// 1 any error (usage or a destination that could not be written), as documented in clplogcmd(8).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runApp(ctx, newApp(stdout, stderr, getenv), args, stderr)
}

func runApp(ctx context.Context, app *cli.App, args []string, stderr io.Writer) int {
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	// errors.Join separates with newlines; scripts' logs and our contract want one line.
	fmt.Fprintln(stderr, "clplogcmd: "+strings.ReplaceAll(err.Error(), "\n", "; "))
	return 1
}
