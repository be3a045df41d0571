// Package cmdtest holds what the commands' tests share: splitting a test command line, and running
// a command's test binary as an unprivileged user to see its "Log in as root." path.
package cmdtest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
