// Package proctest holds what tests that find processes by name share: a program copied under a
// name of the test's own, so that the test (and the kit under test) sees its processes and never
// another's that runs the same program.
package proctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CopyProgram copies prog to dst, executable, making dst's directory, and returns dst. prog is a
// path, or a name looked up on PATH; a test whose program is not installed is skipped.
func CopyProgram(tb testing.TB, prog, dst string) string {
	tb.Helper()
	src := prog
	if !strings.Contains(prog, "/") {
		p, err := exec.LookPath(prog)
		if err != nil {
			tb.Skipf("%s is not installed (.ci/run installs it)", prog)
		}
		src = p
	}
	data, err := os.ReadFile(src)
	if err != nil {
		tb.Fatalf("copying a program: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatalf("copying %s: %v", src, err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		tb.Fatalf("copying %s: %v", src, err)
	}
	return dst
}
