package main

import (
	"context"
	"io"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/internal/command/mfregion"
	"clpkit/pkg/mfes"
)

// spec is casstart's flag table; man/casstart.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "casstart",
		Usage: `casstart [/rname] [/uuser] [/ppassword] [/cgroup] [/w[seconds]] [/s:type] [/option...]
casstart [-r name] [-u user] [-p password] [-c group] [-w [seconds]] [-s type] [--config file] [--pass option]...`,
		About: `Start a Micro Focus Enterprise Server region, starting the directory server (mfds) first when
it does not answer, and exit 0 only once the region runs and its listener accepts connections.
Options are written the product's way: a slash or a dash, the letter in either case, the value
glued to it (/rESSERV1, -rESSERV1, /W30, /s:c).`,
		Flags: slices.Concat([]command.Flag{
			{Names: []string{"-r"}, Arg: "name", Kind: command.Value, Default: "ESDEMO", Help: "the region (default ESDEMO)"},
		}, mfregion.Credentials("casstart"), []command.Flag{
			{Names: []string{"-w"}, Arg: "seconds", Kind: command.Optional, Colon: true,
				Help: "give up when the region is not up within seconds (1 to 86400); /w alone,\nor no /w, means the start timeout of the configuration (2 minutes unless set)"},
			{Names: []string{"-s"}, Arg: "type", Kind: command.Value, Colon: true, Help: "start type, /s:c (cold) or /s:w (warm), handed to the backend"},
			{Names: []string{"--config"}, Arg: "file", Kind: command.Value, Help: "the configuration (default $CLPKIT_MFES_CONFIG, else /etc/clpkit/mfes.toml)"},
			{Names: []string{"--pass"}, Arg: "option", Kind: command.List,
				Help: "hand option unchanged to Micro Focus's own casstart; any option casstart\ndoes not know (/o, /m, /z, /x, /j, ...) is passed this way"},
		}),
		After: `Exit status: 0 the region is up; 1 it is not (the reason is on stderr); 2 the command line is
wrong; 3 the configuration is missing or wrong, or names no such region.`,
		UsageCode:   2,
		HelpLetters: true,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return mfregion.Run(spec(), args, stdout, stderr, env, start)
}

// start starts the region of -r; SIGINT or SIGTERM gives the start up.
func start(c *cli.Context, m *mfes.Manager, wait time.Duration, creds mfes.Credentials) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return m.StartRegion(ctx, c.String("r"), mfes.StartOptions{
		Wait:      wait,
		StartType: c.String("s"),
		Creds:     creds,
		Pass:      c.StringSlice(compat.PassFlag),
	})
}
