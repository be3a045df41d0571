package ladder

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/procwatch"
	"clpkit/test/netlab"
	"clpkit/test/trials"
)

// waitFor polls cond until it holds or d has passed; then the test fails with what and the
// cluster's state.
func waitFor(t *testing.T, c *trials.Cluster, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	if cond() {
		return
	}
	t.Fatalf("%s: not within %s\n%s", what, d, dump(c))
}

// dump is what an operator would look at: clpstat, clpstat -m, clpmonctrl -v and the alert log
// of each server, and where the sampler sees the group.
func dump(c *trials.Cluster) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sampler: %s runs on %v\n", trials.Group, c.Sampler.Final(trials.Group))
	for _, name := range []string{"server1", "server2"} {
		s := c.Servers[name]
		st, se, _ := s.Run("clpstat")
		m, me, _ := s.Run("clpstat", "-m")
		v, ve, _ := s.Run("clpmonctrl", "-v")
		fmt.Fprintf(&b, "--- %s clpstat:\n%s%s--- %s clpstat -m:\n%s%s--- %s clpmonctrl -v:\n%s%s--- %s alerts:\n%s",
			name, st, se, name, m, me, name, v, ve, name, s.Alerts())
	}
	return b.String()
}

// monitorState is the monitor's state on server on (Online, Offline, Error...) as clpstat -m asked
// of s shows it: the row of on's index in the server map.
func monitorState(s *trials.Server, monitor, on string) string {
	out, _, code := s.Run("clpstat", "-m")
	if code != 0 {
		return ""
	}
	m := regexp.MustCompile(`(?m)^ +\*?(server\d+) : ` + regexp.QuoteMeta(on) + `$`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	row := regexp.MustCompile(`^` + m[1] + ` \[.\] : (\S+)$`)
	in := false
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Monitor") {
			in = strings.Contains(l, " ["+monitor+" : ")
			continue
		}
		if r := row.FindStringSubmatch(l); in && r != nil {
			return r[1]
		}
	}
	return ""
}

