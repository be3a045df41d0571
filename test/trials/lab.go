// Package trials runs a real two-server clpkit cluster in network namespaces (test/netlab): a
// store host with a real etcd serving mutual TLS, two servers each running clpd, and a client.
// Faults are injected as an operator or a failing machine would (a cable cut, a partition that
// keeps the carrier, clpd killed or frozen, slow scripts, a start during a shutdown) while a
// sampler looks, every 10 ms, on which host the group's processes exist. The tests in this
// package assert that they never exist on two hosts at once; the benchmarks measure takeover.
package trials

import (
	"bytes"
	"context"
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

	"clpkit/internal/clustertest"
	"clpkit/pkg/pki"
	"clpkit/test/netlab"
)

// The lab's service: a floating address on the active server, and an HTTP responder on it that
// names its host.
const (
	VIP     = "10.77.0.100"
	VIPPort = "8080"
	Group   = "failover1"
	// Group2 is a second group, stopped unless a trial starts it.
	Group2 = "g2"
)

// Cluster is the lab and its clpkit cluster.
type Cluster struct {
	tb      testing.TB
	Lab     *netlab.Lab
	Store   *netlab.Host
	Client  *netlab.Host
	Servers map[string]*Server
	// Etcd is the external store (nil with Options.Embedded); Witness the store host's clpd
	// --witness (nil without).
	Etcd    *clustertest.EtcdServer
	Witness *Server
	Sampler *netlab.Sampler
	bin     string
	tools   string
	dir     string
	// flags holds files the scripts read: slowstart, slowstop (a number of seconds).
	flags string
	env   []string
}

// Dir is the lab's directory: scripts/, the servers' directories, the PKI.
func (c *Cluster) Dir() string { return c.dir }

// Tools is the directory of the lab's helper programs (labhttp).
func (c *Cluster) Tools() string { return c.tools }

// Server is one server of the lab cluster.
type Server struct {
	Name   string
	Host   *netlab.Host
	Dir    string
	Config string
	Socket string
	Cgroup string
	proc   *netlab.Proc
	c      *Cluster
	// witness: this is clpd --witness on the store host.
	witness bool
}

// Options change the lab cluster.
type Options struct {
	// Timing is a [timing] table to use instead of the defaults (empty: the defaults).
	Timing string
	// Resources are more [[group.resource]] tables of the group failover1, after its "service";
	// Monitors are [[monitor]] tables. In both, {{dir}} stands for the lab's directory (Dir),
	// where a test writes its scripts; in Resources, {{server}} for the server's name.
	Resources, Monitors string
	// Env is more environment for clpd (and so for every script it runs), "NAME=value".
	Env []string
	// Scripts are more scripts to write under Dir before clpd starts: path relative to Dir →
	// body (after a #!/bin/sh line); {{dir}} in a body stands for Dir too.
	Scripts map[string]string
	// Embedded runs the store on the servers themselves: each clpd embeds an etcd member, and
	// the store host runs the witness (clpd --witness) instead of an external etcd.
	Embedded bool
}

// AsyncExec is the table, for Options.Resources, of an asynchronous exec resource whose scripts
// a test writes to scripts/NAME/start.sh and stop.sh under the lab's directory.
func AsyncExec(name string) string {
	return ExecResource(name, "{{dir}}/scripts/"+name, `start_mode = "async"`+"\n")
}

// ExecResource is the [[group.resource]] table of an exec resource whose scripts are start.sh
// and stop.sh in dir; more are further keys of it.
func ExecResource(name, dir, more string) string {
	return fmt.Sprintf(`
[[group.resource]]
name = %q
type = "exec"
start = "%[2]s/start.sh"
stop = "%[2]s/stop.sh"
%s`, name, dir, more)
}

