// Package mfregion holds what the region commands, casstart and casstop, share: the options that
// sign on to a region, and the frame of their action around the start or the stop.
package mfregion

import (
	"io"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"clpkit/internal/command"
	"clpkit/pkg/mfes"
)

// Credentials are the options with which a region command signs on to a security-enabled
// region: -u, -p and -c. The password is a secret that only own, the command's Micro Focus
// original, is given.
func Credentials(own string) []command.Flag {
	return []command.Flag{
		{Names: []string{"-u"}, Arg: "user", Kind: command.Value, Help: "user name, for the backend (security-enabled regions)"},
		{Names: []string{"-p"}, Arg: "password", Kind: command.Value, Secret: true,
			Help: "password; never written to a log or to a command line clpkit runs, except\nMicro Focus's own " + own + ", which takes it only there"},
		{Names: []string{"-c"}, Arg: "group", Kind: command.Value, Help: "sign-on group"},
	}
}

// Op starts or stops the region of the command line c with m, waiting at most wait (0: the
// configuration's timeout) and signing on with creds.
type Op func(c *cli.Context, m *mfes.Manager, wait time.Duration, creds mfes.Credentials) error

// Run is the region command of table s (argv in, exit status out): it reads the line the Micro
// Focus way, then /w and the configuration of --config (its notices go to stderr), and runs op.
// A failure ends the command with the status mfes.ExitStatus gives it, and a line naming the
// command.
func Run(s command.Spec, args []string, stdout, stderr io.Writer, env func(string) string, op Op) int {
	return s.RunMF(s.MF(0), args, stdout, stderr, func(c *cli.Context) error {
		wait, err := parseWait(s.Name, c.String("w"))
		if err != nil {
			return err
		}
		m, err := mfes.Open(c.String("config"), env, stderr, s.Name)
		if err != nil {
			return command.Fail(mfes.ExitStatus(err), "%s: %v", s.Name, err)
		}
		defer m.Close()
		if err := op(c, m, wait, mfes.Credentials{User: c.String("u"), Password: c.String("p"), Group: c.String("c")}); err != nil {
			return command.Fail(mfes.ExitStatus(err), "%s: %v", s.Name, err)
		}
		return nil
	})
}

// parseWait reads /w: "" is the configuration's default (0), else whole seconds.
func parseWait(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 86400 {
		return 0, command.Fail(2, "%s: /w%s: give whole seconds from 1 to 86400, glued to the letter, as in /w30 (see %s --help)", name, s, name)
	}
	return time.Duration(n) * time.Second, nil
}
