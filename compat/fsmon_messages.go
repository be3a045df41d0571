package compat

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"unicode/utf8"

	"clpkit/pkg/alert"
	"clpkit/pkg/fsmon"
	"clpkit/pkg/fsprobe"
)

// The alert messages of clp_sambamon and clp_nfsmon, word for word as seed 001 §8.1 and §8.2
// print them (IDs and texts), with the slots filled in:
//
//   - [xxx] / 'xxx': the share (-s) or the directory (-d);
//   - [nn] of the SMB errors 62, 64 and 65: the NTSTATUS of the refused SMB2 request, as
//     0xC000006D; STATUS_BAD_NETWORK_NAME is written 67, the DOS error the seed names for an
//     unknown share ("通常67");
//   - [nn] of the network errors 71-75 and of 61: the errno (110 when the -r deadline passed
//     while waiting, 0 when the server closed the connection);
//   - (xxx nn) of 42: the failing system call and its errno;
//   - the ID-0 texts of clp_nfsmon: Sun RPC's clnt_sperror wording, spelled as the seed shows it.
//
// The license messages (51-56) have no counterpart: clpkit has no license check.

// FsmonModule is the alert module of a monitor command: "sambamon" or "nfsmon".
func (cmd FsmonCommand) FsmonModule() string {
	return strings.TrimPrefix(cmd.Name, "clp_")
}

func (cmd FsmonCommand) samba() bool { return cmd.Target == "-s" }

// ArgMessage is the message of a refused command line.
func (cmd FsmonCommand) ArgMessage(err error) fsmon.Message {
	id := 11
	var ae *FsmonArgError
	if errors.As(err, &ae) {
		id = ae.ID
	}
	var text string
	switch id {
	case 12:
		text = fmt.Sprintf("'%s' parameter is not specified at the %s command.", cmd.Target, cmd.Name)
	case 13:
		text = fmt.Sprintf("The monitor id is not specified at the %s command.", cmd.Name)
	default:
		id = 11
		text = fmt.Sprintf("Invalid parameter in the %s.", cmd.Name)
	}
	return fsmon.Message{ID: id, Level: alert.Error, Text: text, Alert: true, Stderr: true}
}

// Messages returns the messages of ev; target is the share or directory being watched.
func (cmd FsmonCommand) Messages(ev fsmon.Event, target string) []fsmon.Message {
	n := cmd.Name
	info := func(id int, text string) []fsmon.Message {
		return []fsmon.Message{{ID: id, Level: alert.Info, Text: text, Alert: true}}
	}
	errMsg := func(id int, text string, stderr bool) fsmon.Message {
		return fsmon.Message{ID: id, Level: alert.Error, Text: text, Alert: true, Stderr: stderr}
	}
	switch ev.Kind {
	case fsmon.Started:
		if cmd.samba() {
			return info(1, "The clp_sambamon has started watching Samba.")
		}
		return info(1, "The clp_nfsmon has started watching NFS.")
	case fsmon.Watching:
		if cmd.samba() {
			return info(2, fmt.Sprintf("The clp_sambamon is going to watch share resource [%s].", target))
		}
		return info(2, fmt.Sprintf("The clp_nfsmon is going to watch shared directory '%s'.", target))
	case fsmon.Stopping:
		if cmd.samba() {
			return info(3, fmt.Sprintf("The clp_sambamon will stop watching Samba [%s].", target))
		}
		return info(3, fmt.Sprintf("The clp_nfsmon will stop watching NFS shared directory '%s'.", target))
	case fsmon.Terminating:
		return []fsmon.Message{errMsg(6, fmt.Sprintf("The %s will terminate.", n), false)}
	case fsmon.Paused:
		return info(7, fmt.Sprintf("The %s is going to stop monitoring.", n))
	case fsmon.Continued:
		return info(8, fmt.Sprintf("The %s is going to monitor.", n))
	case fsmon.InUse:
		return []fsmon.Message{errMsg(14, "The specified monitor id is already under use in other processes.", true)}
	case fsmon.NotEnded:
		return []fsmon.Message{errMsg(15, fmt.Sprintf("The %s has not performed end processing.", n), true)}
	case fsmon.SystemError:
		return []fsmon.Message{errMsg(42, fmt.Sprintf("The %s has detected system error (%s %d).", n, ev.Func, int(ev.Errno)), true)}
	case fsmon.EnvError:
		return []fsmon.Message{errMsg(61, fmt.Sprintf("The %s could not get environment of server(error[%d]). The %s will terminate.",
			n, int(ev.Errno), n), true)}
	case fsmon.Failed:
		if cmd.samba() {
			return []fsmon.Message{sambaFailure(ev.Err, target)}
		}
		return []fsmon.Message{
			errMsg(0, "clp_nfsmon: "+NFSFailureText(ev.Err), false),
			errMsg(66, "The clp_nfsmon has detected an error in NFS.", false),
		}
	case fsmon.NotRunning:
		return []fsmon.Message{{Level: alert.Error, Stderr: true,
			Text: fmt.Sprintf("%s: no %s is running with this monitor id.", n, n)}}
	case fsmon.NoRecord:
		return []fsmon.Message{{Level: alert.Error, Stderr: true,
			Text: fmt.Sprintf("%s: there is no record of this monitor id.", n)}}
	}
	return []fsmon.Message{errMsg(42, fmt.Sprintf("The %s has detected system error (event %d).", n, int(ev.Kind)), true)}
}

