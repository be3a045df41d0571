// Package cmdtest holds what the commands' tests share: splitting a test command line, running a
// command's test binary as an unprivileged user to see its "Log in as root." path, a fake clpd and
// the table of command lines run against it, and the environments, files and processes the
// tests set up.
package cmdtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"

	"clpkit/internal/fsmoncmd"
	"clpkit/internal/proctest"
	"clpkit/pkg/alert"
	"clpkit/pkg/api"
	"clpkit/pkg/fsmon"
	"clpkit/pkg/status"
)

// ChildEnv, set in a test binary's environment, makes its TestMain run the command on its own
// arguments instead of the tests (see Child).
const ChildEnv = "CLPKIT_CMDTEST_CHILD"

// Child runs the command instead of the tests when the binary was started by AsNobody; call it
// first in TestMain. It returns only when the binary runs the tests.
func Child(name string, run func(args []string, stdout, stderr io.Writer, env func(string) string) int) {
	if os.Getenv(ChildEnv) != "" {
		os.Exit(run(append([]string{name}, os.Args[1:]...), os.Stdout, os.Stderr, os.Getenv))
	}
}

// SplitArgs splits a test command line at blanks; ” stands for an empty argument.
func SplitArgs(s string) []string {
	args := strings.Fields(s)
	for i, a := range args {
		if a == "''" {
			args[i] = ""
		}
	}
	return args
}

// AsNobody runs the command of this test binary with args as user nobody and returns its exit
// status, stdout and stderr. When the tests do not run as root they are already unprivileged,
// and inProcess runs the command directly.
func AsNobody(t *testing.T, name string, args []string, inProcess func(args []string, stdout, stderr io.Writer) int) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if os.Geteuid() != 0 {
		code := inProcess(args, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	bin := unprivilegedCopy(t, name)
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{ChildEnv + "=1"}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Skipf("cannot run as nobody: %v", err)
		return 0, "", ""
	}
}

// unprivilegedCopy copies the test binary into a directory every user may enter (the go build
// and t.TempDir directories are root's only).
func unprivilegedCopy(t *testing.T, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	dir, err := os.MkdirTemp("", name+"-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return proctest.CopyProgram(t, self, filepath.Join(dir, name+".test"))
}

// Serve runs h (clpd's API over a test's fake service) on a Unix socket in a temporary
// directory and returns the socket. done, when set, runs at the end before the server closes:
// a fake whose handlers block releases them there.
func Serve(t *testing.T, h http.Handler, done func()) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "clpd.sock")
	l, err := api.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		if done != nil {
			done()
		}
		srv.Close()
	})
	return sock
}

// EnvWith is an environment in which commands reach the clpd on sock and see nothing else.
func EnvWith(sock string) func(string) string {
	return func(k string) string {
		if k == api.EnvSocket {
			return sock
		}
		return ""
	}
}

// Run is a command's entry point, as its tests call it.
type Run func(args []string, stdout, stderr io.Writer, env func(string) string) int

// Expect runs the command name with args (argv without the name) in env and reports any
// difference from the exit status and the exact output expected.
func Expect(t *testing.T, name string, run Run, args []string, env func(string) string, code int, stdout, stderr string) {
	t.Helper()
	var so, se bytes.Buffer
	got := run(append([]string{name}, args...), &so, &se, env)
	if got != code || so.String() != stdout || se.String() != stderr {
		t.Errorf("%s %s:\nstatus %d, want %d\nstdout %q\nwant   %q\nstderr %q\nwant   %q",
			name, strings.Join(args, " "), got, code, so.String(), stdout, se.String(), stderr)
	}
}

// Succeeded is what a command prints when clpd carried out its request.
const Succeeded = "Command succeeded.\n"

// NoDaemon is a socket no clpd answers on, in a directory of t, and what a command says when it
// is pointed at it.
func NoDaemon(t *testing.T) (sock, msg string) {
	sock = filepath.Join(t.TempDir(), "none.sock")
	return sock, "Could not connect to the server. Check if the cluster service is active. (clpd does not answer on " + sock + ")\n"
}

// Case is a command line run against a test's fake clpd, whose Recorder takes requests R and
// answers them with Answer and Err, or, with Block, keeps them waiting until the client gives up.
type Case[R, A any] struct {
	Name   string
	Args   string // split at blanks; '' is an empty argument
	Answer A
	Err    error
	Block  bool
	Socket string // "" = the fake's
	Code   int
	Stdout string
	Stderr string
	Req    *R // what clpd must have been asked; nil = nothing
}

// RunCases runs each case as a subtest: the command name reaches the clpd on sock, whose
// requests rec takes, unless the case names another Socket. Each case must end with its exit
// status and exact output, and clpd must have been asked its Req alone.
func RunCases[R, A any](t *testing.T, name string, run Run, sock string, rec *Recorder[R, A], cases []Case[R, A]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			rec.Set(tt.Answer, tt.Err, tt.Block)
			Expect(t, name, run, SplitArgs(tt.Args), EnvWith(cmp.Or(tt.Socket, sock)), tt.Code, tt.Stdout, tt.Stderr)
			Asked(t, rec.Requests(), tt.Req, tt.Socket == "")
		})
	}
}

// NotRootCase is a command line run as an unprivileged user, with the exit status and stderr it
// must give (and no stdout).
type NotRootCase struct {
	Args   string
	Code   int
	Stderr string
}

