package main

import (
	"bytes"
	"testing"

	"clpkit/internal/command/commandtest"
)

// The password of mfds is the operand after the user (mfds -s 2 user password): no output holds
// it, nor a password written as an option mfds does not have.
func TestSecretsNeverShown(t *testing.T) {
	// The directory server is down, so that a stop is done at once (and a start refused).
	w := commandtest.NewMFES(t, true)
	s := commandtest.Secret
	forms := [][]string{
		{"-s", "2", "admin", s}, {"-s2", "admin", s}, {"-s", "1", "admin", s, "extra"}, {"-s", "2", "admin", "my", s},
		{"admin", s}, {"-s", "3", "admin", s}, {"--password=" + s}, {"--pwd", s}, {"--pass=--password=" + s},
	}
	contexts := [][]string{{}, {"--UI-on"}, {"--config", "none.toml"}, {"-s"}, {"/x"}}
	commandtest.Secrets(t, "mfds", run, w.Env, commandtest.Combine(forms, contexts), w.Dir)
}

// The directory server does not run: mfds -s exits 0, so the lines above did run for real.
func TestSecretWorld(t *testing.T) {
	w := commandtest.NewMFES(t, true)
	for _, args := range [][]string{{"mfds", "-s", "1", "admin", commandtest.Secret}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, w.Env); code != 0 {
			t.Errorf("%q: status %d, stderr %q", args, code, stderr.String())
		}
	}
}

func FuzzSecret(f *testing.F) {
	commandtest.FuzzSecret(f, spec(), run, commandtest.NoMFESConfig(f), []string{"-s", "2", "admin", commandtest.Secret})
}
