package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/mfes"
)

// spec is mdump's flag table; man/mdump.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name:  "mdump",
		Usage: "mdump host region [--config file] [--pass option]...",
		About: `Print the state of an Enterprise Server region in the lines the seed's monitor script reads:
"CN: Web Services" and "mListenerStatus: Started" (or Stopped) while the region runs, a line
with SERVER_DOWN when it does not, when the directory server does not answer, or when its state
cannot be known. host is the directory server's host: this server (localhost) unless Micro
Focus's own mdump is used.`,
		Flags: []command.Flag{
			{Names: []string{"--config"}, Arg: "file", Kind: command.Value, Help: "the configuration (default $CLPKIT_MFES_CONFIG, else /etc/clpkit/mfes.toml)"},
			{Names: []string{"--pass"}, Arg: "option", Kind: command.List, Help: "hand option unchanged to Micro Focus's own mdump"},
		},
		After: `Exit status: 0 the region runs (its listener may still be Stopped); 1 SERVER_DOWN (the reason
is on stderr); 2 the command line is wrong; 3 SERVER_DOWN because the configuration is missing
or wrong, or names no such region.`,
		UsageCode: 2,
	}
}

// statusLimit bounds one mdump: a monitor loop calls it every few seconds.
const statusLimit = 30 * time.Second

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	s := spec()
	return s.RunMF(s.MF(2), args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, stderr, env) })
}

func action(c *cli.Context, stdout, stderr io.Writer, env func(string) string) error {
	if c.NArg() != 2 {
		return command.Fail(2, "mdump: give the directory server's host and the region, as in: mdump localhost ESSERV1 (see mdump --help)")
	}
	host, region := c.Args().Get(0), c.Args().Get(1)
	ctx, cancel := context.WithTimeout(context.Background(), statusLimit)
	defer cancel()
	// Whatever goes wrong, stdout says SERVER_DOWN: a monitor script that reads nothing would
	// go on looping as if the region were fine.
	down := func(code int, err error) error {
		fmt.Fprint(stdout, mfes.Dump{Region: region, Down: true}.Text())
		return command.Fail(code, "mdump: %v", err)
	}
	m, err := mfes.Open(c.String("config"), env, stderr, "mdump")
	if err != nil {
		return down(mfes.ExitStatus(err), err)
	}
	defer m.Close()
	svc, err := m.Region(region)
	if err != nil {
		return down(mfes.ExitStatus(err), err)
	}
	if svc.Kind == mfes.KindES {
		code, err := m.RealDump(ctx, stdout, append(c.StringSlice(compat.PassFlag), host, region))
		if err != nil {
			return down(1, err)
		}
		if code != 0 {
			return command.Fail(code, "")
		}
		return nil
	}
	if pass := c.StringSlice(compat.PassFlag); len(pass) > 0 {
		fmt.Fprintf(stderr, "mdump: ignored %s: options only Micro Focus's own mdump knows (region %s has the %s backend)\n", strings.Join(mfes.RedactPass(pass), " "), svc.Name, svc.Kind)
	}
	if !mfes.IsLocal(ctx, host, os.Hostname) {
		return down(1, fmt.Errorf("%s is not this server: region %s has the %s backend, which knows this server's regions only", host, svc.Name, svc.Kind))
	}
	d, why := m.Status(ctx, svc)
	fmt.Fprint(stdout, d.Text())
	if d.Down {
		return command.Fail(1, "mdump: %s", why)
	}
	return nil
}
