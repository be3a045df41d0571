package monitor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netPair is two network namespaces joined by a veth pair: a (ifA, ipA) and b (ifB, ipB).
// Everything lives inside the namespaces, so the host's own interfaces are never touched.
type netPair struct {
	a, b       string // namespace names
	ifA, ifB   string
	ipA, ipB   string
	ip6A, ip6B string
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func newNetPair(t *testing.T) *netPair {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 (ip) is not installed: cannot build test network namespaces")
	}
	id := randHex(4)
	x, y := 1+rand.IntN(254), 1+rand.IntN(254)
	p := &netPair{
		a: "clpmt" + id + "a", b: "clpmt" + id + "b",
		ifA: "clpmt" + id + "a", ifB: "clpmt" + id + "b",
		ipA: fmt.Sprintf("10.%d.%d.1", x, y), ipB: fmt.Sprintf("10.%d.%d.2", x, y),
		ip6A: fmt.Sprintf("fd00:%x:%x::1", x, y), ip6B: fmt.Sprintf("fd00:%x:%x::2", x, y),
	}
	for _, ns := range []string{p.a, p.b} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Skipf("cannot create a network namespace: %v: %s", err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		})
	}
	// Created inside a and moved to b as one step: the veth never appears on the host.
	ipCmd(t, "-n", p.a, "link", "add", p.ifA, "type", "veth", "peer", "name", p.ifB, "netns", p.b)
	ipCmd(t, "-n", p.a, "addr", "add", p.ipA+"/24", "dev", p.ifA)
	ipCmd(t, "-n", p.b, "addr", "add", p.ipB+"/24", "dev", p.ifB)
	ipCmd(t, "-n", p.a, "addr", "add", p.ip6A+"/64", "dev", p.ifA, "nodad")
	ipCmd(t, "-n", p.b, "addr", "add", p.ip6B+"/64", "dev", p.ifB, "nodad")
	for _, c := range [][2]string{{p.a, p.ifA}, {p.b, p.ifB}, {p.a, "lo"}, {p.b, "lo"}} {
		ipCmd(t, "-n", c[0], "link", "set", c[1], "up")
	}
	p.waitCarrier(t)
	return p
}

// waitCarrier waits until both ends of the veth have a carrier: it comes a moment after "up",
// and a neighbour lookup made before then fails for a while.
func (p *netPair) waitCarrier(t *testing.T) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ready := true
		for _, c := range [][2]string{{p.a, p.ifA}, {p.b, p.ifB}} {
			out, err := exec.Command("ip", "-n", c[0], "-o", "link", "show", c[1]).CombinedOutput()
			if err != nil || strings.Contains(string(out), "NO-CARRIER") || !strings.Contains(string(out), "state UP") {
				ready = false
			}
		}
		if ready {
			return
		}
		if time.Now().After(end) {
			t.Fatal("the veth pair has no carrier 5s after it was set up")
		}
	}
}

// inNetns runs f on an OS thread moved into the named namespace, and moves the thread back.
// Should the way back fail, the thread stays locked and dies with its goroutine rather than
// serve other goroutines from the wrong namespace.
func inNetns(ns string, f func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = unix.Setns(int(target.Fd()), unix.CLONE_NEWNET)
		target.Close()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}

// checkIn runs p.Check inside the namespace and returns its error and how long it took.
func checkIn(t *testing.T, ns string, p Probe, d time.Duration) (time.Duration, error) {
	t.Helper()
	var err error
	var took time.Duration
	if nerr := inNetns(ns, func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		start := time.Now()
		err = p.Check(ctx)
		took = time.Since(start)
	}); nerr != nil {
		t.Fatal(nerr)
	}
	return took, err
}

