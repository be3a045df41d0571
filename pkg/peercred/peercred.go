// Package peercred tells who is at the other end of a local Unix socket. The kit's control
// sockets (clpguard's, pcheck's) take requests only from root or their own user, and judge the
// peer by the kernel's SO_PEERCRED rather than by what the client says.
package peercred

import (
	"net"

	"golang.org/x/sys/unix"
)

// UID is the user ID of the process that connected c, as the kernel recorded it at connect time.
func UID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}
