package compat

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/alert"
	"clpkit/pkg/fsmon"
	"clpkit/pkg/fsprobe"
)

func TestParseFsmonArgs(t *testing.T) {
	long := strings.Repeat("a", 255)
	tests := []struct {
		name string
		cmd  FsmonCommand
		args []string
		want string // the command line as describe writes it; "" when an error is expected
		id   int    // the seed message of the error
	}{
		// The seed's own lines (seed 001 §7.4 and §10).
		{"seed start", Sambamon(), []string{"sambawatch", "-s", "XXXX"}, "sambawatch -s=XXXX", 0},
		{"seed stop", Sambamon(), []string{"sambawatch", "-stop"}, "sambawatch -stop 60", 0},
		{"seed nfs start", Nfsmon(), []string{"nfswatch", "-d", "XXXX"}, "nfswatch -d=XXXX", 0},
		{"seed nfs stop", Nfsmon(), []string{"nfswatch", "-stop"}, "nfswatch -stop 60", 0},
		{"every samba option", Sambamon(), []string{"w", "-r", "9", "-c", "3", "-i", "10", "-p", "pw", "-u", "u", "-a", "10.0.0.1", "-s", "sh"},
			"w -s=sh -a=10.0.0.1 -u=u -p=pw -i=10 -c=3 -r=9", 0},
		{"every nfs option", Nfsmon(), []string{"w", "-d", "/export", "-a", "::1", "-n", "2049", "-i", "1", "-c", "10000", "-r", "60"},
			"w -d=/export -a=::1 -n=2049 -i=1 -c=10000 -r=60", 0},
		{"glued -n", Nfsmon(), []string{"w", "-d", "/e", "-n20490"}, "w -d=/e -n=20490", 0},
		{"address:port", Sambamon(), []string{"w", "-s", "s", "-a", "127.0.0.1:4450"}, "w -s=s -a=127.0.0.1:4450", 0},
		{"[v6]:port", Sambamon(), []string{"w", "-s", "s", "-a", "[::1]:4450"}, "w -s=s -a=[::1]:4450", 0},
		{"leading zeros are decimal", Sambamon(), []string{"w", "-s", "s", "-i", "030"}, "w -s=s -i=30", 0},
		{"empty password", Sambamon(), []string{"w", "-s", "s", "-u", "u", "-p", ""}, "w -s=s -u=u -p=", 0},
		{"password that looks like a flag", Sambamon(), []string{"w", "-s", "s", "-p", "--help"}, "w -s=s -p=--help", 0},
		{"share that looks like an operation", Sambamon(), []string{"w", "-s", "-stop"}, "w -s=-stop", 0},
		{"255-byte strings", Sambamon(), []string{long, "-s", long}, long + " -s=" + long, 0},
		{"password file", Sambamon(), []string{"w", "-s", "s", "--password-file", "/etc/pw"}, "w -s=s --password-file=/etc/pw", 0},
		{"password file glued", Sambamon(), []string{"w", "--password-file=/etc/pw", "-s", "s"}, "w -s=s --password-file=/etc/pw", 0},
		{"version", Nfsmon(), []string{"w", "-d", "x", "--version"}, "--version", 0},
		{"stop with wait", Sambamon(), []string{"w", "-stop", "5"}, "w -stop 5", 0},
		{"stop with the largest wait", Nfsmon(), []string{"w", "-stop", "10000"}, "w -stop 10000", 0},
		{"pause", Sambamon(), []string{"w", "-pause"}, "w -pause", 0},
		{"continue", Nfsmon(), []string{"w", "-continue"}, "w -continue", 0},
		{"disp", Sambamon(), []string{"W1", "-disp"}, "W1 -disp", 0},
		{"del", Nfsmon(), []string{"w", "-del"}, "w -del", 0},
		{"help", Sambamon(), []string{"--help"}, "--help", 0},
		{"help after the id", Nfsmon(), []string{"w", "-d", "x", "-help"}, "--help", 0},

		// 13: no monitor ID.
		{"nothing", Sambamon(), nil, "", 13},
		{"options first", Sambamon(), []string{"-s", "share", "w"}, "", 13},
		{"operation first", Nfsmon(), []string{"-stop"}, "", 13},
		{"empty first argument is not an option", Sambamon(), []string{"", "-s", "x"}, "", 11},

		// 12: no share or directory.
		{"id alone", Sambamon(), []string{"w"}, "", 12},
		{"no -s", Sambamon(), []string{"w", "-a", "127.0.0.1", "-i", "5"}, "", 12},
		{"no -d", Nfsmon(), []string{"w", "-n", "2049"}, "", 12},
		{"-s of the other command", Nfsmon(), []string{"w", "-s", "share"}, "", 11},

		// 11: anything else.
		{"id with a dash", Sambamon(), []string{"samba-watch", "-s", "x"}, "", 11},
		{"id with a slash", Sambamon(), []string{"a/b", "-s", "x"}, "", 11},
		{"id with a multibyte letter", Sambamon(), []string{"監視", "-s", "x"}, "", 11},
		{"256-byte id", Sambamon(), []string{long + "a", "-s", "x"}, "", 11},
		{"256-byte share", Sambamon(), []string{"w", "-s", long + "a"}, "", 11},
		{"256-byte password", Sambamon(), []string{"w", "-s", "x", "-p", long + "a"}, "", 11},
		{"empty share", Sambamon(), []string{"w", "-s", ""}, "", 11},
		{"missing value", Sambamon(), []string{"w", "-s"}, "", 11},
		{"unknown option", Sambamon(), []string{"w", "-s", "x", "-x", "1"}, "", 11},
		{"upper-case option", Sambamon(), []string{"w", "-S", "x"}, "", 11},
		{"double-dash option", Sambamon(), []string{"w", "--s", "x"}, "", 11},
		{"stray word", Sambamon(), []string{"w", "-s", "x", "extra"}, "", 11},
		{"option twice", Sambamon(), []string{"w", "-s", "x", "-s", "y"}, "", 11},
		{"interval 0", Sambamon(), []string{"w", "-s", "x", "-i", "0"}, "", 11},
		{"interval 10001", Sambamon(), []string{"w", "-s", "x", "-i", "10001"}, "", 11},
		{"retries negative", Sambamon(), []string{"w", "-s", "x", "-c", "-1"}, "", 11},
		{"timeout not a number", Nfsmon(), []string{"w", "-d", "x", "-r", "1m"}, "", 11},
		{"timeout hex", Nfsmon(), []string{"w", "-d", "x", "-r", "0x10"}, "", 11},
		{"timeout with a sign", Nfsmon(), []string{"w", "-d", "x", "-r", "+5"}, "", 11},
		{"huge number", Nfsmon(), []string{"w", "-d", "x", "-r", "99999999999999999999"}, "", 11},
		{"port 0", Nfsmon(), []string{"w", "-d", "x", "-n", "0"}, "", 11},
		{"port 65536", Nfsmon(), []string{"w", "-d", "x", "-n65536"}, "", 11},
		{"glued value elsewhere", Sambamon(), []string{"w", "-sshare"}, "", 11},
		{"host name", Sambamon(), []string{"w", "-s", "x", "-a", "localhost"}, "", 11},
		{"nfs address with a port", Nfsmon(), []string{"w", "-d", "x", "-a", "127.0.0.1:2049"}, "", 11},
		{"address with a zone", Nfsmon(), []string{"w", "-d", "x", "-a", "fe80::1%lo"}, "", 11},
		{"port out of range", Sambamon(), []string{"w", "-s", "x", "-a", "127.0.0.1:70000"}, "", 11},
		{"stop wait 0", Sambamon(), []string{"w", "-stop", "0"}, "", 11},
		{"stop wait 10001", Sambamon(), []string{"w", "-stop", "10001"}, "", 11},
		{"stop wait not a number", Sambamon(), []string{"w", "-stop", "soon"}, "", 11},
		{"stop and more", Sambamon(), []string{"w", "-stop", "5", "6"}, "", 11},
		{"stop negative wait", Sambamon(), []string{"w", "-stop", "-5"}, "", 11},
		{"operation after options", Sambamon(), []string{"w", "-s", "x", "-stop"}, "", 11},
		{"options after an operation", Sambamon(), []string{"w", "-pause", "-s", "x"}, "", 11},
		{"two operations", Sambamon(), []string{"w", "-pause", "-continue"}, "", 11},
		{"disp with a value", Sambamon(), []string{"w", "-disp", "1"}, "", 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseFsmonArgs(tt.cmd, tt.args)
			if tt.want == "" {
				var ae *FsmonArgError
				if !errors.As(err, &ae) || ae.ID != tt.id {
					t.Fatalf("ParseFsmonArgs(%q) = %+v, %v; want message %d", tt.args, a, err, tt.id)
				}
				return
			}
			if got := describe(tt.cmd, a); err != nil || got != tt.want {
				t.Fatalf("ParseFsmonArgs(%q) = %q, %v; want %q", tt.args, got, err, tt.want)
			}
		})
	}
}

