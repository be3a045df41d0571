// Package clustertest runs real clpkit clusters for tests and benchmarks: it builds the real
// commands, writes a configuration whose every listener and path is private to the test, starts a
// real clpd process, and runs the real client commands against it. Nothing is faked.
package clustertest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/procwatch"
)

// Build compiles every command of the module into dir and returns dir.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	if err := BuildCommands(dir, "./cmd/..."); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// BuildCommands compiles the given command packages of the module (as "./cmd/pcheck") into dir.
func BuildCommands(dir string, pkgs ...string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	args := []string{"build", "-o", dir + "/"}
	// CLPKIT_RACE=1 builds the daemon and commands with the race detector, so the end-to-end
	// tests double as a race test of clpd.
	if os.Getenv("CLPKIT_RACE") != "" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building commands: %v\n%s", err, out)
	}
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Cluster is one server's clpd of a test cluster, living under Dir.
type Cluster struct {
	// Server is this clpd's server name.
	Server   string
	Dir      string
	Bin      string
	Config   string
	Socket   string
	AlertLog string
	LogDir   string
	RunDir   string
	// EtcdURL is the embedded store's client URL (one-server clusters).
	EtcdURL string
	// Cgroup is where clpd keeps the groups' processes, relative to the cgroup v2 mount: private
	// to the test, and removed (with anything left in it) when the test ends.
	Cgroup string
	cmd    *exec.Cmd
	// registered: the host cleanup is registered with the test.
	registered bool
	out        *bytes.Buffer
	done       chan struct{}
}

// newCluster lays out one server's files under dir; the config's [paths] must match.
func newCluster(server, dir, bin string) *Cluster {
	return &Cluster{
		Server: server, Dir: dir, Bin: bin,
		Cgroup:   fmt.Sprintf("clpkit-test/%d-%s-%s", os.Getpid(), filepath.Base(filepath.Dir(dir))+filepath.Base(dir), server),
		Config:   filepath.Join(dir, "cluster.toml"),
		Socket:   filepath.Join(dir, "run", "clpd.sock"),
		AlertLog: filepath.Join(dir, "log", "alert.log"),
		LogDir:   filepath.Join(dir, "log"),
		RunDir:   filepath.Join(dir, "run"),
	}
}

// New writes a configuration for a one-server cluster named cluster1 with server server1, plus
// the given [[group]] tables (TOML; script paths relative to dir), into dir. Its lease is 5 s,
// renewed every second: output-exact tests are not at the mercy of a loaded test machine.
func New(tb testing.TB, bin, dir, groups string) *Cluster {
	tb.Helper()
	return NewTimed(tb, bin, dir, groups, "[timing]\nheartbeat_interval = \"1s\"\nheartbeat_timeout = \"5s\"\n")
}

