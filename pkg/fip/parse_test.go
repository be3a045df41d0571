package fip

import (
	"net/netip"
	"strings"
	"testing"
)

// TestParseAddress runs in host a of a lab, whose eth0 has NET.1/24 and NET6::1/64, so that
// bare addresses take their prefix length from a real connected network.
func TestParseAddress(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	// Host-length addresses are not networks: a bare address in them finds nothing.
	run(t, "ip", "-n", l.a.ns, "addr", "add", "10.253.0.1/32", "dev", "eth0")
	// A second link whose /16 also holds NET.0/24, for the "several interfaces" case.
	run(t, "ip", "-n", l.a.ns, "link", "add", "x0", "type", "veth", "peer", "name", "x1")
	run(t, "ip", "-n", l.a.ns, "addr", "add", "10.252.0.1/16", "dev", "x0")
	run(t, "ip", "-n", l.a.ns, "addr", "add", "10.252.7.1/24", "dev", "eth0")
	n4, n6 := l.net4, l.net6
	cases := []struct {
		s, iface string
		want     string // "prefix" or "prefix on iface" for success, else the error text
	}{
		// Good.
		{n4 + "100/24", "", n4 + "100/24"},
		{" " + n4 + "100/24\t", "eth0", n4 + "100/24 on eth0"},
		{n4 + "100/32", "", n4 + "100/32"},
		{"192.0.2.6/30", "", "192.0.2.6/30"},
		{"192.0.2.0/31", "", "192.0.2.0/31"},
		{"192.0.2.1/31", "", "192.0.2.1/31"},
		{n6 + "100/64", "eth0", n6 + "100/64 on eth0"},
		{"FD00::ABC/128", "", "fd00::abc/128"},
		{n4 + "100", "", n4 + "100/24"},
		{n4 + "100", "eth0", n4 + "100/24 on eth0"},
		{n6 + "100", "", n6 + "100/64"},
		{"10.252.7.9", "eth0", "10.252.7.9/24 on eth0"}, // the longest of eth0's networks
		{"10.252.9.9", "x0", "10.252.9.9/16 on x0"},
		{"10.253.0.1/32", "eth0", "10.253.0.1/32 on eth0"},

		// Bad text.
		{"", "", "floating IP: no address given"},
		{"  ", "eth0", "floating IP: no address given"},
		{"abc", "", `floating IP "abc": not an IP address`},
		{"10.0.0.256", "", `floating IP "10.0.0.256": not an IP address`},
		{"abc/24", "", `floating IP "abc/24": "abc" is not an IP address`},
		{"10.0.0.1/", "", `floating IP "10.0.0.1/": prefix length "" is not a number`},
		{"10.0.0.1/x", "", `floating IP "10.0.0.1/x": prefix length "x" is not a number`},
		{"10.0.0.1/-1", "", `floating IP "10.0.0.1/-1": prefix length "-1" is not a number`},
		{"10.0.0.1/+8", "", `floating IP "10.0.0.1/+8": prefix length "+8" is not a number`},
		{"10.0.0.1/24/1", "", `floating IP "10.0.0.1/24/1": prefix length "24/1" is not a number`},
		{"10.0.0.1/0", "", `floating IP "10.0.0.1/0": prefix length 0 is out of range 1-32`},
		{"10.0.0.1/33", "", `floating IP "10.0.0.1/33": prefix length 33 is out of range 1-32`},
		{"10.0.0.1/99999999999999999999", "", `floating IP "10.0.0.1/99999999999999999999": prefix length 99999999999999999999 is out of range 1-32`},
		{"fd00::1/129", "", `floating IP "fd00::1/129": prefix length 129 is out of range 1-128`},

		// Addresses that cannot float.
		{"0.0.0.0/8", "", `floating IP "0.0.0.0/8": the unspecified address`},
		{"::/64", "", `floating IP "::/64": the unspecified address`},
		{"127.0.0.2/8", "", `floating IP "127.0.0.2/8": a loopback address`},
		{"::1/128", "", `floating IP "::1/128": a loopback address`},
		{"224.0.0.18/24", "", `floating IP "224.0.0.18/24": a multicast address`},
		{"ff02::1/64", "", `floating IP "ff02::1/64": a multicast address`},
		{"169.254.1.1/16", "", `floating IP "169.254.1.1/16": a link-local address`},
		{"fe80::1/64", "", `floating IP "fe80::1/64": a link-local address`},
		{"fd00::1%eth0/64", "", `floating IP "fd00::1%eth0/64": the zone "eth0" is not allowed; name the interface instead`},
		{"::ffff:10.0.0.1/120", "", `floating IP "::ffff:10.0.0.1/120": an IPv4-mapped IPv6 address; write it as 10.0.0.1`},
		{"255.255.255.255/32", "", `floating IP "255.255.255.255/32": the limited broadcast address`},
		{"10.0.0.0/24", "", `floating IP "10.0.0.0/24": the network address of 10.0.0.0/24`},
		{"10.0.0.255/24", "", `floating IP "10.0.0.255/24": the broadcast address of 10.0.0.0/24`},
		{"10.0.0.3/30", "", `floating IP "10.0.0.3/30": the broadcast address of 10.0.0.0/30`},
		{"fd00:1::/64", "", `floating IP "fd00:1::/64": the subnet-router anycast address of fd00:1::/64`},
		{n4 + "0", "", `floating IP "` + n4 + `0": the network address of ` + n4 + `0/24`},
		{n4 + "255", "eth0", `floating IP "` + n4 + `255": the broadcast address of ` + n4 + `0/24`},

		// Bad interface.
		{"10.0.0.1/24", "a/b", `floating IP "10.0.0.1/24": interface name "a/b" is not valid`},
		{"10.0.0.1/24", "eth0:1", `floating IP "10.0.0.1/24": interface name "eth0:1" is not valid`},
		{"10.0.0.1/24", "a b", `floating IP "10.0.0.1/24": interface name "a b" is not valid`},
		{"10.0.0.1/24", "..", `floating IP "10.0.0.1/24": interface name ".." is not valid`},
		{"10.0.0.1/24", "sixteen-chars-xx", `floating IP "10.0.0.1/24": interface name "sixteen-chars-xx" is not valid`},

		// Bare addresses without a connected network to take the prefix length from.
		{"10.254.0.5", "", `floating IP "10.254.0.5": no interface has a connected network containing it; give the prefix length`},
		{"10.254.0.5", "eth0", `floating IP "10.254.0.5": no connected network on eth0 contains it; give the prefix length`},
		{"10.253.0.1", "", `floating IP "10.253.0.1": no interface has a connected network containing it; give the prefix length`},
		{n4 + "100", "nosuch0", `floating IP "` + n4 + `100": link nosuch0 does not exist`},
		{"10.252.7.9", "", `floating IP "10.252.7.9": connected networks on several interfaces (eth0, x0) contain it; name the interface`},
	}
	mustIn(t, l.a.ns, func() error {
		for _, c := range cases {
			a, err := ParseAddress(c.s, c.iface)
			got := a.String()
			if err != nil {
				got = err.Error()
				if a != (Address{}) {
					t.Errorf("ParseAddress(%q, %q) returned %v with its error", c.s, c.iface, a)
				}
			}
			if got != c.want {
				t.Errorf("ParseAddress(%q, %q) = %q, want %q", c.s, c.iface, got, c.want)
			}
		}
		return nil
	})
}