// describe writes a parsed line as the ID, the operation's words, then the options as -x=value in
// the grammar's order.
func describe(cmd FsmonCommand, a FsmonArgs) string {
	switch {
	case a.Help:
		return "--help"
	case a.Version:
		return "--version"
	}
	out := []string{a.ID}
	if a.Op != fsmon.OpWatch {
		out = append(out, arg0(a.Op))
	}
	if a.Op == fsmon.OpStop {
		out = append(out, strconv.Itoa(int(a.Wait/time.Second)))
	}
	for _, f := range cmd.order() {
		if v, ok := a.Values[f]; ok {
			out = append(out, f+"="+v)
		}
	}
	return strings.Join(out, " ")
}

// legacy writes a parsed line back as a legacy command line.
func legacy(cmd FsmonCommand, a FsmonArgs) []string {
	out := []string{a.ID}
	if a.Op != fsmon.OpWatch {
		out = append(out, arg0(a.Op))
		if a.Op == fsmon.OpStop {
			out = append(out, strconv.Itoa(int(a.Wait/time.Second)))
		}
		return out
	}
	for _, f := range cmd.order() {
		if v, ok := a.Values[f]; ok {
			out = append(out, f, v)
		}
	}
	return out
}

// The detail of a refusal says which parameter is wrong and how (message 11 says only "Invalid
// parameter"), and never shows a password.
func TestFsmonArgDetails(t *testing.T) {
	tests := []struct {
		cmd    FsmonCommand
		args   []string
		detail string
	}{
		{Sambamon(), []string{"w", "-s", "x", "-i", "0"}, "-i takes a number of seconds from 1 to 10000, not 0"},
		{Sambamon(), []string{"w", "-s", "x", "-c", "many"}, `-c takes a number from 1 to 10000, not "many"`},
		{Nfsmon(), []string{"w", "-d", "x", "-n", "70000"}, "-n takes a port number from 1 to 65535, not 70000"},
		{Sambamon(), []string{"w", "-stop", "0"}, "-stop takes a number of seconds from 1 to 10000, not 0"},
		{Sambamon(), []string{"w", "-s", "x", "-q"}, "option -q is not supported yet"},
		{Sambamon(), []string{"w", "-s", "x", "--grp=1"}, "option --grp is not supported yet"},
		{Sambamon(), []string{"w", "-s", "x", "extra"}, `unexpected argument "extra"`},
		{Sambamon(), []string{"w", "-s", "x", "-stop"}, "-stop goes alone after the monitor ID"},
		{Sambamon(), []string{"w", "-pause", "-s"}, "-s after -pause: it goes alone after the monitor ID"},
		{Sambamon(), []string{"w", "-s"}, "-s needs a value"},
		{Sambamon(), []string{"w", "-s", "x", "-s", "y"}, "-s is given twice"},
		{Sambamon(), []string{"w", "-sshare"}, "write the value of -s after a blank, not glued to it"},
		{Nfsmon(), []string{"w", "-d", "x", "-a", "nfs-server"}, `-a "nfs-server": not an IP address`},
		{Sambamon(), []string{"w-1", "-s", "x"}, "the monitor ID must be 1 to 255 letters and digits"},
		// Passwords, and what may be one, are not shown.
		{Sambamon(), []string{"w", "-s", "x", "-pSECRET"}, "write the value of -p after a blank, not glued to it"},
		{Sambamon(), []string{"w", "-s", "x", "--p=SECRET"}, "option --p... is not supported yet"},
		{Sambamon(), []string{"w", "-s", "x", "--pSECRET"}, "option --p... is not supported yet"},
		{Sambamon(), []string{"w", "-s", "x", "--password=SECRET"}, "option --p... is not supported yet"},
		{Nfsmon(), []string{"w", "-d", "x", "--Passwd", "SECRET"}, "option --P... is not supported yet"},
		{Sambamon(), []string{"w", "-s", "x", "-p", "my", "SECRET"}, "unexpected argument after the password (not shown): quote a password that contains blanks"},
		{Sambamon(), []string{"w", "-disp", "--password=SECRET"}, "--p... after -disp: it goes alone after the monitor ID"},
	}
	for _, tt := range tests {
		_, err := ParseFsmonArgs(tt.cmd, tt.args)
		var ae *FsmonArgError
		if !errors.As(err, &ae) || ae.Detail != tt.detail {
			t.Errorf("%s %q: %v; want the detail %q", tt.cmd.Name, tt.args, err, tt.detail)
		}
	}
}

