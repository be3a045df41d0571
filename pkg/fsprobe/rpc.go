package fsprobe

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// RPCStat is the status of an ONC-RPC call, numbered as Sun RPC's enum clnt_stat so that the
// messages built from it read like clnt_sperror's.
type RPCStat int

// The clnt_stat values a probe can end with.
const (
	RPCSuccess           RPCStat = 0
	RPCCantEncodeArgs    RPCStat = 1
	RPCCantDecodeRes     RPCStat = 2
	RPCCantSend          RPCStat = 3
	RPCCantRecv          RPCStat = 4
	RPCTimedOut          RPCStat = 5
	RPCVersMismatch      RPCStat = 6
	RPCAuthError         RPCStat = 7
	RPCProgUnavail       RPCStat = 8
	RPCProgVersMismatch  RPCStat = 9
	RPCProcUnavail       RPCStat = 10
	RPCCantDecodeArgs    RPCStat = 11
	RPCSystemError       RPCStat = 12
	RPCPmapFailure       RPCStat = 14
	RPCProgNotRegistered RPCStat = 15
	RPCFailed            RPCStat = 16
)

// RPC programs, versions and procedures the NFS probe calls.
const (
	progPortmap = 100000
	progNFS     = 100003
	progMount   = 100005

	pmapPort    = 111
	pmapVers    = 2
	pmapGetport = 3

	nfsVers   = 3
	nfsNull   = 0
	mountVers = 3
	mountMnt  = 1
	mountUmnt = 3

	ipprotoTCP = 6
	ipprotoUDP = 17

	authNone = 0
	authSys  = 1

	// rpcMaxReply bounds a reply's size: the probe's replies are tens of bytes.
	rpcMaxReply = 64 << 10
)

// rpcError is one failed call, before the NFS probe says which step it belonged to.
type rpcError struct {
	stat      RPCStat
	errno     syscall.Errno
	low, high uint32
	why       uint32
	err       error
}

func (e *rpcError) Error() string {
	return fmt.Sprintf("RPC status %d (errno %d): %v", int(e.stat), int(e.errno), e.err)
}

// rpcEndpoint is where a program answers: a transport ("udp" or "tcp") and an address.
type rpcEndpoint struct {
	network string
	addr    string
}

// rpcClient makes calls over one connection. It is used for a single probe and then closed.
type rpcClient struct {
	ctx  context.Context
	ep   rpcEndpoint
	conn net.Conn
	dl   *deadliner
	stop func() bool
}

// deadliner sets a connection's deadline unless the probe was called off: the UDP client moves
// its read deadline for each retransmission, and must never move it past a cancel.
type deadliner struct {
	mu   sync.Mutex
	conn net.Conn
	done bool
}

func (d *deadliner) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.done {
		_ = d.conn.SetDeadline(t)
	}
}

func (d *deadliner) kill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = true
	_ = d.conn.SetDeadline(time.Unix(1, 0))
}

// dialRPC connects to ep. With reserved set (the caller is root) the source port is a privileged
// one, as Linux's mountd and nfsd require unless an export says "insecure"; when every such
// port is taken, an ordinary one is used and the server decides.
func dialRPC(ctx context.Context, ep rpcEndpoint, reserved bool) (*rpcClient, error) {
	conn, err := dialReserved(ctx, ep, reserved)
	if err != nil {
		return nil, dialError(ctx, err)
	}
	c := &rpcClient{ctx: ctx, ep: ep, conn: conn, dl: &deadliner{conn: conn}}
	if dl, ok := ctx.Deadline(); ok {
		c.dl.set(dl)
	}
	c.stop = context.AfterFunc(ctx, c.dl.kill)
	return c, nil
}

func dialReserved(ctx context.Context, ep rpcEndpoint, reserved bool) (net.Conn, error) {
	if reserved {
		// Like glibc's bindresvport: ports 600-1023, from a random start.
		start := 600 + rand.IntN(424)
		for i := 0; i < 32; i++ {
			port := 600 + (start-600+i)%424
			var laddr net.Addr = &net.TCPAddr{Port: port}
			if ep.network == "udp" {
				laddr = &net.UDPAddr{Port: port}
			}
			d := net.Dialer{LocalAddr: laddr}
			conn, err := d.DialContext(ctx, ep.network, ep.addr)
			if err == nil {
				return conn, nil
			}
			if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.EACCES) {
				return nil, err
			}
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, ep.network, ep.addr)
}

