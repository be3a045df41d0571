package main

import (
	"context"
	"io"
	"os"
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

// spec is casstop's flag table; man/casstop.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "casstop",
		Usage: `casstop [/rname] [/w[seconds]] [/f] [/i] [/uuser] [/ppassword] [/cgroup] [/option...]
casstop [-r name] [-w [seconds]] [-f] [-i] [-u user] [-p password] [-c group] [--config file] [--pass option]...`,
		About: `Stop a Micro Focus Enterprise Server region and exit 0 only once no process of it runs: the
stop first; when the region is still there after /w seconds, the forced stop; when it is still
there after the force timeout, SIGKILL to each of its processes. Options are written the
product's way: /rESSERV1, -rESSERV1, /W30, /F.`,
		Flags: slices.Concat([]command.Flag{
			{Names: []string{"-r"}, Arg: "name", Kind: command.Value, Default: "ESDEMO", Help: "the region (default ESDEMO)"},
			{Names: []string{"-w"}, Arg: "seconds", Kind: command.Optional, Colon: true,
				Help: "how long the stop may take before casstop forces it (1 to 86400); /w alone,\nor no /w, means the stop timeout of the configuration (1 minute unless set)"},
			{Names: []string{"-f"}, Help: "force at once: skip the ordinary stop"},
			{Names: []string{"-i"}, Help: "immediate; Micro Focus's own casstop gets /i, other backends force at once"},
		}, mfregion.Credentials("casstop"), []command.Flag{
			{Names: []string{"--config"}, Arg: "file", Kind: command.Value, Help: "the configuration (default $CLPKIT_MFES_CONFIG, else /etc/clpkit/mfes.toml)"},
			{Names: []string{"--pass"}, Arg: "option", Kind: command.List,
				Help: "hand option unchanged to Micro Focus's own casstop; any option casstop\ndoes not know (/s, /l, /x, /t, ...) is passed this way"},
		}),
		After: `Exit status: 0 nothing of the region runs; 1 something still runs (the reason is on stderr);
2 the command line is wrong; 3 the configuration is missing or wrong, or names no such region.`,
		UsageCode:   2,
		HelpLetters: true,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return mfregion.Run(spec(), args, stdout, stderr, env, stop)
}

// stop stops the region of -r. SIGTERM, SIGINT and SIGHUP do not cut it short: a half-done
// casstop is what leaves a region running on the server a cluster fails over from. They are
// caught and dropped until the stop has ended; clpd bounds a stop script with SIGKILL.
func stop(c *cli.Context, m *mfes.Manager, wait time.Duration, creds mfes.Credentials) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	return m.StopRegion(context.Background(), c.String("r"), mfes.StopOptions{
		Wait:      wait,
		Force:     c.Bool("f"),
		Immediate: c.Bool("i"),
		Creds:     creds,
		Pass:      c.StringSlice(compat.PassFlag),
	})
}
