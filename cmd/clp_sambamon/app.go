package main

import (
	"context"
	"io"
	"net"
	"strconv"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/fsmoncmd"
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

// spec is what sets this command apart from its sibling: its flags and its probe.
func spec() fsmoncmd.Spec {
	return fsmoncmd.Spec{
		Cmd:     compat.Sambamon(),
		Usage:   "watch a Samba share",
		Subject: "s",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "s", Usage: "the `share` to watch"},
			&cli.StringFlag{Name: "a", Value: "127.0.0.1", Usage: "the server's IP `address`, or address:port"},
			&cli.StringFlag{Name: "u", Usage: "log on as `user`"},
			&cli.StringFlag{Name: "p", Usage: "the user's `password`"},
		},
		Build: func(c *cli.Context) (fsmon.Probe, error) {
			ip, port, err := compat.ParseFsmonAddress(c.String("a"), true, 445)
			if err != nil {
				return nil, &fsmoncmd.UsageError{Err: err}
			}
			target := fsprobe.SMBTarget{
				Addr:     net.JoinHostPort(ip.String(), strconv.Itoa(port)),
				Share:    c.String("s"),
				User:     c.String("u"),
				Password: c.String("p"),
			}
			return func(ctx context.Context) error {
				_, err := fsprobe.ProbeSMB(ctx, target)
				return err
			}, nil
		},
	}
}

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	return fsmoncmd.NewApp(spec(), help, stdout, stderr, env)
}

// run is the whole command: argv in, exit status out.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return fsmoncmd.Run(spec(), newApp, args, stdout, stderr, env)
}
