package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/alert"
	"clpkit/pkg/psaver"
)

const (
	exitFailed = 1
	exitUsage  = 2
)

// minWait is the least time padmin waits for pcheck's answer; MSG_CHECK_INTERVAL may ask for
// more (see waitFor).
const minWait = 5 * time.Second

// spec is padmin's flag table; man/padmin.8 documents the same synopsis and options.
func spec() command.Spec {
	return command.Spec{
		Name: "padmin",
		Usage: `padmin -f pfile -c show pent
padmin -f pfile -c stop
padmin -f pfile -c start
padmin -f pfile -c reload`,
		About: `Show and control the pcheck that runs pfile. show pent prints every entry's state; stop
pauses monitoring, start resumes it, reload makes pcheck read the pfile again (unchanged
entries keep their counters). Exit status: 0 done, 1 no pcheck runs the pfile or it
refused the command, 2 bad command line or pfile.`,
		Flags: []command.Flag{
			{Names: []string{"-f"}, Arg: "pfile", Kind: command.Value, Help: "the pfile pcheck was started with"},
			{Names: []string{"-c"}, Arg: "command", Kind: command.Value, Help: "show pent, stop, start or reload"},
		},
		UsageCode:   exitUsage,
		HelpLetters: true,
		Dashes:      true,
	}
}

func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return spec().Run(args, stdout, stderr, func(c *cli.Context) error { return action(c, stdout, stderr, env) })
}

// commandOf maps what follows -c (the operand "pent" included) to the request.
func commandOf(typed string) (string, bool) {
	switch typed {
	case "show pent":
		return psaver.CmdShow, true
	case "stop":
		return psaver.CmdStop, true
	case "start":
		return psaver.CmdStart, true
	case "reload":
		return psaver.CmdReload, true
	}
	return "", false
}

func action(c *cli.Context, stdout, stderr io.Writer, env func(string) string) error {
	if c.String("f") == "" {
		return command.Fail(exitUsage, "padmin: -f pfile is required (see padmin --help)")
	}
	if !c.IsSet("c") {
		return command.Fail(exitUsage, "padmin: -c command is required: show pent, stop, start or reload")
	}
	// "-c show pent" arrives as -c show plus the operand pent; "-c 'show pent'" as one value.
	words := append(strings.Fields(c.String("c")), c.Args().Slice()...)
	typed := strings.Join(words, " ")
	cmd, ok := commandOf(typed)
	if !ok {
		return command.Fail(exitUsage, "padmin: unknown command %q: accepted are show pent, stop, start, reload", typed)
	}
	cfg, err := compat.LoadPfileParams(c.String("f"))
	if err != nil {
		return command.Fail(exitUsage, "padmin: %v", err)
	}
	dir := psaver.RunDir(env)
	sock := psaver.SocketPath(dir, cfg.IPCKey)
	ctx, cancel := context.WithTimeout(c.Context, waitFor(cfg))
	defer cancel()
	resp, err := psaver.Call(ctx, sock, psaver.Request{Command: cmd, Pfile: cfg.Pfile})
	switch {
	case errors.Is(err, psaver.ErrNotRunning):
		return command.Fail(exitFailed, "padmin: %s", notRunning(dir, sock, cfg))
	case errors.Is(err, os.ErrPermission):
		return command.Fail(exitFailed, "padmin: permission denied on %s: run padmin as root", sock)
	case err != nil:
		return command.Fail(exitFailed, "padmin: %v", err)
	case resp.Error != "":
		code := exitFailed
		if resp.PfileError {
			code = exitUsage
		}
		return command.Fail(code, "padmin: %s", resp.Error)
	case resp.State == nil:
		return command.Fail(exitFailed, "padmin: pcheck (pid %d) sent no state", resp.PID)
	}
	if cmd == psaver.CmdShow {
		fmt.Fprint(stdout, compat.PadminShowPent(*resp.State, time.Local))
		return nil
	}
	errFile, _ := stderr.(*os.File)
	server, err := alert.ServerName(env, os.Hostname)
	if err != nil {
		server = "-"
	}
	// Without syslog the line goes to stderr, with no warning: pcheck said at its start that
	// syslog is missing, and padmin's one line is all an operator needs here.
	rep, _ := psaver.NewReporter("padmin", psaver.SyslogSocket(env), stderr,
		errFile != nil && psaver.IsTerminal(errFile), alert.Path(env), server)
	defer rep.Close()
	rep.Report(compat.PadminCommandLine(cmd, cfg.Pfile))
	return nil
}

// waitFor is how long padmin waits for pcheck: the legacy pcheck read its message queue every
// MSG_CHECK_INTERVAL seconds, so a legacy padmin could wait that long; this pcheck answers at
// once, and minWait covers a loaded machine.
func waitFor(cfg psaver.Config) time.Duration { return max(cfg.MsgCheckInterval, minWait) }

// notRunning explains why nothing answers: no pcheck at all, or a pcheck that runs this pfile
// under the IPCKEY it had before someone edited it.
func notRunning(dir, sock string, cfg psaver.Config) string {
	if h := psaver.Holder(dir, cfg.Pfile); h.PID != 0 && h.Key != cfg.IPCKey {
		return fmt.Sprintf("pcheck (pid %d) runs %s with IPCKEY %s, but the pfile now says %s: IPCKEY cannot change while pcheck runs; restart pcheck",
			h.PID, cfg.Pfile, psaver.KeyName(h.Key), psaver.KeyName(cfg.IPCKey))
	}
	msg := fmt.Sprintf("no pcheck is running for %s (IPCKEY %s: nothing listens on %s)", cfg.Pfile, psaver.KeyName(cfg.IPCKey), sock)
	if cfg.DumpFile != "" {
		if _, err := os.Stat(cfg.DumpFile); err == nil {
			msg += "; its last state is in " + cfg.DumpFile
		}
	}
	return msg
}
