package fsprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Step is the call of an NFS probe that failed.
type Step int

// The steps of an NFS probe, in order.
const (
	StepPortmap Step = iota + 1 // GETPORT of MOUNT or NFS at the portmapper
	StepMount                   // MOUNT MNT of the directory
	StepUmount                  // MOUNT UMNT of the directory
	StepNull                    // NFS NULL
)

func (s Step) String() string {
	switch s {
	case StepPortmap:
		return "portmap GETPORT"
	case StepMount:
		return "MOUNT MNT"
	case StepUmount:
		return "MOUNT UMNT"
	case StepNull:
		return "NFS NULL"
	}
	return fmt.Sprintf("Step(%d)", int(s))
}

// NFSError is a failed NFS probe: which step, and its RPC status (or MOUNT status).
type NFSError struct {
	Step Step
	// Transport is "udp" or "tcp".
	Transport string
	// Stat is the RPC status. RPCSuccess with a non-zero MountStatus means MNT was answered
	// with an error; RPCPmapFailure means the portmapper could not be asked (Inner says why);
	// RPCProgNotRegistered means it was asked, and MOUNT or NFS version 3 is not registered.
	Stat RPCStat
	// Inner is the status of the call to the portmapper, for RPCPmapFailure.
	Inner RPCStat
	// Errno is the system error of RPCCantSend, RPCCantRecv and RPCSystemError.
	Errno syscall.Errno
	// Low and High are the versions the server offers, for the version mismatches.
	Low, High uint32
	// Why is the auth_stat of RPCAuthError.
	Why uint32
	// MountStatus is the mountstat3 of a refused MNT (2 = no such directory, 13 = access denied).
	MountStatus uint32
	// Prog is the program that was being reached.
	Prog uint32
	Err  error
}

func (e *NFSError) Error() string {
	if e.Stat == RPCSuccess {
		return fmt.Sprintf("NFS %s over %s: mount status %d", e.Step, e.Transport, e.MountStatus)
	}
	return fmt.Sprintf("NFS %s over %s: RPC status %d (inner %d, errno %d): %v",
		e.Step, e.Transport, int(e.Stat), int(e.Inner), int(e.Errno), e.Err)
}

func (e *NFSError) Unwrap() error { return e.Err }

// NFSTarget names what ProbeNFS checks.
type NFSTarget struct {
	// Host is the server's IP address.
	Host string
	// Port is where NFS answers; 0 asks the portmapper (port 111). See ProbeNFS for MOUNT.
	Port int
	// Dir is the exported directory to MNT and UMNT.
	Dir string
	// MachineName goes into the AUTH_SYS credential of MNT and UMNT.
	MachineName string
	// ReservedPort makes the calls from a privileged source port (only root can), as Linux
	// mountd and nfsd expect unless the export says "insecure".
	ReservedPort bool
}

// NFSResult says how a successful probe reached the server.
type NFSResult struct {
	Mount, NFS string // "udp:host:port" or "tcp:host:port"
}

