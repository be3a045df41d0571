// Package netlab is a network-namespace lab for fault trials of a failover cluster, started by Go
// tests and benchmarks themselves: several hosts (network namespaces) on one virtual switch,
// faults injected on demand (a pulled cable, a silently dropping switch port, a partition between
// two hosts), a sampler that sees every few milliseconds on which host each failover group's
// processes exist, an HTTP prober that sees which host answers a service address, and keepalived
// as the yardstick the cluster's failover time is compared with.
//
// A lab creates nothing in the machine's own network namespace: the switch is a Linux bridge in a
// private namespace, and every host's eth0 is a veth whose peer is a port of that bridge. Names
// carry a random lab id, so labs of parallel tests never collide, and Close (run by t.Cleanup)
// kills every process left in the lab's namespaces and deletes them.
package netlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// Subnet is the lab's one IPv4 network; host i has Subnet.(10+i).
	Subnet = "10.77.0.0/24"
	// hostBase is the last octet of the first host's address.
	hostBase = 10
	// MaxHosts bounds a lab's hosts: the sampler keeps a group's hosts in a 64-bit set, and the
	// addresses stay below .100, where tests put their floating addresses.
	MaxHosts = 64
	// netnsDir is where `ip netns` keeps its named namespaces.
	netnsDir = "/run/netns"
	// opTimeout bounds one lab operation (a fault, a setup step, a cleanup).
	opTimeout = 30 * time.Second
)

// Lab is one switch and the hosts plugged into it.
type Lab struct {
	// ID is the random part of every namespace name of this lab.
	ID string
	// Switch is the name of the namespace that holds the bridge br0 and its ports.
	Switch string

	hosts  []*Host
	byName map[string]*Host

	mu     sync.Mutex
	procs  []*Proc
	tables map[*Host]map[string]bool // nft tables added, per host, so Close removes them
	closed bool
}

// Host is one network namespace of a lab, with eth0 plugged into the lab's switch.
type Host struct {
	// Name is the host's name in the test ("server1"); NS is its namespace's name.
	Name string
	NS   string
	// Addr is the host's own address on eth0 (without the /24).
	Addr string
	// MAC is eth0's hardware address, fixed by the lab so that partitions can match it.
	MAC string

	lab   *Lab
	index int
	port  string // the switch-side veth port, in the switch namespace
	inode uint64

	mu    sync.Mutex
	extra []string // addresses added with AddAddr, without prefix
}

var hostNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// New creates a lab with the named hosts, in that order: host i gets 10.77.0.(10+i)/24 on eth0.
// It skips the test when not root or when this machine cannot create network namespaces. The lab
// is closed by tb.Cleanup.
func New(tb testing.TB, hosts ...string) *Lab {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("netlab: network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("netlab: ip (iproute2) is not installed")
	}
	if len(hosts) == 0 || len(hosts) > MaxHosts {
		tb.Fatalf("netlab: a lab has 1 to %d hosts, not %d", MaxHosts, len(hosts))
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if !hostNameRE.MatchString(h) || seen[h] {
			tb.Fatalf("netlab: host name %q is empty, not [a-zA-Z0-9_.-] or repeated", h)
		}
		seen[h] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()

	l := &Lab{byName: map[string]*Host{}, tables: map[*Host]map[string]bool{}}
	// Creating the switch namespace is also the probe of whether namespaces work here.
	for try := 0; ; try++ {
		l.ID = randomID()
		l.Switch = "clpk" + l.ID
		_, err := runIP(ctx, "netns", "add", l.Switch)
		if err == nil {
			break
		}
		if _, serr := os.Stat(filepath.Join(netnsDir, l.Switch)); serr == nil && try < 5 {
			continue // another lab drew the same id
		}
		tb.Skipf("netlab: cannot create a network namespace (ip netns add): %v", oneLine(err.Error()))
	}
	tb.Cleanup(func() {
		if err := l.Close(); err != nil {
			tb.Errorf("closing the lab: %v", err)
		}
	})
	for i, name := range hosts {
		h := &Host{
			Name:  name,
			NS:    "clpk" + l.ID + "-" + name,
			Addr:  fmt.Sprintf("10.77.0.%d", hostBase+i),
			MAC:   fmt.Sprintf("02:00:0a:4d:00:%02x", hostBase+i),
			lab:   l,
			index: i,
			port:  fmt.Sprintf("p%d", i),
		}
		if _, err := runIP(ctx, "netns", "add", h.NS); err != nil {
			tb.Fatalf("netlab: creating host %s: %v", name, err)
		}
		l.hosts = append(l.hosts, h)
		l.byName[name] = h
	}
	if err := l.setup(ctx); err != nil {
		tb.Fatalf("netlab: %v", err)
	}
	return l
}

// setup builds the switch and plugs every host in.
func (l *Lab) setup(ctx context.Context) error {
	// IPv6 is off in every namespace: its link-local chatter (router solicitations, duplicate
	// address detection) is noise in a lab that is about IPv4 floating addresses.
	for _, ns := range l.nsNames() {
		if err := disableIPv6(ctx, ns); err != nil {
			return err
		}
	}
	// STP off and forward delay 0: a port forwards as soon as it is up, so restoring a cable
	// does not add a learning delay the cluster would be blamed for. Snooping off: VRRP and
	// other multicast are flooded as on a dumb switch.
	sw := []string{
		"link set lo up",
		"link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
		"link set br0 up",
	}
	for _, h := range l.hosts {
		sw = append(sw,
			fmt.Sprintf("link add %s type veth peer name eth0 address %s netns %s", h.port, h.MAC, h.NS),
			fmt.Sprintf("link set %s master br0 up", h.port))
	}
	if err := runBatch(ctx, l.Switch, sw); err != nil {
		return fmt.Errorf("building the switch: %w", err)
	}
	for _, h := range l.hosts {
		if err := runBatch(ctx, h.NS, []string{
			"link set lo up",
			fmt.Sprintf("addr add %s/24 dev eth0", h.Addr),
			"link set eth0 up",
		}); err != nil {
			return fmt.Errorf("configuring host %s: %w", h.Name, err)
		}
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(netnsDir, h.NS), &st); err != nil {
			return fmt.Errorf("reading the namespace inode of host %s: %w", h.Name, err)
		}
		h.inode = st.Ino
	}
	for _, h := range l.hosts {
		if err := h.waitCarrier(ctx, true); err != nil {
			return err
		}
	}
	return nil
}

