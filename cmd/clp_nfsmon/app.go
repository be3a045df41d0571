package main

import (
	"io"
	"os"

	"clpkit/internal/command"
	"clpkit/internal/fsmoncmd"
	"clpkit/pkg/fsmon"
	"clpkit/pkg/fsprobe"
)

// spec is what sets this command apart from its sibling: its flags and its probe; man
// page man/clp_nfsmon.8 documents the same synopsis and options.
func spec() fsmoncmd.Spec {
	return fsmoncmd.Spec{
		Command: command.Spec{
			Name: "clp_nfsmon",
			Usage: `clp_nfsmon monitor_id -d directory [-a address] [-n port]
    [-i interval] [-c retries] [-r timeout]
clp_nfsmon monitor_id -stop [wait]
clp_nfsmon monitor_id -pause
clp_nfsmon monitor_id -continue
clp_nfsmon monitor_id -disp
clp_nfsmon monitor_id -del`,
			About: `Watch an NFS export: ask the portmapper for MOUNT and NFS, mount the directory (MNT, then
UMNT) and call NFS NULL every interval seconds, and exit when that has failed retries times
in a row, so that the pid monitor of the cluster fails the group over. monitor_id (letters
and digits, first) names the watcher for the other forms. Messages go to the alert log
(module nfsmon) and syslog.`,
			Flags: []command.Flag{
				{Names: []string{"-d"}, Arg: "directory", Kind: command.Value, Help: "the exported directory to watch (required)"},
				{Names: []string{"-a"}, Arg: "address", Kind: command.Value, Help: "the server's IP address (default: the first IPv4 address of this server)"},
				{Names: []string{"-n"}, Arg: "port", Kind: command.Number, Min: 1, Max: 65535, Takes: "a port number", Glued: true,
					Help: "the NFS port, instead of asking the portmapper; -nport works too"},
			},
			After: `Exit status: 0 success, also -stop with no such watcher; 1 NFS failed; 2 bad command
line; 3 monitor_id in use; 4 -stop timed out, or -pause, -continue or -disp found no
watcher; 5 system error. See clp_nfsmon(8).`,
		},
		Target: "-d",
		Build: func(v fsmoncmd.Values, _ func(string) string) (fsmon.Probe, error) {
			host := v.String("-a")
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
			target := fsprobe.NFSTarget{Host: host, Port: v.Int("-n"), Dir: v.String("-d"), MachineName: machine,
				ReservedPort: os.Geteuid() == 0}
			return fsmoncmd.Probe(fsprobe.ProbeNFS, target), nil
		},
	}
}

// run is the whole command: argv in, exit status out.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return fsmoncmd.Run(spec(), args, stdout, stderr, env)
}
