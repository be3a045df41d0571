package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/internal/command/commandtest"
	"clpkit/internal/fsmoncmd"
	"clpkit/pkg/fsmon"
)

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// Message 11 used to be "Invalid parameter in the clp_sambamon." alone: standard error now
// says which parameter and why, and the alert log keeps the seed's text word for word.
func TestInvalidParameterSaysWhich(t *testing.T) {
	for _, tt := range []struct{ args, stderr string }{
		{"w -s x -i 0", "Invalid parameter in the clp_sambamon. -i takes a number of seconds from 1 to 10000, not 0.\n"},
		{"w -s x -r 10001", "Invalid parameter in the clp_sambamon. -r takes a number of seconds from 1 to 10000, not 10001.\n"},
		{"w -s x -c 99999999999999999999", "Invalid parameter in the clp_sambamon. -c takes a number from 1 to 10000, not 99999999999999999999.\n"},
		{"w -s x -q", "Invalid parameter in the clp_sambamon. Option -q is not supported yet.\n"},
		{"w -s x --grp", "Invalid parameter in the clp_sambamon. Option --grp is not supported yet.\n"},
		{"w -stop 0", "Invalid parameter in the clp_sambamon. -stop takes a number of seconds from 1 to 10000, not 0.\n"},
		{"w -s x -stop", "Invalid parameter in the clp_sambamon. -stop goes alone after the monitor ID.\n"},
		{"w -s x -a nfs-server", "Invalid parameter in the clp_sambamon. -a \"nfs-server\": neither an IP address nor address:port.\n"},
		{"samba_watch -s x", "Invalid parameter in the clp_sambamon. The monitor ID must be 1 to 255 letters and digits.\n"},
		{"w", "'-s' parameter is not specified at the clp_sambamon command.\n"},
	} {
		env, log := cmdtest.FsmonEnv(t)
		cmdtest.Expect(t, "clp_sambamon", run, strings.Fields(tt.args), env, 2, "", tt.stderr)
		legacy := strings.TrimSuffix(tt.stderr, "\n")
		if msg11 := "Invalid parameter in the clp_sambamon."; strings.HasPrefix(legacy, msg11) {
			legacy = msg11
		}
		if got := readFile(t, log); !strings.HasSuffix(got, " ERR "+legacy+"\n") || strings.Count(got, "\n") != 1 {
			t.Errorf("clp_sambamon %s: alert log %q, want the seed's text alone", tt.args, got)
		}
	}
}

// -stop with no watcher has nothing to do: status 0, as stop.sh needs and the man page says. The
// help used to promise status 4 for it.
func TestStopWithoutWatcher(t *testing.T) {
	env, log := cmdtest.FsmonEnv(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"clp_sambamon", "nosuch", "-stop"}, &stdout, &stderr, env); code != 0 || stdout.Len()+stderr.Len() != 0 {
		t.Errorf("-stop of no watcher: status %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	if got := readFile(t, log); got != "" {
		t.Errorf("-stop of no watcher logged %q", got)
	}
	help := spec().Table().Help()
	if !strings.Contains(help, "0 success, also -stop with no such watcher") || strings.Contains(help, "4 -stop timed out or no such watcher") {
		t.Errorf("the help's exit statuses say otherwise:\n%s", help)
	}
}

