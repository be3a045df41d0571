package netlab

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"clpkit/internal/clustertest"
)

// Suite is what a test package that runs clusters in the lab shares: the kit's commands, built
// once per test binary into a directory of its own, and the end of the run. Each such package
// has one, made with NewSuite, and calls its Main from TestMain.
type Suite struct {
	name string
	dir  string
	bin  string
}

// NewSuite names the package's suite ("ladder", "trials", ...): the name prefixes its skips and
// its build directory.
func NewSuite(name string) *Suite {
	return &Suite{name: name, dir: filepath.Join(os.TempDir(), fmt.Sprintf("clpkit-%s-bin-%d", name, os.Getpid()))}
}

// Build skips t unless it runs as root (namespaces, cgroups, loop devices), else builds the
// commands once and returns their directory.
func (s *Suite) Build(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(s.name + ": network namespaces, loop devices and cgroups need root")
	}
	if s.bin == "" {
		s.bin = clustertest.Build(t, s.dir)
	}
	return s.bin
}

// Main runs the tests, then fails the run when they left a process behind (the leftovers are
// named and killed), and removes the built commands and the lab's tools.
func (s *Suite) Main(m *testing.M) {
	code := m.Run()
	code = clustertest.CheckLeftovers(os.Stderr, code, s.dir, ToolsDir())
	_ = os.RemoveAll(s.dir)
	_ = RemoveTools()
	os.Exit(code)
}

// Bin is the directory of the built commands ("" before Build).
func (s *Suite) Bin() string { return s.bin }
