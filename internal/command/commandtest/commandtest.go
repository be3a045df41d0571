// Package commandtest holds the checks every command's tests run against its flag table: the
// man page says what the table says, --help and --version answer, an option the table lacks is
// refused in one line, no command line makes the command panic, and no output ever holds a
// password. It is test support: only _test files import it.
package commandtest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"clpkit/internal/cmdtest"
	"clpkit/internal/command"
	"clpkit/pkg/api"
)

// Run is a command's entry point: argv in, exit status out.
type Run func(args []string, stdout, stderr io.Writer, env func(string) string) int

// NoEnv is an environment with nothing set.
func NoEnv(string) string { return "" }

// Docs checks a command's documentation against its table: --help prints the table's help on
// stdout alone and exits 0, --version prints the version, the man page at manPath (relative to
// the test's package directory) has the table's synopsis and options, every option is named in
// a usage line, and EXIT STATUS documents the status of a refused command line.
func Docs(t *testing.T, s command.Spec, manPath string, run Run) {
	t.Helper()
	for _, tt := range []struct{ arg, want string }{{"--help", s.Help()}, {"--version", s.Version()}} {
		var stdout, stderr bytes.Buffer
		code := run([]string{s.Name, tt.arg}, &stdout, &stderr, NoEnv)
		if code != 0 || stdout.String() != tt.want || stderr.Len() != 0 {
			t.Errorf("%s %s: status %d, stderr %q, stdout\n%s\nwant status 0 and\n%s", s.Name, tt.arg, code, stderr.String(), stdout.String(), tt.want)
		}
	}
	b, err := os.ReadFile(manPath)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if p := ManPageProblems(page, s.UsageLines(), SpecOptions(s)); len(p) > 0 {
		t.Errorf("%s disagrees with the flag table of %s:\n  %s", manPath, s.Name, strings.Join(p, "\n  "))
	}
	for _, f := range s.Flags {
		named := false
		for _, n := range f.Names {
			named = named || namedIn(s.UsageLines(), n)
		}
		if !named {
			t.Errorf("no usage line of %s names %s", s.Name, f.Names[0])
		}
	}
	if !slices.Contains(ExitStatuses(page), fmt.Sprint(s.UsageCode)) {
		t.Errorf("%s: EXIT STATUS does not document %d, the status of a refused command line", manPath, s.UsageCode)
	}
}

// Command is Docs and Unknown for a command that refuses the options it does not have (all but
// the Micro Focus commands, which hand them to the real product, and the file-server monitors,
// which answer with their legacy message): one call per command's test package.
func Command(t *testing.T, s command.Spec, manPath string, run Run) {
	t.Helper()
	Docs(t, s, manPath, run)
	Unknown(t, s, run, NoEnv)
}

// ExitStatuses are the tags of the .TP items of a man page's EXIT STATUS section.
func ExitStatuses(page string) []string {
	var out []string
	lines := manSections(page)["EXIT STATUS"]
	for i, l := range lines {
		if m, _ := macro(l); (m == "TP" || m == "TQ") && i+1 < len(lines) {
			out = append(out, words(roffInline(lines[i+1])))
		}
	}
	return out
}

// Unknown checks that options the table lacks are refused with the table's line and usage
// status, spelled with as many dashes as they were typed. before goes in front of them (the
// monitor ID of clp_sambamon).
func Unknown(t *testing.T, s command.Spec, run Run, env func(string) string, before ...string) {
	t.Helper()
	for _, opt := range []string{"--no-such-option", "-no-such-option", "-Z"} {
		for _, args := range [][]string{{opt}, {opt + "=x"}} {
			var stdout, stderr bytes.Buffer
			code := run(append(append([]string{s.Name}, before...), args...), &stdout, &stderr, env)
			want := s.Unsupported(opt).Error() + "\n"
			if code != s.UsageCode || stdout.Len() != 0 || stderr.String() != want {
				t.Errorf("%s %s: status %d, stdout %q, stderr %q; want %d and %q", s.Name, args[0], code, stdout.String(), stderr.String(), s.UsageCode, want)
			}
		}
	}
}

// Args turns a fuzzer's string into a command line: arguments are separated by NUL bytes, as
// the kernel hands them over.
func Args(joined string) []string { return strings.Split(joined, "\x00") }

// Seeds are command lines built from a table, for a fuzzer to start from: each option alone,
// with a value, with a glued value, with a wrong value, in front of an operand.
func Seeds(s command.Spec) []string {
	var out []string
	add := func(args ...string) { out = append(out, strings.Join(args, "\x00")) }
	add()
	add("--help")
	add("--version")
	add("--")
	add("-")
	for _, f := range s.Flags {
		for _, n := range f.Names {
			add(n)
			add(n, "x")
			add(n, "1")
			add(n + "=1")
			add(n, "-1")
			add(n, "99999999999999999999")
			add("operand", n, "--", "-x")
			add(n, "\u2013f", "")
		}
	}
	return out
}

