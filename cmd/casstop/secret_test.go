package main

import (
	"bytes"
	"testing"

	"clpkit/internal/command/commandtest"
)

// No output of casstop holds the password, however it was written and whatever else the line
// holds. Region DOWN runs nothing, so each stop is done at once.
func TestSecretsNeverShown(t *testing.T) {
	w := commandtest.NewMFES(t, false)
	contexts := [][]string{
		{"/rDOWN"}, {"/rDOWN", "/f", "/uUSER", "/cGRP"}, {"/rDOWN", "/i", "/x", "/lweb"}, {"/rDOWN", "--pass=/t"},
		{"/rNOSUCH"}, {"/w0"}, {"/r"}, {"stray"}, {"/f1"}, {"--config", "none.toml"}, {},
	}
	commandtest.Secrets(t, "casstop", run, w.Env, commandtest.Combine(commandtest.MFSecretForms(), contexts), w.Dir)
}

// Nothing of region DOWN runs: casstop exits 0, so the lines above did run for real.
func TestSecretWorld(t *testing.T) {
	w := commandtest.NewMFES(t, false)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"casstop", "/rDOWN", "/p" + commandtest.Secret}, &stdout, &stderr, w.Env); code != 0 {
		t.Errorf("casstop /rDOWN: status %d, stderr %q", code, stderr.String())
	}
}

func FuzzSecret(f *testing.F) {
	commandtest.FuzzSecret(f, spec(), run, commandtest.NoMFESConfig(f), []string{"/p" + commandtest.Secret})
}
