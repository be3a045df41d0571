package main

import (
	"context"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/fsmon"
	"clpkit/pkg/fsprobe"
)

// help is what --help prints; man/clp_sambamon.8 documents the same synopsis and options.
const help = `Usage:
  clp_sambamon monitor_id -s share [-a address] [-u user] [-p password]
      [-i interval] [-c retries] [-r timeout]
  clp_sambamon monitor_id -stop [wait]
  clp_sambamon monitor_id -pause
  clp_sambamon monitor_id -continue
  clp_sambamon monitor_id -disp
  clp_sambamon monitor_id -del

Watch a Samba share: connect to the server and to the share (SMB2/3 tree connect) every
interval seconds, and exit when that has failed retries times in a row, so that the pid
monitor of the cluster fails the group over. monitor_id (letters and digits, first) names
the watcher for the other forms. Messages go to the alert log (module sambamon) and syslog.

Options:
  -s share      the share to watch, as named in smb.conf (required)
  -a address    the server's IP address, or address:port (default 127.0.0.1, port 445)
  -u user       log on as user ("DOMAIN\user" names a domain); default: guest
  -p password   the user's password; it never appears in a log
  -i interval   seconds between probes, 1-10000 (default 30)
  -c retries    failed probes in a row that end the watch, 1-10000 (default 5)
  -r timeout    seconds a probe may take, 1-10000 (default 60)
  --help        show this help

Operations on the running watcher monitor_id:
  -stop [wait]  stop it, and wait up to wait seconds (1-10000, default 60) for it to end
  -pause        pause monitoring
  -continue     resume monitoring
  -disp         print the process ID recorded for monitor_id
  -del          delete the record a killed watcher left behind

Exit status: 0 success, 1 Samba failed, 2 bad command line, 3 monitor_id in use,
4 -stop timed out or no such watcher, 5 system error. See clp_sambamon(8).
`

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "clp_sambamon",
		Usage: "watch a Samba share",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "s", Usage: "the `share` to watch"},
			&cli.StringFlag{Name: "a", Value: "127.0.0.1", Usage: "the server's IP `address`, or address:port"},
			&cli.StringFlag{Name: "u", Usage: "log on as `user`"},
			&cli.StringFlag{Name: "p", Usage: "the user's `password`"},
			&cli.IntFlag{Name: "i", Value: 30, Usage: "`interval` between probes in seconds"},
			&cli.IntFlag{Name: "c", Value: 5, Usage: "failed probes in a row (`retries`) that end the watch"},
			&cli.IntFlag{Name: "r", Value: 60, Usage: "`timeout` of a probe in seconds"},
		},
		Action: func(c *cli.Context) error { return action(c, stdout, stderr, env) },
	}
	command.Setup(app, stdout, stderr, fsmon.ExitUsage, help)
	// The normaliser has checked the command line; should urfave still refuse it, the answer
	// is the seed's message 11 all the same.
	app.OnUsageError = func(*cli.Context, error, bool) error {
		emitter(stderr, env).Emit(compat.Sambamon().ArgMessage(nil))
		return command.Fail(fsmon.ExitUsage, "")
	}
	return app
}

// run is the whole command: argv in, exit status out.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	norm, err := compat.NormalizeFsmonArgs(compat.Sambamon(), args[1:])
	if err != nil {
		emitter(stderr, env).Emit(compat.Sambamon().ArgMessage(err))
		return fsmon.ExitUsage
	}
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], norm...))
}

// emitter writes to the alert log of env and to stderr. Without a server name there is no alert
// log: the messages then go to stderr.
func emitter(stderr io.Writer, env func(string) string) fsmon.Emitter {
	cmd := compat.Sambamon()
	e := fsmon.Emitter{Module: cmd.FsmonModule(), Stderr: stderr, Name: cmd.Name}
	e.Logger, _ = fsmon.StandardLogger(env)
	return e
}

func action(c *cli.Context, stdout, stderr io.Writer, env func(string) string) error {
	cmd := compat.Sambamon()
	pos := c.Args().Slice()
	if len(pos) == 0 || !compat.FsmonValidID(pos[0]) {
		// Only a command line that bypassed the normaliser gets here.
		emitter(stderr, env).Emit(cmd.ArgMessage(&compat.FsmonArgError{ID: 13}))
		return command.Fail(fsmon.ExitUsage, "")
	}
	req := fsmon.Request{ID: pos[0]}
	share := c.String("s")

	logger, err := fsmon.StandardLogger(env)
	e := fsmon.Emitter{Logger: logger, Module: cmd.FsmonModule(), Stderr: stderr, Name: cmd.Name}
	report := func(ev fsmon.Event) { e.Emit(cmd.Messages(ev, share)...) }
	if err != nil {
		report(fsmon.Event{Kind: fsmon.EnvError, Errno: fsmon.Errno(err), Err: err})
		return command.Fail(fsmon.ExitSystem, "")
	}
	defer logger.Close()

	op, wait, err := compat.FsmonControl(pos[1:])
	if err != nil {
		e.Emit(cmd.ArgMessage(err))
		return command.Fail(fsmon.ExitUsage, "")
	}
	req.Op, req.Wait = op, wait
	if op == fsmon.OpWatch {
		ip, port, err := compat.ParseFsmonAddress(c.String("a"), true, 445)
		if err != nil {
			e.Emit(cmd.ArgMessage(err))
			return command.Fail(fsmon.ExitUsage, "")
		}
		target := fsprobe.SMBTarget{
			Addr:     net.JoinHostPort(ip.String(), strconv.Itoa(port)),
			Share:    share,
			User:     c.String("u"),
			Password: c.String("p"),
		}
		req.Watch = fsmon.WatchConfig{
			Interval: time.Duration(c.Int("i")) * time.Second,
			Retries:  c.Int("c"),
			Timeout:  time.Duration(c.Int("r")) * time.Second,
			Probe: func(ctx context.Context) error {
				_, err := fsprobe.ProbeSMB(ctx, target)
				return err
			},
		}
	}
	if code := fsmon.Run(context.Background(), fsmon.RegistryFor(env, cmd.FsmonModule()), req, report, stdout); code != 0 {
		return command.Fail(code, "")
	}
	return nil
}