func TestPing(t *testing.T) {
	n := newNetPair(t)
	unused := strings.TrimSuffix(n.ipB, ".2") + ".99"
	cases := []struct {
		name  string
		addrs []string
		want  string // "" means nil
	}{
		{name: "IPv4 peer", addrs: []string{n.ipB}},
		{name: "IPv6 peer", addrs: []string{n.ip6B}},
		{name: "own address", addrs: []string{n.ipA}},
		{name: "one of several answers", addrs: []string{unused, n.ip6B, n.ipB}},
		{name: "silent address", addrs: []string{unused}, want: "no reply from " + unused + " within 1"},
		{name: "not an address", addrs: []string{"host.example"}, want: `ping: "host.example" is not an IP address`},
		{name: "no address", want: "ping: no address to ping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := time.Second
			if c.want == "" {
				// Room for a neighbour lookup on a loaded machine.
				d = 3 * time.Second
			}
			took, err := checkIn(t, n.a, Ping{Addresses: c.addrs}, d)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				// Answered before the deadline: it did not wait for the silent address.
				if took > 2*time.Second {
					t.Errorf("Check took %s to succeed", took)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("Check = %v, want %q...", err, c.want)
			}
			if took > 2*time.Second {
				t.Errorf("Check took %s with a 1s deadline", took)
			}
		})
	}
	t.Run("peer goes down", func(t *testing.T) {
		ipCmd(t, "-n", n.b, "link", "set", n.ifB, "down")
		for _, addr := range []string{n.ipB, n.ip6B} {
			took, err := checkIn(t, n.a, Ping{Addresses: []string{addr}}, time.Second)
			if want := "no reply from " + addr + " within 1"; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Check = %v, want %q...", err, want)
			}
			if took > 2*time.Second {
				t.Errorf("Check took %s with a 1s deadline", took)
			}
		}
		ipCmd(t, "-n", n.b, "link", "set", n.ifB, "up")
		n.waitCarrier(t)
		if _, err := checkIn(t, n.a, Ping{Addresses: []string{n.ipB}}, 3*time.Second); err != nil {
			t.Errorf("Check once the peer is up again: %v", err)
		}
	})
}

func TestLinkCheck(t *testing.T) {
	n := newNetPair(t)
	steps := []struct {
		name string
		do   []string // an ip command run before the check
		link string
		want string // "" means nil
	}{
		{name: "up", link: n.ifA},
		{name: "loopback (operational state unknown)", link: "lo"},
		{name: "missing", link: "clpmtnosuch0", want: "link clpmtnosuch0 does not exist"},
		{name: "peer down", do: []string{"-n", n.b, "link", "set", n.ifB, "down"}, link: n.ifA, want: "link " + n.ifA + " is down (no carrier)"},
		{name: "peer up again", do: []string{"-n", n.b, "link", "set", n.ifB, "up"}, link: n.ifA},
		{name: "administratively down", do: []string{"-n", n.a, "link", "set", n.ifA, "down"}, link: n.ifA, want: "link " + n.ifA + " is down (administratively)"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.do != nil {
				ipCmd(t, s.do...)
			}
			// A carrier change reaches the other end of a veth at once, but not in the same
			// instant as the ip command returns: look a few times.
			var err error
			for end := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				_, err = checkIn(t, n.a, Link{Interface: s.link}, time.Second)
				got := ""
				if err != nil {
					got = err.Error()
				}
				if got == s.want || time.Now().After(end) {
					break
				}
			}
			wantCheck(t, err, s.want)
		})
	}
}

func TestLinkWatch(t *testing.T) {
	for _, pollOnly := range []bool{false, true} {
		name := "netlink events"
		if pollOnly {
			name = "polling"
		}
		t.Run(name, func(t *testing.T) {
			n := newNetPair(t)
			run := func(f func()) {
				if err := inNetns(n.a, f); err != nil {
					t.Error(err)
				}
			}
			rec, stop, _ := watch(t, Link{Interface: n.ifA, pollOnly: pollOnly}, run)
			if err := rec.next(t, 5*time.Second); err != nil {
				t.Fatalf("first report = %v, want nil", err)
			}
			// Nothing changed: no report.
			rec.none(t, 700*time.Millisecond)

			ipCmd(t, "-n", n.b, "link", "set", n.ifB, "down")
			start := time.Now()
			err := rec.next(t, 5*time.Second)
			if want := "link " + n.ifA + " is down (no carrier)"; err == nil || err.Error() != want {
				t.Fatalf("report = %v, want %q", err, want)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the lost carrier was reported %s later", took)
			} else {
				t.Logf("lost carrier reported %s later", took)
			}

			ipCmd(t, "-n", n.b, "link", "set", n.ifB, "up")
			start = time.Now()
			if err := rec.next(t, 5*time.Second); err != nil {
				t.Fatalf("report = %v, want nil once the peer is up", err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("the carrier's return was reported %s later", took)
			}

			ipCmd(t, "-n", n.a, "link", "del", n.ifA)
			err = rec.next(t, 5*time.Second)
			if want := "link " + n.ifA + " does not exist"; err == nil || err.Error() != want {
				t.Fatalf("report = %v, want %q", err, want)
			}
			if took := stop(); took > 2*time.Second {
				t.Errorf("Watch took %s to return", took)
			}
			rec.none(t, 50*time.Millisecond)
		})
	}
}

// TestLinkWatchCanceled: a Watch whose context has already ended reports nothing.
func TestLinkWatchCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	Link{Interface: "lo"}.Watch(ctx, func(err error) { t.Errorf("report(%v)", err) })
	if err := (Link{Interface: "lo"}).Check(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Check = %v, want context.Canceled", err)
	}
}
