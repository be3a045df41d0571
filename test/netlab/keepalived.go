package netlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// KeepalivedOptions configures one keepalived VRRP instance on a lab host's eth0: the yardstick
// the cluster's floating-address failover is compared with.
type KeepalivedOptions struct {
	// VIP is the floating address, "10.77.0.100" (/24 is added) or with a prefix.
	VIP string
	// RouterID is the VRRP virtual_router_id (default 51).
	RouterID int
	// Priority is the VRRP priority, 1 to 254 (default 100).
	Priority int
	// AdvertInt is the advertisement interval (default 1 s). Below a second, or not a whole
	// number of seconds, VRRP version 3 is used, which counts in centiseconds.
	AdvertInt time.Duration
	// State is the initial state, MASTER or BACKUP (default BACKUP). Below priority 255 keepalived
	// starts as BACKUP either way and becomes master after the master-down interval.
	State string
	// NoPreempt keeps a recovered higher-priority instance from taking the address back.
	NoPreempt bool
	// UnicastPeers, when set, makes VRRP unicast to these hosts instead of multicast.
	UnicastPeers []*Host
}

// Keepalived is one keepalived started in a lab host.
type Keepalived struct {
	Host   *Host
	Dir    string
	Config string
	proc   *Proc
}

// StartKeepalived writes a keepalived.conf for opts in a directory of the test's own and runs
// keepalived in host's namespace, in the foreground, with its pid files in that directory (so
// instances in other hosts or tests never collide and nothing under /run or /etc is used). It is
// stopped at tb's cleanup. The test skips when keepalived is not installed.
func StartKeepalived(tb testing.TB, host *Host, opts KeepalivedOptions) *Keepalived {
	tb.Helper()
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		tb.Skip("netlab: keepalived is not installed")
	}
	conf, err := keepalivedConfig(host, opts)
	if err != nil {
		tb.Fatal(err)
	}
	dir := filepath.Join(tb.TempDir(), "keepalived-"+host.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	k := &Keepalived{Host: host, Dir: dir, Config: filepath.Join(dir, "keepalived.conf")}
	if err := os.WriteFile(k.Config, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	// -P: VRRP only, no health checkers. The pid files keepalived insists on are private.
	k.proc = host.Start(tb, bin, "--dont-fork", "--log-console", "--no-syslog", "-P",
		"-f", k.Config,
		"-p", filepath.Join(dir, "keepalived.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"),
		"-c", filepath.Join(dir, "checkers.pid"))
	tb.Cleanup(func() {
		if err := k.Stop(); err != nil {
			tb.Errorf("%v\n%s", err, k.Output())
		}
	})
	return k
}

func keepalivedConfig(host *Host, o KeepalivedOptions) (string, error) {
	if o.VIP == "" {
		return "", fmt.Errorf("keepalived on %s: no VIP", host.Name)
	}
	vip := o.VIP
	if !strings.Contains(vip, "/") {
		vip += "/24"
	}
	if o.RouterID == 0 {
		o.RouterID = 51
	}
	if o.Priority == 0 {
		o.Priority = 100
	}
	if o.AdvertInt == 0 {
		o.AdvertInt = time.Second
	}
	if o.State == "" {
		o.State = "BACKUP"
	}
	if o.State != "MASTER" && o.State != "BACKUP" {
		return "", fmt.Errorf("keepalived on %s: state %q is neither MASTER nor BACKUP", host.Name, o.State)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n\trouter_id %s\n", host.Name)
	if o.AdvertInt < time.Second || o.AdvertInt%time.Second != 0 {
		if o.AdvertInt%(10*time.Millisecond) != 0 {
			return "", fmt.Errorf("keepalived on %s: advert_int %s is not whole centiseconds", host.Name, o.AdvertInt)
		}
		b.WriteString("\tvrrp_version 3\n")
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, "vrrp_instance VI_%d {\n", o.RouterID)
	fmt.Fprintf(&b, "\tstate %s\n\tinterface eth0\n\tvirtual_router_id %d\n\tpriority %d\n\tadvert_int %g\n",
		o.State, o.RouterID, o.Priority, o.AdvertInt.Seconds())
	if o.NoPreempt {
		b.WriteString("\tnopreempt\n")
	}
	if len(o.UnicastPeers) > 0 {
		fmt.Fprintf(&b, "\tunicast_src_ip %s\n\tunicast_peer {\n", host.Addr)
		for _, p := range o.UnicastPeers {
			fmt.Fprintf(&b, "\t\t%s\n", p.Addr)
		}
		b.WriteString("\t}\n")
	}
	fmt.Fprintf(&b, "\tvirtual_ipaddress {\n\t\t%s dev eth0\n\t}\n}\n", vip)
	return b.String(), nil
}

// Stop stops keepalived with SIGTERM (it then drops the VIP, as on a clean shutdown) and waits up
// to 10 s, then kills it. Stopping a stopped keepalived is not an error.
func (k *Keepalived) Stop() error {
	if !k.proc.Terminate(10 * time.Second) {
		return fmt.Errorf("keepalived on %s did not stop within 10s of SIGTERM", k.Host.Name)
	}
	return nil
}

// Output is what keepalived logged (it logs to its console).
func (k *Keepalived) Output() string { return k.proc.Output() }

// Holders returns the hosts whose eth0 holds address vip (without prefix), in the given order.
func Holders(ctx context.Context, vip string, hosts ...*Host) ([]string, error) {
	var out []string
	for _, h := range hosts {
		so, err := runIP(ctx, "-n", h.NS, "-4", "-o", "addr", "show", "dev", "eth0")
		if err != nil {
			return nil, fmt.Errorf("reading the addresses of host %s: %w", h.Name, err)
		}
		if strings.Contains(so, " inet "+vip+"/") {
			out = append(out, h.Name)
		}
	}
	return out, nil
}

// Master returns the host that holds vip, "" when none does (or the addresses could not be
// read), and the holders joined by "," when more than one does: a split brain shows.
func Master(vip string, hosts ...*Host) string {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	h, err := Holders(ctx, vip, hosts...)
	if err != nil {
		return ""
	}
	return strings.Join(h, ",")
}
