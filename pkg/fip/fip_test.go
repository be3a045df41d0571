package fip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

func addr(t *testing.T, prefix, iface string) Address {
	t.Helper()
	return Address{Prefix: netip.MustParsePrefix(prefix), Interface: iface}
}

// TestInUse probes from host a: an address host c holds is in use with c's MAC; an unused
// address and a's own address are not.
func TestInUse(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	cases := []struct {
		name string
		a    Address
		want net.HardwareAddr // nil: not in use
	}{
		{"IPv4 held by c", addr(t, l.c.ip4+"/24", "eth0"), l.c.mac},
		{"IPv4 held by c, interface found from the network", addr(t, l.c.ip4+"/24", ""), l.c.mac},
		{"IPv4 unused", addr(t, l.net4+"99/24", "eth0"), nil},
		{"IPv4 a's own", addr(t, l.a.ip4+"/24", "eth0"), nil},
		{"IPv6 held by c", addr(t, l.c.ip6+"/64", "eth0"), l.c.mac},
		{"IPv6 unused", addr(t, l.net6+"99/64", "eth0"), nil},
		{"IPv6 a's own", addr(t, l.a.ip6+"/64", ""), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var mac net.HardwareAddr
			var used bool
			var took time.Duration
			mustIn(t, l.a.ns, func() error {
				ctx, cancel := ctxFor(3 * time.Second)
				defer cancel()
				start := time.Now()
				var err error
				mac, used, err = InUse(ctx, c.a)
				took = time.Since(start)
				return err
			})
			if used != (c.want != nil) || mac.String() != c.want.String() {
				t.Fatalf("InUse = %v, %v; want %v, %v", mac, used, c.want, c.want != nil)
			}
			// Not in use: three probes 100ms apart and 200ms more of listening. The upper
			// bound is loose: the test machine may be busy.
			if c.want == nil && (took < 380*time.Millisecond || took > 2500*time.Millisecond) {
				t.Errorf("InUse took %s to say not in use, want about 400ms", took)
			}
			t.Logf("InUse took %s", took)
		})
	}
	t.Run("the address on this host as well as on another", func(t *testing.T) {
		// c holds it and so does a: a still hears c answer.
		run(t, "ip", "-n", l.a.ns, "addr", "add", l.c.ip4+"/24", "dev", "eth0")
		defer run(t, "ip", "-n", l.a.ns, "addr", "del", l.c.ip4+"/24", "dev", "eth0")
		mustIn(t, l.a.ns, func() error {
			ctx, cancel := ctxFor(3 * time.Second)
			defer cancel()
			mac, used, err := InUse(ctx, addr(t, l.c.ip4+"/24", "eth0"))
			if err != nil || !used || mac.String() != l.c.mac.String() {
				return errors.New("InUse = " + mac.String() + ", " + map[bool]string{true: "true", false: "false"}[used] + ", " + errString(err) + "; want c's MAC")
			}
			return nil
		})
	})
	t.Run("context", func(t *testing.T) {
		mustIn(t, l.a.ns, func() error {
			a := addr(t, l.net4+"99/24", "eth0")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, _, err := InUse(ctx, a); !errors.Is(err, context.Canceled) {
				return errors.New("InUse with a canceled context: " + errString(err))
			}
			// Canceled while listening: returns at once.
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(150*time.Millisecond, cancel)
			start := time.Now()
			if _, _, err := InUse(ctx, a); !errors.Is(err, context.Canceled) {
				return errors.New("InUse canceled midway: " + errString(err))
			}
			if took := time.Since(start); took > time.Second {
				return errors.New("InUse took " + took.String() + " to notice the cancellation")
			}
			// A deadline before the last probe: too few probes to answer.
			ctx, cancel = ctxFor(150 * time.Millisecond)
			defer cancel()
			if _, _, err := InUse(ctx, a); !errors.Is(err, context.DeadlineExceeded) {
				return errors.New("InUse with a 150ms deadline: " + errString(err))
			}
			// A deadline after the last probe (sent at 200ms) ends the listening early: not in
			// use. On a busy machine the setup can push the last probe past the deadline, which
			// is an error: a few tries then.
			for try := 1; ; try++ {
				ctx, cancel := ctxFor(370 * time.Millisecond)
				start := time.Now()
				_, used, err := InUse(ctx, a)
				took := time.Since(start)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) && try < 5 {
					continue
				}
				if err != nil || used {
					return errors.New("InUse with a 370ms deadline: " + errString(err))
				}
				if took > 500*time.Millisecond {
					return errors.New("InUse with a 370ms deadline took " + took.String())
				}
				return nil
			}
		})
	})
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestAddRemove adds and removes on host a and looks with `ip addr`.
func TestAddRemove(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	for _, c := range []struct {
		name, prefix, iface string
	}{
		{"IPv4", l.net4 + "100/24", "eth0"},
		{"IPv4 interface found from the network", l.net4 + "101/24", ""},
		{"IPv4 host prefix", l.net4 + "102/32", "eth0"},
		{"IPv6", l.net6 + "100/64", "eth0"},
		{"IPv6 interface found from the network", l.net6 + "101/64", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := addr(t, c.prefix, c.iface)
			for i := range 2 {
				mustIn(t, l.a.ns, func() error {
					ctx, cancel := ctxFor(2 * time.Second)
					defer cancel()
					return Add(ctx, a)
				})
				if n, flags := countAddr(t, l.a.ns, "eth0", c.prefix); n != 1 || strings.Contains(flags, "tentative") {
					t.Fatalf("after Add #%d: %s is on eth0 %d times (%q), want once and usable: %q", i+1, c.prefix, n, flags, addrsOn(t, l.a.ns, "eth0"))
				}
			}
			if a.Prefix.Addr().Is6() {
				// IFA_F_NODAD: usable at once, without the second or more of duplicate address
				// detection (the flags above say it is not tentative). The peer must reach it; its
				// neighbour solicitation is retried only after a second, and in CI one was once
				// lost, so the ping may take up to three.
				took, err := ping(t, l.b.ns, a.Prefix.Addr().String(), 3*time.Second)
				if err != nil {
					t.Fatalf("ping from b right after Add: %v", err)
				}
				t.Logf("b's first echo reply came %s after Add returned", took)
			}
			for i := range 2 {
				mustIn(t, l.a.ns, func() error {
					ctx, cancel := ctxFor(2 * time.Second)
					defer cancel()
					return Remove(ctx, a)
				})
				if n, _ := countAddr(t, l.a.ns, "eth0", c.prefix); n != 0 {
					t.Fatalf("after Remove #%d: %s is still on eth0: %q", i+1, c.prefix, addrsOn(t, l.a.ns, "eth0"))
				}
			}
		})
	}
	t.Run("remove from a missing interface", func(t *testing.T) {
		mustIn(t, l.a.ns, func() error {
			return Remove(context.Background(), addr(t, l.net4+"100/24", "nosuch0"))
		})
	})
	t.Run("remove keeps the same address with another prefix", func(t *testing.T) {
		run(t, "ip", "-n", l.a.ns, "addr", "add", l.net4+"103/25", "dev", "eth0")
		mustIn(t, l.a.ns, func() error {
			return Remove(context.Background(), addr(t, l.net4+"103/24", "eth0"))
		})
		if n, _ := countAddr(t, l.a.ns, "eth0", l.net4+"103/25"); n != 1 {
			t.Fatalf("Remove of %s/24 removed %s/25", l.net4+"103", l.net4+"103")
		}
	})
	t.Run("add with no connected network", func(t *testing.T) {
		err := in(t, l.a.ns, func() error { return Add(context.Background(), addr(t, "10.254.254.5/24", "")) })
		if want := "adding 10.254.254.5/24: no interface has a connected network containing 10.254.254.5; name the interface"; errString(err) != want {
			t.Fatalf("Add = %v, want %q", err, want)
		}
		err = in(t, l.a.ns, func() error { return Add(context.Background(), addr(t, "10.254.254.5/24", "nosuch0")) })
		if want := "adding 10.254.254.5/24: link nosuch0 does not exist"; errString(err) != want {
			t.Fatalf("Add = %v, want %q", err, want)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		err := in(t, l.a.ns, func() error { return Add(context.Background(), addr(t, l.net4+"0/24", "eth0")) })
		if want := "floating IP " + l.net4 + "0/24: the network address of " + l.net4 + "0/24"; errString(err) != want {
			t.Fatalf("Add = %v, want %q", err, want)
		}
		if err := Add(context.Background(), Address{}); errString(err) != "floating IP: no address given" {
			t.Fatalf("Add of the zero Address = %v", err)
		}
	})
}