// ProbeNFS asks the portmapper for MOUNT and NFS version 3, mounts t.Dir with MNT and releases it
// with UMNT, then calls NFS NULL. UDP is used where the server offers it, as the original's Sun
// RPC client did; a program registered only over TCP is reached over TCP.
//
// With t.Port set, NFS is called there without asking the portmapper, over UDP or, when nothing
// answers UDP there, TCP. MOUNT is tried at t.Port too (servers that serve every program on one
// port need no portmapper at all); a server that answers there that it has no MOUNT program is
// asked the portmapper for it, since NFSv3 servers such as nfs-ganesha and Linux's rpc.mountd
// serve MOUNT on a port of its own.
//
// The deadline of ctx bounds all of it. A failure is an *NFSError; a cancelled ctx returns
// ctx.Err().
func ProbeNFS(ctx context.Context, t NFSTarget) (NFSResult, error) {
	var mountEPs, nfsEPs []rpcEndpoint
	if t.Port != 0 {
		addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
		both := []rpcEndpoint{{"udp", addr}, {"tcp", addr}}
		mountEPs, nfsEPs = both, both
	} else {
		ep, err := lookup(ctx, t, progMount, mountVers)
		if err != nil {
			return NFSResult{}, err
		}
		mountEPs = []rpcEndpoint{ep}
		if ep, err = lookup(ctx, t, progNFS, nfsVers); err != nil {
			return NFSResult{}, err
		}
		nfsEPs = []rpcEndpoint{ep}
	}

	uid, gid := identity()
	cred := authSysCred(t.MachineName, uid, gid)
	w := &xdrWriter{}
	w.opaque([]byte(t.Dir))
	dirArg := w.b

	var res NFSResult
	// MNT and UMNT go over one connection, as a mount does.
	mnt := func(c *rpcClient) error {
		out, err := c.call(progMount, mountVers, mountMnt, cred, dirArg)
		if err != nil {
			return stepError(StepMount, c.ep, progMount, err)
		}
		r := &xdrReader{b: out}
		status := r.u32()
		if r.bad {
			return &NFSError{Step: StepMount, Transport: c.ep.network, Stat: RPCCantDecodeRes, Prog: progMount, Err: errors.New("short MNT reply")}
		}
		if status != 0 {
			return &NFSError{Step: StepMount, Transport: c.ep.network, Stat: RPCSuccess, MountStatus: status, Prog: progMount,
				Err: fmt.Errorf("MNT %q refused with status %d", t.Dir, status)}
		}
		if _, err := c.call(progMount, mountVers, mountUmnt, cred, dirArg); err != nil {
			return stepError(StepUmount, c.ep, progMount, err)
		}
		return nil
	}
	mountEP, err := reach(ctx, t, StepMount, progMount, mountEPs, mnt)
	var ne *NFSError
	if t.Port != 0 && errors.As(err, &ne) && ne.Stat == RPCProgUnavail {
		// The server answers NFS at t.Port but serves MOUNT elsewhere (nfs-ganesha, Linux's
		// rpc.mountd): only the portmapper knows where.
		var ep rpcEndpoint
		if ep, err = lookup(ctx, t, progMount, mountVers); err != nil {
			return res, err
		}
		mountEP, err = reach(ctx, t, StepMount, progMount, []rpcEndpoint{ep}, mnt)
	}
	if err != nil {
		return res, err
	}
	res.Mount = mountEP.network + ":" + mountEP.addr
	nfsEP, err := reach(ctx, t, StepNull, progNFS, nfsEPs, func(c *rpcClient) error {
		if _, err := c.call(progNFS, nfsVers, nfsNull, nil, nil); err != nil {
			return stepError(StepNull, c.ep, progNFS, err)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.NFS = nfsEP.network + ":" + nfsEP.addr
	return res, nil
}

// reach runs fn over the first endpoint that answers. Only "nothing listens on UDP" moves on to
// the next endpoint; when that one cannot be connected either, the UDP error is the verdict, as
// it was the original's (RPC: Unable to receive: errno = Connection refused).
func reach(ctx context.Context, t NFSTarget, step Step, prog uint32, eps []rpcEndpoint, fn func(*rpcClient) error) (rpcEndpoint, error) {
	var first error
	for _, ep := range eps {
		c, err := dialRPC(ctx, ep, t.ReservedPort)
		if err != nil {
			err = stepError(step, ep, prog, err)
		} else {
			err = fn(c)
			c.close()
		}
		if err == nil {
			return ep, nil
		}
		if first == nil {
			first = err
		}
		var ne *NFSError
		if !errors.As(err, &ne) {
			return ep, err // cancelled
		}
		refusedUDP := ep.network == "udp" && ne.Stat == RPCCantRecv && ne.Errno == syscall.ECONNREFUSED
		refusedTCP := ep.network == "tcp" && ne.Stat == RPCSystemError && ne.Errno == syscall.ECONNREFUSED
		switch {
		case refusedUDP:
			continue
		case refusedTCP:
			return ep, first
		default:
			return ep, err
		}
	}
	return rpcEndpoint{}, first
}

// stepError turns a call's error into an *NFSError of step, or passes a cancel through.
func stepError(step Step, ep rpcEndpoint, prog uint32, err error) error {
	var re *rpcError
	if !errors.As(err, &re) {
		return err
	}
	return &NFSError{Step: step, Transport: ep.network, Stat: re.stat, Errno: re.errno, Low: re.low, High: re.high,
		Why: re.why, Prog: prog, Err: re.err}
}

// lookup asks the portmapper (over UDP, as pmap_getport does) where prog answers: over UDP when
// registered there, else over TCP.
func lookup(ctx context.Context, t NFSTarget, prog, vers uint32) (rpcEndpoint, error) {
	pmap := rpcEndpoint{"udp", net.JoinHostPort(t.Host, strconv.Itoa(pmapPort))}
	c, err := dialRPC(ctx, pmap, false)
	if err != nil {
		return rpcEndpoint{}, pmapError(pmap, prog, err)
	}
	defer c.close()
	for _, proto := range []struct {
		network string
		prot    uint32
	}{{"udp", ipprotoUDP}, {"tcp", ipprotoTCP}} {
		w := &xdrWriter{}
		w.u32(prog)
		w.u32(vers)
		w.u32(proto.prot)
		w.u32(0)
		out, err := c.call(progPortmap, pmapVers, pmapGetport, nil, w.b)
		if err != nil {
			return rpcEndpoint{}, pmapError(pmap, prog, err)
		}
		r := &xdrReader{b: out}
		port := r.u32()
		if r.bad || port > 65535 {
			return rpcEndpoint{}, &NFSError{Step: StepPortmap, Transport: "udp", Stat: RPCPmapFailure, Inner: RPCCantDecodeRes,
				Prog: prog, Err: errors.New("malformed GETPORT reply")}
		}
		if port != 0 {
			return rpcEndpoint{proto.network, net.JoinHostPort(t.Host, strconv.Itoa(int(port)))}, nil
		}
	}
	return rpcEndpoint{}, &NFSError{Step: StepPortmap, Transport: "udp", Stat: RPCProgNotRegistered, Prog: prog,
		Err: fmt.Errorf("program %d version %d is not registered", prog, vers)}
}

// pmapError is a failed call to the portmapper: RPC_PMAPFAILURE with the call's own status
// inside, as pmap_getport reports it.
func pmapError(ep rpcEndpoint, prog uint32, err error) error {
	var re *rpcError
	if !errors.As(err, &re) {
		return err
	}
	return &NFSError{Step: StepPortmap, Transport: ep.network, Stat: RPCPmapFailure, Inner: re.stat, Errno: re.errno,
		Prog: prog, Err: re.err}
}
