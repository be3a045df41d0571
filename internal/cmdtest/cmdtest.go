// Package cmdtest holds what the commands' tests share: splitting a test command line, and running
// a command's test binary as an unprivileged user to see its "Log in as root." path.
package cmdtest

import (
	"bytes"
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

	"clpkit/pkg/api"
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
	bin := filepath.Join(dir, name+".test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
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
