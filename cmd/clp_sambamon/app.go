package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"clpkit/compat"
	"clpkit/internal/command"
	"clpkit/internal/fsmoncmd"
	"clpkit/pkg/fsmon"
	"clpkit/pkg/fsprobe"
)

// EnvPassword names the environment variable that gives the password of -u, so that it need not
// be on the command line (which ps shows).
const EnvPassword = "CLP_SAMBAMON_PASSWORD"

// spec is what sets this command apart from its sibling: its flags and its probe; man
// page man/clp_sambamon.8 documents the same synopsis and options.
func spec() fsmoncmd.Spec {
	return fsmoncmd.Spec{
		Command: command.Spec{
			Name: "clp_sambamon",
			Usage: `clp_sambamon monitor_id -s share [-a address] [-u user] [-p password | --password-file file]
    [-i interval] [-c retries] [-r timeout]
clp_sambamon monitor_id -stop [wait]
clp_sambamon monitor_id -pause
clp_sambamon monitor_id -continue
clp_sambamon monitor_id -disp
clp_sambamon monitor_id -del`,
			About: `Watch a Samba share: connect to the server and to the share (SMB2/3 tree connect) every
interval seconds, and exit when that has failed retries times in a row, so that the pid
monitor of the cluster fails the group over. monitor_id (letters and digits, first) names
the watcher for the other forms. Messages go to the alert log (module sambamon) and syslog.
The password of -u is -p, or the file of --password-file, or $` + EnvPassword + `.`,
			Flags: []command.Flag{
				{Names: []string{"-s"}, Arg: "share", Kind: command.Value, Help: "the share to watch, as named in smb.conf (required)"},
				{Names: []string{"-a"}, Arg: "address", Kind: command.Value, Default: "127.0.0.1",
					Help: "the server's IP address, or address:port (default 127.0.0.1, port 445)"},
				{Names: []string{"-u"}, Arg: "user", Kind: command.Value, Help: `log on as user ("DOMAIN\user" names a domain); default: guest`},
				{Names: []string{"-p"}, Arg: "password", Kind: command.Value, Secret: true, Empty: true,
					Help: "the user's password; it never appears in a log (but ps shows it:\nprefer --password-file)"},
				{Names: []string{"--password-file"}, Arg: "file", Kind: command.Value,
					Help: "read the password from file, owned by root and readable by root only"},
			},
			After: `Exit status: 0 success, also -stop with no such watcher; 1 Samba failed; 2 bad command
line; 3 monitor_id in use; 4 -stop timed out, or -pause, -continue or -disp found no
watcher; 5 system error. See clp_sambamon(8).`,
		},
		Target:      "-s",
		AddressPort: true,
		Build: func(v fsmoncmd.Values, env func(string) string) (fsmon.Probe, error) {
			ip, port, err := compat.ParseFsmonAddress(v.String("-a"), true, 445)
			if err != nil {
				return nil, &fsmoncmd.UsageError{Err: err}
			}
			password, err := passwordOf(v, env)
			if err != nil {
				return nil, err
			}
			target := fsprobe.SMBTarget{
				Addr:     net.JoinHostPort(ip.String(), strconv.Itoa(port)),
				Share:    v.String("-s"),
				User:     v.String("-u"),
				Password: password,
			}
			return fsmoncmd.Probe(fsprobe.ProbeSMB, target), nil
		},
	}
}

// run is the whole command: argv in, exit status out.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return fsmoncmd.Run(spec(), args, stdout, stderr, env)
}

// passwordOf is the password of a watch: -p, else the file of --password-file, else
// $CLP_SAMBAMON_PASSWORD, else none.
func passwordOf(v fsmoncmd.Values, env func(string) string) (string, error) {
	switch {
	case v.Has("-p") && v.Has("--password-file"):
		return "", &fsmoncmd.UsageError{Err: fmt.Errorf("give the password with -p or --password-file, not both")}
	case v.Has("-p"):
		return v.String("-p"), nil
	case v.Has("--password-file"):
		return readPasswordFile(v.String("--password-file"))
	}
	return env(EnvPassword), nil
}

// readPasswordFile reads a password file: a regular file owned by root that no one else may
// read, holding the password, with or without a final line break. Anything else is refused:
// a password that others can read is no longer one.
func readPasswordFile(path string) (string, error) {
	refuse := func(format string, a ...any) error {
		return &fsmoncmd.UsageError{Err: fmt.Errorf("--password-file "+path+": "+format, a...)}
	}
	f, err := os.Open(path)
	if err != nil {
		return "", refuse("%v", unwrapPath(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", refuse("%v", unwrapPath(err))
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return "", refuse("not a regular file")
	case st == nil || st.Uid != 0:
		return "", refuse("owned by uid %d, not root: chown root %s", ownerOf(st), path)
	case fi.Mode().Perm()&0o077 != 0:
		return "", refuse("mode %04o lets group or others read it: chmod 600 %s", fi.Mode().Perm(), path)
	}
	// One byte more than the longest password and its line break tells a longer file apart.
	b := make([]byte, compat.FsmonMaxString+3)
	n, err := io.ReadFull(f, b)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", refuse("%v", unwrapPath(err))
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b[:n]), "\n"), "\r")
	switch {
	case len(pw) > compat.FsmonMaxString:
		return "", refuse("the password is longer than %d bytes", compat.FsmonMaxString)
	case strings.ContainsAny(pw, "\x00\n"):
		return "", refuse("the password must be one line, without NUL bytes")
	}
	return pw, nil
}

func ownerOf(st *syscall.Stat_t) int {
	if st == nil {
		return -1
	}
	return int(st.Uid)
}

// unwrapPath drops the path an *os.PathError repeats: the refusal names the file already.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