// NotRoot runs each case as nobody (see AsNobody), with no clpd to reach.
func NotRoot(t *testing.T, name string, run Run, cases []NotRootCase) {
	t.Helper()
	for _, tt := range cases {
		code, stdout, stderr := AsNobody(t, name, SplitArgs(tt.Args), func(args []string, stdout, stderr io.Writer) int {
			return run(append([]string{name}, args...), stdout, stderr, EnvWith(filepath.Join(t.TempDir(), "none.sock")))
		})
		if code != tt.Code || stdout != "" || stderr != tt.Stderr {
			t.Errorf("%s %s as nobody: status %d, stdout %q, stderr %q; want %d, \"\", %q",
				name, tt.Args, code, stdout, stderr, tt.Code, tt.Stderr)
		}
	}
}

// ErrUnused is what Unused answers: the command under test should not have asked for it.
var ErrUnused = errors.New("not used by this command")

// Unused is an api.Service that answers every call with ErrUnused; a test's fake clpd embeds it
// and implements only what its command asks for.
type Unused struct{}

func (Unused) Status(context.Context) (status.Cluster, error)                { return status.Cluster{}, ErrUnused }
func (Unused) StartGroup(context.Context, api.GroupRequest) error            { return ErrUnused }
func (Unused) StopGroup(context.Context, api.GroupRequest) error             { return ErrUnused }
func (Unused) MoveGroup(context.Context, api.GroupRequest) error             { return ErrUnused }
func (Unused) Current(context.Context, string) (string, error)               { return "", ErrUnused }
func (Unused) Resource(context.Context, api.ResourceRequest) (string, error) { return "", ErrUnused }
func (Unused) Monitors(context.Context, api.MonitorRequest) ([]status.Monitor, error) {
	return nil, ErrUnused
}
func (Unused) Cluster(context.Context, api.ClusterRequest) ([]api.ServerResult, error) {
	return nil, ErrUnused
}
func (Unused) Members(context.Context, api.MemberRequest) ([]api.Member, error) {
	return nil, ErrUnused
}
func (Unused) Rexec(context.Context, api.RexecRequest) (api.RexecResult, error) {
	return api.RexecResult{}, ErrUnused
}

// Asked checks the requests a test's fake clpd got: want alone, or none when want is nil or the
// command was pointed at another socket (reached false).
func Asked[R any](t *testing.T, got []R, want *R, reached bool) {
	t.Helper()
	var w []R
	if want != nil && reached {
		w = []R{*want}
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("clpd was asked %+v, want %+v", got, w)
	}
}

// Recorder is the part of a test's fake clpd that takes one kind of request R: it records each
// and answers with the answer A and error set for it, or, blocking, waits until the client gives
// up (and answers that clpd timed out).
type Recorder[R, A any] struct {
	mu      sync.Mutex
	reqs    []R
	answer  A
	err     error
	block   bool
	release chan struct{}
}

// NewRecorder returns a Recorder; Release ends any request still blocked (Serve's done).
func NewRecorder[R, A any]() *Recorder[R, A] {
	return &Recorder[R, A]{release: make(chan struct{})}
}

// Take records req and answers it.
func (r *Recorder[R, A]) Take(ctx context.Context, req R) (A, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	answer, err, block := r.answer, r.err, r.block
	r.mu.Unlock()
	if block {
		select {
		case <-ctx.Done():
		case <-r.release:
		}
		var zero A
		return zero, status.ErrTimeout()
	}
	return answer, err
}

// Set prepares the answer of the next requests and forgets the requests seen so far.
func (r *Recorder[R, A]) Set(answer A, err error, block bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs, r.answer, r.err, r.block = nil, answer, err, block
}

// Requests are the requests taken since the last Set.
func (r *Recorder[R, A]) Requests() []R {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs
}

// Release ends the requests still blocked, so that no handler outlives its test.
func (r *Recorder[R, A]) Release() { close(r.release) }

// Env is an environment that holds vars and nothing else.
func Env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// WriteFile writes text to the file name in dir, with mode whatever the umask, and returns its
// path.
func WriteFile(t *testing.T, dir, name, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// RestartScript writes start.sh in dir, a restart script of a pfile entry that does nothing,
// and returns its path.
func RestartScript(t *testing.T, dir string) string {
	t.Helper()
	return WriteFile(t, dir, "start.sh", "#!/bin/sh\nexit 0\n", 0o755)
}

// FsmonEnv is an environment of the test's own for clp_nfsmon and clp_sambamon: an alert log,
// whose path it returns too, a watcher registry, the server name server1, and the extra
// variables given as name, value pairs.
func FsmonEnv(tb testing.TB, extra ...string) (func(string) string, string) {
	dir := tb.TempDir()
	log := filepath.Join(dir, "alert.log")
	vars := map[string]string{alert.EnvPath: log, alert.EnvServer: "server1", fsmon.EnvDir: filepath.Join(dir, "fsmon")}
	for i := 0; i+1 < len(extra); i += 2 {
		vars[extra[i]] = extra[i+1]
	}
	return Env(vars), log
}

// FsmonWithoutWatch is the fsmon command s with a probe builder that refuses every watch, so
// that a fuzzed line that would watch is refused instead of probing for ever.
func FsmonWithoutWatch(s fsmoncmd.Spec) func(args []string, stdout, stderr io.Writer, env func(string) string) int {
	s.Build = func(fsmoncmd.Values, func(string) string) (fsmon.Probe, error) {
		return nil, &fsmoncmd.UsageError{Err: errors.New("fuzzing: no watch")}
	}
	return func(args []string, stdout, stderr io.Writer, env func(string) string) int {
		return fsmoncmd.Run(s, args, stdout, stderr, env)
	}
}

// Build compiles the command of the test's package (the current directory) into a temporary
// directory, so that a test runs it as scripts do, and returns the binary; it skips the test
// without the go tool.
func Build(t *testing.T, name string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH, so " + name + " cannot be built")
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// StartGroup starts cmd in a process group of its own, killed whole when the test ends.
func StartGroup(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
}