// TestAnnounce moves the floating IP from a to c the way a failover does, and watches b's
// neighbour table follow without b sending anything.
func TestAnnounce(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	for _, c := range []struct{ name, prefix string }{
		{"gratuitous ARP", l.net4 + "100/24"},
		{"unsolicited neighbour advertisement", l.net6 + "100/64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := addr(t, c.prefix, "eth0")
			vip := a.Prefix.Addr().String()
			ctx, cancel := ctxFor(10 * time.Second)
			defer cancel()
			mustIn(t, l.a.ns, func() error { return Add(ctx, a) })
			if _, err := ping(t, l.b.ns, vip, 3*time.Second); err != nil {
				t.Fatalf("ping from b while a holds %s: %v", vip, err)
			}
			if got := neighMAC(t, l.b.ns, vip); got != l.a.mac.String() {
				t.Fatalf("b's neighbour entry for %s = %q, want a's MAC %s", vip, got, l.a.mac)
			}

			mustIn(t, l.a.ns, func() error { return Remove(ctx, a) })
			mustIn(t, l.c.ns, func() error { return Add(ctx, a) })
			// Without an announcement b keeps a's MAC: nothing else moves it.
			time.Sleep(300 * time.Millisecond)
			if got := neighMAC(t, l.b.ns, vip); got != l.a.mac.String() {
				t.Fatalf("before Announce, b's neighbour entry for %s = %q, want still a's MAC %s", vip, got, l.a.mac)
			}

			// b's table is read with netlink from inside b, every 5ms: reading it sends nothing.
			started := make(chan time.Time, 1)
			watched := make(chan error, 1)
			var got string
			var took time.Duration
			go func() {
				watched <- in(t, l.b.ns, func() error {
					link, err := netlink.LinkByName("eth0")
					if err != nil {
						return err
					}
					start := <-started
					for {
						neighs, err := netlink.NeighList(link.Attrs().Index, a.family())
						if err != nil {
							return err
						}
						got = ""
						for _, n := range neighs {
							if n.IP.Equal(a.ipNet().IP) {
								got = n.HardwareAddr.String()
							}
						}
						took = time.Since(start)
						if got == l.c.mac.String() || took > time.Second {
							return nil
						}
						time.Sleep(5 * time.Millisecond)
					}
				})
			}()
			start := time.Now()
			started <- start
			err := in(t, l.c.ns, func() error { return Announce(ctx, a, 3, 100*time.Millisecond) })
			announced := time.Since(start)
			if err != nil {
				t.Fatalf("Announce: %v", err)
			}
			if err := <-watched; err != nil {
				t.Fatalf("reading b's neighbour table: %v", err)
			}
			if got != l.c.mac.String() {
				t.Fatalf("%s after Announce began, b's neighbour entry for %s = %q, want c's MAC %s", took, vip, got, l.c.mac)
			}
			t.Logf("b's entry for %s moved to c %s after Announce began", vip, took)
			if announced < 190*time.Millisecond {
				t.Errorf("Announce of 3, 100ms apart, took %s", announced)
			}
			// And b reaches c there.
			if _, err := ping(t, l.b.ns, vip, 2*time.Second); err != nil {
				t.Fatalf("ping from b once c holds %s: %v", vip, err)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		mustIn(t, l.a.ns, func() error {
			a := addr(t, l.net4+"110/24", "eth0")
			if err := Announce(context.Background(), a, 1, 0); errString(err) != "announcing "+l.net4+"110/24: the address is not on eth0" {
				return errors.New("Announce of an address a does not hold: " + errString(err))
			}
			if err := Announce(context.Background(), a, 0, 0); errString(err) != "announcing "+l.net4+"110/24: count 0, want at least 1" {
				return errors.New("Announce of 0: " + errString(err))
			}
			// Canceled during the gap.
			if err := Add(context.Background(), a); err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(50*time.Millisecond, cancel)
			if err := Announce(ctx, a, 5, time.Second); !errors.Is(err, context.Canceled) {
				return errors.New("Announce canceled during the gap: " + errString(err))
			}
			return nil
		})
	})
}

// TestCheck is the fipw monitor on host a.
func TestCheck(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	a4 := addr(t, l.net4+"100/24", "eth0")
	a6 := addr(t, l.net6+"100/64", "eth0")
	check := func(a Address) error {
		var err error
		mustIn(t, l.a.ns, func() error {
			err = Check(context.Background(), a)
			return nil
		})
		return err
	}
	// expect checks a few times: a carrier change reaches the other end of a veth a moment
	// after the ip command returns.
	expect := func(a Address, want string) {
		t.Helper()
		var got string
		for end := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got = ""
			if err := check(a); err != nil {
				got = err.Error()
			}
			if got == want || time.Now().After(end) {
				break
			}
		}
		if got != want {
			t.Fatalf("Check(%s) = %q, want %q", a, got, want)
		}
	}
	for _, a := range []Address{a4, a6} {
		mustIn(t, l.a.ns, func() error { return Add(context.Background(), a) })
		expect(a, "")
		expect(Address{Prefix: a.Prefix}, "")
	}
	mustIn(t, l.a.ns, func() error { return Remove(context.Background(), a4) })
	expect(a4, "address "+l.net4+"100/24 is not on eth0")
	expect(Address{Prefix: a4.Prefix}, "address "+l.net4+"100/24 is not on eth0")
	expect(a6, "")
	mustIn(t, l.a.ns, func() error { return Add(context.Background(), a4) })
	expect(a4, "")

	run(t, "ip", "-n", l.sw, "link", "set", "dev", "pa", "down")
	expect(a4, "link eth0 is down (no carrier)")
	run(t, "ip", "-n", l.sw, "link", "set", "dev", "pa", "up")
	expect(a4, "")

	run(t, "ip", "-n", l.a.ns, "link", "set", "dev", "eth0", "down")
	expect(a4, "link eth0 is down (administratively)")
	expect(a6, "link eth0 is down (administratively)")

	expect(addr(t, l.net4+"100/24", "nosuch0"), "link nosuch0 does not exist")
	expect(addr(t, "10.254.254.5/24", ""), "no interface has a connected network containing 10.254.254.5; name the interface")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Check(ctx, a4); !errors.Is(err, context.Canceled) {
		t.Errorf("Check with a canceled context = %v", err)
	}
}
