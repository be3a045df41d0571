package fsprobe

import (
	"fmt"
	"net"
	"net/netip"
)

// LocalAddress is clp_nfsmon's default server address, "one of the addresses set on the server"
// (seed 001 §7.4): the first IPv4 address, in interface order, of an interface that is up and
// not a loopback, or 127.0.0.1 on a machine that has none. It fails only when the interfaces
// cannot be read.
func LocalAddress() (netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listing network interfaces: %w", err)
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return netip.Addr{}, fmt.Errorf("reading the addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if ip = ip.Unmap(); ok && ip.Is4() && !ip.IsLinkLocalUnicast() {
				return ip, nil
			}
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
}