// New builds the commands, the lab, the PKI and the etcd store host, writes the configuration and
// starts clpd on both servers; it returns once the group runs on exactly one of them.
func New(tb testing.TB, bin string, o Options) *Cluster {
	tb.Helper()
	if _, err := exec.LookPath("nsenter"); err != nil {
		tb.Skip("trials: nsenter (util-linux) is not installed")
	}
	if _, err := os.Stat("/usr/bin/etcd"); err != nil {
		tb.Skip("trials: /usr/bin/etcd (etcd-server) is not installed")
	}
	lab := netlab.New(tb, "store", "server1", "server2", "client")
	c := &Cluster{tb: tb, Lab: lab, Store: lab.Host("store"), Client: lab.Host("client"), Servers: map[string]*Server{},
		bin: bin, tools: netlab.BuildTools(tb), dir: tb.TempDir()}
	c.flags = filepath.Join(c.dir, "flags")
	if err := os.MkdirAll(c.flags, 0o755); err != nil {
		tb.Fatal(err)
	}
	pkiDir := filepath.Join(c.dir, "pki")
	if err := pki.EnsureCA(pkiDir, "lab"); err != nil {
		tb.Fatal(err)
	}
	for _, h := range []*netlab.Host{c.Store, lab.Host("server1"), lab.Host("server2")} {
		if err := pki.EnsureServer(pkiDir, h.Name, []string{h.Addr}); err != nil {
			tb.Fatal(err)
		}
	}
	if !o.Embedded {
		c.Etcd = clustertest.StartEtcdServer(tb, clustertest.EtcdServerOptions{
			Name: "store", Dir: filepath.Join(c.dir, "etcd"), TLS: pki.ServerFiles(pkiDir, "store"),
			ClientURL: "https://" + c.Store.Addr + ":2379", PeerURL: "https://" + c.Store.Addr + ":2380",
			Command: c.Store.Command, Dial: DialIn(c.Store),
		})
	}
	c.writeScripts()
	for rel, body := range o.Scripts {
		clustertest.Script(tb, c.dir, rel, strings.ReplaceAll(body, "{{dir}}", c.dir))
	}
	c.env = o.Env
	for _, name := range []string{"server1", "server2"} {
		c.Servers[name] = c.newServer(name, pkiDir, o)
	}
	if o.Embedded {
		c.Witness = c.newServer("store", pkiDir, o)
		c.Witness.witness = true
	}
	c.Sampler = lab.StartSampler(tb, 10*time.Millisecond)
	if c.Witness != nil {
		c.Witness.Start()
	}
	for _, s := range c.Servers {
		s.Start()
	}
	c.WaitSteady(30 * time.Second)
	return c
}

func (c *Cluster) writeScripts() {
	// The responder is started in the background with the group's environment, so the sampler
	// sees it as the group's process; the address goes with it.
	start := `flags=$LAB_FLAGS
if [ -e "$flags/slowstart" ]; then sleep "$(cat "$flags/slowstart")"; fi
ip addr add ` + VIP + `/24 dev eth0 2>/dev/null
arping -q -U -c 2 -I eth0 ` + VIP + ` >/dev/null 2>&1 &
labhttp -listen ` + VIP + `:` + VIPPort + ` -name "$LAB_HOST" -bind-retry >/dev/null 2>&1 &
echo $! > "$LAB_RUN/labhttp.pid"
exit 0
`
	stop := `flags=$LAB_FLAGS
if [ -e "$flags/slowstop" ]; then sleep "$(cat "$flags/slowstop")"; fi
if [ -f "$LAB_RUN/labhttp.pid" ]; then kill "$(cat "$LAB_RUN/labhttp.pid")" 2>/dev/null; rm -f "$LAB_RUN/labhttp.pid"; fi
ip addr del ` + VIP + `/24 dev eth0 2>/dev/null
exit 0
`
	clustertest.Script(c.tb, c.dir, "scripts/service/start.sh", start)
	clustertest.Script(c.tb, c.dir, "scripts/service/stop.sh", stop)
	clustertest.Script(c.tb, c.dir, "scripts/g2/start.sh", "sleep 100000 &\nexit 0\n")
	clustertest.Script(c.tb, c.dir, "scripts/g2/stop.sh", "exit 0\n")
}

