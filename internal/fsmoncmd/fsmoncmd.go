// Package fsmoncmd is what clp_sambamon and clp_nfsmon share: the ID-first command line, read
// once against the command's flag table, the routing of the seed's messages to the alert log and
// stderr, the control forms and the watch run. Each command brings only its own flags and the
// probe it builds from them.
package fsmoncmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/pkg/fsmon"
)

// UsageError marks a probe-building failure that is the operator's command line (the seed's
// message 11), as opposed to one of this machine (message 61). Its text says which parameter
// and why, and never holds a password.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Spec is one of the two commands.
type Spec struct {
	// Command is the command's own part of the table: its name, usage lines, text and flags
	// (-s share, -d directory, ...). Table adds what both commands share.
	Command command.Spec
	// Target is the flag a watch requires and the messages name: -s (share) or -d (directory).
	Target string
	// AddressPort allows -a address:port.
	AddressPort bool
	// Build makes the probe of a watch from its options; a *UsageError is the command line's
	// fault.
	Build func(v Values, env func(string) string) (fsmon.Probe, error)
}

// Probe is the probe of a watch that runs probe against target: a watch needs only its error.
func Probe[T, R any](probe func(context.Context, T) (R, error), target T) fsmon.Probe {
	return func(ctx context.Context) error {
		_, err := probe(ctx, target)
		return err
	}
}

// operations is the heading of the --help section of the forms that act on a running watcher.
const operations = "Operations on the running watcher monitor_id"

// Table is the command's whole flag table: its own flags, the timings -i, -c and -r, and the
// operations on a running watcher.
func (s Spec) Table() command.Spec {
	t := s.Command
	timing := func(name, arg, takes, def, help string) command.Flag {
		return command.Flag{Names: []string{name}, Arg: arg, Kind: command.Number, Min: 1, Max: compat.FsmonMaxNumber,
			Takes: takes, Default: def, Help: help}
	}
	op := func(name, help string) command.Flag {
		return command.Flag{Names: []string{name}, Help: help, Section: operations}
	}
	t.Flags = append(slices.Clone(t.Flags),
		timing("-i", "interval", "a number of seconds", "30", "seconds between probes, 1-10000 (default 30)"),
		timing("-c", "retries", "", "5", "failed probes in a row that end the watch, 1-10000 (default 5)"),
		timing("-r", "timeout", "a number of seconds", "60", "seconds a probe may take, 1-10000 (default 60)"),
		command.Flag{Names: []string{"-stop"}, Arg: "wait", Kind: command.Optional, Section: operations,
			Help: "stop it, and wait up to wait seconds (1-10000, default 60) for it to end"},
		op("-pause", "pause monitoring"),
		op("-continue", "resume monitoring"),
		op("-disp", "print the process ID recorded for monitor_id"),
		op("-del", "delete the record a killed watcher left behind"),
	)
	t.UsageCode = fsmon.ExitUsage
	return t
}

// grammar is the legacy grammar of the table, for compat.ParseFsmonArgs.
func (s Spec) grammar() compat.FsmonCommand {
	g := compat.FsmonCommand{Name: s.Command.Name, Target: s.Target, AddressPort: s.AddressPort}
	for _, f := range s.Table().Flags {
		n := f.Names[0]
		switch {
		case f.Section != "":
			continue
		case f.Kind == command.Number:
			g.Numbers = append(g.Numbers, compat.FsmonNumber{Flag: n, Min: f.Min, Max: f.Max, Takes: f.Takes})
		default:
			g.Strings = append(g.Strings, n)
		}
		if f.Empty {
			g.MayBeEmpty = append(g.MayBeEmpty, n)
		}
		if f.Secret {
			g.Secret = append(g.Secret, n)
		}
		if f.Glued {
			g.Glued = append(g.Glued, n)
		}
	}
	return g
}

