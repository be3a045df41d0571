package main

import (
	"context"
	"io"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/mfes"
)

// help is what --help prints; man/casstart.8 documents the same synopsis and options.
const help = `Usage:
  casstart [/rname] [/uuser] [/ppassword] [/cgroup] [/w[seconds]] [/s:type] [/option...]
  casstart [-r name] [-u user] [-p password] [-c group] [-w seconds] [-s type] [--config file] [--pass option]...

Start a Micro Focus Enterprise Server region, starting the directory server (mfds) first when
it does not answer, and exit 0 only once the region runs and its listener accepts connections.
Options are written the product's way: a slash or a dash, the letter in either case, the value
glued to it (/rESSERV1, -rESSERV1, /W30, /s:c).

Options:
  -r name          the region (default ESDEMO)
  -u user          user name, for the backend (security-enabled regions)
  -p password      password; never written to a log or to a command line clpkit runs, except
                   Micro Focus's own casstart, which takes it only there
  -c group         sign-on group
  -w seconds       give up when the region is not up within seconds (1 to 86400); /w alone,
                   or no /w, means the start timeout of the configuration (2 minutes unless set)
  -s type          start type, /s:c (cold) or /s:w (warm), handed to the backend
  --config file    the configuration (default $CLPKIT_MFES_CONFIG, else /etc/clpkit/mfes.toml)
  --pass option    hand option unchanged to Micro Focus's own casstart; any option casstart
                   does not know (/o, /m, /z, /x, /j, ...) is passed this way
  --help           show this help

Exit status: 0 the region is up; 1 it is not (the reason is on stderr); 2 the command line is
wrong; 3 the configuration is missing or wrong, or names no such region.
`

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "casstart",
		Usage: "start an Enterprise Server region and wait until it is up",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "r", Value: "ESDEMO", Usage: "the region `name`"},
			&cli.StringFlag{Name: "u", Usage: "`user` name"},
			&cli.StringFlag{Name: "p", Usage: "`password`"},
			&cli.StringFlag{Name: "c", Usage: "sign-on `group`"},
			&cli.StringFlag{Name: "w", Usage: "wait at most `seconds`"},
			&cli.StringFlag{Name: "s", Usage: "start `type`"},
			&cli.StringFlag{Name: "config", Usage: "the configuration `file`"},
			&cli.StringSliceFlag{Name: compat.PassFlag, Usage: "hand `option` to Micro Focus's casstart"},
		},
		// A passed-through option may hold commas (/j:SYSIDNT=A,B); it is one value.
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
	argv, err := compat.NormalizeMF(args[1:], compat.CasstartSpec())
	if err != nil {
		_, _ = io.WriteString(stderr, "casstart: "+err.Error()+" (see casstart --help)\n")
		return 2
	}
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], argv...))
}

func action(c *cli.Context, stderr io.Writer, env func(string) string) error {
	wait, err := parseWait(c.String("w"))
	if err != nil {
		return err
	}
	m, err := mfes.Open(c.String("config"), env, stderr, "casstart")
	if err != nil {
		return command.Fail(mfes.ExitStatus(err), "casstart: %v", err)
	}
	defer m.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err = m.StartRegion(ctx, c.String("r"), mfes.StartOptions{
		Wait:      wait,
		StartType: c.String("s"),
		Creds:     mfes.Credentials{User: c.String("u"), Password: c.String("p"), Group: c.String("c")},
		Pass:      c.StringSlice(compat.PassFlag),
	})
	if err != nil {
		return command.Fail(mfes.ExitStatus(err), "casstart: %v", err)
	}
	return nil
}

// parseWait reads /w: "" is the configuration's default (0), else whole seconds.
func parseWait(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 86400 {
		return 0, command.Fail(2, "casstart: /w%s: give whole seconds from 1 to 86400, glued to the letter, as in /w30 (see casstart --help)", s)
	}
	return time.Duration(n) * time.Second, nil
}