// FuzzFsmonArgs feeds arbitrary command lines (arguments separated by NUL) to both grammars: no
// panic, every refusal is message 11, 12 or 13 and never shows the password given with -p, and
// every accepted line means the same when written back in the legacy form.
func FuzzFsmonArgs(f *testing.F) {
	for _, s := range []string{"sambawatch\x00-s\x00XXXX", "w\x00-stop\x005", "w\x00-d\x00/e\x00-n2049", "-s\x00x",
		"w\x00-p\x00--help\x00-s\x00x", "w\x00-a\x00[::1]:445\x00-s\x00s", "w\x00-disp", "\x00", "w\x00-i\x00030\x00-s\x00a",
		"w\x00--password-file=/x\x00-s\x00s", "w\x00-s\x00s\x00--p=Q", "w\x00-s\x00s\x00extra"} {
		f.Add(s)
	}
	const secret = "Zq7-pw-ZZYZX"
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(strings.ReplaceAll(joined, secret, ""), "\x00")
		for _, cmd := range []FsmonCommand{Sambamon(), Nfsmon()} {
			a, err := ParseFsmonArgs(cmd, args)
			if err != nil {
				var ae *FsmonArgError
				if !errors.As(err, &ae) || (ae.ID != 11 && ae.ID != 12 && ae.ID != 13) {
					t.Fatalf("%s %q: %v", cmd.Name, args, err)
				}
				if m := cmd.ArgMessage(err); m.ID != ae.ID || !m.Alert || !m.Stderr {
					t.Fatalf("%s %q: message %+v for error %d", cmd.Name, args, m, ae.ID)
				}
				continue
			}
			if a.Help || a.Version {
				continue
			}
			if !FsmonValidID(a.ID) {
				t.Fatalf("%s %q: ID %q", cmd.Name, args, a.ID)
			}
			b, err := ParseFsmonArgs(cmd, legacy(cmd, a))
			if err != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("%s %q: %+v, but its legacy form %q reads as %+v, %v", cmd.Name, args, a, legacy(cmd, a), b, err)
			}
		}
		// The password goes right after the ID, where nothing the fuzzer writes can make it the
		// value of another option; what follows it may be anything.
		if len(args) > 0 {
			line := append([]string{args[0], "-p", secret}, args[1:]...)
			if _, err := ParseFsmonArgs(Sambamon(), line); err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("%q: the refusal shows the password: %v", line, err)
			}
		}
	})
}

