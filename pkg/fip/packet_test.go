package fip

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// TestPackets checks the frames byte by byte, and the ICMPv6 checksum against x/net's.
func TestPackets(t *testing.T) {
	mac := [6]byte{2, 0, 0, 0, 0, 1}
	ip := [4]byte{10, 77, 0, 100}
	req := arpPacket(arpRequest, mac, ip, [6]byte{}, ip)
	want := []byte{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 77, 0, 100, 0, 0, 0, 0, 0, 0, 10, 77, 0, 100}
	if !bytes.Equal(req, want) {
		t.Errorf("gratuitous ARP request = % x, want % x", req, want)
	}
	rep := arpPacket(arpReply, mac, ip, mac, ip)
	if rep[7] != 2 || !bytes.Equal(rep[18:24], mac[:]) {
		t.Errorf("gratuitous ARP reply = % x: want op 2 and the target MAC the sender's", rep)
	}

	target := netip.MustParseAddr("fd00::abcd:1234").As16()
	group := solicitedNode(target)
	if got := netip.AddrFrom16(group).String(); got != "ff02::1:ffcd:1234" {
		t.Errorf("solicited-node group = %s", got)
	}
	if got := multicastMAC(group); got != [6]byte{0x33, 0x33, 0xff, 0xcd, 0x12, 0x34} {
		t.Errorf("its MAC = % x", got)
	}
	body := make([]byte, 24)
	body[0] = 135
	copy(body[8:], target[:])
	pkt := ipv6Packet([16]byte{}, group, body)
	if pkt[0]>>4 != 6 || pkt[6] != 58 || pkt[7] != 255 || binary.BigEndian.Uint16(pkt[4:]) != 24 {
		t.Errorf("IPv6 header = % x", pkt[:40])
	}
	// x/net computes the checksum itself when given the pseudo-header.
	m := icmp.Message{Type: ipv6.ICMPTypeNeighborSolicitation, Body: &icmp.RawBody{Data: body[4:]}}
	ref, err := m.Marshal(icmp.IPv6PseudoHeader(netip.IPv6Unspecified().AsSlice(), netip.AddrFrom16(group).AsSlice()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pkt[40:], ref) {
		t.Errorf("neighbour solicitation = % x, x/net makes % x", pkt[40:], ref)
	}
}

// TestClaims: which received packets count as another host claiming the address.
func TestClaims(t *testing.T) {
	ip, other := [4]byte{10, 0, 0, 5}, [4]byte{10, 0, 0, 6}
	them := [6]byte{2, 0, 0, 0, 0, 9}
	arp := []struct {
		name string
		b    []byte
		want bool
	}{
		{"reply from the holder", arpPacket(arpReply, them, ip, [6]byte{}, [4]byte{}), true},
		{"announcement", arpPacket(arpRequest, them, ip, [6]byte{}, ip), true},
		{"simultaneous probe", arpPacket(arpRequest, them, [4]byte{}, [6]byte{}, ip), true},
		{"someone asking for it", arpPacket(arpRequest, them, other, [6]byte{}, ip), false},
		{"probe for another address", arpPacket(arpRequest, them, [4]byte{}, [6]byte{}, other), false},
		{"truncated", arpPacket(arpReply, them, ip, [6]byte{}, ip)[:27], false},
	}
	for _, c := range arp {
		if who, ok := arpClaim(c.b, ip); ok != c.want || ok && who != them {
			t.Errorf("ARP %s: claim = %v, %x", c.name, ok, who)
		}
	}

	ip6 := netip.MustParseAddr("fd00::5").As16()
	src := [6]byte{2, 0, 0, 0, 0, 7}
	na := func(opt bool) []byte {
		b := make([]byte, 24, 32)
		b[0] = 136
		copy(b[8:], ip6[:])
		if opt {
			b = append(b, 2, 1)
			b = append(b, them[:]...)
		}
		return ipv6Packet(netip.MustParseAddr("fd00::5").As16(), allNodesIP(), b)
	}
	ns := func(from [16]byte) []byte {
		b := make([]byte, 24)
		b[0] = 135
		copy(b[8:], ip6[:])
		return ipv6Packet(from, solicitedNode(ip6), b)
	}
	hop254 := na(true)
	hop254[7] = 254
	nd := []struct {
		name string
		b    []byte
		want bool
		who  [6]byte
	}{
		{"advertisement with target link-layer option", na(true), true, them},
		{"advertisement without options", na(false), true, src},
		{"simultaneous DAD", ns([16]byte{}), true, src},
		{"address resolution", ns(netip.MustParseAddr("fd00::9").As16()), false, src},
		{"hop limit not 255", hop254, false, src},
		{"truncated", na(true)[:60], false, src},
	}
	for _, c := range nd {
		if who, ok := ndpClaim(c.b, ip6, src); ok != c.want || ok && who != c.who {
			t.Errorf("NDP %s: claim = %v, %x", c.name, ok, who)
		}
	}
}