// OneLine checks the rule every refusal follows: at most one line on stderr, ending with a
// newline, valid UTF-8 when the command line was.
func OneLine(t *testing.T, args []string, stderr string) {
	t.Helper()
	if stderr == "" {
		return
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("%q: stderr is not one line: %q", args, stderr)
	}
	valid := true
	for _, a := range args {
		valid = valid && utf8.ValidString(a)
	}
	if valid && !utf8.ValidString(stderr) {
		t.Errorf("%q: stderr is not UTF-8: %q", args, stderr)
	}
}

// NoSecret fails the test when any of outputs holds secret. The outputs are named for the
// message: stdout, stderr, a log file.
func NoSecret(t *testing.T, args []string, secret string, outputs map[string]string) {
	t.Helper()
	for name, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("%q: the password %q is in %s:\n%s", args, secret, name, out)
		}
	}
}

// FakeClpd serves clpd's API on a Unix socket of its own, answering every request with
// cmdtest.ErrUnused, and returns an environment in which commands reach it: a fuzzed command
// line then runs to its end without touching this machine's cluster.
func FakeClpd(tb testing.TB) func(string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "clpd-fake")
	if err != nil {
		tb.Fatal(err)
	}
	sock := filepath.Join(dir, "clpd.sock")
	l, err := api.Listen(sock)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: api.Handler(cmdtest.Unused{}, nil)}
	go func() { _ = srv.Serve(l) }()
	tb.Cleanup(func() {
		srv.Close()
		os.RemoveAll(dir)
	})
	return cmdtest.EnvWith(sock)
}

// Fuzz fuzzes a command's command line, starting from the table's Seeds: whatever the line,
// the command must not panic, and what it says on stderr is one line.
func Fuzz(f *testing.F, s command.Spec, run Run, env func(string) string) {
	for _, seed := range Seeds(s) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := append([]string{s.Name}, Args(joined)...)
		var stdout, stderr bytes.Buffer
		run(args, &stdout, &stderr, env)
		OneLine(t, args, stderr.String())
		// urfave's own words mean the table let through a line the App could not read.
		for _, raw := range []string{"flag provided but not defined", "flag needs an argument", "Incorrect Usage"} {
			if strings.Contains(stderr.String(), raw) {
				t.Errorf("%q: urfave's message reached the user: %q", args, stderr.String())
			}
		}
	})
}

// FuzzParse fuzzes the reading of a command line alone, for commands whose action must not run
// in a test (clpd would start a cluster): the action does nothing.
func FuzzParse(f *testing.F, s command.Spec) {
	Fuzz(f, s, func(args []string, stdout, stderr io.Writer, _ func(string) string) int {
		return s.Run(args, stdout, stderr, func(*cli.Context) error { return nil })
	}, NoEnv)
}

// Secret is the password the secret tests give the commands: a string no command prints on its
// own, so that finding it anywhere in their output means a password was shown.
const Secret = "Zq7-pw-ZZYZX"

// MFSecretForms are the ways a password reaches a Micro Focus command (casstart, casstop): the
// product's /pSECRET in its spellings, and long forms a user may try, which must be refused
// without being shown.
func MFSecretForms() [][]string {
	s := Secret
	return [][]string{
		{"/p" + s}, {"-p" + s}, {"/P" + s}, {"-P" + s}, {"/p:" + s}, {"/p", s}, {"-p", s},
		{"--p=" + s}, {"--p" + s}, {"--P=" + s}, {"--password=" + s}, {"--password", s}, {"--passwd=" + s},
		{"--pass=--password=" + s}, {"--pass", "--p=" + s}, {"--pass=/p" + s},
		{"/p" + s + " with blanks"}, {"/p", s, "with", "blanks"}, {"/pmy", s},
	}
}

// Secrets runs the command on every line in lines and fails when Secret shows in its stdout,
// its stderr, or a file under dirs (logs, the alert log) afterwards.
func Secrets(t *testing.T, name string, run Run, env func(string) string, lines [][]string, dirs ...string) {
	t.Helper()
	for _, args := range lines {
		var stdout, stderr bytes.Buffer
		argv := append([]string{name}, args...)
		run(argv, &stdout, &stderr, env)
		outputs := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
		for _, d := range dirs {
			_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
				if err == nil && e.Type().IsRegular() {
					b, _ := os.ReadFile(p)
					outputs[p] = string(b)
				}
				return nil
			})
		}
		NoSecret(t, argv, Secret, outputs)
	}
}