// NewTimed is New with the given [timing] table; "" keeps clpd's defaults.
func NewTimed(tb testing.TB, bin, dir, groups, timing string) *Cluster {
	tb.Helper()
	c := newCluster("server1", dir, bin)
	c.EtcdURL = fmt.Sprintf("https://127.0.0.1:%d", FreePort(tb))
	cfg := c.configHead(timing) + fmt.Sprintf(`[[server]]
name = "server1"
address = "127.0.0.1"
comment = "Primary server"
etcd_client_url = %q
etcd_peer_url = "https://127.0.0.1:%d"

%s`, c.EtcdURL, FreePort(tb), groups)
	if err := os.WriteFile(c.Config, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	return c
}

// configHead is the beginning of a configuration of c's server: the cluster's name, the given
// [timing] table, and the [paths] every test cluster has.
func (c *Cluster) configHead(timing string) string {
	return fmt.Sprintf(`[cluster]
name = "cluster1"

%s
[paths]
data_dir = "data"
log_dir = "log"
run_dir = "run"
cgroup = %q

`, timing, c.Cgroup)
}

// Env is the environment every command of this cluster runs with.
func (c *Cluster) Env() []string {
	return append(os.Environ(), "CLPKIT_SOCKET="+c.Socket, "CLPKIT_ALERT_LOG="+c.AlertLog, "CLPKIT_SERVER="+c.Server)
}

// Start starts clpd and waits until it answers clpstat.
func (c *Cluster) Start(tb testing.TB) {
	tb.Helper()
	c.out = &bytes.Buffer{}
	c.cmd = exec.Command(filepath.Join(c.Bin, "clpd"), "-c", c.Config, "--socket", c.Socket, "--server", c.Server)
	c.cmd.Env = c.Env()
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		tb.Fatalf("starting clpd: %v", err)
	}
	c.done = make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	// Registered first, so it runs after the Stop below: cleanups run last registered first.
	c.cleanupOnce(tb)
	tb.Cleanup(func() { c.Stop(tb) })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, code := c.Run(tb, "clpstat"); code == 0 {
			return
		}
		select {
		case <-c.done:
			tb.Fatalf("clpd exited at start-up: %s\n%s", c.cmd.ProcessState, c.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	tb.Fatalf("clpd did not answer within 30s:\n%s", c.out)
}

// Stop sends SIGTERM to clpd and waits for it; a no-op when it is not running.
func (c *Cluster) Stop(tb testing.TB) {
	tb.Helper()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		// After SIGTERM clpd stops its groups and exits 0; anything else (a failed stop, a
		// race report under CLPKIT_RACE) is a defect the test must show.
		if code := c.cmd.ProcessState.ExitCode(); code != 0 {
			tb.Errorf("clpd (%s) exited with status %d after SIGTERM:\n%s", c.Server, code, c.out)
		} else if _, err := os.Stat(filepath.Join(c.RunDir, "guard.pid")); err == nil {
			// A clean stop takes the guard with it: nothing is left to guard.
			tb.Errorf("clpd (%s) stopped cleanly but left its guard running (%s/guard.pid)", c.Server, c.RunDir)
		}
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		tb.Errorf("clpd did not stop within 60s of SIGTERM:\n%s", c.out)
	}
	c.cmd = nil
}

// Kill kills clpd with SIGKILL, leaving whatever its scripts started running.
func (c *Cluster) Kill(tb testing.TB) {
	tb.Helper()
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.done
	c.cmd = nil
}

// ExitCode returns clpd's exit status after it stopped by itself, waiting up to d.
func (c *Cluster) Wait(d time.Duration) (int, error) {
	select {
	case <-c.done:
		code := c.cmd.ProcessState.ExitCode()
		c.cmd = nil
		return code, nil
	case <-time.After(d):
		return -1, errors.New("clpd is still running")
	}
}

// PID is the running clpd's process id.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Output is what clpd printed so far.
func (c *Cluster) Output() string { return c.out.String() }

// Run runs one of the kit's commands against this cluster and returns stdout, stderr and the exit
// status.
func (c *Cluster) Run(tb testing.TB, name string, args ...string) (string, string, int) {
	tb.Helper()
	return Exec(tb, "", c.Env(), append([]string{filepath.Join(c.Bin, name)}, args...)...)
}

// MustRun is Run that fails the test unless the command exits 0.
func (c *Cluster) MustRun(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	so, se, code := c.Run(tb, name, args...)
	if code != 0 {
		tb.Fatalf("%s %s: exit %d\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), code, so, se)
	}
	return so
}

// WaitFor polls cond every 20 ms until it holds or d passes.
func WaitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("timed out after %s waiting for %s", d, what)
}

// Script writes an executable script at dir/rel with body after a #!/bin/sh line.
func Script(tb testing.TB, dir, rel, body string) string {
	tb.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		tb.Fatal(err)
	}
	return p
}

// NewMulti writes the configuration of a cluster of the named servers sharing one external etcd
// at endpoint (start one with StartEtcd), with the given [[group]] tables, and returns one
// Cluster per server. Each server gets its own copy of the configuration (as on real machines)
// differing only in [paths], under dir/<server>; scripts are shared, relative to dir.
func NewMulti(tb testing.TB, bin, dir, endpoint string, servers []string, groups string) []*Cluster {
	tb.Helper()
	var decl strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&decl, "[[server]]\nname = %q\naddress = \"127.0.0.1\"\n\n", s)
	}
	var out []*Cluster
	for _, s := range servers {
		sd := filepath.Join(dir, s)
		if err := os.MkdirAll(sd, 0o755); err != nil {
			tb.Fatal(err)
		}
		c := newCluster(s, sd, bin)
		// Script paths in groups are relative to dir, the configuration sits in dir/<server>.
		cfg := c.configHead("[timing]\nheartbeat_interval = \"100ms\"\nheartbeat_timeout = \"1s\"\n") +
			fmt.Sprintf("[store]\nmode = \"external\"\nendpoints = [%q]\n\n%s%s", endpoint, decl.String(), strings.ReplaceAll(groups, `"scripts/`, `"../scripts/`))
		if err := os.WriteFile(c.Config, []byte(cfg), 0o644); err != nil {
			tb.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// Gone reports whether pid no longer runs: exited, or a zombie nobody has reaped yet (in a
// container whose init does not reap orphans, a killed process lingers that way).
func Gone(pid int) bool {
	st, err := procwatch.Stat("/proc", pid)
	return err != nil || st.Exited()
}

// cleanupOnce registers, once per Cluster, the removal of what clpd leaves on the host when a test
// kills it: its guard process, and its cgroups with anything still in them. It must run after the
// Stop of every Start, so it is registered before the first one.
func (c *Cluster) cleanupOnce(tb testing.TB) {
	if c.registered {
		return
	}
	c.registered = true
	tb.Cleanup(func() {
		stopGuard(c.RunDir)
		RemoveCgroup(c.Cgroup)
	})
}
