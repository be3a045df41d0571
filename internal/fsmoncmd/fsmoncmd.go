// Package fsmoncmd is what clp_sambamon and clp_nfsmon share: the ID-first command line, the
// routing of the seed's messages to the alert log and stderr, the control forms and the watch
// run. Each command brings only its own flags and the probe it builds from them.
package fsmoncmd

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/fsmon"
)

// UsageError marks a probe-building failure that is the operator's command line (the seed's
// message 11), as opposed to one of this machine (message 61).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Spec is one of the two commands.
type Spec struct {
	Cmd compat.FsmonCommand
	// Usage is the one-line summary of the App.
	Usage string
	// Subject is the flag whose value the messages name: -s share or -d directory.
	Subject string
	// Flags are the command's own flags; -i, -c and -r are added here.
	Flags []cli.Flag
	// Build makes the probe from the flags of a watch.
	Build func(c *cli.Context) (fsmon.Probe, error)
}

// NewApp returns the command's App; help is what --help prints.
func NewApp(s Spec, help string, stdout, stderr io.Writer, env func(string) string) *cli.App {
	app := &cli.App{
		Name:  s.Cmd.Name,
		Usage: s.Usage,
		Flags: append(append([]cli.Flag{}, s.Flags...),
			&cli.IntFlag{Name: "i", Value: 30, Usage: "`interval` between probes in seconds"},
			&cli.IntFlag{Name: "c", Value: 5, Usage: "failed probes in a row (`retries`) that end the watch"},
			&cli.IntFlag{Name: "r", Value: 60, Usage: "`timeout` of a probe in seconds"},
		),
		Action: func(c *cli.Context) error { return action(s, c, stdout, stderr, env) },
	}
	command.Setup(app, stdout, stderr, fsmon.ExitUsage, help)
	// The normaliser has checked the command line; should urfave still refuse it, the answer
	// is the seed's message 11 all the same.
	app.OnUsageError = func(*cli.Context, error, bool) error {
		emitter(s, stderr, env).Emit(s.Cmd.ArgMessage(nil))
		return command.Fail(fsmon.ExitUsage, "")
	}
	return app
}

// Run is the whole command: argv in, exit status out. newApp is the command's App constructor.
func Run(s Spec, newApp func(stdout, stderr io.Writer, env func(string) string) *cli.App, args []string, stdout, stderr io.Writer, env func(string) string) int {
	norm, err := compat.NormalizeFsmonArgs(s.Cmd, args[1:])
	if err != nil {
		emitter(s, stderr, env).Emit(s.Cmd.ArgMessage(err))
		return fsmon.ExitUsage
	}
	return command.Run(newApp(stdout, stderr, env), append(args[:1:1], norm...))
}

// emitter writes to the alert log of env and to stderr. Without a server name there is no alert
// log: the messages then go to stderr.
func emitter(s Spec, stderr io.Writer, env func(string) string) fsmon.Emitter {
	e := fsmon.Emitter{Module: s.Cmd.FsmonModule(), Stderr: stderr, Name: s.Cmd.Name}
	e.Logger, _ = fsmon.StandardLogger(env)
	return e
}

func action(s Spec, c *cli.Context, stdout, stderr io.Writer, env func(string) string) error {
	cmd := s.Cmd
	pos := c.Args().Slice()
	if len(pos) == 0 || !compat.FsmonValidID(pos[0]) {
		// Only a command line that bypassed the normaliser gets here.
		emitter(s, stderr, env).Emit(cmd.ArgMessage(&compat.FsmonArgError{ID: 13}))
		return command.Fail(fsmon.ExitUsage, "")
	}
	req := fsmon.Request{ID: pos[0]}
	subject := c.String(s.Subject)

	logger, err := fsmon.StandardLogger(env)
	e := fsmon.Emitter{Logger: logger, Module: cmd.FsmonModule(), Stderr: stderr, Name: cmd.Name}
	report := func(ev fsmon.Event) { e.Emit(cmd.Messages(ev, subject)...) }
	if err != nil {
		report(fsmon.Event{Kind: fsmon.EnvError, Errno: fsmon.Errno(err), Err: err})
		return command.Fail(fsmon.ExitSystem, "")
	}
	defer logger.Close()

	op, wait, err := compat.FsmonControl(pos[1:])
	if err != nil {
		e.Emit(cmd.ArgMessage(err))
		return command.Fail(fsmon.ExitUsage, "")
	}
	req.Op, req.Wait = op, wait
	if op == fsmon.OpWatch {
		probe, err := s.Build(c)
		var ue *UsageError
		switch {
		case errors.As(err, &ue):
			e.Emit(cmd.ArgMessage(ue.Err))
			return command.Fail(fsmon.ExitUsage, "")
		case err != nil:
			report(fsmon.Event{Kind: fsmon.EnvError, Errno: fsmon.Errno(err), Err: err})
			return command.Fail(fsmon.ExitSystem, "")
		}
		req.Watch = fsmon.WatchConfig{
			Interval: time.Duration(c.Int("i")) * time.Second,
			Retries:  c.Int("c"),
			Timeout:  time.Duration(c.Int("r")) * time.Second,
			Probe:    probe,
		}
	}
	if code := fsmon.Run(context.Background(), fsmon.RegistryFor(env, cmd.FsmonModule()), req, report, stdout); code != 0 {
		return command.Fail(code, "")
	}
	return nil
}