func (c *Cluster) newServer(name, pkiDir string, o Options) *Server {
	h := c.Lab.Host(name)
	s := &Server{Name: name, Host: h, Dir: filepath.Join(c.dir, name), c: c,
		Cgroup: fmt.Sprintf("clpkit-test/trials-%d-%s-%s", os.Getpid(), c.Lab.ID, name)}
	s.Config = filepath.Join(s.Dir, "cluster.toml")
	s.Socket = filepath.Join(s.Dir, "run", "clpd.sock")
	for _, d := range []string{"data", "log", "run"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			c.tb.Fatal(err)
		}
	}
	storeTable := fmt.Sprintf("[store]\nmode = \"external\"\nendpoints = [\"https://%s:2379\"]\n", c.Store.Addr)
	if o.Embedded {
		storeTable = fmt.Sprintf("[witness]\nname = \"store\"\naddress = %q\n", c.Store.Addr)
	}
	cfg := fmt.Sprintf(`[cluster]
name = "lab"

%s

%s

[tls]
dir = %q

[paths]
data_dir = "data"
log_dir = "log"
run_dir = "run"
cgroup = %q

[[server]]
name = "server1"
address = "%s"

[[server]]
name = "server2"
address = "%s"

[[group]]
name = %q
servers = ["server1", "server2"]

[[group.resource]]
name = "service"
type = "exec"
start = %q
stop = %q
start_timeout = 60
stop_timeout = 60
%s
[[group]]
name = %q
servers = ["server1", "server2"]
auto_start = false

[[group.resource]]
name = "service2"
type = "exec"
start = %q
stop = %q
%s`, o.Timing, storeTable, pkiDir, s.Cgroup, c.Lab.Host("server1").Addr, c.Lab.Host("server2").Addr,
		Group, filepath.Join(c.dir, "scripts/service/start.sh"), filepath.Join(c.dir, "scripts/service/stop.sh"),
		strings.ReplaceAll(strings.ReplaceAll(o.Resources, "{{dir}}", c.dir), "{{server}}", name),
		Group2, filepath.Join(c.dir, "scripts/g2/start.sh"), filepath.Join(c.dir, "scripts/g2/stop.sh"),
		strings.ReplaceAll(o.Monitors, "{{dir}}", c.dir))
	if err := os.WriteFile(s.Config, []byte(cfg), 0o644); err != nil {
		c.tb.Fatal(err)
	}
	c.tb.Cleanup(func() { clustertest.RemoveCgroup(s.Cgroup) })
	return s
}

// Start starts clpd on the server, inside its network namespace (nsenter keeps the mount
// namespace, so clpd sees the cgroup v2 mount; `ip netns exec` would hide it).
func (s *Server) Start() {
	s.c.tb.Helper()
	args := []string{"-c", s.Config, "--server", s.Name, "--socket", s.Socket}
	if s.witness {
		args = []string{"-c", s.Config, "--witness"}
	}
	cmd := exec.Command("nsenter", append([]string{"--net=/run/netns/" + s.Host.NS, "--", filepath.Join(s.c.bin, "clpd")}, args...)...)
	cmd.Env = append(os.Environ(),
		"PATH="+s.c.tools+":"+s.c.bin+":/usr/sbin:/usr/bin:/sbin:/bin",
		"LAB_HOST="+s.Name, "LAB_FLAGS="+s.c.flags, "LAB_RUN="+filepath.Join(s.Dir, "run"),
		"CLPKIT_SOCKET="+s.Socket, "CLPKIT_ALERT_LOG="+filepath.Join(s.Dir, "log", "alert.log"))
	cmd.Env = append(cmd.Env, s.c.env...)
	s.proc = s.Host.StartCmd(s.c.tb, cmd)
	proc := s.proc
	s.c.tb.Cleanup(func() {
		// Under CLPKIT_RACE=1 the daemon is race-built: a race it reports is a defect.
		if out := proc.Output(); strings.Contains(out, "WARNING: DATA RACE") {
			s.c.tb.Errorf("clpd on %s reported a data race:\n%s", s.Name, out)
		}
	})
	if s.witness {
		// The witness serves no API; its member answers once the servers' members are up.
		return
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, _, code := s.Run("clpstat"); code == 0 {
			return
		}
		select {
		case <-s.proc.Done():
			s.c.tb.Fatalf("clpd on %s exited at start-up:\n%s", s.Name, s.proc.Output())
		default:
		}
	}
	s.c.tb.Fatalf("clpd on %s did not answer within 30 s:\n%s", s.Name, s.proc.Output())
}

// PID is clpd's process id (nsenter execs clpd in its own place).
func (s *Server) PID() int { return s.proc.Pid() }

// Running reports whether this server's clpd runs.
func (s *Server) Running() bool {
	select {
	case <-s.proc.Done():
		return false
	default:
		return true
	}
}

// Signal sends sig to clpd.
func (s *Server) Signal(sig syscall.Signal) error { return syscall.Kill(s.PID(), sig) }

