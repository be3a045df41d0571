// Package fip adds and removes a floating IP address on this server: it checks no one else
// answers on it first, announces it so the network's ARP caches move at once, and removes it
// fast when the server is fenced.
//
// Every function works in the network namespace of the calling thread. Netlink and packet
// sockets are opened by the calling goroutine and by no other, so a caller whose goroutine is
// locked to an OS thread moved into a server's namespace with setns acts on that namespace's
// interfaces. The package holds no state between calls.
package fip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Address is a floating IP address and the interface it lives on.
type Address struct {
	Prefix    netip.Prefix // e.g. 10.77.0.100/24 or fd00::100/64
	Interface string       // "" = the interface whose connected network contains the address (error if none or several)
}

// String is "10.77.0.100/24 on eth0", or the prefix alone when no interface is named.
func (a Address) String() string {
	if a.Interface == "" {
		return a.Prefix.String()
	}
	return a.Prefix.String() + " on " + a.Interface
}

// ParseAddress reads "10.77.0.100/24", "fd00::100/64" or a bare address. A bare address takes
// the prefix length of the connected network that contains it: on iface when iface is given,
// otherwise on whichever single interface has one. That lookup is made in the calling thread's
// network namespace. The returned Address keeps iface as given, so an empty one is resolved
// again by every call that uses it.
func ParseAddress(s, iface string) (Address, error) {
	fail := func(format string, args ...any) (Address, error) {
		return Address{}, fmt.Errorf("floating IP %q: %s", s, fmt.Sprintf(format, args...))
	}
	text := strings.TrimSpace(s)
	if text == "" {
		return Address{}, errors.New("floating IP: no address given")
	}
	if iface != "" && !validIfName(iface) {
		return fail("interface name %q is not valid", iface)
	}
	addrText, bitsText, hasBits := strings.Cut(text, "/")
	addr, err := netip.ParseAddr(addrText)
	if err != nil {
		if hasBits {
			return fail("%q is not an IP address", addrText)
		}
		return fail("not an IP address")
	}
	if why := addrProblem(addr); why != "" {
		return fail("%s", why)
	}
	if hasBits {
		bits, ok := parseBits(bitsText)
		if !ok {
			return fail("prefix length %q is not a number", bitsText)
		}
		if bits < 1 || bits > addr.BitLen() {
			return fail("prefix length %s is out of range 1-%d", bitsText, addr.BitLen())
		}
		p := netip.PrefixFrom(addr, bits)
		if why := prefixProblem(p); why != "" {
			return fail("%s", why)
		}
		return Address{Prefix: p, Interface: iface}, nil
	}
	nets, err := connected(addr, iface)
	if err != nil {
		return fail("%v", err)
	}
	switch len(nets) {
	case 0:
		if iface != "" {
			return fail("no connected network on %s contains it; give the prefix length", iface)
		}
		return fail("no interface has a connected network containing it; give the prefix length")
	case 1:
	default:
		return fail("connected networks on several interfaces (%s) contain it; name the interface", joinNames(nets))
	}
	p := netip.PrefixFrom(addr, nets[0].network.Bits())
	if why := prefixProblem(p); why != "" {
		return fail("%s", why)
	}
	return Address{Prefix: p, Interface: iface}, nil
}

