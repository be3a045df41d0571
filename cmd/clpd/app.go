package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/config"
	"clpkit/pkg/daemon"
)

// Exit statuses, documented in man/clpd.8 (systemd's RestartPreventExitStatus= uses 2 and 3).
const (
	exitFailure   = 1
	exitConfig    = 2
	exitRunning   = 3
	defaultConfig = "/etc/clpkit/cluster.toml"
)

// spec is clpd's flag table; man/clpd.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "clpd",
		Usage: `clpd [-c file] [--server name] [--socket path]
clpd --witness [-c file]
clpd --check [-c file]
clpd --make-certs [-c file]
clpd --version`,
		About: `The clpkit cluster daemon. Runs in the foreground: joins the cluster, runs this server's
failover groups and serves the local API until SIGTERM or SIGINT, then stops its groups
(the last configured first, each group's resources in reverse dependency order) and exits.`,
		Flags: []command.Flag{
			{Names: []string{"-c", "--config"}, Arg: "file", Kind: command.Value, Default: defaultConfig,
				Help: "cluster configuration (default /etc/clpkit/cluster.toml)"},
			{Names: []string{"--server"}, Arg: "name", Kind: command.Value, Help: "this server's name in the configuration (default: the host name,\nor the only server of a one-server cluster)"},
			{Names: []string{"--socket"}, Arg: "path", Kind: command.Value, Help: "API socket (default <run_dir>/clpd.sock)"},
			{Names: []string{"--witness"}, Help: "run only this machine's member of the embedded store, the [witness]\nof a two-server cluster: no groups, no API"},
			{Names: []string{"--check"}, Help: "validate the configuration, print a summary and exit"},
			{Names: []string{"--make-certs"}, Help: "create the cluster CA (unless [tls] dir has one) and a certificate for\nevery server of the configuration in [tls] dir, then exit"},
		},
		After: `Exit status: 0 stopped cleanly, 1 failed, 2 invalid configuration or usage,
3 another clpd is already running.`,
		UsageCode:   exitConfig,
		HelpLetters: true,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, stderr, env) })
}

func action(c *cli.Context, stdout, stderr io.Writer, env func(string) string) error {
	if c.NArg() > 0 {
		return command.Fail(exitConfig, "clpd: unexpected argument %q (see clpd --help)", c.Args().First())
	}
	path := c.String("config")
	if c.Bool("make-certs") {
		cfg, err := config.Load(path)
		if err != nil {
			return command.Fail(exitConfig, "%v", err)
		}
		made, err := daemon.MakeCerts(cfg)
		for _, f := range made {
			fmt.Fprintln(stdout, f)
		}
		if err != nil {
			return command.Fail(exitFailure, "clpd: %v", err)
		}
		fmt.Fprintf(stdout, "%s: the cluster CA and %d server certificate(s); copy the directory to every server (ca.key only where certificates are made)\n", cfg.TLS.Dir, len(made))
		return nil
	}
	if c.Bool("check") {
		cfg, err := config.Load(path)
		if err != nil {
			return command.Fail(exitConfig, "%v", err)
		}
		if _, err := daemon.SelectServer(cfg, c.String("server"), os.Hostname); err != nil && c.IsSet("server") {
			return command.Fail(exitConfig, "%v", err)
		}
		res := 0
		for _, g := range cfg.Groups {
			res += len(g.Resources)
		}
		fmt.Fprintf(stdout, "%s: configuration OK: cluster %s, %d server(s), %d group(s), %d resource(s)\n",
			cfg.File, cfg.Cluster.Name, len(cfg.Servers), len(cfg.Groups), res)
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	o := daemon.Options{
		ConfigPath: path, Server: c.String("server"), Socket: c.String("socket"),
		Env: env, Environ: os.Environ(), Log: log, Hostname: os.Hostname,
	}
	var err error
	if c.Bool("witness") {
		err = daemon.RunWitness(ctx, o)
	} else {
		err = daemon.Run(ctx, o)
	}
	var ce *config.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return command.Fail(exitConfig, "%v", err)
	case errors.Is(err, daemon.ErrAlreadyRunning):
		return command.Fail(exitRunning, "clpd: %v", err)
	default:
		return command.Fail(exitFailure, "clpd: %v", err)
	}
}
