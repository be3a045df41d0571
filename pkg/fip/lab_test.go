package fip

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// host is one "server": a network namespace whose eth0 is plugged into the lab's switch.
type host struct {
	ns       string
	ip4, ip6 string // its own address, without prefix length
	mac      net.HardwareAddr
}

// lab is three hosts a, b and c on one Ethernet segment: each host's eth0 is a veth whose other
// end is a port of a bridge in a fourth namespace, the switch. Everything lives in namespaces,
// so the host's own interfaces are never touched, and deleting the namespaces deletes it all.
type lab struct {
	sw      string
	a, b, c host
	net4    string // "10.x.y." : append the last octet
	net6    string // "fd00:x:y::" : append the interface identifier
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) is not installed: cannot build test network namespaces")
	}
	var id [4]byte
	_, _ = crand.Read(id[:])
	prefix := "clpfip" + hex.EncodeToString(id[:])
	x, y := 1+mrand(254), 1+mrand(254)
	l := &lab{sw: prefix + "s", net4: fmt.Sprintf("10.%d.%d.", x, y), net6: fmt.Sprintf("fd00:%x:%x::", x, y)}
	hosts := []*host{&l.a, &l.b, &l.c}
	for i, h := range hosts {
		n := i + 1
		*h = host{
			ns:  fmt.Sprintf("%s%c", prefix, 'a'+i),
			ip4: fmt.Sprintf("%s%d", l.net4, n),
			ip6: fmt.Sprintf("%s%d", l.net6, n),
			mac: net.HardwareAddr{0x02, 0xc1, 0xf1, id[0], id[1], byte(n)},
		}
	}
	for _, ns := range []string{l.sw, l.a.ns, l.b.ns, l.c.ns} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Skipf("cannot create a network namespace: %v: %s", err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	// No multicast snooping: the switch floods neighbour discovery's multicast like a dumb one.
	run(t, "ip", "-n", l.sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
	run(t, "ip", "-n", l.sw, "link", "set", "br0", "up")
	for i, h := range hosts {
		port := fmt.Sprintf("p%c", 'a'+i)
		// Created in the switch with its peer moved to the host in one step: the veth never
		// appears in the test's own namespace.
		run(t, "ip", "-n", l.sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
		run(t, "ip", "-n", l.sw, "link", "set", port, "master", "br0", "up")
		run(t, "ip", "-n", h.ns, "link", "set", "eth0", "address", h.mac.String())
		run(t, "ip", "-n", h.ns, "addr", "add", h.ip4+"/24", "dev", "eth0")
		run(t, "ip", "-n", h.ns, "addr", "add", h.ip6+"/64", "dev", "eth0", "nodad")
		run(t, "ip", "-n", h.ns, "link", "set", "eth0", "up")
		run(t, "ip", "-n", h.ns, "link", "set", "lo", "up")
	}
	for _, h := range hosts {
		waitCarrier(t, h.ns, "eth0")
	}
	return l
}

func mrand(n int) int { return rand.IntN(n) }

// waitCarrier waits until the link is up with a carrier, which comes a moment after "up".
func waitCarrier(t *testing.T, ns, link string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out, err := exec.Command("ip", "-n", ns, "-o", "link", "show", link).CombinedOutput()
		if err == nil && !strings.Contains(string(out), "NO-CARRIER") && strings.Contains(string(out), "state UP") {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s in %s has no carrier 5s after it was set up: %s", link, ns, out)
		}
	}
}

// in runs f on an OS thread moved into the namespace ns, and moves the thread back. f must not
// call t.Fatal (it runs on another goroutine): it returns its failure instead. Should the way
// back fail, the thread stays locked and dies with its goroutine rather than serve other
// goroutines from the wrong namespace.
func in(t *testing.T, ns string, f func() error) error {
	t.Helper()
	type result struct{ setup, err error }
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{setup: err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{setup: err}
			return
		}
		err = unix.Setns(int(target.Fd()), unix.CLONE_NEWNET)
		target.Close()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{setup: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{setup: fmt.Errorf("setns back: %w", err)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{err: ferr}
	}()
	r := <-done
	if r.setup != nil {
		t.Fatal(r.setup)
	}
	return r.err
}

// mustIn is in for an f whose failure ends the test.
func mustIn(t *testing.T, ns string, f func() error) {
	t.Helper()
	if err := in(t, ns, f); err != nil {
		t.Fatal(err)
	}
}

func ctxFor(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// addrsOn lists the addresses on a link as `ip` shows them ("10.1.2.3/24 ..." per line), so
// that what the package did is seen by a tool other than the package.
func addrsOn(t *testing.T, ns, link string) []string {
	t.Helper()
	var got []string
	for line := range strings.Lines(run(t, "ip", "-n", ns, "-o", "addr", "show", "dev", link)) {
		f := strings.Fields(line)
		for i := range len(f) - 1 {
			if f[i] == "inet" || f[i] == "inet6" {
				got = append(got, strings.Join(f[i+1:], " "))
			}
		}
	}
	return got
}

// countAddr is how many times prefix is on the link, and the flags `ip` prints after it.
func countAddr(t *testing.T, ns, link, prefix string) (int, string) {
	t.Helper()
	n, rest := 0, ""
	for _, a := range addrsOn(t, ns, link) {
		if p, r, _ := strings.Cut(a, " "); p == prefix {
			n++
			rest = r
		}
	}
	return n, rest
}

// neighMAC is the MAC in ns's neighbour table for ip on eth0, "" when there is none. Reading
// the table sends nothing.
func neighMAC(t *testing.T, ns, ip string) string {
	t.Helper()
	f := strings.Fields(run(t, "ip", "-n", ns, "neigh", "show", ip, "dev", "eth0"))
	for i := range len(f) - 1 {
		if f[i] == "lladdr" {
			return f[i+1]
		}
	}
	return ""
}

// ping sends ICMP echo requests from ns to addr every 100ms and returns how long the first reply
// took, or an error at the deadline. It is the test's own ping: the image has no ping binary.
func ping(t *testing.T, ns, addr string, d time.Duration) (time.Duration, error) {
	t.Helper()
	var took time.Duration
	err := in(t, ns, func() error {
		ip := netip.MustParseAddr(addr)
		network, proto, req, rep := "ip4:icmp", 1, icmp.Type(ipv4.ICMPTypeEcho), icmp.Type(ipv4.ICMPTypeEchoReply)
		if ip.Is6() {
			network, proto, req, rep = "ip6:ipv6-icmp", 58, ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
		}
		c, err := icmp.ListenPacket(network, "")
		if err != nil {
			return err
		}
		defer c.Close()
		id := mrand(1 << 16)
		start := time.Now()
		end := start.Add(d)
		for seq := 0; time.Now().Before(end); seq++ {
			b, _ := (&icmp.Message{Type: req, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("clpfip")}}).Marshal(nil)
			if _, err := c.WriteTo(b, &net.IPAddr{IP: ip.AsSlice()}); err != nil {
				return err
			}
			next := time.Now().Add(100 * time.Millisecond)
			if next.After(end) {
				next = end
			}
			_ = c.SetReadDeadline(next)
			buf := make([]byte, 1500)
			for {
				n, from, err := c.ReadFrom(buf)
				if err != nil {
					break // the deadline: send again
				}
				m, err := icmp.ParseMessage(proto, buf[:n])
				if err != nil || m.Type != rep {
					continue
				}
				if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && from.(*net.IPAddr).IP.Equal(ip.AsSlice()) {
					took = time.Since(start)
					return nil
				}
			}
		}
		return fmt.Errorf("no echo reply from %s within %s", addr, d)
	})
	return took, err
}