// sampleEvents are events that produce every message of the catalogues.
func sampleEvents() []fsmon.Event {
	smb := func(p fsprobe.Phase, status uint32, errno syscall.Errno) fsmon.Event {
		return fsmon.Event{Kind: fsmon.Failed, Err: &fsprobe.SMBError{Phase: p, Status: status, Errno: errno}}
	}
	nfs := func(e fsprobe.NFSError) fsmon.Event { return fsmon.Event{Kind: fsmon.Failed, Err: &e} }
	return []fsmon.Event{
		{Kind: fsmon.Started}, {Kind: fsmon.Watching}, {Kind: fsmon.Stopping}, {Kind: fsmon.Terminating},
		{Kind: fsmon.Paused}, {Kind: fsmon.Continued}, {Kind: fsmon.InUse}, {Kind: fsmon.NotEnded},
		{Kind: fsmon.SystemError, Func: "mkdir", Errno: syscall.EACCES}, {Kind: fsmon.EnvError, Errno: syscall.EFAULT},
		smb(fsprobe.PhaseTreeConnect, fsprobe.StatusBadNetworkName, 0), smb(fsprobe.PhaseTreeConnect, fsprobe.StatusAccessDenied, 0),
		smb(fsprobe.PhaseShareType, 0, 0), smb(fsprobe.PhaseSessionSetup, fsprobe.StatusLogonFailure, 0),
		smb(fsprobe.PhaseNegotiate, fsprobe.StatusInvalidNetworkResponse, 0), smb(fsprobe.PhaseSocket, 0, syscall.EMFILE),
		smb(fsprobe.PhaseConnect, 0, syscall.ECONNREFUSED), smb(fsprobe.PhaseSend, 0, syscall.EPIPE),
		smb(fsprobe.PhaseWait, 0, syscall.ETIMEDOUT), smb(fsprobe.PhaseRecv, 0, 0),
		nfs(fsprobe.NFSError{Stat: fsprobe.RPCSuccess, MountStatus: 13}),
	}
}