// Combine puts each form into each context, before and after it: the lines of Secrets.
func Combine(forms, contexts [][]string) [][]string {
	var out [][]string
	for _, f := range forms {
		for _, c := range contexts {
			out = append(out, append(slices.Clone(f), c...), append(slices.Clone(c), f...))
		}
	}
	return out
}

// FuzzSecret fuzzes a command line that carries Secret in front (glued, as in /pSECRET, so
// that nothing the fuzzer puts around it can make it another option's value): whatever
// follows, Secret must not be printed. before goes first (the monitor ID of clp_sambamon).
func FuzzSecret(f *testing.F, s command.Spec, run Run, env func(string) string, secret []string, before ...string) {
	for _, seed := range Seeds(s) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		rest := Args(strings.ReplaceAll(joined, Secret, ""))
		args := append(append(append([]string{s.Name}, before...), secret...), rest...)
		var stdout, stderr bytes.Buffer
		run(args, &stdout, &stderr, env)
		NoSecret(t, args, Secret, map[string]string{"stdout": stdout.String(), "stderr": stderr.String()})
	})
}

// MFES is a Micro Focus world for one test: a configuration with a directory server (that
// answers, unless mfdsDown), region UP that runs (a process of the test's own and a listener),
// and region DOWN that does not; commands run in it act at once, and touch nothing of the
// machine.
type MFES struct {
	// Env points the commands at the configuration and at an alert log of the test's own.
	Env func(string) string
	// Dir holds the configuration, the logs, the state and the alert log.
	Dir string
}

// NewMFES sets up an MFES world; it is taken down when the test ends.
func NewMFES(t *testing.T, mfdsDown bool) MFES {
	t.Helper()
	dir := t.TempDir()
	listen := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		return l.Addr().String()
	}
	tag := fmt.Sprintf("clpkit-secret-test-%d", os.Getpid())
	// The running region: a shell whose command line carries the tag, in a process group of its
	// own, killed whole at the end.
	up := exec.Command("/bin/sh", "-c", "sleep 600; :", tag)
	cmdtest.StartGroup(t, up)
	mfds, mfdsStart := "127.0.0.1:1", "false"
	if !mfdsDown {
		mfds, mfdsStart = listen(), "true"
	}
	config := filepath.Join(dir, "mfes.toml")
	text := fmt.Sprintf(`state_dir = %q
log_dir = %q

[timeouts]
start = "2s"
stop = "2s"
force = "1s"

[mfds]
address = %q
start = %q
stop = "true"
processes = '%s-mfds( |$)'

[region.UP]
listener = %q
start = "true"
stop = "true"
processes = '%s( |$)'

[region.DOWN]
listener = "127.0.0.1:1"
start = "false"
stop = "true"
processes = '%s-down( |$)'
`, filepath.Join(dir, "state"), filepath.Join(dir, "log"), mfds, mfdsStart, tag, listen(), tag, tag)
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	alertLog := filepath.Join(dir, "alert.log")
	if err := os.WriteFile(alertLog, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CLPKIT_MFES_CONFIG": config, "CLPKIT_ALERT_LOG": alertLog, "CLPKIT_SERVER": "server1",
		"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
	return MFES{Env: func(k string) string { return env[k] }, Dir: dir}
}

// ClosedPort is a TCP port on 127.0.0.1 that nothing listens on: a probe of it fails at once.
func ClosedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// NoMFESConfig is an environment whose Micro Focus configuration does not exist: a fuzzed line
// that gets past the parser of casstart, casstop, mfds or mdump stops there, having done nothing.
func NoMFESConfig(tb testing.TB) func(string) string {
	missing := filepath.Join(tb.TempDir(), "mfes.toml")
	return func(k string) string {
		if k == "CLPKIT_MFES_CONFIG" {
			return missing
		}
		return ""
	}
}

// HelpLetters checks that -h, -? and /? print the help and act on nothing, for the commands
// where those letters mean nothing else ("casstop -h" once stopped the default region).
func HelpLetters(t *testing.T, s command.Spec, run Run, env func(string) string) {
	t.Helper()
	for _, a := range []string{"-h", "-?", "/?"} {
		var out, errOut bytes.Buffer
		code := run([]string{s.Name, a}, &out, &errOut, env)
		if code != 0 || out.String() != s.Help() || errOut.Len() != 0 {
			t.Errorf("%s %s: exit %d, stderr %q, stdout is the help: %v", s.Name, a, code, errOut.String(), out.String() == s.Help())
		}
	}
}
