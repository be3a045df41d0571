package fip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The probe of RFC 5227 (IPv4) and its IPv6 counterpart, the DAD neighbour solicitation.
const (
	probeCount = 3
	probeGap   = 100 * time.Millisecond
	probeWait  = 200 * time.Millisecond // listening after the last probe

	arpRequest = 1
	arpReply   = 2
)

// broadcastMAC is ff:ff:ff:ff:ff:ff; a function, not a variable, so the package keeps no
// mutable state.
func broadcastMAC() [6]byte { return [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }

// allNodesIP is ff02::1.
func allNodesIP() [16]byte { return [16]byte{0: 0xff, 1: 0x02, 15: 0x01} }

// InUse probes whether another host answers for the address: IPv4 an ARP probe (RFC 5227,
// sender IP 0.0.0.0) sent 3 times 100 ms apart, listening for a reply or a probe/announce from
// another MAC until ctx's deadline or the last probe + 200 ms; IPv6 a DAD neighbour
// solicitation from :: to the solicited-node multicast. Returns the answering MAC. An address
// already present on THIS host's interface is not "in use by another".
//
// Packets sent from any of this host's own interfaces are ignored, so the probe does not see
// its own frames, nor this host's own copy of the address. A deadline reached after the last
// probe went out ends the listening early and is not an error; one reached before that is,
// since fewer probes were sent than the answer stands for. The wait ends at once when ctx does.
func InUse(ctx context.Context, a Address) (net.HardwareAddr, bool, error) {
	if err := a.ready(ctx); err != nil {
		return nil, false, err
	}
	fail := func(err error) (net.HardwareAddr, bool, error) {
		return nil, false, fmt.Errorf("probing for %s: %w", a.Prefix, err)
	}
	link, err := a.resolve()
	if err != nil {
		return fail(err)
	}
	name, index := link.Attrs().Name, link.Attrs().Index
	mac, err := ethernetAddr(link)
	if err != nil {
		return fail(err)
	}
	own, err := ownMACs()
	if err != nil {
		return fail(err)
	}
	p, err := newProber(a.Prefix.Addr(), index, mac)
	if err != nil {
		return fail(fmt.Errorf("on %s: %w", name, err))
	}
	defer unix.Close(p.fd)
	wake, release, err := ctxEventfd(ctx)
	if err != nil {
		return fail(err)
	}
	defer release()

	buf := make([]byte, 2048)
	sent := 0
	var next, end time.Time
	for {
		now := time.Now()
		if sent < probeCount && !now.Before(next) {
			if err := p.send(); err != nil {
				return fail(fmt.Errorf("sending on %s: %w", name, err))
			}
			sent++
			next = now.Add(probeGap)
			if sent == probeCount {
				end = now.Add(probeWait)
			}
		}
		until := next
		if sent == probeCount {
			if !now.Before(end) {
				return nil, false, nil
			}
			until = end
		}
		fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
		ms := int((until.Sub(now) + time.Millisecond - 1) / time.Millisecond)
		if _, err := unix.Poll(fds, max(ms, 0)); err != nil && !errors.Is(err, unix.EINTR) {
			return fail(fmt.Errorf("poll: %w", err))
		}
		if fds[0].Revents != 0 {
			if who, err := p.receive(buf, own); err != nil {
				return fail(fmt.Errorf("receiving on %s: %w", name, err))
			} else if who != nil {
				return who, true, nil
			}
		}
		if fds[1].Revents != 0 {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) && sent == probeCount {
				return nil, false, nil
			}
			return fail(ctx.Err())
		}
	}
}

// prober sends one kind of probe on one link and recognises the answers to it.
type prober struct {
	fd    int
	index int
	addr  netip.Addr
	mac   [6]byte
	proto uint16
	dst   [6]byte // the link-layer destination of the probe
	probe []byte
}

