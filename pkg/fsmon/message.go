package fsmon

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"unicode/utf8"

	"clpkit/pkg/alert"
)

// Message is one message of a monitor command, as the command's catalogue (package compat)
// makes it from an Event.
type Message struct {
	// ID is the seed's event ID.
	ID    int
	Level alert.Level
	Text  string
	// Alert sends the message to the alert log and syslog; the seed's messages all go there.
	Alert bool
	// Stderr also prints it on standard error, for the person or script that ran the command.
	Stderr bool
}

// AlertLineMax is the longest alert line in bytes: the alert view of seed 001 §6.1 shows 255
// bytes a line and continues longer messages on further lines.
const AlertLineMax = 255

// Emitter writes messages to the alert log (module Module) and, when a message asks for it, to
// Stderr. Logger may be nil when no alert log could be set up; messages then go to Stderr.
type Emitter struct {
	Logger *alert.Logger
	Module string
	Stderr io.Writer
	// Name prefixes the lines Emitter writes about its own failures ("clp_sambamon: ...").
	Name string
}

// Emit writes msgs in order. A message longer than AlertLineMax bytes becomes several records
// with the same ID. An alert log that cannot be written is reported on Stderr once per message;
// the message text then goes there too, so that it is not lost.
func (e Emitter) Emit(msgs ...Message) {
	for _, m := range msgs {
		toStderr := m.Stderr
		if m.Alert && e.Logger != nil {
			for _, line := range SplitLines(m.Text, AlertLineMax) {
				if err := e.Logger.Log(context.Background(), e.Module, m.ID, m.Level, line); err != nil {
					fmt.Fprintf(e.Stderr, "%s: %v\n", e.Name, err)
					toStderr = true
				}
			}
		} else if m.Alert {
			toStderr = true
		}
		if toStderr {
			fmt.Fprintln(e.Stderr, m.Text)
		}
	}
}

// SplitLines cuts text into pieces of at most max bytes, between UTF-8 characters.
func SplitLines(text string, max int) []string {
	max = maxInt(max, utf8.UTFMax)
	var out []string
	for len(text) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		if cut == 0 {
			cut = max
		}
		out = append(out, text[:cut])
		text = text[cut:]
	}
	return append(out, text)
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// DefaultDir is where the registries live unless CLPKIT_FSMON_DIR says otherwise.
const DefaultDir = "/run/clpkit/fsmon"

// EnvDir names the environment variable that moves the registries (tests give each their own).
const EnvDir = "CLPKIT_FSMON_DIR"

// RegistryFor returns the registry of module ("sambamon", "nfsmon"): its own directory, so that
// clp_sambamon and clp_nfsmon IDs never collide.
func RegistryFor(env func(string) string, module string) Registry {
	dir := env(EnvDir)
	if dir == "" {
		dir = DefaultDir
	}
	return Registry{Dir: filepath.Join(dir, module)}
}

// StandardLogger is the alert logger of a monitor command: the alert log file of alert.Path and
// syslog when this machine has one. It fails only when the server's name cannot be found.
func StandardLogger(env func(string) string) (*alert.Logger, error) {
	server, err := alert.ServerName(env, os.Hostname)
	if err != nil {
		return nil, err
	}
	return alert.NewStandard(alert.Path(env), server, nil), nil
}
