package main

import (
	"context"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/fsmoncmd"
	"clpkit/pkg/fsmon"
	"clpkit/pkg/fsprobe"
)

// help is what --help prints; man/clp_nfsmon.8 documents the same synopsis and options.
const help = `Usage:
  clp_nfsmon monitor_id -d directory [-a address] [-n port]
      [-i interval] [-c retries] [-r timeout]
  clp_nfsmon monitor_id -stop [wait]
  clp_nfsmon monitor_id -pause
  clp_nfsmon monitor_id -continue
  clp_nfsmon monitor_id -disp
  clp_nfsmon monitor_id -del

Watch an NFS export: ask the portmapper for MOUNT and NFS, mount the directory (MNT, then
UMNT) and call NFS NULL every interval seconds, and exit when that has failed retries times
in a row, so that the pid monitor of the cluster fails the group over. monitor_id (letters
and digits, first) names the watcher for the other forms. Messages go to the alert log
(module nfsmon) and syslog.

Options:
  -d directory  the exported directory to watch (required)
  -a address    the server's IP address (default: the first IPv4 address of this server)
  -n port       the NFS port, instead of asking the portmapper; -nport works too
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

Exit status: 0 success, 1 NFS failed, 2 bad command line, 3 monitor_id in use,
4 -stop timed out or no such watcher, 5 system error. See clp_nfsmon(8).
`

// spec is what sets this command apart from its sibling: its flags and its probe.
func spec() fsmoncmd.Spec {
	return fsmoncmd.Spec{
		Cmd:     compat.Nfsmon(),
		Usage:   "watch an NFS export",
		Subject: "d",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "d", Usage: "the exported `directory` to watch"},
			&cli.StringFlag{Name: "a", Usage: "the server's IP `address`"},
			&cli.IntFlag{Name: "n", Usage: "the NFS `port`"},
		},
		Build: func(c *cli.Context) (fsmon.Probe, error) {
			host := c.String("a")
			if host == "" {
				ip, err := fsprobe.LocalAddress()
				if err != nil {
					return nil, err
				}
				host = ip.String()
			}
			machine, err := os.Hostname()
			if err != nil {
				machine = "localhost" // only the AUTH_SYS credential carries it
			}
			target := fsprobe.NFSTarget{Host: host, Port: c.Int("n"), Dir: c.String("d"), MachineName: machine,
				ReservedPort: os.Geteuid() == 0}
			return func(ctx context.Context) error {
				_, err := fsprobe.ProbeNFS(ctx, target)
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
