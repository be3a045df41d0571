// Package ladder runs the monitors' recovery ladder on a real two-server cluster (test/trials):
// a monitor's error restarts its group on the server, then fails it over to the other one, then
// takes the final action, each step counted per server and shown by clpmonctrl -v, with the
// environment CLUSTERPRO's scripts read. Two tests replay the seeds' constructions: a monitor
// shell registered as an exec resource and watched by a pidw (seed 000, pattern ③), and
// ProcessSaver's pcheck run as an asynchronous genw (seed 002, §6).
package ladder

import (
	"testing"

	"clpkit/test/netlab"
)

var suite = netlab.NewSuite("ladder")

func TestMain(m *testing.M) { suite.Main(m) }

// build builds the kit's commands (clpd, clpstat, clpmonctrl, pcheck, ...) once per test binary.
func build(t *testing.T) string { return suite.Build(t) }
