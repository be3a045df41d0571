// Package command holds what every clpkit command does the same way: read its command line
// against its flag table (Spec), answer --help and --version, run an urfave/cli App to an exit
// status without os.Exit (so tests can run commands in-process), print failures as one line,
// and find clpd's socket.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/pkg/api"
)

// EnvSocket names clpd's API socket for clients; unset means api.DefaultSocket.
const EnvSocket = api.EnvSocket

// Socket returns the API socket path clients use.
func Socket(env func(string) string) string {
	if s := env(EnvSocket); s != "" {
		return s
	}
	return api.DefaultSocket
}

// Failure is an error with the exit status it maps to.
type Failure struct {
	Code int
	Msg  string
}

func (f *Failure) Error() string { return f.Msg }

// Fail returns a Failure with exit status code.
func Fail(code int, format string, a ...any) error {
	return &Failure{Code: code, Msg: fmt.Sprintf(format, a...)}
}

// Setup makes app behave like a legacy command: no built-in -h (clpgrp and clpstat use -h for a
// host), --help printing help (the same text as the man page's synopsis and options), one line on
// a usage error, and no os.Exit from inside the library.
func Setup(app *cli.App, stdout, stderr io.Writer, usageCode int, help string) {
	app.HideHelp = true
	app.HideHelpCommand = true
	app.HideVersion = true
	app.Writer, app.ErrWriter = stdout, stderr
	app.ExitErrHandler = func(*cli.Context, error) {}
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		return Fail(usageCode, "%s: %v (see %s --help)", app.Name, err, app.Name)
	}
	app.Metadata = map[string]any{"help": help}
}

// Run runs app on args and returns the exit status; a failure's message goes to stderr.
func Run(app *cli.App, args []string) int {
	// urfave/cli treats any flag named "help" as its own and prints its generated text, so
	// --help is answered here, before the App sees it.
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == "--help" || a == "-help" {
			fmt.Fprint(app.Writer, app.Metadata["help"])
			return 0
		}
	}
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var f *Failure
	if errors.As(err, &f) {
		if f.Msg != "" {
			fmt.Fprintln(app.ErrWriter, f.Msg)
		}
		return f.Code
	}
	fmt.Fprintf(app.ErrWriter, "%s: %v\n", app.Name, err)
	return 1
}

// RequireRoot refuses to run for anyone but root, with the legacy message.
func RequireRoot() error {
	if os.Geteuid() != 0 {
		return Fail(1, "Log in as root.")
	}
	return nil
}

// APIContext returns a context bounded by --apito seconds; without it (0) the client waits as
// long as the daemon does, and the daemon bounds every operation by its api_timeout.
func APIContext(seconds int) (context.Context, context.CancelFunc) {
	if seconds <= 0 {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
}

// AsksHelp reports whether args (without the command name) ask for help with -h, -? or /?, for
// commands where those letters mean nothing else: they must print help, never act (casstop -h
// stopping the default region would be the worst of answers).
func AsksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-?", "/?", "-H":
			return true
		}
	}
	return false
}

// MaxAPITimeout bounds --apito: one day. Beyond it the seconds would also overflow a duration
// (18446744074 once made a 0.29 s wait).
const MaxAPITimeout = 86400

// APITimeoutFlag is the --apito row of the commands that ask clpd to act; command.Int reads 0
// when it is not given, and APIContext then waits as long as clpd does.
func APITimeoutFlag() Flag {
	return Flag{
		Names: []string{"--apito"}, Arg: "timeout", Kind: Number, Min: 1, Max: MaxAPITimeout, Takes: "a number of seconds",
		Help: "wait at most timeout seconds, 1 to 86400 (default: the daemon's api_timeout)",
	}
}