// Values are the options of a watch, by flag as the table spells it ("-s").
type Values struct {
	given map[string]string
	table []command.Flag
}

// Has reports whether flag was given.
func (v Values) Has(flag string) bool {
	_, ok := v.given[flag]
	return ok
}

// String is the value of flag, or its default.
func (v Values) String(flag string) string {
	if s, ok := v.given[flag]; ok {
		return s
	}
	for _, f := range v.table {
		if f.Names[0] == flag {
			return f.Default
		}
	}
	return ""
}

// Int is the value of a numeric flag (checked by the parser), or its default.
func (v Values) Int(flag string) int {
	n, _ := strconv.Atoi(v.String(flag))
	return n
}

// Run is the whole command: argv in, exit status out.
func Run(s Spec, args []string, stdout, stderr io.Writer, env func(string) string) int {
	table, cmd := s.Table(), s.grammar()
	a, err := compat.ParseFsmonArgs(cmd, args[1:])
	switch {
	case err != nil:
		refuse(s, stderr, env, err)
		return fsmon.ExitUsage
	case a.Help:
		fmt.Fprint(stdout, table.Help())
		return 0
	case a.Version:
		fmt.Fprint(stdout, table.Version())
		return 0
	}
	v := Values{given: a.Values, table: table.Flags}

	logger, err := fsmon.StandardLogger(env)
	e := fsmon.Emitter{Logger: logger, Module: cmd.FsmonModule(), Stderr: stderr, Name: cmd.Name}
	report := func(ev fsmon.Event) { e.Emit(cmd.Messages(ev, v.String(s.Target))...) }
	if err != nil {
		report(fsmon.Event{Kind: fsmon.EnvError, Errno: fsmon.Errno(err), Err: err})
		return fsmon.ExitSystem
	}
	defer logger.Close()

	req := fsmon.Request{ID: a.ID, Op: a.Op, Wait: a.Wait}
	if a.Op == fsmon.OpWatch {
		probe, err := s.Build(v, env)
		var ue *UsageError
		switch {
		case errors.As(err, &ue):
			refuse(s, stderr, env, &compat.FsmonArgError{ID: 11, Detail: ue.Err.Error()})
			return fsmon.ExitUsage
		case err != nil:
			report(fsmon.Event{Kind: fsmon.EnvError, Errno: fsmon.Errno(err), Err: err})
			return fsmon.ExitSystem
		}
		req.Watch = fsmon.WatchConfig{
			Interval: time.Duration(v.Int("-i")) * time.Second,
			Retries:  v.Int("-c"),
			Timeout:  time.Duration(v.Int("-r")) * time.Second,
			Probe:    probe,
		}
	}
	return fsmon.Run(context.Background(), fsmon.RegistryFor(env, cmd.FsmonModule()), req, report, stdout)
}

// refuse reports a refused command line: the seed's message (11, 12 or 13) word for word in
// the alert log, and on stderr the same text followed, for 11 ("Invalid parameter in the
// clp_sambamon."), by which parameter and why. Without an alert log, stderr alone.
func refuse(s Spec, stderr io.Writer, env func(string) string, err error) {
	cmd := s.grammar()
	m := cmd.ArgMessage(err)
	line := m.Text
	var ae *compat.FsmonArgError
	if m.ID == 11 && errors.As(err, &ae) && ae.Detail != "" {
		line += " " + sentence(ae.Detail)
	}
	if logger, _ := fsmon.StandardLogger(env); logger != nil {
		defer logger.Close()
		m.Stderr = false
		fsmon.Emitter{Logger: logger, Module: cmd.FsmonModule(), Stderr: stderr, Name: cmd.Name}.Emit(m)
	}
	fmt.Fprintln(stderr, line)
}

// sentence makes a detail a sentence: a capital first letter and a full stop.
func sentence(s string) string {
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	if !strings.HasSuffix(s, ".") {
		r = append(r, '.')
	}
	return string(r)
}