// sambaFailure is the message of a failed SMB probe (IDs 62-65, 71-75).
func sambaFailure(err error, share string) fsmon.Message {
	msg := func(id int, text string) fsmon.Message {
		return fsmon.Message{ID: id, Level: alert.Error, Text: text, Alert: true}
	}
	var se *fsprobe.SMBError
	if !errors.As(err, &se) {
		return msg(42, fmt.Sprintf("The clp_sambamon has detected system error (probe %d).", int(errnoOf(err))))
	}
	samba := func(what string) string {
		return fmt.Sprintf("The clp_sambamon has detected an error in Samba [%s] (%s).", share, what)
	}
	network := func(what string) string {
		return fmt.Sprintf("The clp_sambamon has detected network error(%s error[%d]).", what, int(se.Errno))
	}
	switch se.Phase {
	case fsprobe.PhaseTreeConnect:
		return msg(62, samba(fmt.Sprintf("tree connect error[%s]", SMBStatusSlot(se.Status))))
	case fsprobe.PhaseShareType:
		return msg(63, samba("share type error"))
	case fsprobe.PhaseSessionSetup:
		return msg(64, samba(fmt.Sprintf("connect error[%s]", SMBStatusSlot(se.Status))))
	case fsprobe.PhaseNegotiate:
		return msg(65, samba(fmt.Sprintf("negotiate error[%s]", SMBStatusSlot(se.Status))))
	case fsprobe.PhaseSocket:
		return msg(71, network("socket"))
	case fsprobe.PhaseConnect:
		return msg(72, network("connect"))
	case fsprobe.PhaseSend:
		return msg(73, network("send"))
	case fsprobe.PhaseWait:
		return msg(74, network("select"))
	case fsprobe.PhaseRecv:
		return msg(75, network("recv"))
	}
	return msg(42, fmt.Sprintf("The clp_sambamon has detected system error (probe %d).", int(se.Errno)))
}

// SMBStatusSlot writes an NTSTATUS for the [nn] slot: 67 for STATUS_BAD_NETWORK_NAME (the legacy
// DOS error ERROR_BAD_NET_NAME that seed 001 names), else 0x and eight hex digits.
func SMBStatusSlot(status uint32) string {
	if status == fsprobe.StatusBadNetworkName {
		return "67"
	}
	return fmt.Sprintf("0x%08X", status)
}

func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	errors.As(err, &errno)
	return errno
}