func newProber(addr netip.Addr, index int, mac [6]byte) (*prober, error) {
	p := &prober{index: index, addr: addr, mac: mac}
	if addr.Is4() {
		p.proto, p.dst = unix.ETH_P_ARP, broadcastMAC()
		p.probe = arpPacket(arpRequest, mac, [4]byte{}, [6]byte{}, addr.As4())
	} else {
		target := addr.As16()
		group := solicitedNode(target)
		p.proto, p.dst = unix.ETH_P_IPV6, multicastMAC(group)
		// No source link-layer option: RFC 4861 forbids it when the source is ::.
		ns := make([]byte, 24)
		ns[0] = 135
		copy(ns[8:], target[:])
		p.probe = ipv6Packet([16]byte{}, group, ns)
	}
	fd, err := openPacket(index, p.proto)
	if err != nil {
		return nil, err
	}
	if addr.Is6() {
		if err := setup6(fd, index, p.dst); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	p.fd = fd
	return p, nil
}

// setup6 keeps only neighbour solicitations and advertisements on the socket, and joins the
// solicited-node group's MAC so that a rival's simultaneous DAD probe gets past a NIC's
// multicast filter.
func setup6(fd, index int, group [6]byte) error {
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 6, Size: 1}, // IPv6 next header
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.IPPROTO_ICMPV6, SkipTrue: 4},
		bpf.LoadAbsolute{Off: 40, Size: 1}, // ICMPv6 type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 135, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 136, SkipTrue: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		return err
	}
	filter := make([]unix.SockFilter, len(prog))
	for i, in := range prog {
		filter[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}); err != nil {
		return fmt.Errorf("attaching a socket filter: %w", err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(index), Type: unix.PACKET_MR_MULTICAST, Alen: 6}
	copy(mreq.Address[:], group[:])
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fmt.Errorf("joining %s: %w", net.HardwareAddr(group[:]), err)
	}
	return nil
}

func (p *prober) send() error {
	return sendTo(p.fd, p.index, p.proto, p.dst, p.probe)
}