// Kill kills clpd with SIGKILL and waits for it; its guard and its groups' processes stay.
func (s *Server) Kill() {
	_ = s.Signal(syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.proc.Wait(ctx)
}

// Stop sends SIGTERM and waits for clpd to exit.
func (s *Server) Stop() {
	_ = s.Signal(syscall.SIGCONT)
	_ = s.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.proc.Wait(ctx); err != nil && ctx.Err() != nil {
		s.c.tb.Errorf("clpd on %s did not stop within 60 s of SIGTERM", s.Name)
	}
}

// Output is what clpd printed.
func (s *Server) Output() string { return s.proc.Output() }

// Run runs one of the kit's commands against this server's clpd (from the test's own namespace:
// the API is a Unix socket).
func (s *Server) Run(name string, args ...string) (string, string, int) {
	return s.RunEnv(time.Minute, []string{"CLPKIT_SOCKET=" + s.Socket}, name, args...)
}

// RunEnv runs one of the kit's commands for this server, from the test's own namespace, with env
// added to the test's environment, killing it after timeout; it returns the command's stdout,
// stderr and exit code (-1 and the error when it could not run).
func (s *Server) RunEnv(timeout time.Duration, env []string, name string, args ...string) (string, string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.c.bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return "", err.Error(), -1
	}
	return so.String(), se.String(), cmd.ProcessState.ExitCode()
}

// Alerts is the server's alert log.
func (s *Server) Alerts() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "log", "alert.log"))
	return string(b)
}

// Other returns the other server.
func (c *Cluster) Other(s *Server) *Server {
	for _, o := range c.Servers {
		if o != s {
			return o
		}
	}
	return nil
}

// Owner is the server the group runs on, as the servers' clpstat shows it ("" when none).
func (c *Cluster) Owner(group string) string {
	line := func(st string) string {
		prefix := "    " + group + " " + strings.Repeat(".", max(16-len(group), 0)) + ": Online           \n      current        : "
		i := strings.Index(st, prefix)
		if i < 0 {
			return ""
		}
		rest := st[i+len(prefix):]
		return rest[:strings.IndexByte(rest, '\n')]
	}
	var owner string
	for _, s := range c.Servers {
		st, _, code := s.Run("clpstat")
		if code != 0 {
			return ""
		}
		o := line(st)
		if o == "" || (owner != "" && o != owner) {
			return ""
		}
		owner = o
	}
	return owner
}

// WaitSteady waits until both servers are Online on both, the group is Online on one of them as
// both clpstat and the sampler see it, and the service answers the client through the floating
// address.
func (c *Cluster) WaitSteady(d time.Duration) *Server {
	c.tb.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if s := c.steady(); s != nil {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	var b strings.Builder
	for _, s := range c.Servers {
		st, se, _ := s.Run("clpstat")
		fmt.Fprintf(&b, "--- %s clpstat:\n%s%s\n--- alerts:\n%s\n--- clpd:\n%s\n", s.Name, st, se, s.Alerts(), s.Output())
	}
	c.tb.Fatalf("the cluster did not settle within %s (sampler: %v):\n%s", d, c.Sampler.Final(Group), b.String())
	return nil
}

func (c *Cluster) steady() *Server {
	for _, s := range c.Servers {
		st, _, code := s.Run("clpstat")
		if code != 0 || strings.Count(st, ".........: Online ") != 2 {
			return nil
		}
	}
	owner := c.Owner(Group)
	if owner == "" {
		return nil
	}
	if f := c.Sampler.Final(Group); len(f) != 1 || f[0] != owner {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, _, code, _ := c.Client.Run(ctx, filepath.Join(c.tools, "labhttp"), "-probe", "http://"+VIP+":"+VIPPort+"/", "-interval", "100ms", "-timeout", "200ms", "-for", "300ms")
	if code != 0 || !strings.Contains(out, " ok "+owner) || strings.Contains(out, " ok "+c.Other(c.Servers[owner]).Name) {
		return nil
	}
	return c.Servers[owner]
}

// SetFlag makes the scripts slow (name "slowstart" or "slowstop", seconds); 0 removes it.
func (c *Cluster) SetFlag(name string, seconds float64) {
	p := filepath.Join(c.flags, name)
	if seconds == 0 {
		_ = os.Remove(p)
		return
	}
	if err := os.WriteFile(p, []byte(fmt.Sprintf("%g\n", seconds)), 0o644); err != nil {
		c.tb.Fatal(err)
	}
}

// DialIn returns a dialer that connects from inside a host's network namespace (Host.Within): the
// socket belongs to the namespace it was made in.
func DialIn(h *netlab.Host) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			var r result
			if err := h.Within(func() {
				var d net.Dialer
				r.c, r.err = d.DialContext(ctx, "tcp", addr)
			}); err != nil {
				r.err = err
			}
			ch <- r
		}()
		select {
		case r := <-ch:
			return r.c, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
