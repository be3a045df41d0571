package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/mfes"
)

// help is what --help prints; man/mfds.8 documents the same synopsis and options.
const help = `Usage:
  mfds [--config file] [--pass option]...
  mfds -s mode [user [password]] [--config file]

Start the Micro Focus Enterprise Server directory server unless it answers, and exit 0 once it
accepts connections; with -s, stop it and exit 0 once nothing of it runs. The seed's start.sh
runs "mfds &": that works as before, and casstart starts the directory server itself anyway.

Options:
  -s mode          stop instead of start: mode 1 stops the directory server, mode 2 stops the
                   regions that run first; user and password are handed to the backend
  --config file    the configuration (default $CLPKIT_MFES_CONFIG, else /etc/clpkit/mfes.toml)
  --pass option    hand option unchanged to Micro Focus's own mfds; any option mfds does not
                   know (--UI-on, -g 5 file O, ...) is passed this way, with the words after it
  --help           show this help

Exit status: 0 done; 1 the directory server did not start or stop (the reason is on stderr);
2 the command line is wrong; 3 the configuration is missing or wrong.
`

func newApp(stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  "mfds",
		Usage: "start or stop the Enterprise Server directory server",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "s", Usage: "stop, in `mode` 1 or 2"},
			&cli.StringFlag{Name: "config", Usage: "the configuration `file`"},
			&cli.StringSliceFlag{Name: compat.PassFlag, Usage: "hand `option` to Micro Focus's mfds"},
		},
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
	argv, err := compat.NormalizeMF(args[1:], compat.MfdsSpec())
	if err != nil {
		_, _ = io.WriteString(stderr, "mfds: "+err.Error()+" (see mfds --help)\n")
		return 2
	}
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], argv...))
}

func action(c *cli.Context, stderr io.Writer, env func(string) string) error {
	stop := c.IsSet("s")
	if stop && c.String("s") != "1" && c.String("s") != "2" {
		return command.Fail(2, "mfds: -s takes mode 1 (the directory server) or 2 (its regions too), as in mfds -s 2 (see mfds --help)")
	}
	if !stop && c.NArg() > 0 {
		return command.Fail(2, "mfds: a user and password go with -s only, as in mfds -s 2 user password (see mfds --help)")
	}
	m, err := mfes.Open(c.String("config"), env, stderr, "mfds")
	if err != nil {
		return command.Fail(mfes.ExitStatus(err), "mfds: %v", err)
	}
	defer m.Close()
	if stop {
		// As casstop does: a stop is not cut short by SIGTERM, SIGINT or SIGHUP.
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigs)
		err = m.StopMFDS(context.Background(), mfes.StopOptions{
			Mode:  c.String("s"),
			Creds: mfes.Credentials{User: c.Args().Get(0), Password: c.Args().Get(1)},
			Pass:  c.StringSlice(compat.PassFlag),
		})
	} else {
		ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer cancel()
		err = m.StartMFDS(ctx, c.StringSlice(compat.PassFlag))
	}
	if err != nil {
		return command.Fail(mfes.ExitStatus(err), "mfds: %v", err)
	}
	return nil
}