// receive reads what is queued and returns the MAC of another host claiming the address.
func (p *prober) receive(buf []byte, own map[[6]byte]bool) (net.HardwareAddr, error) {
	for {
		n, from, err := unix.Recvfrom(p.fd, buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		// The socket sees this host's own frames going out, and until bind took effect, those
		// of other links.
		if !ok || ll.Ifindex != p.index || ll.Pkttype == unix.PACKET_OUTGOING {
			continue
		}
		var src [6]byte
		copy(src[:], ll.Addr[:6])
		var who [6]byte
		if p.addr.Is4() {
			who, ok = arpClaim(buf[:n], p.addr.As4())
		} else {
			who, ok = ndpClaim(buf[:n], p.addr.As16(), src)
		}
		if ok && !own[who] && !own[src] {
			return net.HardwareAddr(who[:]), nil
		}
	}
}

// arpClaim recognises the ARP packets that RFC 5227 §2.1.1 counts as a conflict: any whose
// sender IP is the address (a reply, an announcement, a request from its holder), and a probe
// for it (sender IP 0.0.0.0) from someone else probing at the same time.
func arpClaim(b []byte, addr [4]byte) ([6]byte, bool) {
	var sha [6]byte
	if len(b) < 28 || binary.BigEndian.Uint16(b[0:]) != unix.ARPHRD_ETHER ||
		binary.BigEndian.Uint16(b[2:]) != unix.ETH_P_IP || b[4] != 6 || b[5] != 4 {
		return sha, false
	}
	op := binary.BigEndian.Uint16(b[6:])
	copy(sha[:], b[8:14])
	spa, tpa := [4]byte(b[14:18]), [4]byte(b[24:28])
	switch {
	case spa == addr:
		return sha, true
	case spa == [4]byte{} && tpa == addr && op == arpRequest:
		return sha, true
	}
	return sha, false
}

// ndpClaim recognises a neighbour advertisement for the address (the answer to a DAD probe,
// or an announcement), and a DAD solicitation for it from someone probing at the same time.
// The MAC is the advertisement's target link-layer option, else the frame's source.
func ndpClaim(b []byte, addr [16]byte, src [6]byte) ([6]byte, bool) {
	if len(b) < 40+24 || b[0]>>4 != 6 || b[6] != unix.IPPROTO_ICMPV6 || b[7] != 255 {
		return src, false
	}
	plen := int(binary.BigEndian.Uint16(b[4:]))
	if plen < 24 || 40+plen > len(b) {
		return src, false
	}
	icmp := b[40 : 40+plen]
	if [16]byte(icmp[8:24]) != addr || icmp[1] != 0 {
		return src, false
	}
	switch icmp[0] {
	case 136:
		// Options: type, length in units of 8 bytes, data. Type 2 is the target link-layer address.
		for opts := icmp[24:]; len(opts) >= 8; {
			l := int(opts[1]) * 8
			if l == 0 || l > len(opts) {
				break
			}
			if opts[0] == 2 {
				return [6]byte(opts[2:8]), true
			}
			opts = opts[l:]
		}
		return src, true
	case 135:
		return src, [16]byte(b[8:24]) == [16]byte{}
	}
	return src, false
}

// Announce sends gratuitous ARP (both the request and the reply form, as keepalived does) or an
// unsolicited neighbour advertisement (override flag) count times, gap apart.
//
// The address must be on the interface: announcing an address this host does not hold would
// steal it. The ARP request is an RFC 5227 announcement (sender and target IP the address); the
// reply carries the sender's MAC as target MAC too, which is what Linux requires to take a reply
// as gratuitous. Both go to the broadcast MAC. The advertisement goes from the address to
// all-nodes with the target link-layer option, so a neighbour with an entry for the address
// replaces the MAC in it at once. Repeating the burst later is the caller's business: keepalived
// sends a second one 5 s on, for switches and hosts that missed the first.
func Announce(ctx context.Context, a Address, count int, gap time.Duration) error {
	if err := a.valid(); err != nil {
		return err
	}
	if count < 1 {
		return fmt.Errorf("announcing %s: count %d, want at least 1", a.Prefix, count)
	}
	if gap < 0 {
		return fmt.Errorf("announcing %s: negative gap %s", a.Prefix, gap)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("announcing %s: %w", a.Prefix, err) }
	link, err := a.resolve()
	if err != nil {
		return fail(err)
	}
	name, index := link.Attrs().Name, link.Attrs().Index
	if got, err := a.find(link); err != nil {
		return fail(err)
	} else if got == nil {
		return fail(fmt.Errorf("the address is not on %s", name))
	}
	mac, err := ethernetAddr(link)
	if err != nil {
		return fail(err)
	}
	type frame struct {
		proto uint16
		dst   [6]byte
		b     []byte
	}
	var frames []frame
	addr := a.Prefix.Addr()
	if addr.Is4() {
		ip := addr.As4()
		frames = []frame{
			{unix.ETH_P_ARP, broadcastMAC(), arpPacket(arpRequest, mac, ip, [6]byte{}, ip)},
			{unix.ETH_P_ARP, broadcastMAC(), arpPacket(arpReply, mac, ip, mac, ip)},
		}
	} else {
		ip := addr.As16()
		na := make([]byte, 32)
		na[0] = 136
		na[4] = 0x20 // override; neither router nor solicited
		copy(na[8:], ip[:])
		na[24], na[25] = 2, 1 // target link-layer address, 8 bytes
		copy(na[26:], mac[:])
		frames = []frame{{unix.ETH_P_IPV6, multicastMAC(allNodesIP()), ipv6Packet(ip, allNodesIP(), na)}}
	}
	// Protocol 0: a socket that only sends, and so queues nothing it would have to drain.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("opening a packet socket: %w", err))
	}
	defer unix.Close(fd)
	var t *time.Timer
	for i := range count {
		if i > 0 {
			if t == nil {
				t = time.NewTimer(gap)
				defer t.Stop()
			} else {
				t.Reset(gap)
			}
			select {
			case <-ctx.Done():
				return fail(fmt.Errorf("after %d of %d: %w", i, count, ctx.Err()))
			case <-t.C:
			}
		}
		for _, f := range frames {
			if err := sendTo(fd, index, f.proto, f.dst, f.b); err != nil {
				return fail(fmt.Errorf("sending on %s: %w", name, err))
			}
		}
	}
	return nil
}

