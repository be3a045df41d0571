// Package fsprobe checks file servers the way a client does: an SMB2/3 tree connect to a Samba
// share (ProbeSMB), and the ONC-RPC calls an NFS client makes before it can use an export: the
// portmapper's GETPORT, MOUNT's MNT and UMNT, and NFS NULL (ProbeNFS).
//
// A probe either succeeds or returns an error that says where it failed, as typed values: an
// *SMBError with its phase, NTSTATUS or errno, or an *NFSError with its RPC status. The legacy
// message texts of clp_sambamon and clp_nfsmon are made from these by package compat; this package
// knows no message text.
//
// Every probe runs under its context: its deadline bounds the whole exchange (connect, every send
// and every wait for a reply), and cancelling it interrupts the probe at once and returns the
// context's error, unclassified.
//
// # Why the protocols are hand-written
//
// The SMB2/3 client (negotiate, NTLMSSP inside SPNEGO, session setup, signing, tree connect), the
// ONC-RPC client with its XDR, and AES-CMAC are written here, not imported:
//
//   - SMB: Go's SMB2 clients are github.com/hirochachacha/go-smb2, abandoned upstream since 2022,
//     and its pre-1.0 forks. The probe needs an anonymous logon (upstream refuses an empty user
//     before it sends anything), the share type that TREE_CONNECT returns (decoded there but not
//     exposed; clp_sambamon reports a share that is neither disk nor printer), whether the session
//     is a guest one, and errors that name the step that failed with its NTSTATUS or errno, since
//     the legacy messages are chosen by step; and it needs only a handful of MS-SMB2 exchanges, no
//     file access.
//   - ONC-RPC: the Go clients (github.com/vmware/go-nfs-client and its forks,
//     github.com/prashanthpai/sunrpc) speak TCP only, take no context or deadline, and panic on a
//     malformed reply. The probe calls over UDP, with retransmission, as well as TCP, from a
//     privileged source port when root, under a deadline, and needs the clnt_stat of a failed call
//     to word its messages as clnt_sperror does.
//   - AES-CMAC (RFC 4493), with which SMB 3.x signs: the standard library has AES but no CMAC, and
//     one function tested against the RFC's vectors is less to carry than a dependency for it.
//
// MD4, which NTLM needs for the NT hash, comes from golang.org/x/crypto/md4.
package fsprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Phase is the step of an SMB probe that failed.
type Phase int

// The phases of an SMB probe. The network phases follow the system calls of the original
// clp_sambamon (socket, connect, send, select, recv); the protocol phases are the SMB2 exchanges.
const (
	PhaseSocket       Phase = iota + 1 // the socket could not be created
	PhaseConnect                       // TCP connect failed or timed out
	PhaseSend                          // writing a request failed
	PhaseWait                          // no reply within the deadline (select in the original)
	PhaseRecv                          // reading a reply failed, or the server closed the connection
	PhaseNegotiate                     // SMB2 NEGOTIATE was refused or answered with garbage
	PhaseSessionSetup                  // SMB2 SESSION_SETUP (logon) was refused
	PhaseTreeConnect                   // SMB2 TREE_CONNECT to the share was refused
	PhaseShareType                     // the share is neither a disk nor a printer share
)

func (p Phase) String() string {
	switch p {
	case PhaseSocket:
		return "socket"
	case PhaseConnect:
		return "connect"
	case PhaseSend:
		return "send"
	case PhaseWait:
		return "wait"
	case PhaseRecv:
		return "recv"
	case PhaseNegotiate:
		return "negotiate"
	case PhaseSessionSetup:
		return "session setup"
	case PhaseTreeConnect:
		return "tree connect"
	case PhaseShareType:
		return "share type"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// NTSTATUS values the probe names.
const (
	StatusSuccess                = 0x00000000
	StatusPending                = 0x00000103
	StatusMoreProcessingRequired = 0xC0000016
	StatusAccessDenied           = 0xC0000022
	StatusLogonFailure           = 0xC000006D
	StatusBadNetworkName         = 0xC00000CC
	StatusInvalidNetworkResponse = 0xC00000C3
	StatusNotSupported           = 0xC00000BB
	StatusUserSessionDeleted     = 0xC0000203
	StatusNetworkSessionExpired  = 0xC000035C
	StatusInsufficientResources  = 0xC000009A
	StatusRequestNotAccepted     = 0xC00000D0
	StatusInvalidParameter       = 0xC000000D
)

// Share types of a TREE_CONNECT response.
const (
	ShareTypeDisk  = 0x01
	ShareTypePipe  = 0x02
	ShareTypePrint = 0x03
)

// SMBError is a failed SMB probe.
type SMBError struct {
	Phase Phase
	// Status is the NTSTATUS of a protocol phase; StatusInvalidNetworkResponse when the reply
	// was not a valid SMB2 message.
	Status uint32
	// Errno is the system error of a network phase: ETIMEDOUT for PhaseWait and for a connect
	// that timed out, 0 for PhaseRecv when the server closed the connection.
	Errno syscall.Errno
	// ShareType is the type the server gave the share (PhaseShareType).
	ShareType uint8
	// Err is the underlying error, for logs and tests.
	Err error
}

func (e *SMBError) Error() string {
	switch e.Phase {
	case PhaseNegotiate, PhaseSessionSetup, PhaseTreeConnect:
		return fmt.Sprintf("SMB %s: status 0x%08X: %v", e.Phase, e.Status, e.Err)
	case PhaseShareType:
		return fmt.Sprintf("SMB share type %d is neither disk nor printer", e.ShareType)
	}
	return fmt.Sprintf("SMB %s: errno %d: %v", e.Phase, int(e.Errno), e.Err)
}

func (e *SMBError) Unwrap() error { return e.Err }

// netFailure is how an I/O error of a network phase is classified: the phase it really belongs
// to (a deadline turns send or recv into a wait) and its errno.
func netFailure(ctx context.Context, phase Phase, err error) (Phase, syscall.Errno, bool) {
	if isTimeout(ctx, err) {
		if phase == PhaseConnect {
			return PhaseConnect, syscall.ETIMEDOUT, true
		}
		return PhaseWait, syscall.ETIMEDOUT, true
	}
	var se *os.SyscallError
	if errors.As(err, &se) && se.Syscall == "socket" {
		phase = PhaseSocket
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return phase, errno, true
	}
	if phase == PhaseRecv && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return PhaseRecv, 0, true
	}
	return phase, 0, false
}

// isTimeout reports whether err is the probe's deadline passing (rather than a cancel).
func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// cancelled reports whether the probe was called off by its caller (pause, stop): such a probe
// has no verdict.
func cancelled(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// interruptOnDone makes blocked reads and writes on conn return when ctx is done: the deadline
// covers the probe's time limit, the callback a cancel. The returned function stops watching.
func interruptOnDone(ctx context.Context, conn net.Conn) func() bool {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}
