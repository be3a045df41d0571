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
		Flags: []command.Flag{
			{Names: []string{"-r"}, Arg: "name", Kind: command.Value, Default: "ESDEMO", Help: "the region (default ESDEMO)"},
			{Names: []string{"-w"}, Arg: "seconds", Kind: command.Optional, Colon: true,
				Help: "how long the stop may take before casstop forces it (1 to 86400); /w alone,\nor no /w, means the stop timeout of the configuration (1 minute unless set)"},
			{Names: []string{"-f"}, Help: "force at once: skip the ordinary stop"},
			{Names: []string{"-i"}, Help: "immediate; Micro Focus's own casstop gets /i, other backends force at once"},
			{Names: []string{"-u"}, Arg: "user", Kind: command.Value, Help: "user name, for the backend (security-enabled regions)"},
			{Names: []string{"-p"}, Arg: "password", Kind: command.Value, Secret: true,
				Help: "password; never written to a log or to a command line clpkit runs, except\nMicro Focus's own casstop, which takes it only there"},
			{Names: []string{"-c"}, Arg: "group", Kind: command.Value, Help: "sign-on group"},
			{Names: []string{"--config"}, Arg: "file", Kind: command.Value, Help: "the configuration (default $CLPKIT_MFES_CONFIG, else /etc/clpkit/mfes.toml)"},
			{Names: []string{"--pass"}, Arg: "option", Kind: command.List,
				Help: "hand option unchanged to Micro Focus's own casstop; any option casstop\ndoes not know (/s, /l, /x, /t, ...) is passed this way"},
		},
		After: `Exit status: 0 nothing of the region runs; 1 something still runs (the reason is on stderr);
2 the command line is wrong; 3 the configuration is missing or wrong, or names no such region.`,
		UsageCode:   2,
		HelpLetters: true,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	s := spec()
	return s.RunMF(s.MF(0), args, stdout, stderr, func(c *cli.Context) error { return action(c, stderr, env) })
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
