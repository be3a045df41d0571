package seed000

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/test/netlab"
)

// holders samples, every 10 ms, which servers hold each floating address (on eth0), have each
// shared disk mounted (the machine's mountinfo: the lab servers share its mount namespace, each
// with a mount point of its own), and have the pre-started service active (its state file). Two
// holders of one thing at once is the failure these tests look for.
type holders struct {
	servers []*netlab.Host
	addrs   map[string]netip.Addr // key → address
	mounts  map[string][]string   // key → mount point of each server, in servers' order
	files   map[string][]string   // key → state file of each server
	socks   []int                 // a NETLINK_ROUTE socket in each server's namespace
	seq     uint32                // of the last dump; only the sampling goroutine uses it

	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	cur     map[string][]string
	changes map[string][]holding
	doubles []string
	errs    []string
	scans   int
	maxGap  time.Duration
}

// holding is a key's holders from a scan on.
type holding struct {
	at    time.Time
	hosts []string
}

func startHolders(tb testing.TB, servers []*netlab.Host, addrs map[string]netip.Addr, mounts, files map[string][]string) *holders {
	tb.Helper()
	h := &holders{servers: servers, addrs: addrs, mounts: mounts, files: files,
		stop: make(chan struct{}), done: make(chan struct{}), cur: map[string][]string{}, changes: map[string][]holding{}}
	for _, s := range servers {
		fd, err := netlinkIn(s)
		if err != nil {
			h.closeSocks()
			tb.Fatalf("a netlink socket in %s: %v", s.Name, err)
		}
		h.socks = append(h.socks, fd)
	}
	go h.run()
	tb.Cleanup(h.Stop)
	return h
}

// Stop ends the sampling and closes the sockets (which hold the namespaces).
func (h *holders) Stop() {
	h.once.Do(func() { close(h.stop) })
	<-h.done
}

func (h *holders) closeSocks() {
	for _, fd := range h.socks {
		unix.Close(fd)
	}
	h.socks = nil
}

func (h *holders) run() {
	defer close(h.done)
	defer h.closeSocks()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var last time.Time
	for {
		now := time.Now()
		seen, err := h.scan()
		h.record(now, last, seen, err)
		last = now
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
	}
}

func (h *holders) scan() (map[string][]string, error) {
	seen := map[string][]string{}
	h.seq++
	for i, s := range h.servers {
		have, err := dumpAddrs(h.socks[i], h.seq)
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", s.Name, err)
		}
		for key, a := range h.addrs {
			if have[a] {
				seen[key] = append(seen[key], s.Name)
			}
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	for key, points := range h.mounts {
		for i, p := range points {
			if strings.Contains(string(mi), " "+p+" ") {
				seen[key] = append(seen[key], h.servers[i].Name)
			}
		}
	}
	for key, paths := range h.files {
		for i, p := range paths {
			if _, err := os.Stat(p); err == nil {
				seen[key] = append(seen[key], h.servers[i].Name)
			}
		}
	}
	return seen, nil
}

func (h *holders) record(now, last time.Time, seen map[string][]string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.errs = append(h.errs, err.Error())
		return
	}
	h.scans++
	if !last.IsZero() {
		h.maxGap = max(h.maxGap, now.Sub(last))
	}
	for _, key := range h.keys() {
		hosts := seen[key]
		if len(h.changes[key]) > 0 && slices.Equal(h.cur[key], hosts) {
			continue
		}
		h.cur[key] = hosts
		h.changes[key] = append(h.changes[key], holding{now, hosts})
		if len(hosts) > 1 {
			h.doubles = append(h.doubles, fmt.Sprintf("%s %s on %v", now.Format("15:04:05.000"), key, hosts))
		}
	}
}

func (h *holders) keys() []string {
	var out []string
	for k := range h.addrs {
		out = append(out, k)
	}
	for k := range h.mounts {
		out = append(out, k)
	}
	for k := range h.files {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Doubles are the moments something was held by two servers at once; Errs the scans that failed.
func (h *holders) Doubles() (doubles, errs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.doubles), slices.Clone(h.errs)
}

// Now returns the servers holding key at the last scan.
func (h *holders) Now(key string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.cur[key])
}

// History renders key's changes since after.
func (h *holders) History(key string, after time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, c := range h.changes[key] {
		if !c.at.Before(after) {
			fmt.Fprintf(&b, " %s:%v", c.at.Format("15:04:05.000"), c.hosts)
		}
	}
	return key + b.String()
}

// Stats are the scans so far and the longest time between two.
func (h *holders) Stats() (int, time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.scans, h.maxGap
}

// netlinkIn opens a NETLINK_ROUTE socket inside the server's network namespace: a socket belongs
// to the namespace it was made in, and keeps it for its binding and options.
func netlinkIn(h *netlab.Host) (int, error) {
	fd, err := -1, error(nil)
	if nerr := h.Within(func() {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	}); nerr != nil {
		return -1, nerr
	}
	if err != nil {
		return fd, err
	}
	tv := unix.Timeval{Sec: 1}
	err = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err == nil {
		err = unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	}
	if err != nil {
		unix.Close(fd)
	}
	return fd, err
}

// dumpAddrs lists the IPv4 addresses of the socket's namespace (RTM_GETADDR dump); seq tells
// this dump's answers from a late one's.
func dumpAddrs(fd int, seq uint32) (map[netip.Addr]bool, error) {
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfAddrmsg)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.RTM_GETADDR)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], seq)
	req[unix.SizeofNlMsghdr] = unix.AF_INET
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	out := map[netip.Addr]bool{}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				return nil, fmt.Errorf("netlink error reply")
			case unix.RTM_NEWADDR:
				attrs, err := syscall.ParseNetlinkRouteAttr(&m)
				if err != nil {
					return nil, err
				}
				for _, a := range attrs {
					if a.Attr.Type == unix.IFA_LOCAL && len(a.Value) == 4 {
						out[netip.AddrFrom4([4]byte(a.Value))] = true
					}
				}
			}
		}
	}
}