func TestFsmonMessages(t *testing.T) {
	msgs := func(cmd FsmonCommand, ev fsmon.Event, target string) string {
		var b strings.Builder
		for _, m := range cmd.Messages(ev, target) {
			fmt.Fprintf(&b, "%d %s %v %v %s\n", m.ID, m.Level, m.Alert, m.Stderr, m.Text)
		}
		return b.String()
	}
	ev := sampleEvents()
	tests := []struct {
		cmd  FsmonCommand
		ev   fsmon.Event
		want string
	}{
		{Sambamon(), ev[0], "1 INFO true false The clp_sambamon has started watching Samba.\n"},
		{Sambamon(), ev[1], "2 INFO true false The clp_sambamon is going to watch share resource [XXXX].\n"},
		{Sambamon(), ev[2], "3 INFO true false The clp_sambamon will stop watching Samba [XXXX].\n"},
		{Sambamon(), ev[3], "6 ERR true false The clp_sambamon will terminate.\n"},
		{Sambamon(), ev[4], "7 INFO true false The clp_sambamon is going to stop monitoring.\n"},
		{Sambamon(), ev[5], "8 INFO true false The clp_sambamon is going to monitor.\n"},
		{Sambamon(), ev[6], "14 ERR true true The specified monitor id is already under use in other processes.\n"},
		{Sambamon(), ev[7], "15 ERR true true The clp_sambamon has not performed end processing.\n"},
		{Sambamon(), ev[8], "42 ERR true true The clp_sambamon has detected system error (mkdir 13).\n"},
		{Sambamon(), ev[9], "61 ERR true true The clp_sambamon could not get environment of server(error[14]). The clp_sambamon will terminate.\n"},
		{Sambamon(), ev[10], "62 ERR true false The clp_sambamon has detected an error in Samba [XXXX] (tree connect error[67]).\n"},
		{Sambamon(), ev[11], "62 ERR true false The clp_sambamon has detected an error in Samba [XXXX] (tree connect error[0xC0000022]).\n"},
		{Sambamon(), ev[12], "63 ERR true false The clp_sambamon has detected an error in Samba [XXXX] (share type error).\n"},
		{Sambamon(), ev[13], "64 ERR true false The clp_sambamon has detected an error in Samba [XXXX] (connect error[0xC000006D]).\n"},
		{Sambamon(), ev[14], "65 ERR true false The clp_sambamon has detected an error in Samba [XXXX] (negotiate error[0xC00000C3]).\n"},
		{Sambamon(), ev[15], "71 ERR true false The clp_sambamon has detected network error(socket error[24]).\n"},
		{Sambamon(), ev[16], "72 ERR true false The clp_sambamon has detected network error(connect error[111]).\n"},
		{Sambamon(), ev[17], "73 ERR true false The clp_sambamon has detected network error(send error[32]).\n"},
		{Sambamon(), ev[18], "74 ERR true false The clp_sambamon has detected network error(select error[110]).\n"},
		{Sambamon(), ev[19], "75 ERR true false The clp_sambamon has detected network error(recv error[0]).\n"},
		{Nfsmon(), ev[0], "1 INFO true false The clp_nfsmon has started watching NFS.\n"},
		{Nfsmon(), ev[1], "2 INFO true false The clp_nfsmon is going to watch shared directory 'XXXX'.\n"},
		{Nfsmon(), ev[2], "3 INFO true false The clp_nfsmon will stop watching NFS shared directory 'XXXX'.\n"},
		{Nfsmon(), ev[3], "6 ERR true false The clp_nfsmon will terminate.\n"},
		{Nfsmon(), ev[4], "7 INFO true false The clp_nfsmon is going to stop monitoring.\n"},
		{Nfsmon(), ev[5], "8 INFO true false The clp_nfsmon is going to monitor.\n"},
		{Nfsmon(), ev[6], "14 ERR true true The specified monitor id is already under use in other processes.\n"},
		{Nfsmon(), ev[7], "15 ERR true true The clp_nfsmon has not performed end processing.\n"},
		{Nfsmon(), ev[8], "42 ERR true true The clp_nfsmon has detected system error (mkdir 13).\n"},
		{Nfsmon(), ev[9], "61 ERR true true The clp_nfsmon could not get environment of server(error[14]). The clp_nfsmon will terminate.\n"},
		{Nfsmon(), ev[20], "0 ERR true false clp_nfsmon: mount error(13)\n66 ERR true false The clp_nfsmon has detected an error in NFS.\n"},
		{Sambamon(), fsmon.Event{Kind: fsmon.NotRunning}, "0 ERR false true clp_sambamon: no clp_sambamon is running with this monitor id.\n"},
		{Nfsmon(), fsmon.Event{Kind: fsmon.NoRecord}, "0 ERR false true clp_nfsmon: there is no record of this monitor id.\n"},
	}
	for _, tt := range tests {
		if got := msgs(tt.cmd, tt.ev, "XXXX"); got != tt.want {
			t.Errorf("%s %+v:\n got %q\nwant %q", tt.cmd.Name, tt.ev, got, tt.want)
		}
	}
	for _, tt := range []struct {
		cmd  FsmonCommand
		err  error
		want string
	}{
		{Sambamon(), &FsmonArgError{ID: 11}, "Invalid parameter in the clp_sambamon."},
		{Sambamon(), &FsmonArgError{ID: 12}, "'-s' parameter is not specified at the clp_sambamon command."},
		{Sambamon(), &FsmonArgError{ID: 13}, "The monitor id is not specified at the clp_sambamon command."},
		{Nfsmon(), &FsmonArgError{ID: 12}, "'-d' parameter is not specified at the clp_nfsmon command."},
		{Nfsmon(), errors.New("anything"), "Invalid parameter in the clp_nfsmon."},
	} {
		if m := tt.cmd.ArgMessage(tt.err); m.Text != tt.want || m.Level != alert.Error || !m.Stderr || !m.Alert {
			t.Errorf("%s %v: %+v, want %q", tt.cmd.Name, tt.err, m, tt.want)
		}
	}
}