// The password comes from -p, else --password-file (root's, unreadable by others), else
// $CLP_SAMBAMON_PASSWORD.
func TestPasswordSources(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("password files must be owned by root; these tests need root to make them")
	}
	dir := t.TempDir()
	file := func(name, content string, mode os.FileMode, uid int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, 0); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", "s3cret\n", 0o600, 0)
	crlf := file("crlf", "s3cret\r\n", 0o400, 0)
	loose := file("loose", "s3cret\n", 0o644, 0)
	nobodys := file("nobodys", "s3cret\n", 0o600, 65534)
	long := file("long", strings.Repeat("x", 256), 0o600, 0)
	two := file("two", "a\nb\n", 0o600, 0)
	for _, tt := range []struct {
		args, env, want, err string
	}{
		{args: "-p pw", want: "pw"},
		{args: "-p pw", env: "fromenv", want: "pw"},
		{args: "--password-file " + good, env: "fromenv", want: "s3cret"},
		{args: "--password-file=" + crlf, want: "s3cret"},
		{env: "fromenv", want: "fromenv"},
		{want: ""},
		{args: "-p pw --password-file " + good, err: "give the password with -p or --password-file, not both"},
		{args: "--password-file " + loose, err: "--password-file " + loose + ": mode 0644 lets group or others read it: chmod 600 " + loose},
		{args: "--password-file " + nobodys, err: "--password-file " + nobodys + ": owned by uid 65534, not root: chown root " + nobodys},
		{args: "--password-file " + long, err: "--password-file " + long + ": the password is longer than 255 bytes"},
		{args: "--password-file " + two, err: "--password-file " + two + ": the password must be one line, without NUL bytes"},
		{args: "--password-file " + dir, err: "--password-file " + dir + ": not a regular file"},
		{args: "--password-file " + filepath.Join(dir, "none"), err: "--password-file " + filepath.Join(dir, "none") + ": no such file or directory"},
	} {
		var got string
		s := spec()
		build := s.Build
		// The real Build refuses what it must; the password it would use is passwordOf's.
		s.Build = func(v fsmoncmd.Values, env func(string) string) (fsmon.Probe, error) {
			if _, err := build(v, env); err != nil {
				return nil, err
			}
			got, _ = passwordOf(v, env)
			return nil, &fsmoncmd.UsageError{Err: errors.New("test: no watch")}
		}
		env, _ := cmdtest.FsmonEnv(t, EnvPassword, tt.env)
		if tt.env == "" {
			env, _ = cmdtest.FsmonEnv(t)
		}
		var stderr bytes.Buffer
		fsmoncmd.Run(s, append([]string{"clp_sambamon", "w", "-s", "share"}, strings.Fields(tt.args)...), io.Discard, &stderr, env)
		want := "Invalid parameter in the clp_sambamon. Test: no watch.\n"
		if tt.err != "" {
			want = "Invalid parameter in the clp_sambamon. " + strings.ToUpper(tt.err[:1]) + tt.err[1:] + ".\n"
		}
		if got != tt.want || stderr.String() != want {
			t.Errorf("%s (env %q): password %q, stderr %q; want %q, %q", tt.args, tt.env, got, stderr.String(), tt.want, want)
		}
	}
}

// No output of clp_sambamon holds the password, however it was given and whatever else the line
// holds; the watches fail at once (nothing listens), so their messages are in the alert log.
func TestSecretsNeverShown(t *testing.T) {
	s := commandtest.Secret
	closed := fmt.Sprint("127.0.0.1:", commandtest.ClosedPort(t))
	forms := [][]string{
		{"-p", s}, {"-p", "my " + s}, {"-p", "my", s}, {"-p" + s}, {"-P", s}, {"--p=" + s}, {"--p" + s},
		{"--password=" + s}, {"--password", s}, {"-p", s, "-p", s}, {"-p", s, "--password-file", "/none"},
	}
	contexts := [][]string{
		{"-s", "share", "-a", closed, "-i", "1", "-c", "1", "-r", "1", "-u", "user"},
		{"-s", "share", "-u", "DOM\\user", "-a", closed, "-c", "1", "-i", "0"},
		{"-s", "share", "-a", closed, "-c", "1", "-r", "1"}, {"-stop"}, {"-disp", "x"}, {"-q"}, {"extra"}, {},
	}
	var lines [][]string
	for _, l := range commandtest.Combine(forms, contexts) {
		lines = append(lines, append([]string{"w"}, l...))
	}
	env, log := cmdtest.FsmonEnv(t)
	commandtest.Secrets(t, "clp_sambamon", run, env, lines, filepath.Dir(log))

	// From the environment and from a file, with a watch that runs and fails.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, log = cmdtest.FsmonEnv(t, EnvPassword, s)
	commandtest.Secrets(t, "clp_sambamon", run, env, [][]string{
		append([]string{"w"}, contexts[0]...),
		append([]string{"w", "--password-file", pwFile}, contexts[0]...),
		{"w", "--password-file", pwFile, "-s", "share", "-i", "0"},
	}, filepath.Dir(log))
	if !strings.Contains(readFile(t, log), "will terminate") {
		t.Errorf("the watches did not run:\n%s", readFile(t, log))
	}
}

// A fuzzed line that would watch is refused instead of probing for ever.
func FuzzArgs(f *testing.F) {
	env, _ := cmdtest.FsmonEnv(f)
	commandtest.Fuzz(f, spec().Table(), cmdtest.FsmonWithoutWatch(spec()), env)
}

func FuzzSecret(f *testing.F) {
	env, _ := cmdtest.FsmonEnv(f)
	commandtest.FuzzSecret(f, spec().Table(), cmdtest.FsmonWithoutWatch(spec()), env, []string{"-p", commandtest.Secret}, "w")
}