// dialError classifies a failed connect the way clnttcp_create reports it: a system error with
// the errno of connect(2) (RPC: Remote system error - Connection refused).
func dialError(ctx context.Context, err error) error {
	if cancelled(ctx) {
		return ctx.Err()
	}
	if isTimeout(ctx, err) {
		return &rpcError{stat: RPCTimedOut, err: err}
	}
	var errno syscall.Errno
	errors.As(err, &errno)
	return &rpcError{stat: RPCSystemError, errno: errno, err: err}
}

func (c *rpcClient) close() {
	c.stop()
	_ = c.conn.Close()
}

// ioError classifies a send or receive failure, or passes a cancel through.
func (c *rpcClient) ioError(stat RPCStat, err error) error {
	if cancelled(c.ctx) {
		return c.ctx.Err()
	}
	if isTimeout(c.ctx, err) {
		return &rpcError{stat: RPCTimedOut, err: err}
	}
	var errno syscall.Errno
	errors.As(err, &errno)
	return &rpcError{stat: stat, errno: errno, err: err}
}

// xdrWriter appends XDR items (RFC 4506) to a buffer.
type xdrWriter struct{ b []byte }

func (w *xdrWriter) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }

func (w *xdrWriter) opaque(p []byte) {
	w.u32(uint32(len(p)))
	w.b = append(w.b, p...)
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

// xdrReader reads XDR items; the first short read makes every later one fail too.
type xdrReader struct {
	b   []byte
	bad bool
}

func (r *xdrReader) u32() uint32 {
	if len(r.b) < 4 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *xdrReader) skipOpaque(max int) {
	n := int(r.u32())
	padded := (n + 3) &^ 3
	if r.bad || n > max || padded > len(r.b) {
		r.bad = true
		r.b = nil
		return
	}
	r.b = r.b[padded:]
}

// callMessage builds an RPC call (RFC 5531 §9) with the given credential and AUTH_NONE verifier.
func callMessage(xid, prog, vers, proc uint32, cred []byte, args []byte) []byte {
	w := &xdrWriter{b: make([]byte, 0, 64+len(cred)+len(args))}
	w.u32(xid)
	w.u32(0) // CALL
	w.u32(2) // RPC version
	w.u32(prog)
	w.u32(vers)
	w.u32(proc)
	if cred == nil {
		w.u32(authNone)
		w.u32(0)
	} else {
		w.u32(authSys)
		w.opaque(cred)
	}
	w.u32(authNone) // verifier
	w.u32(0)
	w.b = append(w.b, args...)
	return w.b
}

// authSysCred is an AUTH_SYS credential body (RFC 5531 appendix A) for uid and gid with no
// supplementary groups.
func authSysCred(machine string, uid, gid uint32) []byte {
	if len(machine) > 255 {
		machine = machine[:255]
	}
	w := &xdrWriter{}
	w.u32(uint32(time.Now().Unix()))
	w.opaque([]byte(machine))
	w.u32(uid)
	w.u32(gid)
	w.u32(0)
	return w.b
}

// parseReply checks a reply message against xid and returns its results, or the RPC error it
// carries. ok is false when the message is a reply to another call.
func parseReply(xid uint32, msg []byte) (results []byte, ok bool, err error) {
	r := &xdrReader{b: msg}
	if r.u32() != xid || r.bad {
		return nil, false, nil
	}
	if r.u32() != 1 { // REPLY
		return nil, false, nil
	}
	bad := func() (results []byte, ok bool, err error) {
		return nil, true, &rpcError{stat: RPCCantDecodeRes, err: errors.New("malformed reply")}
	}
	switch r.u32() {
	case 0: // MSG_ACCEPTED
		r.u32() // verifier flavor
		r.skipOpaque(400)
		stat := r.u32()
		if r.bad {
			return bad()
		}
		switch stat {
		case 0: // SUCCESS
			return r.b, true, nil
		case 1:
			return nil, true, &rpcError{stat: RPCProgUnavail, err: errors.New("program unavailable")}
		case 2:
			low, high := r.u32(), r.u32()
			if r.bad {
				return bad()
			}
			return nil, true, &rpcError{stat: RPCProgVersMismatch, low: low, high: high, err: errors.New("program version mismatch")}
		case 3:
			return nil, true, &rpcError{stat: RPCProcUnavail, err: errors.New("procedure unavailable")}
		case 4:
			return nil, true, &rpcError{stat: RPCCantDecodeArgs, err: errors.New("garbage arguments")}
		case 5:
			return nil, true, &rpcError{stat: RPCSystemError, errno: syscall.EIO, err: errors.New("server system error")}
		}
		return bad()
	case 1: // MSG_DENIED
		switch r.u32() {
		case 0: // RPC_MISMATCH
			low, high := r.u32(), r.u32()
			if r.bad {
				return bad()
			}
			return nil, true, &rpcError{stat: RPCVersMismatch, low: low, high: high, err: errors.New("RPC version mismatch")}
		case 1: // AUTH_ERROR
			why := r.u32()
			if r.bad {
				return bad()
			}
			return nil, true, &rpcError{stat: RPCAuthError, why: why, err: errors.New("authentication error")}
		}
	}
	return bad()
}

// call makes one call and returns the results. cred is an AUTH_SYS body, or nil for AUTH_NONE.
func (c *rpcClient) call(prog, vers, proc uint32, cred, args []byte) ([]byte, error) {
	xid := rand.Uint32()
	msg := callMessage(xid, prog, vers, proc, cred, args)
	if c.ep.network == "udp" {
		return c.callUDP(xid, msg)
	}
	return c.callTCP(xid, msg)
}

// callUDP sends msg and waits for its reply, sending it again after 0.5 s, 1 s, 2 s, 4 s, ...
// (a lost datagram is normal), until the probe's deadline.
func (c *rpcClient) callUDP(xid uint32, msg []byte) ([]byte, error) {
	end, hasEnd := c.ctx.Deadline()
	wait := 500 * time.Millisecond
	buf := make([]byte, rpcMaxReply)
	for {
		// The deadline covers the write too: set it before, or a write after a timed-out read
		// would fail at once.
		next := time.Now().Add(wait)
		if hasEnd && end.Before(next) {
			next = end
		}
		c.dl.set(next)
		if _, err := c.conn.Write(msg); err != nil {
			return nil, c.ioError(RPCCantSend, err)
		}
		for {
			n, err := c.conn.Read(buf)
			if err != nil {
				if isTimeout(c.ctx, err) && c.ctx.Err() == nil {
					break // this try is over: send again
				}
				return nil, c.ioError(RPCCantRecv, err)
			}
			res, ok, perr := parseReply(xid, buf[:n])
			if !ok {
				continue // a late reply to an earlier call
			}
			return res, perr
		}
		wait = min(2*wait, 4*time.Second)
	}
}

// callTCP sends msg as one record (RFC 5531 §11) and reads records until the reply to xid.
func (c *rpcClient) callTCP(xid uint32, msg []byte) ([]byte, error) {
	rec := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(msg)), 0x80000000|uint32(len(msg)))
	rec = append(rec, msg...)
	if _, err := c.conn.Write(rec); err != nil {
		return nil, c.ioError(RPCCantSend, err)
	}
	for {
		reply, err := readRecord(c.conn)
		if err != nil {
			var re *rpcError
			if errors.As(err, &re) {
				return nil, err
			}
			return nil, c.ioError(RPCCantRecv, err)
		}
		res, ok, perr := parseReply(xid, reply)
		if ok {
			return res, perr
		}
	}
}

// readRecord reads one record of record marking: fragments until the last one.
func readRecord(r io.Reader) ([]byte, error) {
	var out []byte
	for {
		var h [4]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return nil, err
		}
		v := binary.BigEndian.Uint32(h[:])
		n := int(v & 0x7fffffff)
		if len(out)+n > rpcMaxReply {
			return nil, &rpcError{stat: RPCCantDecodeRes, err: fmt.Errorf("reply record of more than %d bytes", rpcMaxReply)}
		}
		frag := make([]byte, n)
		if _, err := io.ReadFull(r, frag); err != nil {
			return nil, err
		}
		out = append(out, frag...)
		if v&0x80000000 != 0 {
			return out, nil
		}
	}
}

// identity is the AUTH_SYS identity of the probe: the effective uid and gid.
func identity() (uid, gid uint32) { return uint32(os.Geteuid()), uint32(os.Getegid()) }
