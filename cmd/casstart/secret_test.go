package main

import (
	"bytes"
	"testing"

	"clpkit/internal/command/commandtest"
)

// No output of casstart holds the password, however it was written and whatever else the line
// holds: casstart once echoed --p=SECRET, --pSECRET and --password=SECRET in a notice.
func TestSecretsNeverShown(t *testing.T) {
	w := commandtest.NewMFES(t, false)
	contexts := [][]string{
		{"/rUP"}, {"/rUP", "/uUSER", "/cGRP", "/s:c"}, {"/rUP", "/x", "/oSIT1"}, {"/rUP", "--pass=/j:A,B"},
		{"/rDOWN", "/w1"}, {"/rNOSUCH"}, {"/w0"}, {"/r"}, {"stray"}, {"/f1"}, {"--config", "none.toml"}, {},
	}
	commandtest.Secrets(t, "casstart", run, w.Env, commandtest.Combine(commandtest.MFSecretForms(), contexts), w.Dir)
}

// The region runs: casstart says nothing and exits 0, so the lines above did run for real.
func TestSecretWorld(t *testing.T) {
	w := commandtest.NewMFES(t, false)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"casstart", "/rUP", "/p" + commandtest.Secret}, &stdout, &stderr, w.Env); code != 0 || stderr.Len() != 0 {
		t.Errorf("casstart /rUP: status %d, stderr %q", code, stderr.String())
	}
}

func FuzzSecret(f *testing.F) {
	commandtest.FuzzSecret(f, spec(), run, commandtest.NoMFESConfig(f), []string{"/p" + commandtest.Secret})
}
