package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/mfes"
)

// help is what --help prints; man/casstop.8 documents the same synopsis and options.
const help = `Usage:
  casstop [/rname] [/w[seconds]] [/f] [/i] [/uuser] [/ppassword] [/cgroup] [/option...]
  casstop [-r name] [-w seconds] [-f] [-i] [-u user] [-p password] [-c group] [--config file] [--pass option]...

Stop a Micro Focus Enterprise Server region and exit 0 only once no process of it runs: the
stop first; when the region is still there after /w seconds, the forced stop; when it is still
there after the force timeout, SIGKILL to each of its processes. Options are written the
product's way: /rESSERV1, -rESSERV1, /W30, /F.

Options:
  -r name          the region (default ESDEMO)
  -w seconds       how long the stop may take before casstop forces it (1 to 86400); /w alone,
                   or no /w, means the stop timeout of the configuration (1 minute unless set)
  -f               force at once: skip the ordinary stop
  -i               immediate; Micro Focus's own casstop gets /i, other backends force at once
  -u user          user name, for the backend (security-enabled regions)
  -p password      password; never written to a log or to a command line clpkit runs, except
                   Micro Focus's own casstop, which takes it only there
  -c group         sign-on group
  --config file    the configuration (default $CLPKIT_MFES_CONFIG, else /etc/clpkit/mfes.toml)
  --pass option    hand option unchanged to Micro Focus's own casstop; any option casstop
                   does not know (/s, /l, /x, /t, ...) is passed this way
  --help           show this help

Exit status: 0 nothing of the region runs; 1 something still runs (the reason is on stderr);
2 the command line is wrong; 3 the configuration is missing or wrong, or names no such region.
`

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "casstop",
		Usage: "stop an Enterprise Server region and wait until nothing of it runs",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "r", Value: "ESDEMO", Usage: "the region `name`"},
			&cli.StringFlag{Name: "w", Usage: "wait at most `seconds` before forcing"},
			&cli.BoolFlag{Name: "f", Usage: "force at once"},
			&cli.BoolFlag{Name: "i", Usage: "immediate"},
			&cli.StringFlag{Name: "u", Usage: "`user` name"},
			&cli.StringFlag{Name: "p", Usage: "`password`"},
			&cli.StringFlag{Name: "c", Usage: "sign-on `group`"},
			&cli.StringFlag{Name: "config", Usage: "the configuration `file`"},
			&cli.StringSliceFlag{Name: compat.PassFlag, Usage: "hand `option` to Micro Focus's casstop"},
		},
		// A passed-through option may hold commas; it is one value.
		DisableSliceFlagSeparator: true,
		Action:                    func(c *cli.Context) error { return action(c, stderr, env) },
	}
	command.Setup(app, stdout, stderr, 2, help)
	return app
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	if command.AsksHelp(args[1:]) {
		_, _ = io.WriteString(stdout, help)
		return 0
	}
	argv, err := compat.NormalizeMF(args[1:], compat.CasstopSpec())
	if err != nil {
		_, _ = io.WriteString(stderr, "casstop: "+err.Error()+" (see casstop --help)\n")
		return 2
	}
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], argv...))
}

func action(c *cli.Context, stderr io.Writer, env func(string) string) error {
	var wait time.Duration
	if s := c.String("w"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 86400 {
			return command.Fail(2, "casstop: /w%s: give whole seconds from 1 to 86400, glued to the letter, as in /w30 (see casstop --help)", s)
		}
		wait = time.Duration(n) * time.Second
	}
	m, err := mfes.Open(c.String("config"), env, stderr, "casstop")
	if err != nil {
		return command.Fail(mfes.ExitStatus(err), "casstop: %v", err)
	}
	defer m.Close()
	// SIGTERM, SIGINT and SIGHUP do not cut a stop short: a half-done casstop is what leaves a
	// region running on the server a cluster fails over from. They are caught and dropped
	// until the stop has ended; clpd bounds a stop script with SIGKILL.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	err = m.StopRegion(context.Background(), c.String("r"), mfes.StopOptions{
		Wait:      wait,
		Force:     c.Bool("f"),
		Immediate: c.Bool("i"),
		Creds:     mfes.Credentials{User: c.String("u"), Password: c.String("p"), Group: c.String("c")},
		Pass:      c.StringSlice(compat.PassFlag),
	})
	if err != nil {
		return command.Fail(mfes.ExitStatus(err), "casstop: %v", err)
	}
	return nil
}