// FuzzParseAddress: ParseAddress never panics, and what it accepts is an Address every other
// function accepts, which reads back the same from its own text.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"10.77.0.100/24", "fd00::100/64", "10.77.0.100", "fd00::100", "", "/", "1.2.3.4/", "::/0",
		"fe80::1%eth0/64", "::ffff:1.2.3.4/120", "1.2.3.4/999999999999", "1.2.3.4/024", "127.0.0.1",
		"0.0.0.0", "255.255.255.255", "10.0.0.0/8", "fd00::/8", "1.2.3.4/32/32", " 1.2.3.4/8 ",
	} {
		f.Add(s, "")
		f.Add(s, "eth0")
	}
	f.Add("1.2.3.4/8", "a/b")
	f.Add("1.2.3.4/8", "\x00")
	f.Fuzz(func(t *testing.T, s, iface string) {
		a, err := ParseAddress(s, iface)
		if err != nil {
			if a != (Address{}) {
				t.Fatalf("ParseAddress(%q, %q) = %v with error %v", s, iface, a, err)
			}
			if !strings.HasPrefix(err.Error(), "floating IP") {
				t.Fatalf("ParseAddress(%q, %q) error %q does not say what it is about", s, iface, err)
			}
			return
		}
		if err := a.valid(); err != nil {
			t.Fatalf("ParseAddress(%q, %q) = %v, which is not valid: %v", s, iface, a, err)
		}
		if a.Interface != iface {
			t.Fatalf("ParseAddress(%q, %q) changed the interface to %q", s, iface, a.Interface)
		}
		if !netip.MustParsePrefix(a.Prefix.String()).IsValid() {
			t.Fatalf("ParseAddress(%q, %q) = %v", s, iface, a)
		}
		again, err := ParseAddress(a.Prefix.String(), iface)
		if err != nil || again != a {
			t.Fatalf("ParseAddress(%q) = %v, %v; want %v", a.Prefix, again, err, a)
		}
	})
}
