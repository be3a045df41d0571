package clustertest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// Leftover is a process a test package started and did not stop.
type Leftover struct {
	PID     int
	Cmdline string
	Why     string
}

// Leftovers lists the processes this test binary leaves behind: those running a program from one
// of dirs (the commands the package built), and those in a test cgroup named after this process
// (the scripts of its clusters' groups). Processes are found through /proc, so a daemon that left
// its session or process group is found all the same.
func Leftovers(dirs ...string) []Leftover {
	self := os.Getpid()
	ours := regexp.MustCompile(`/clpkit-test/([^/]*-)?` + strconv.Itoa(self) + `-`)
	var out []Leftover
	for _, pid := range PIDs() {
		if pid == self {
			continue
		}
		why := ""
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
			exe = strings.TrimSuffix(exe, " (deleted)")
			for _, d := range dirs {
				if d != "" && strings.HasPrefix(exe, filepath.Clean(d)+"/") {
					why = "runs " + exe
				}
			}
		}
		if cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid)); err == nil && why == "" {
			if m := ours.Find(cg); m != nil {
				why = "in cgroup " + strings.TrimSpace(string(m)) + "..."
			}
		}
		if why == "" || Gone(pid) {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, Leftover{PID: pid, Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " ")), Why: why})
	}
	return out
}

// CheckLeftovers is for a TestMain after m.Run: it reports (to w) and kills what the package left
// running, and turns a passing exit code into a failing one when there was anything: a test that
// leaves processes behind fails.
func CheckLeftovers(w io.Writer, code int, dirs ...string) int {
	left := Leftovers(dirs...)
	for _, l := range left {
		fmt.Fprintf(w, "leftover process %d (%s): %s\n", l.PID, l.Why, l.Cmdline)
		_ = syscall.Kill(l.PID, syscall.SIGKILL)
	}
	if len(left) > 0 && code == 0 {
		fmt.Fprintf(w, "FAIL: the tests left %d process(es) running (killed now)\n", len(left))
		return 1
	}
	return code
}