func TestNFSFailureText(t *testing.T) {
	tests := []struct {
		err  fsprobe.NFSError
		want string
	}{
		// The seed's four examples (seed 001 §8.2.2).
		{fsprobe.NFSError{Stat: fsprobe.RPCSuccess, MountStatus: 2}, "mount error(2)"},
		{fsprobe.NFSError{Stat: fsprobe.RPCPmapFailure, Inner: fsprobe.RPCCantRecv, Errno: syscall.ECONNREFUSED}, "RPC: Port mapper failure - RPC: Unable to receive."},
		{fsprobe.NFSError{Stat: fsprobe.RPCProgNotRegistered}, "RPC: Program not registered."},
		{fsprobe.NFSError{Stat: fsprobe.RPCCantRecv, Errno: syscall.ECONNREFUSED}, "RPC: Unable to receive: errno = Connection refused."},
		// The rest of clnt_sperror.
		{fsprobe.NFSError{Stat: fsprobe.RPCPmapFailure, Inner: fsprobe.RPCTimedOut}, "RPC: Port mapper failure - RPC: Timed out."},
		{fsprobe.NFSError{Stat: fsprobe.RPCCantSend, Errno: syscall.ENETUNREACH}, "RPC: Unable to send: errno = Network is unreachable."},
		{fsprobe.NFSError{Stat: fsprobe.RPCSystemError, Errno: syscall.ECONNREFUSED}, "RPC: Remote system error - Connection refused."},
		{fsprobe.NFSError{Stat: fsprobe.RPCSystemError}, "RPC: Remote system error."},
		{fsprobe.NFSError{Stat: fsprobe.RPCTimedOut}, "RPC: Timed out."},
		{fsprobe.NFSError{Stat: fsprobe.RPCProgUnavail}, "RPC: Program unavailable."},
		{fsprobe.NFSError{Stat: fsprobe.RPCProgVersMismatch, Low: 4, High: 4}, "RPC: Program/version mismatch; low version = 4, high version = 4."},
		{fsprobe.NFSError{Stat: fsprobe.RPCVersMismatch, Low: 3, High: 3}, "RPC: Incompatible versions of RPC; low version = 3, high version = 3."},
		{fsprobe.NFSError{Stat: fsprobe.RPCAuthError, Why: 5}, "RPC: Authentication error; why = Client credential too weak."},
		{fsprobe.NFSError{Stat: fsprobe.RPCProcUnavail}, "RPC: Procedure unavailable."},
		{fsprobe.NFSError{Stat: fsprobe.RPCCantDecodeRes}, "RPC: Can't decode result."},
	}
	for _, tt := range tests {
		if got := NFSFailureText(&tt.err); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestFsmonManPages checks the MESSAGES sections of the man pages against the catalogue: every
// message ID the catalogue makes is documented, with its level, and its text matches the
// page's (slots in italics match any word).
func TestFsmonManPages(t *testing.T) {
	entry := regexp.MustCompile(`(?m)^\.B (\d+) (INFO|WARN|ERR)\n(.*)$`)
	italic := regexp.MustCompile(`\\fI[^\\]*\\fR`)
	for _, cmd := range []FsmonCommand{Sambamon(), Nfsmon()} {
		page, err := os.ReadFile("../man/" + cmd.Name + ".8")
		if err != nil {
			t.Fatal(err)
		}
		documented := map[string]*regexp.Regexp{}
		for _, m := range entry.FindAllStringSubmatch(string(page), -1) {
			line := strings.NewReplacer(`\&`, "", `\-`, "-").Replace(m[3])
			parts := italic.Split(line, -1)
			for i := range parts {
				parts[i] = regexp.QuoteMeta(parts[i])
			}
			documented[m[1]+" "+m[2]] = regexp.MustCompile("^" + strings.Join(parts, `\S+`) + "$")
		}
		seen := map[string]bool{}
		check := func(m fsmon.Message) {
			if !m.Alert {
				return
			}
			key := fmt.Sprintf("%d %s", m.ID, m.Level)
			seen[key] = true
			re, ok := documented[key]
			switch {
			case !ok:
				t.Errorf("%s: message %s is not in the man page", cmd.Name, key)
			case m.ID != 0 && !re.MatchString(m.Text):
				t.Errorf("%s: message %s is %q; the man page has %s", cmd.Name, key, m.Text, re)
			}
		}
		for _, ev := range sampleEvents() {
			for _, m := range cmd.Messages(ev, "target") {
				check(m)
			}
		}
		for _, id := range []int{11, 12, 13} {
			check(cmd.ArgMessage(&FsmonArgError{ID: id}))
		}
		for key := range documented {
			if !seen[key] {
				t.Errorf("%s: the man page documents message %s, which the catalogue never makes", cmd.Name, key)
			}
		}
	}
}

// Sambamon and Nfsmon are the grammars the commands' flag tables give (cmd/clp_sambamon,
// cmd/clp_nfsmon; those tables are the source, these fixtures test the grammar itself).
func Sambamon() FsmonCommand {
	return FsmonCommand{
		Name:        "clp_sambamon",
		Target:      "-s",
		Strings:     []string{"-s", "-a", "-u", "-p", "--password-file"},
		Numbers:     fsmonTimings(),
		MayBeEmpty:  []string{"-p"},
		Secret:      []string{"-p"},
		AddressPort: true,
	}
}

func Nfsmon() FsmonCommand {
	return FsmonCommand{
		Name:    "clp_nfsmon",
		Target:  "-d",
		Strings: []string{"-d", "-a"},
		Numbers: append([]FsmonNumber{{"-n", 1, 65535, "a port number"}}, fsmonTimings()...),
		Glued:   []string{"-n"},
	}
}

func fsmonTimings() []FsmonNumber {
	return []FsmonNumber{{"-i", 1, FsmonMaxNumber, "a number of seconds"}, {"-c", 1, FsmonMaxNumber, ""}, {"-r", 1, FsmonMaxNumber, "a number of seconds"}}
}
