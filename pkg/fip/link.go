package fip

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// LinkByName looks a link up, with "link eth0 does not exist" when it does not.
func LinkByName(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
			return nil, fmt.Errorf("link %s does not exist", name)
		}
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	return l, nil
}

// CheckLink says why link cannot carry traffic, calling it name ("link eth0 is down (no
// carrier)"), or returns nil when it can: administratively up, with a carrier and
// operationally up. It is both the link half of the fipw monitor and the miiw monitor.
func CheckLink(link netlink.Link, name string) error {
	a := link.Attrs()
	switch {
	case a.Flags&net.FlagUp == 0:
		return fmt.Errorf("link %s is down (administratively)", name)
	case a.RawFlags&unix.IFF_LOWER_UP == 0:
		// A veth whose peer is down, or a NIC with its cable pulled.
		return fmt.Errorf("link %s is down (no carrier)", name)
	case a.OperState != netlink.OperUp && a.OperState != netlink.OperUnknown:
		// Unknown is what loopback and several virtual drivers always say: not a failure.
		return fmt.Errorf("link %s is down (operational state %s)", name, a.OperState)
	}
	return nil
}