// parseBits reads a decimal prefix length: digits only, no sign. ok is false when s is not a
// number; a number too long to be a prefix length comes back as 1000, out of every range.
func parseBits(s string) (bits int, ok bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	if len(s) > 3 {
		return 1000, true
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// addrProblem says why addr cannot be a floating IP, or "".
func addrProblem(addr netip.Addr) string {
	switch {
	case addr.Zone() != "":
		return fmt.Sprintf("the zone %q is not allowed; name the interface instead", addr.Zone())
	case addr.Is4In6():
		return fmt.Sprintf("an IPv4-mapped IPv6 address; write it as %s", addr.Unmap())
	case addr.IsUnspecified():
		return "the unspecified address"
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsMulticast():
		return "a multicast address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address"
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the limited broadcast address"
	}
	return ""
}

// prefixProblem says why p's address, though a unicast address, cannot be a floating IP in
// p's network, or "".
func prefixProblem(p netip.Prefix) string {
	addr, bits := p.Addr(), p.Bits()
	network := p.Masked()
	switch {
	case addr.Is4() && bits <= 30 && addr == network.Addr():
		return "the network address of " + network.String()
	case addr.Is4() && bits <= 30 && addr == lastAddr(p):
		return "the broadcast address of " + network.String()
	case addr.Is6() && bits <= 126 && addr == network.Addr():
		return "the subnet-router anycast address of " + network.String()
	}
	return ""
}

// lastAddr is the highest address of p's network.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// validIfName is the kernel's dev_valid_name.
func validIfName(name string) bool {
	if name == "" || len(name) >= unix.IFNAMSIZ || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsFunc(name, func(r rune) bool {
		return r == '/' || r == ':' || r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0
	})
}

// valid checks an Address built by hand the way ParseAddress checks text.
func (a Address) valid() error {
	if !a.Prefix.IsValid() {
		return errors.New("floating IP: no address given")
	}
	if why := addrProblem(a.Prefix.Addr()); why != "" {
		return fmt.Errorf("floating IP %s: %s", a.Prefix, why)
	}
	if a.Prefix.Bits() < 1 {
		return fmt.Errorf("floating IP %s: prefix length 0 is out of range 1-%d", a.Prefix, a.Prefix.Addr().BitLen())
	}
	if why := prefixProblem(a.Prefix); why != "" {
		return fmt.Errorf("floating IP %s: %s", a.Prefix, why)
	}
	if a.Interface != "" && !validIfName(a.Interface) {
		return fmt.Errorf("floating IP %s: interface name %q is not valid", a.Prefix, a.Interface)
	}
	return nil
}

// family is the netlink address family of a.
func (a Address) family() int {
	if a.Prefix.Addr().Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// ipNet is a.Prefix for netlink: the address itself, not its network.
func (a Address) ipNet() *net.IPNet {
	addr := a.Prefix.Addr()
	return &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(a.Prefix.Bits(), addr.BitLen())}
}

// network is one connected network that contains an address.
type network struct {
	link    string
	index   int
	network netip.Prefix
}

// connected returns, per interface (only iface when it is not ""), the longest connected
// network that contains addr. A host-length prefix (/32, /128) is one address, not a network,
// so a floating IP added that way does not count as its own network.
func connected(addr netip.Addr, iface string) ([]network, error) {
	family := netlink.FAMILY_V4
	if addr.Is6() {
		family = netlink.FAMILY_V6
	}
	var link netlink.Link
	if iface != "" {
		l, err := LinkByName(iface)
		if err != nil {
			return nil, err
		}
		link = l
	}
	addrs, err := netlink.AddrList(link, family)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	best := map[int]netip.Prefix{}
	for _, la := range addrs {
		if la.IPNet == nil {
			continue
		}
		p, ok := toPrefix(la.IPNet)
		if !ok || p.IsSingleIP() || !p.Contains(addr) {
			continue
		}
		if old, seen := best[la.LinkIndex]; !seen || p.Bits() > old.Bits() {
			best[la.LinkIndex] = p.Masked()
		}
	}
	var out []network
	for index, p := range best {
		name := iface
		if name == "" {
			l, err := netlink.LinkByIndex(index)
			if err != nil {
				name = fmt.Sprintf("ifindex %d", index)
			} else {
				name = l.Attrs().Name
			}
		}
		out = append(out, network{link: name, index: index, network: p})
	}
	slices.SortFunc(out, func(x, y network) int { return strings.Compare(x.link, y.link) })
	return out, nil
}

func joinNames(nets []network) string {
	names := make([]string, len(nets))
	for i, n := range nets {
		names[i] = n.link
	}
	return strings.Join(names, ", ")
}

// toPrefix converts a netlink address (the address and its prefix length) to a Prefix.
func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	addr = addr.Unmap()
	bits, total := n.Mask.Size()
	if total == 0 || total != addr.BitLen() && !(total == 128 && addr.Is4()) {
		return netip.Prefix{}, false
	}
	if total == 128 && addr.Is4() {
		bits -= 96
	}
	return netip.PrefixFrom(addr, bits), true
}

// resolve finds the link a lives on: the named one, or the one whose connected network holds it.
func (a Address) resolve() (netlink.Link, error) {
	if a.Interface != "" {
		return LinkByName(a.Interface)
	}
	addr := a.Prefix.Addr()
	nets, err := connected(addr, "")
	if err != nil {
		return nil, err
	}
	switch len(nets) {
	case 0:
		return nil, fmt.Errorf("no interface has a connected network containing %s; name the interface", addr)
	case 1:
	default:
		return nil, fmt.Errorf("connected networks on several interfaces (%s) contain %s; name the interface", joinNames(nets), addr)
	}
	l, err := netlink.LinkByIndex(nets[0].index)
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", nets[0].link, err)
	}
	return l, nil
}

// find returns the address a on link, or nil when it is not there.
func (a Address) find(link netlink.Link) (*netlink.Addr, error) {
	addrs, err := netlink.AddrList(link, a.family())
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("listing the addresses of %s: %w", link.Attrs().Name, err)
	}
	for i, la := range addrs {
		if la.IPNet == nil {
			continue
		}
		if p, ok := toPrefix(la.IPNet); ok && p == a.Prefix {
			return &addrs[i], nil
		}
	}
	return nil, nil
}

// Resolve returns a with its interface named: the one given, or the only interface whose
// connected network contains the address. The guard needs it named: it removes the address with
// no one left to look it up.
func (a Address) Resolve() (Address, error) {
	if a.Interface != "" {
		return a, nil
	}
	nets, err := connected(a.Prefix.Addr(), "")
	if err != nil {
		return a, err
	}
	switch len(nets) {
	case 0:
		return a, fmt.Errorf("no interface has a connected network containing %s: name one", a.Prefix.Addr())
	case 1:
		a.Interface = nets[0].link
		return a, nil
	}
	names := make([]string, len(nets))
	for i, n := range nets {
		names[i] = n.link
	}
	return a, fmt.Errorf("several interfaces have a connected network containing %s (%s): name one", a.Prefix.Addr(), strings.Join(names, ", "))
}
