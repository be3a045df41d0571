package main

import (
	"io"
	"testing"
	"time"

	"clpkit/internal/command/commandtest"
	"clpkit/pkg/alert"
)

// The man page has the synopsis and options of the flag table, --help and --version answer, and
// an option it does not have is named as typed (not as urfave's "flag provided but not defined").
func TestDocs(t *testing.T) {
	commandtest.Command(t, spec(), "../../man/clplogcmd.8", run)
}

// A fuzzed line may be a good one: it writes to an alert log and a syslog of the test's own.
func FuzzArgs(f *testing.F) {
	log := f.TempDir() + "/alert.log"
	run := func(args []string, stdout, stderr io.Writer, _ func(string) string) int {
		return runWith(deps{
			stdout:     stdout,
			stderr:     stderr,
			getenv:     func(k string) string { return map[string]string{alert.EnvPath: log}[k] },
			hostname:   func() (string, error) { return "host1", nil },
			now:        time.Now,
			dialSyslog: func() (alert.Sink, error) { return &fakeSyslog{}, nil },
		}, args)
	}
	commandtest.Fuzz(f, spec(), run, commandtest.NoEnv)
}
