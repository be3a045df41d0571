// Package ladder runs the monitors' recovery ladder on a real two-server cluster (test/trials):
// a monitor's error restarts its group on the server, then fails it over to the other one, then
// takes the final action, each step counted per server and shown by clpmonctrl -v, with the
// environment CLUSTERPRO's scripts read. Two tests replay the seeds' constructions: a monitor
// shell registered as an exec resource and watched by a pidw (seed 000, pattern ③), and
// ProcessSaver's pcheck run as an asynchronous genw (seed 002, §6).
package ladder

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"clpkit/internal/clustertest"
	"clpkit/test/netlab"
)

var bin string

func TestMain(m *testing.M) {
	code := m.Run()
	code = clustertest.CheckLeftovers(os.Stderr, code, bin, netlab.ToolsDir())
	if bin != "" {
		_ = os.RemoveAll(bin)
	}
	_ = netlab.RemoveTools()
	os.Exit(code)
}

// build builds the kit's commands (clpd, clpstat, clpmonctrl, pcheck, ...) once per test binary.
func build(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("ladder: network namespaces and cgroups need root")
	}
	if bin == "" {
		bin = clustertest.Build(t, filepath.Join(os.TempDir(), fmt.Sprintf("clpkit-ladder-bin-%d", os.Getpid())))
	}
	return bin
}
