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

// spec is mfds's flag table; man/mfds.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "mfds",
		Usage: `mfds [--config file] [--pass option]...
mfds -s mode [user [password]] [--config file]`,
		About: `Start the Micro Focus Enterprise Server directory server unless it answers, and exit 0 once it
accepts connections; with -s, stop it and exit 0 once nothing of it runs. The seed's start.sh
runs "mfds &": that works as before, and casstart starts the directory server itself anyway.`,
		Flags: []command.Flag{
			{Names: []string{"-s"}, Arg: "mode", Kind: command.Value,
				Help: "stop instead of start: mode 1 stops the directory server, mode 2 stops the\nregions that run first; user and password are handed to the backend"},
			{Names: []string{"--config"}, Arg: "file", Kind: command.Value, Help: "the configuration (default $CLPKIT_MFES_CONFIG, else /etc/clpkit/mfes.toml)"},
			{Names: []string{"--pass"}, Arg: "option", Kind: command.List,
				Help: "hand option unchanged to Micro Focus's own mfds; any option mfds does not\nknow (--UI-on, -g 5 file O, ...) is passed this way, with the words after it"},
		},
		After: `Exit status: 0 done; 1 the directory server did not start or stop (the reason is on stderr);
2 the command line is wrong; 3 the configuration is missing or wrong.`,
		UsageCode:   2,
		HelpLetters: true,
	}
}

// run reads the line with the user and the password of a shutdown as its two operands; the
// second is a password, never shown.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	s := spec()
	g := s.MF(2)
	g.SecretOperand = 2
	return s.RunMF(g, args, stdout, stderr, func(c *cli.Context) error { return action(c, stderr, env) })
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