// nsNames lists the lab's namespaces, the switch first.
func (l *Lab) nsNames() []string {
	names := []string{l.Switch}
	for _, h := range l.hosts {
		names = append(names, h.NS)
	}
	return names
}

// Hosts returns the lab's hosts in the order New was given them.
func (l *Lab) Hosts() []*Host { return append([]*Host(nil), l.hosts...) }

// Host returns the named host, or nil.
func (l *Lab) Host(name string) *Host { return l.byName[name] }

// Close kills every process left in the lab's namespaces (also daemons that double-forked away
// from the processes the lab started), removes the nft tables the lab added and deletes the
// namespaces, leaving the machine as New found it. It is idempotent; t.Cleanup calls it.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	procs := l.procs
	tables := l.tables
	l.tables = map[*Host]map[string]bool{}
	l.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var errs []error
	// Everything dies first, then the started processes are reaped: their children, killed in
	// the same sweep, no longer hold the output pipes open.
	for _, p := range procs {
		_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	}
	inodes := map[uint64]bool{}
	for _, h := range l.hosts {
		if h.inode != 0 {
			inodes[h.inode] = true
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(netnsDir, l.Switch), &st); err == nil {
		inodes[st.Ino] = true
	}
	if err := killInNamespaces(ctx, inodes); err != nil {
		errs = append(errs, err)
	}
	for _, p := range procs {
		p.Kill()
	}
	for h, names := range tables {
		var script strings.Builder
		for name := range names {
			// Declaring the table first makes the delete succeed whether or not it still exists.
			fmt.Fprintf(&script, "table netdev %s\ndelete table netdev %s\n", name, name)
		}
		if err := h.nft(ctx, script.String()); err != nil {
			errs = append(errs, fmt.Errorf("removing the nft tables of host %s: %w", h.Name, err))
		}
	}
	// Hosts first: deleting the switch also destroys the veths, but a host namespace can only
	// go once nothing references it.
	names := l.nsNames()
	for i := len(names) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(netnsDir, names[i])); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if _, err := runIP(ctx, "netns", "del", names[i]); err != nil {
			errs = append(errs, fmt.Errorf("deleting namespace %s: %w", names[i], err))
		}
	}
	return errors.Join(errs...)
}

