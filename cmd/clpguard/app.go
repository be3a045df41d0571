package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/cgroup"
	"clpkit/pkg/guard"
	"clpkit/pkg/version"
)

// Exit statuses, documented in man/clpguard.8.
const (
	exitFailure = 1
	exitUsage   = 2
	exitBusy    = 3
)

// maxWatchdogTimeout bounds --watchdog-timeout: the kernel's watchdog API counts in an int,
// and softdog, the usual one, accepts up to 65535 seconds.
const maxWatchdogTimeout = 65535

// spec is clpguard's flag table; man/clpguard.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "clpguard",
		Usage: `clpguard --socket path [--log file] [--watchdog device] [--watchdog-timeout seconds]
clpguard --version`,
		About: `Fence this server's groups when clpd cannot. clpd starts clpguard and keeps arming it with a
deadline before which its lease cannot expire; when the deadline passes without a newer one
(clpd killed, frozen or hung), clpguard kills the cgroups and process groups clpd named.
It runs in the foreground until clpd tells it to exit, or until SIGTERM or SIGINT, which
end it without fencing.`,
		Flags: []command.Flag{
			{Names: []string{"--socket"}, Arg: "path", Kind: command.Value, Help: "the Unix socket clpd talks to (created with mode 0600;\na lock on path.lock keeps a second clpguard off it)"},
			{Names: []string{"--log"}, Arg: "file", Kind: command.Value, Help: "append log lines to file instead of standard error"},
			{Names: []string{"--watchdog"}, Arg: "device", Kind: command.Value, Help: "keep this kernel watchdog (e.g. /dev/watchdog) alive while\nthat is safe; when it is missing, carry on without it"},
			{Names: []string{"--watchdog-timeout"}, Arg: "seconds", Kind: command.Number, Min: 1, Max: maxWatchdogTimeout, Takes: "a number of seconds",
				Help: "the watchdog's timeout, 1 to 65535, required with --watchdog"},
		},
		After: `Exit status: 0 told to exit (or SIGTERM, SIGINT), 1 failed, 2 usage,
3 another clpguard guards the socket.`,
		UsageCode:   exitUsage,
		HelpLetters: true,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stderr) })
}

func action(c *cli.Context, stderr io.Writer) error {
	if c.NArg() > 0 {
		return command.Fail(exitUsage, "clpguard: unexpected argument %q (see clpguard --help)", c.Args().First())
	}
	socket := c.String("socket")
	if socket == "" {
		return command.Fail(exitUsage, "clpguard: --socket path is required (see clpguard --help)")
	}
	wdDevice, wdSecs := c.String("watchdog"), command.Int(c, "watchdog-timeout")
	switch {
	case wdDevice != "" && !c.IsSet("watchdog-timeout"):
		// No default: a timeout is safe only below the lease TTL, which clpd knows and we do not.
		return command.Fail(exitUsage, "clpguard: --watchdog needs --watchdog-timeout seconds (see clpguard --help)")
	case wdDevice == "" && c.IsSet("watchdog-timeout"):
		return command.Fail(exitUsage, "clpguard: --watchdog-timeout needs --watchdog device (see clpguard --help)")
	}

	out := stderr
	if p := c.String("log"); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return command.Fail(exitFailure, "clpguard: opening the log: %v", err)
		}
		defer f.Close()
		out = f
	}
	pid := os.Getpid()
	log := (&logger{w: out, pid: pid}).print

	ln, err := guard.Listen(socket, pid)
	var busy *guard.BusyError
	switch {
	case errors.As(err, &busy):
		return command.Fail(exitBusy, "clpguard: %v", err)
	case err != nil:
		return command.Fail(exitFailure, "clpguard: %v", err)
	}
	defer ln.Close()

	// From here on the guard ends only on purpose. SIGHUP (a closed terminal) must not end it,
	// nor SIGPIPE (a log reader that went away): the writes fail instead.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)

	for _, p := range guard.Protect("/proc") {
		log(p)
	}
	opts := guard.Options{PID: pid, PGID: syscall.Getpgrp(), Log: log}
	cgroups := "no cgroup v2: only process groups can be fenced"
	switch mount, err := cgroup.FindV2("/proc"); {
	case err == nil:
		opts.Mount = mount
		cgroups = "cgroup v2 at " + mount
		if self, err := cgroup.Self("/proc"); err == nil {
			opts.Self = filepath.Join(mount, self)
		} else {
			log(fmt.Sprintf("%v; the guard cannot refuse its own cgroup as a target", err))
		}
	case !errors.Is(err, cgroup.ErrNoV2):
		cgroups = fmt.Sprintf("%v; only process groups can be fenced", err)
	}
	watchdog := "watchdog: none"
	if wdDevice != "" {
		wd, err := openWatchdog(wdDevice, time.Duration(wdSecs)*time.Second)
		if err != nil {
			log(err.Error())
		} else {
			opts.Watchdog = wd
			watchdog = fmt.Sprintf("watchdog %s, timeout %s, pinged every %s while safe", wdDevice, wd.Timeout(), wd.Interval())
			defer func() {
				if err := wd.Close(); err != nil {
					log(err.Error())
				} else {
					log("watchdog " + wdDevice + " disarmed")
				}
			}()
		}
	}
	log(fmt.Sprintf("clpguard %s guarding %s (pid %d, pgid %d); %s; %s; disarmed",
		version.String(), socket, pid, opts.PGID, cgroups, watchdog))

	eng := guard.New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = eng.Run(ctx) })
	wg.Go(func() { guard.Serve(ctx, ln, eng) })

	select {
	case sig := <-sigs:
		log(fmt.Sprintf("%s received: exiting without fencing", signalName(sig)))
		cancel()
	case <-eng.Done(): // an exit request was accepted; the engine logged it
	}
	cancel()
	wg.Wait()
	log("exited")
	return nil
}

// openWatchdog opens the kernel watchdog, or says in one line why the guard goes on without it.
func openWatchdog(device string, timeout time.Duration) (*guard.Watchdog, error) {
	if _, err := os.Stat(device); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no kernel watchdog: %s does not exist; fencing relies on clpguard alone (load softdog for one)", device)
	}
	wd, err := guard.OpenWatchdog(device, timeout)
	if err != nil {
		return nil, fmt.Errorf("no kernel watchdog: %v; fencing relies on clpguard alone", err)
	}
	return wd, nil
}

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}

// logger writes one timestamped line per message; the engine, the connections and main share it.
type logger struct {
	mu  sync.Mutex
	w   io.Writer
	pid int
}

func (l *logger) print(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failed write (a full disk) must not stop the guard; there is nowhere else to say it.
	_, _ = fmt.Fprintf(l.w, "%s clpguard[%d]: %s\n", time.Now().Format("2006-01-02T15:04:05.000-07:00"), l.pid, msg)
}