// arpPacket is an Ethernet/IPv4 ARP packet, without the Ethernet header.
func arpPacket(op uint16, sha [6]byte, spa [4]byte, tha [6]byte, tpa [4]byte) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:], unix.ARPHRD_ETHER)
	binary.BigEndian.PutUint16(b[2:], unix.ETH_P_IP)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:], op)
	copy(b[8:], sha[:])
	copy(b[14:], spa[:])
	copy(b[18:], tha[:])
	copy(b[24:], tpa[:])
	return b
}

// ipv6Packet wraps an ICMPv6 message, filling its checksum in, in an IPv6 header with the hop
// limit 255 that neighbour discovery requires.
func ipv6Packet(src, dst [16]byte, icmp []byte) []byte {
	b := make([]byte, 40+len(icmp))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(icmp)))
	b[6], b[7] = unix.IPPROTO_ICMPV6, 255
	copy(b[8:], src[:])
	copy(b[24:], dst[:])
	m := b[40:]
	copy(m, icmp)
	m[2], m[3] = 0, 0
	binary.BigEndian.PutUint16(m[2:], icmp6Checksum(src, dst, m))
	return b
}

// icmp6Checksum is the Internet checksum over the IPv6 pseudo-header and the message.
func icmp6Checksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for len(b) >= 2 {
			sum += uint32(b[0])<<8 | uint32(b[1])
			b = b[2:]
		}
		if len(b) == 1 {
			sum += uint32(b[0]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var tail [8]byte
	binary.BigEndian.PutUint32(tail[:], uint32(len(msg)))
	tail[7] = unix.IPPROTO_ICMPV6
	add(tail[:])
	add(msg)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// solicitedNode is ff02::1:ffXX:XXXX for an address ending in XX:XXXX.
func solicitedNode(addr [16]byte) [16]byte {
	g := [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff}
	copy(g[13:], addr[13:])
	return g
}

// multicastMAC is 33:33 and the group's last 32 bits.
func multicastMAC(group [16]byte) [6]byte {
	return [6]byte{0x33, 0x33, group[12], group[13], group[14], group[15]}
}

// openPacket opens a packet socket for one protocol, bound to one link. SOCK_DGRAM: the kernel
// writes and strips the Ethernet header.
func openPacket(index int, proto uint16) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(proto)))
	if err != nil {
		return -1, fmt.Errorf("opening a packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: index}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("binding a packet socket: %w", err)
	}
	return fd, nil
}

func sendTo(fd, index int, proto uint16, dst [6]byte, b []byte) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: index, Halen: 6}
	copy(sa.Addr[:], dst[:])
	return unix.Sendto(fd, b, 0, sa)
}

// htons: packet sockets take the protocol in network byte order.
func htons(v uint16) uint16 {
	return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v))
}

// ethernetAddr is the link's MAC, which probes and announcements need.
func ethernetAddr(link netlink.Link) ([6]byte, error) {
	hw := link.Attrs().HardwareAddr
	if len(hw) != 6 || bytes.Equal(hw, make([]byte, 6)) {
		return [6]byte{}, fmt.Errorf("link %s has no Ethernet address", link.Attrs().Name)
	}
	return [6]byte(hw), nil
}

// ownMACs is the MAC of every interface of this host (of this network namespace).
func ownMACs() (map[[6]byte]bool, error) {
	links, err := netlink.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	own := map[[6]byte]bool{}
	for _, l := range links {
		if hw := l.Attrs().HardwareAddr; len(hw) == 6 {
			own[[6]byte(hw)] = true
		}
	}
	return own, nil
}

// ctxEventfd returns an eventfd that becomes readable when ctx ends, so that a poll can wait
// for packets and for ctx at once. release must be called; it returns once nothing can write to
// the descriptor any more and closes it.
func ctxEventfd(ctx context.Context) (int, func(), error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, nil, fmt.Errorf("eventfd: %w", err)
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(fd, one[:])
	})
	return fd, func() {
		if !stop() {
			<-done
		}
		unix.Close(fd)
	}, nil
}