// rpcText is clnt_sperrno: the text of a Sun RPC status.
func rpcText(s fsprobe.RPCStat) string {
	switch s {
	case fsprobe.RPCSuccess:
		return "RPC: Success"
	case fsprobe.RPCCantEncodeArgs:
		return "RPC: Can't encode arguments"
	case fsprobe.RPCCantDecodeRes:
		return "RPC: Can't decode result"
	case fsprobe.RPCCantSend:
		return "RPC: Unable to send"
	case fsprobe.RPCCantRecv:
		return "RPC: Unable to receive"
	case fsprobe.RPCTimedOut:
		return "RPC: Timed out"
	case fsprobe.RPCVersMismatch:
		return "RPC: Incompatible versions of RPC"
	case fsprobe.RPCAuthError:
		return "RPC: Authentication error"
	case fsprobe.RPCProgUnavail:
		return "RPC: Program unavailable"
	case fsprobe.RPCProgVersMismatch:
		return "RPC: Program/version mismatch"
	case fsprobe.RPCProcUnavail:
		return "RPC: Procedure unavailable"
	case fsprobe.RPCCantDecodeArgs:
		return "RPC: Server can't decode arguments"
	case fsprobe.RPCSystemError:
		return "RPC: Remote system error"
	case fsprobe.RPCPmapFailure:
		return "RPC: Port mapper failure"
	case fsprobe.RPCProgNotRegistered:
		return "RPC: Program not registered"
	case fsprobe.RPCFailed:
		return "RPC: Failed (unspecified error)"
	}
	return "RPC: (unknown error code)"
}

// authText is the text of an auth_stat, as clnt_sperror prints it after "why = ".
func authText(why uint32) string {
	texts := []string{"Authentication OK", "Invalid client credential", "Server rejected credential",
		"Invalid client verifier", "Server rejected verifier", "Client credential too weak",
		"Invalid server verifier", "Failed (unspecified error)"}
	if int(why) < len(texts) {
		return texts[why]
	}
	return "Unknown authentication error"
}

// strerror is the C library's text of errno: Go's, with the capital glibc gives it.
func strerror(errno syscall.Errno) string {
	s := errno.Error()
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[size:]
}

// NFSFailureText is the text of a failed NFS probe, after "clp_nfsmon: ". The seed's four
// examples are reproduced exactly:
//
//	mount error(13)
//	RPC: Port mapper failure - RPC: Unable to receive.
//	RPC: Program not registered.
//	RPC: Unable to receive: errno = Connection refused.
//
// and the other statuses follow clnt_sperror: "; low version = 2, high version = 4",
// "; why = ...", and for a refused TCP connect clnt_spcreateerror's " - Connection refused".
func NFSFailureText(err error) string {
	var ne *fsprobe.NFSError
	if !errors.As(err, &ne) {
		return fmt.Sprintf("RPC: Failed (unspecified error) - %v.", err)
	}
	switch ne.Stat {
	case fsprobe.RPCSuccess:
		return fmt.Sprintf("mount error(%d)", ne.MountStatus)
	case fsprobe.RPCPmapFailure:
		return rpcText(ne.Stat) + " - " + rpcText(ne.Inner) + "."
	case fsprobe.RPCCantSend, fsprobe.RPCCantRecv:
		return fmt.Sprintf("%s: errno = %s.", rpcText(ne.Stat), strerror(ne.Errno))
	case fsprobe.RPCSystemError:
		if ne.Errno != 0 {
			return fmt.Sprintf("%s - %s.", rpcText(ne.Stat), strerror(ne.Errno))
		}
	case fsprobe.RPCVersMismatch, fsprobe.RPCProgVersMismatch:
		return fmt.Sprintf("%s; low version = %d, high version = %d.", rpcText(ne.Stat), ne.Low, ne.High)
	case fsprobe.RPCAuthError:
		return fmt.Sprintf("%s; why = %s.", rpcText(ne.Stat), authText(ne.Why))
	}
	return rpcText(ne.Stat) + "."
}
