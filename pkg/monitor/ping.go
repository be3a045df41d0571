package monitor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Ping is ipw: at least one of the addresses (IPv4 or IPv6 literals, an IPv6 one with an
// optional %zone) must answer an ICMP echo.
type Ping struct {
	Addresses []string
}

// pingEvery is how often the echo requests are sent again within one check: a request lost
// while a neighbour entry was being resolved must not fail the check.
const pingEvery = 500 * time.Millisecond

// target is one address to ping.
type target struct {
	text string // as configured, for messages
	addr netip.Addr
	v6   bool
	err  error // the last error sending to it
}

// Check sends echo requests to every address at once and returns nil as soon as any answers,
// or an error naming them all at ctx's deadline. It uses raw sockets (clpd runs as root), which
// see every ICMP packet of the host, so replies are matched by an ID drawn for this check and
// by a sequence number that names the address. The sockets are opened in the calling
// goroutine's network namespace.
func (p Ping) Check(ctx context.Context) error {
	if len(p.Addresses) == 0 {
		return errors.New("ping: no address to ping")
	}
	targets := make([]*target, len(p.Addresses))
	var want4, want6 bool
	for i, a := range p.Addresses {
		addr, err := netip.ParseAddr(strings.TrimSpace(a))
		if err != nil {
			return fmt.Errorf("ping: %q is not an IP address", a)
		}
		addr = addr.Unmap()
		t := &target{text: a, addr: addr, v6: addr.Is6()}
		targets[i] = t
		want4 = want4 || !t.v6
		want6 = want6 || t.v6
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	id := rand.N(1 << 16)
	answered := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	var c4, c6 *icmp.PacketConn
	if want4 {
		c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return fmt.Errorf("ping: opening an ICMP socket: %w", err)
		}
		defer c.Close()
		c4 = c
		wg.Go(func() { readReplies(c, 1, ipv4.ICMPTypeEchoReply, id, targets, answered) })
	}
	if want6 {
		c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
		if err != nil {
			return fmt.Errorf("ping: opening an ICMPv6 socket: %w", err)
		}
		defer c.Close()
		c6 = c
		// A raw ICMPv6 socket also gets every neighbour discovery packet; let the kernel drop them.
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeEchoReply)
		_ = c.IPv6PacketConn().SetICMPFilter(&f)
		wg.Go(func() { readReplies(c, 58, ipv6.ICMPTypeEchoReply, id, targets, answered) })
	}
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	for round := 0; ; round++ {
		for i, t := range targets {
			msg := icmp.Message{
				Type: ipv4.ICMPTypeEcho,
				Body: &icmp.Echo{ID: id, Seq: (round*len(targets) + i) & 0xffff, Data: []byte("clpkit ipw probe")},
			}
			c := c4
			if t.v6 {
				msg.Type, c = ipv6.ICMPTypeEchoRequest, c6
			}
			// For ICMPv6 the kernel fills the checksum in, so no pseudo-header is needed.
			b, err := msg.Marshal(nil)
			if err == nil {
				_, err = c.WriteTo(b, &net.IPAddr{IP: t.addr.AsSlice(), Zone: t.addr.Zone()})
			}
			t.err = err
		}
		select {
		case <-answered:
			return nil
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("ping: %w", ctx.Err())
			}
			return noReply(targets, human(time.Since(start)))
		case <-tick.C:
		}
	}
}

// readReplies reads until c is closed and signals answered on an echo reply that answers this
// check: its ID, and a sequence number sent to the address the reply comes from.
func readReplies(c *icmp.PacketConn, proto int, reply icmp.Type, id int, targets []*target, answered chan<- struct{}) {
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || echo.ID != id {
			continue
		}
		ip, ok := from.(*net.IPAddr)
		if !ok {
			continue
		}
		src, ok := netip.AddrFromSlice(ip.IP)
		if !ok || src.Unmap() != targets[echo.Seq%len(targets)].addr.WithZone("") {
			continue
		}
		select {
		case answered <- struct{}{}:
		default:
		}
	}
}

// noReply names every address, and why sending failed where it did, since "network is
// unreachable" points the operator somewhere else than silence does.
func noReply(targets []*target, took time.Duration) error {
	names := make([]string, len(targets))
	var why []string
	for i, t := range targets {
		names[i] = t.text
		if t.err != nil {
			err := t.err
			// "write ip4 0.0.0.0->192.0.2.1: sendto: ..." would repeat the address.
			if oe, ok := errors.AsType[*net.OpError](err); ok {
				err = oe.Err
			}
			why = append(why, fmt.Sprintf("%s: %v", t.text, err))
		}
	}
	msg := fmt.Sprintf("no reply from %s within %s", strings.Join(names, ", "), took)
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return errors.New(msg)
}
