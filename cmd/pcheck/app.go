package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/alert"
	"clpkit/pkg/psaver"
)

// Exit statuses, as pcheck(8) documents them.
const (
	exitRetryOver = 1
	exitUsage     = 2
	exitBusy      = 3
)

const (
	defaultScriptTimeout = 300
	maxScriptTimeout     = 86400
)

// spec is pcheck's flag table; man/pcheck.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name:  "pcheck",
		Usage: "pcheck -f pfile [--script-timeout seconds]",
		About: `Watch the processes of a ProcessSaver pfile and restart each one with its restart script
when it dies. pcheck stays in the foreground: a cluster monitor watches its process. It
exits 0 when SIGTERM (or SIGINT, SIGHUP) stops it, 1 when an entry whose
retry_over_action is exit has used up its retries, 2 for a bad command line or pfile,
3 when another pcheck already runs the pfile or its IPCKEY.`,
		Flags: []command.Flag{
			{Names: []string{"-f"}, Arg: "pfile", Kind: command.Value, Help: "the pfile (format in pcheck(8))"},
			{Names: []string{"--script-timeout"}, Arg: "seconds", Kind: command.Number, Min: 1, Max: maxScriptTimeout,
				Takes: "a number of seconds", Default: strconv.Itoa(defaultScriptTimeout),
				Help: "kill a restart script (its process group) that runs longer,\n1 to 86400 (default 300)"},
		},
		UsageCode:   exitUsage,
		HelpLetters: true,
		Dashes:      true,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stderr, env) })
}

func action(c *cli.Context, stderr io.Writer, env func(string) string) error {
	if c.NArg() > 0 {
		return command.Fail(exitUsage, "pcheck: unexpected argument %q (see pcheck --help)", c.Args().First())
	}
	if c.String("f") == "" {
		return command.Fail(exitUsage, "pcheck: -f pfile is required (see pcheck --help)")
	}
	timeout := command.Int(c, "script-timeout")

	// stderr is a file when pcheck runs for real: restart scripts write to it, and on a terminal
	// every syslog line is echoed there.
	errFile, _ := stderr.(*os.File)
	tty := errFile != nil && psaver.IsTerminal(errFile)
	server, err := alert.ServerName(env, os.Hostname)
	if err != nil {
		server = "-"
	}
	rep, warning := psaver.NewReporter("pcheck", psaver.SyslogSocket(env), stderr, tty, alert.Path(env), server)
	defer rep.Close()
	fail := func(code int, err error) error {
		rep.Log(compat.PcheckErrorLine(err.Error()))
		return command.Fail(code, "pcheck: %v", err)
	}

	cfg, err := compat.LoadPfile(c.String("f"))
	if err != nil {
		return fail(exitUsage, err)
	}
	pid := os.Getpid()
	inst, err := psaver.Claim(psaver.RunDir(env), cfg.Pfile, cfg.IPCKey, pid)
	if err != nil {
		return fail(exitBusy, err)
	}
	defer inst.Close()
	// Said once, now that this pcheck runs: a refused one has its one line to say, no more.
	if warning != "" && syslogExpected(env) {
		fmt.Fprintln(stderr, warning)
	}

	// Signals are caught from here on; before, the default action (exit) is right. SIGINT and
	// SIGHUP are caught only when they are not ignored: under nohup, or as a background job of
	// a shell without job control, they must keep being ignored (Notify would undo that).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	for _, s := range []os.Signal{syscall.SIGINT, syscall.SIGHUP} {
		if !signal.Ignored(s) {
			signal.Notify(sigs, s)
		}
	}
	defer signal.Stop(sigs)

	dump := &dumper{stderr: stderr}
	eng, err := psaver.New(cfg, psaver.Options{
		PID:           pid,
		ScriptTimeout: time.Duration(timeout) * time.Second,
		ScriptOutput:  errFile,
		Notify: func(ev psaver.Event) {
			if l, ok := compat.PcheckLine(ev); ok {
				rep.Report(l)
				return
			}
			if ev.Kind == psaver.Problem {
				if ev.PName != "" {
					fmt.Fprintf(stderr, "pcheck: %s: %v\n", ev.PName, ev.Err)
				} else {
					fmt.Fprintf(stderr, "pcheck: %v\n", ev.Err)
				}
			}
		},
		State: dump.write,
	})
	if err != nil {
		return fail(exitUsage, err)
	}

	ctx, cancel := context.WithCancel(c.Context)
	defer cancel()
	srv := &psaver.Server{
		Engine: eng, Pfile: cfg.Pfile, PID: pid,
		Load: func() (psaver.Config, error) { return compat.LoadPfile(cfg.Pfile) },
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, inst.Listener); err != nil {
			fmt.Fprintf(stderr, "pcheck: %v\n", err)
		}
	}()
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()

	select {
	case sig := <-sigs:
		rep.Report(compat.PcheckSignalLine(sig.(syscall.Signal)))
		cancel()
		<-done
		rep.Report(compat.PcheckStopLine())
		return nil
	case err := <-done:
		cancel()
		var ro *psaver.RetryOverError
		if errors.As(err, &ro) {
			// RETRY_OVER and FATAL are logged already; the status is what the cluster sees.
			return command.Fail(exitRetryOver, "")
		}
		if err != nil {
			return command.Fail(exitBusy, "pcheck: %v", err)
		}
		return nil
	}
}

// dumper keeps SHM_DUMP_FILE equal to what padmin -c show pent would print, so that the last
// state survives pcheck (a crash, a kill -9, a failover). Each version replaces the file in one
// rename, so a reader never sees half of one.
type dumper struct {
	stderr  io.Writer
	lastErr string
}

func (d *dumper) write(s psaver.Snapshot) {
	if s.DumpFile == "" {
		return
	}
	err := writeAtomic(s.DumpFile, []byte(compat.PadminShowPent(s, time.Local)))
	// One line per new problem: a full disk must not flood the log at every state change.
	msg := ""
	if err != nil {
		msg = err.Error()
		if msg != d.lastErr {
			fmt.Fprintf(d.stderr, "pcheck: SHM_DUMP_FILE: %v\n", err)
		}
	}
	d.lastErr = msg
}

func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// syslogExpected reports whether this machine is meant to have the syslog socket pcheck writes
// to: its path was given, or the socket file exists (a syslog daemon that is down). Without
// either, the machine has no syslog (a container), and the messages going to standard error
// need no warning.
func syslogExpected(env func(string) string) bool {
	if env(psaver.EnvSyslogSocket) != "" {
		return true
	}
	_, err := os.Lstat(psaver.SyslogSocket(env))
	return err == nil
}