// clpstatMonitor is the monitor's cluster-wide state in the <monitor> section of clpstat asked
// of s ("" when it is not there). The section shows the name in 17 columns, cut if longer.
func clpstatMonitor(s *trials.Server, monitor string) string {
	out, _, code := s.Run("clpstat")
	_, section, ok := strings.Cut(out, "\n  <monitor>\n")
	if code != 0 || !ok {
		return ""
	}
	// A name that would fill the 17-column field is cut to 16: one blank stays before the colon.
	name := fmt.Sprintf("%-17s", monitor[:min(len(monitor), 16)])
	for _, l := range strings.Split(section, "\n") {
		if rest, ok := strings.CutPrefix(l, "    "+name+": "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

// counters is clpmonctrl -v -m monitor asked of s, without the rules: one line per counter,
// "RestartCount 1 / 1", and the header "Monitor0 [name : State]".
func counters(t *testing.T, s *trials.Server, monitor string) string {
	t.Helper()
	out, se, code := s.Run("clpmonctrl", "-v", "-m", monitor)
	if code != 0 {
		t.Fatalf("clpmonctrl -v -m %s on %s: exit %d: %s%s", monitor, s.Name, code, out, se)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.Trim(l, "-=") == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) >= 5 && f[1] == ":" {
			l = strings.Join(append([]string{f[0]}, f[2:]...), " ")
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// wantCounters builds what counters returns for the restart, failover and final action counts
// (the recovery script threshold is 0 in these tests).
func wantCounters(monitor, state string, restart, restartMax, failover, failoverMax, final int, finalAction string) string {
	return fmt.Sprintf("Monitor0 [%s : %s]\nRecoveryScriptCount 0 / 0\nRestartCount %d / %d\nFailoverCount %d / %d\nFinalActionCount %d / 1 (%s)",
		monitor, state, restart, restartMax, failover, failoverMax, final, finalAction)
}

// checkCounters fails the test unless clpmonctrl -v on s shows want.
func checkCounters(t *testing.T, c *trials.Cluster, s *trials.Server, monitor, want string) {
	t.Helper()
	if got := counters(t, s, monitor); got != want {
		t.Errorf("clpmonctrl -v -m %s on %s:\n%s\nwant:\n%s\n%s", monitor, s.Name, got, want, dump(c))
	}
}

// waitCounters waits until clpmonctrl -v on s shows want: a step's counter is written when the
// step begins, a moment after the operation an operator sees.
func waitCounters(t *testing.T, c *trials.Cluster, s *trials.Server, monitor, want string) {
	t.Helper()
	var got string
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got = counters(t, s, monitor); got == want {
			return
		}
	}
	t.Fatalf("clpmonctrl -v -m %s on %s:\n%s\nwant:\n%s\n%s", monitor, s.Name, got, want, dump(c))
}

// groupState is the group's line in clpstat asked of s: its state and the server it runs on
// ("Online server1", "Offline None").
func groupState(s *trials.Server, group string) string {
	out, _, code := s.Run("clpstat")
	if code != 0 {
		return ""
	}
	m := regexp.MustCompile(`(?m)^ {4}` + regexp.QuoteMeta(group) + ` \.*: (\S+) *\n {6}current *: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1] + " " + m[2]
}

// clientSees probes the floating address from the client for a second and returns the hosts
// that answered, in order, without repeats ("" entries for failed attempts are left out).
func clientSees(c *trials.Cluster) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _, _, _ := c.Client.Run(ctx, filepath.Join(c.Tools(), "labhttp"), "-probe", "http://"+trials.VIP+":"+trials.VIPPort+"/",
		"-interval", "100ms", "-timeout", "300ms", "-for", "1s")
	var hosts []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 4 && f[2] == "ok" && (len(hosts) == 0 || hosts[len(hosts)-1] != f[3]) {
			hosts = append(hosts, f[3])
		}
	}
	return hosts
}

// checkNoOverlap fails the test if the sampler ever saw the group's processes on two hosts.
func checkNoOverlap(t *testing.T, c *trials.Cluster) {
	t.Helper()
	for _, iv := range c.Sampler.Overlaps(trials.Group) {
		t.Errorf("%s ran on two hosts at once: %v", trials.Group, iv)
	}
}

// procsIn returns the live (not zombie) processes in host's network namespace whose executable is
// exe, oldest first as /proc lists them.
func procsIn(host *netlab.Host, exe string) []int {
	ents, _ := os.ReadDir("/proc")
	netns := fmt.Sprintf("net:[%d]", host.NetnsInode())
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + e.Name()
		if ns, err := os.Readlink(dir + "/ns/net"); err != nil || ns != netns {
			continue
		}
		if x, err := os.Readlink(dir + "/exe"); err != nil || x != exe {
			continue
		}
		if st, err := os.ReadFile(dir + "/stat"); err != nil || zombie(st) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func zombie(stat []byte) bool {
	st, err := procwatch.ParseStat(stat)
	return err != nil || st.Exited()
}

// pidFile reads a pid file; 0 when it is missing or not a pid.
func pidFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// inHost says whether pid is a live process of host whose command line contains want.
func inHost(host *netlab.Host, pid int, want string) bool {
	dir := "/proc/" + strconv.Itoa(pid)
	if ns, err := os.Readlink(dir + "/ns/net"); err != nil || ns != fmt.Sprintf("net:[%d]", host.NetnsInode()) {
		return false
	}
	cmd, err := os.ReadFile(dir + "/cmdline")
	if err != nil || !strings.Contains(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})), want) {
		return false
	}
	st, err := os.ReadFile(dir + "/stat")
	return err == nil && !zombie(st)
}

// kill SIGKILLs pid, as an operator's kill -9 or a crash would end it.
func kill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// scriptRuns are the lines a start.sh or stop.sh wrote under dumps/<host>: the word start or stop
// and the CLP_* environment it saw.
type scriptRun struct {
	Kind string
	Env  map[string]string
}

func (r scriptRun) String() string {
	return fmt.Sprintf("%s CLP_EVENT=%s CLP_FACTOR=%s", r.Kind, r.Env["CLP_EVENT"], r.Env["CLP_FACTOR"])
}

// dumpScript is the shell that writes one dumps/<host> line: the word, then each CLP_* variable,
// tab-separated (values may hold blanks).
func dumpScript(kind string) string {
	return `mkdir -p {{dir}}/dumps
printf '%s\t%s\n' ` + kind + ` "$(env | grep '^CLP_' | sort | tr '\n' '\t')" >> "{{dir}}/dumps/$LAB_HOST"
`
}

func scriptRuns(c *trials.Cluster, host string) []scriptRun {
	b, _ := os.ReadFile(filepath.Join(c.Dir(), "dumps", host))
	var out []scriptRun
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l == "" {
			continue
		}
		f := strings.Split(strings.TrimRight(l, "\t"), "\t")
		r := scriptRun{Kind: f[0], Env: map[string]string{}}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			r.Env[k] = v
		}
		out = append(out, r)
	}
	return out
}

// summary renders script runs as "start START" / "stop RESOURCERESTART" words for messages and
// comparisons: the kind, CLP_EVENT, and CLP_FACTOR for stops.
func summary(rs []scriptRun) []string {
	var out []string
	for _, r := range rs {
		s := r.Kind + " " + r.Env["CLP_EVENT"]
		if r.Kind == "stop" {
			s += " " + r.Env["CLP_FACTOR"]
		}
		out = append(out, s)
	}
	return out
}