// killInNamespaces SIGKILLs every process whose network namespace is one of inodes, until none is
// left. Pid file descriptors make sure a pid reused in the meantime is never signalled.
func killInNamespaces(ctx context.Context, inodes map[uint64]bool) error {
	for {
		var left []int
		pids, err := listPids()
		if err != nil {
			return err
		}
		buf := make([]byte, 64)
		for _, pid := range pids {
			fd, err := unix.PidfdOpen(pid, 0)
			if err != nil {
				continue // already gone
			}
			// Read the namespace after opening the pidfd: if the pid was reused in between,
			// the pidfd names a dead process and the signal fails harmlessly.
			if ino, ok := netnsInode(pid, buf); ok && inodes[ino] {
				if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err == nil {
					left = append(left, pid)
				}
			}
			unix.Close(fd)
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processes %v survive SIGKILL in the lab's namespaces: %w", left, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// listPids returns the pids under /proc.
func listPids() ([]int, error) {
	f, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// netnsInode reads the network namespace inode of pid from the "net:[N]" link. It fails for
// zombies, whose namespaces are already released.
func netnsInode(pid int, buf []byte) (uint64, bool) {
	n, err := unix.Readlink("/proc/"+strconv.Itoa(pid)+"/ns/net", buf)
	if err != nil || n < 7 {
		return 0, false
	}
	s := buf[:n]
	if !bytes.HasPrefix(s, []byte("net:[")) || s[n-1] != ']' {
		return 0, false
	}
	ino, err := strconv.ParseUint(string(s[5:n-1]), 10, 64)
	return ino, err == nil
}

// Command returns a command that runs name inside the host's network namespace (through
// `ip netns exec`, which execs name, so the process's pid is name's). The caller sets Env, Stdout
// and so on; StartCmd starts it under the lab's cleanup.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

func (h *Host) commandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs name inside the host's namespace and returns its output and exit status. err is set
// only when the command could not run or ctx ended it; a non-zero exit is reported in code.
func (h *Host) Run(ctx context.Context, name string, args ...string) (stdout, stderr string, code int, err error) {
	cmd := h.commandContext(ctx, name, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err = cmd.Run()
	if ctx.Err() != nil {
		return so.String(), se.String(), -1, fmt.Errorf("running %s on %s: %w", name, h.Name, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return so.String(), se.String(), ee.ExitCode(), nil
	}
	if err != nil {
		return so.String(), se.String(), -1, fmt.Errorf("running %s on %s: %w", name, h.Name, err)
	}
	return so.String(), se.String(), 0, nil
}

// Within runs fn on a thread of its own inside the host's network namespace and returns once fn
// has: a socket that fn makes belongs to the host. The thread goes back to the test's namespace
// before it is unlocked (a goroutine may run on the main thread, whose namespace is the whole
// process's in /proc); if it cannot, it ends with its goroutine, namespace and all.
func (h *Host) Within(fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer own.Close()
		target, err := os.Open("/run/netns/" + h.NS)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering %s: %w", h.NS, err)
			return
		}
		fn()
		if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- nil
	}()
	return <-errc
}

// NetnsInode is the inode of the host's network namespace, as /proc/<pid>/ns/net shows it.
func (h *Host) NetnsInode() uint64 { return h.inode }

// Addrs returns the host's own address and those added with AddAddr.
func (h *Host) Addrs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string{h.Addr}, h.extra...)
}

// AddAddr adds an address (with prefix, "10.77.0.200/24") to the host's eth0. Adding an address
// the host has is not an error.
func (h *Host) AddAddr(cidr string) error {
	ip, err := h.changeAddr("replace", cidr)
	if err != nil {
		return fmt.Errorf("adding %s to host %s: %w", cidr, h.Name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !slices.Contains(h.extra, ip) {
		h.extra = append(h.extra, ip)
	}
	return nil
}

// DelAddr removes an address added with AddAddr (or by anyone else) from eth0; removing an
// absent address is not an error.
func (h *Host) DelAddr(cidr string) error {
	ip, err := h.changeAddr("del", cidr)
	if err != nil &&
		!strings.Contains(err.Error(), "Cannot assign requested address") &&
		!strings.Contains(err.Error(), "Address not found") {
		return fmt.Errorf("removing %s from host %s: %w", cidr, h.Name, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.Index(h.extra, ip); i >= 0 {
		h.extra = slices.Delete(h.extra, i, i+1)
	}
	return nil
}

// changeAddr runs `ip addr OP CIDR dev eth0` in the host and returns the address without its
// prefix length.
func (h *Host) changeAddr(op, cidr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err := runIP(ctx, "-n", h.NS, "addr", op, cidr, "dev", "eth0")
	ip, _, _ := strings.Cut(cidr, "/")
	return ip, err
}

// Ping sends one ICMP echo request from the host to addr and reports whether a reply came within
// timeout. It uses the lab's own tool, so no ping binary is needed.
func (h *Host) Ping(ctx context.Context, addr string, timeout time.Duration) error {
	dir, err := buildTools(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+opTimeout)
	defer cancel()
	so, se, code, err := h.Run(ctx, filepath.Join(dir, "labhttp"), "-ping", addr, "-timeout", timeout.String())
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s cannot reach %s: %s", h.Name, addr, strings.TrimSpace(so+se))
	}
	return nil
}

// Carrier reports whether the host's eth0 has carrier (LOWER_UP), as the host sees it.
func (h *Host) Carrier(ctx context.Context) (bool, error) {
	out, err := runIP(ctx, "-n", h.NS, "-o", "link", "show", "eth0")
	if err != nil {
		return false, fmt.Errorf("reading the link state of host %s: %w", h.Name, err)
	}
	start, end := strings.IndexByte(out, '<'), strings.IndexByte(out, '>')
	if start < 0 || end < start {
		return false, fmt.Errorf("reading the link state of host %s: no flags in %q", h.Name, out)
	}
	for _, f := range strings.Split(out[start+1:end], ",") {
		if f == "LOWER_UP" {
			return true, nil
		}
	}
	return false, nil
}

func (h *Host) waitCarrier(ctx context.Context, want bool) error {
	for {
		got, err := h.Carrier(ctx)
		if err != nil {
			return err
		}
		if got == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("eth0 of host %s still has carrier=%t: %w", h.Name, got, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Proc is a process the lab started in a host; the lab kills it at cleanup.
type Proc struct {
	Cmd  *exec.Cmd
	Host *Host

	out     *syncBuffer // stdout and stderr, when the caller did not set them
	done    chan struct{}
	waitErr error
}

// Start starts name in the host's namespace, with its stdout and stderr kept for Output, and kills
// it at tb's cleanup (or the lab's, whichever comes first).
func (h *Host) Start(tb testing.TB, name string, args ...string) *Proc {
	tb.Helper()
	return h.StartCmd(tb, h.Command(name, args...))
}

// StartCmd starts a command made with Command (so the caller could set Env or Stdout) and kills
// it at tb's cleanup (or the lab's, whichever comes first). Unset Stdout and Stderr go to Output.
func (h *Host) StartCmd(tb testing.TB, cmd *exec.Cmd) *Proc {
	tb.Helper()
	p := &Proc{Cmd: cmd, Host: h, done: make(chan struct{})}
	if cmd.WaitDelay == 0 {
		// A daemon that the process left behind may hold its output pipe; its exit must still
		// be seen promptly.
		cmd.WaitDelay = 500 * time.Millisecond
	}
	if cmd.Stdout == nil || cmd.Stderr == nil {
		p.out = &syncBuffer{}
		if cmd.Stdout == nil {
			cmd.Stdout = p.out
		}
		if cmd.Stderr == nil {
			cmd.Stderr = p.out
		}
	}
	l := h.lab
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		tb.Fatalf("netlab: starting %s on %s: the lab is closed", cmd.Path, h.Name)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("netlab: starting %v on %s: %v", cmd.Args, h.Name, err)
	}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	l.procs = append(l.procs, p)
	tb.Cleanup(p.Kill)
	return p
}

// Pid is the process's pid (name's own: `ip netns exec` execs it).
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Signal sends sig to the process; it fails once the process has exited.
func (p *Proc) Signal(sig syscall.Signal) error {
	if err := p.Cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signalling pid %d on %s: %w", p.Pid(), p.Host.Name, err)
	}
	return nil
}

// Kill SIGKILLs the process and waits (up to 10 s) until it is reaped. Its children live on
// until the lab's cleanup.
func (p *Proc) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// Terminate sends SIGTERM and waits up to d for the process to exit, then kills it; it reports
// whether the process exited by itself (or had already).
func (p *Proc) Terminate(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := p.Wait(ctx); err != nil && ctx.Err() != nil {
		p.Kill()
		return false
	}
	return true
}

// Done is closed once the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits until the process exits or ctx ends, and returns exec.Cmd.Wait's result.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
		return fmt.Errorf("waiting for pid %d on %s: %w", p.Pid(), p.Host.Name, ctx.Err())
	}
}

// Output is what the process printed so far, when Start captured it.
func (p *Proc) Output() string {
	if p.out == nil {
		return ""
	}
	return p.out.String()
}

// syncBuffer is a bytes.Buffer that the process's output copier and a test may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runIP runs ip in the machine's namespace (its -n option reaches into a lab namespace) and
// returns stdout.
func runIP(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		return so.String(), fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(se.String()))
	}
	return so.String(), nil
}

// runBatch runs ip commands in namespace ns with one ip process.
func runBatch(ctx context.Context, ns string, lines []string) error {
	cmd := exec.CommandContext(ctx, "ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %s -batch: %w: %s", ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// disableIPv6 turns IPv6 off for every interface of namespace ns, present and future. A kernel
// without IPv6 has nothing to turn off.
func disableIPv6(ctx context.Context, ns string) error {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "sh", "-c",
		`[ -d /proc/sys/net/ipv6 ] || exit 0
for c in all default lo; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6 || exit 1; done`)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("disabling IPv6 in %s: %w: %s", ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// randomID returns 6 random hex digits: short enough to keep names readable, random enough for
// parallel labs (a collision is retried anyway).
func randomID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }
