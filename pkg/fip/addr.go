package fip

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addPoll is how often Add looks for the address it has just asked for.
const addPoll = 10 * time.Millisecond

// Add adds the address (idempotent; IPv6 with IFA_F_NODAD so it is usable at once) and returns
// once it is present.
//
// The kernel's "replace" request is used, so adding an address that is already there succeeds
// and leaves one copy of it. Duplicate address detection is skipped on purpose: InUse is the
// check to run first, and a tentative address would refuse traffic for a second or more.
func Add(ctx context.Context, a Address) error {
	if err := a.ready(ctx); err != nil {
		return err
	}
	link, err := a.resolve()
	if err != nil {
		return fmt.Errorf("adding %s: %w", a.Prefix, err)
	}
	name := link.Attrs().Name
	na := &netlink.Addr{IPNet: a.ipNet(), LinkIndex: link.Attrs().Index}
	if a.Prefix.Addr().Is6() {
		na.Flags = unix.IFA_F_NODAD
	}
	if err := netlink.AddrReplace(nil, na); err != nil {
		return fmt.Errorf("adding %s to %s: %w", a.Prefix, name, err)
	}
	// The kernel has the address once it acknowledges the request; looking it up confirms it
	// and catches a link that dropped it again at once (an IPv6 address on a link going down).
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("adding %s to %s: %w", a.Prefix, name, ctx.Err())
		case <-t.C:
		}
		got, err := a.find(link)
		if err != nil {
			return fmt.Errorf("adding %s: %w", a.Prefix, err)
		}
		if got != nil && got.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
			return nil
		}
		t.Reset(addPoll)
	}
}

// Remove deletes the address; absent is fine. Must be fast (one netlink call): it is the first
// thing fencing does.
//
// With the interface named, Remove looks its index up with an ioctl and sends one RTM_DELADDR.
// Without one it lists the addresses of the family and deletes the floating IP from every link
// that holds it (normally one): two netlink calls. An interface that no longer exists holds no
// address, so that is not an error either. Only the exact prefix is removed: the same address
// configured with another prefix length is someone else's.
func Remove(ctx context.Context, a Address) error {
	if err := a.ready(ctx); err != nil {
		return err
	}
	if a.Interface != "" {
		index, err := ifIndex(a.Interface)
		if errors.Is(err, unix.ENODEV) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("removing %s: looking up %s: %w", a.Prefix, a.Interface, err)
		}
		return a.del(index, a.Interface)
	}
	addrs, err := netlink.AddrList(nil, a.family())
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return fmt.Errorf("removing %s: listing addresses: %w", a.Prefix, err)
	}
	var errs []error
	for _, la := range addrs {
		if la.IPNet == nil {
			continue
		}
		if p, ok := toPrefix(la.IPNet); ok && p == a.Prefix {
			errs = append(errs, a.del(la.LinkIndex, fmt.Sprintf("ifindex %d", la.LinkIndex)))
		}
	}
	return errors.Join(errs...)
}

// del sends the one RTM_DELADDR.
func (a Address) del(index int, name string) error {
	err := netlink.AddrDel(nil, &netlink.Addr{IPNet: a.ipNet(), LinkIndex: index})
	if err == nil || errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return fmt.Errorf("removing %s from %s: %w", a.Prefix, name, err)
}

// ifIndex is if_nametoindex: an ioctl, not a netlink exchange. The socket is opened in the
// calling thread's network namespace, which is the one the ioctl looks in.
func ifIndex(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}

// Check is the fipw monitor: the address is present on the interface and the link is up with
// carrier. Errors like "address 10.77.0.100/24 is not on eth0" / "link eth0 is down".
//
// The link is looked at first: an IPv6 address vanishes with its link, and "link eth0 is down"
// then names the cause rather than the symptom.
func Check(ctx context.Context, a Address) error {
	if err := a.ready(ctx); err != nil {
		return err
	}
	link, err := a.resolve()
	if err != nil {
		return err
	}
	attrs := link.Attrs()
	if err := CheckLink(link, attrs.Name); err != nil {
		return err
	}
	got, err := a.find(link)
	if err != nil {
		return err
	}
	switch {
	case got == nil:
		return fmt.Errorf("address %s is not on %s", a.Prefix, attrs.Name)
	case got.Flags&unix.IFA_F_DADFAILED != 0:
		return fmt.Errorf("address %s on %s failed duplicate address detection", a.Prefix, attrs.Name)
	case got.Flags&unix.IFA_F_TENTATIVE != 0:
		return fmt.Errorf("address %s on %s is tentative (duplicate address detection is running)", a.Prefix, attrs.Name)
	}
	return nil
}

// ready checks what every operation needs before it touches the network.
func (a Address) ready(ctx context.Context) error {
	if err := a.valid(); err != nil {
		return err
	}
	return ctx.Err()
}
