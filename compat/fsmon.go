package compat

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"clpkit/pkg/fsmon"
)

// This file reads the legacy command lines of the file-server monitors (seed 001 §7.4):
//
//	clp_sambamon ID -s share [-a address] [-u user] [-p password] [-i interval] [-c retries] [-r timeout]
//	clp_nfsmon   ID -d dir   [-a address] [-n port] [-i interval] [-c retries] [-r timeout]
//	<command>    ID -stop [wait] | -pause | -continue | -disp | -del
//
// The monitor ID comes first, options follow in any order, and -stop takes an optional number:
// no flag parser reads that, so ParseFsmonArgs does, once, into what the command runs. Errors
// carry the seed's message IDs: 13 when there is no ID, 12 when the share or directory is
// missing, 11 for anything else.

// FsmonCommand is the grammar of one monitor command, as its flag table gives it.
type FsmonCommand struct {
	// Name is the command name, e.g. "clp_sambamon".
	Name string
	// Target is the required option: "-s" (share) or "-d" (directory).
	Target string
	// Strings are the options that take a string, Target included. A long one
	// ("--password-file") may also be written --name=value.
	Strings []string
	// Numbers are the options that take a number, with their ranges.
	Numbers []FsmonNumber
	// MayBeEmpty are string options that accept "" (a password may be empty).
	MayBeEmpty []string
	// Secret are the options whose values are passwords: no refusal ever shows them, nor what
	// may be the rest of one.
	Secret []string
	// AddressPort allows -a host:port (Samba, so that a test server can listen beside the system
	// one); without it -a is an IP address alone.
	AddressPort bool
	// Glued are options whose value may be written glued to them, as the seed's synopsis writes
	// "-nポート番号".
	Glued []string
}

// FsmonNumber is a numeric option and its range.
type FsmonNumber struct {
	Flag     string
	Min, Max int
	// Takes says what the number counts, for refusals: "a number of seconds".
	Takes string
}

// The limits of seed 001 §7.4.
const (
	// FsmonMaxString is the longest -s, -d, -a, -u, -p value and monitor ID, in bytes.
	FsmonMaxString = 255
	// FsmonMaxNumber is the upper end of -i, -c, -r and the -stop wait.
	FsmonMaxNumber = 10000
	// FsmonDefaultStopWait is the -stop wait when none is given, in seconds.
	FsmonDefaultStopWait = 60
)

// fsmonOp is the operation a legacy word names.
func fsmonOp(word string) (fsmon.Op, bool) {
	op, ok := map[string]fsmon.Op{"-stop": fsmon.OpStop, "-pause": fsmon.OpPause, "-continue": fsmon.OpContinue,
		"-disp": fsmon.OpDisp, "-del": fsmon.OpDel}[word]
	return op, ok
}

// FsmonArgs is a parsed command line.
type FsmonArgs struct {
	// Help is set for --help (or -help), Version for --version; nothing else is then set.
	Help, Version bool
	ID            string
	Op            fsmon.Op
	// Wait is the -stop wait.
	Wait time.Duration
	// Values holds the options given with fsmon.OpWatch, by flag ("-s"), numbers in canonical
	// decimal.
	Values map[string]string
}

// FsmonArgError is a command line the monitor refuses, with the seed's message ID (11, 12 or
// 13). Detail says what was wrong and never holds a password; the commands print it after the
// legacy text of message 11, which does not say which parameter it is.
type FsmonArgError struct {
	ID     int
	Detail string
}

func (e *FsmonArgError) Error() string { return fmt.Sprintf("message %d: %s", e.ID, e.Detail) }

func argErr(id int, format string, a ...any) error {
	return &FsmonArgError{ID: id, Detail: fmt.Sprintf(format, a...)}
}

// FsmonValidID reports whether id is a monitor ID: 1 to 255 bytes of ASCII letters and digits.
func FsmonValidID(id string) bool {
	if id == "" || len(id) > FsmonMaxString {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func isHelp(a string) bool    { return a == "--help" || a == "-help" }
func isVersion(a string) bool { return a == "--version" || a == "-version" }

// ParseFsmonArgs reads a legacy command line (without the program name).
func ParseFsmonArgs(cmd FsmonCommand, args []string) (FsmonArgs, error) {
	if len(args) > 0 && isHelp(args[0]) {
		return FsmonArgs{Help: true}, nil
	}
	if len(args) > 0 && isVersion(args[0]) {
		return FsmonArgs{Version: true}, nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return FsmonArgs{}, argErr(13, "the monitor ID must be the first argument")
	}
	id := args[0]
	if !FsmonValidID(id) {
		return FsmonArgs{}, argErr(11, "the monitor ID must be 1 to %d letters and digits", FsmonMaxString)
	}
	a := FsmonArgs{ID: id, Values: map[string]string{}}
	rest := args[1:]
	afterSecret := false
	for i := 0; i < len(rest); i++ {
		arg := rest[i]
		// A stray word after a password, or after what looks like a password option (-p, -P,
		// --password, even when -p was taken as another's value), may be the password or its
		// rest: it is not shown.
		prevSecret := afterSecret || (i > 0 && cmd.secretish(rest[i-1]))
		afterSecret = false
		switch {
		case isHelp(arg):
			return FsmonArgs{Help: true}, nil
		case isVersion(arg):
			return FsmonArgs{Version: true}, nil
		}
		if op, ok := fsmonOp(arg); ok {
			if a.Op != fsmon.OpWatch || len(a.Values) > 0 {
				return FsmonArgs{}, argErr(11, "%s goes alone after the monitor ID", arg)
			}
			a.Op = op
			if op == fsmon.OpStop {
				a.Wait = FsmonDefaultStopWait * time.Second
				if i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "-") {
					i++
					n, ok := fsmonNumber(rest[i], 1, FsmonMaxNumber)
					if !ok {
						return FsmonArgs{}, argErr(11, "-stop takes a number of seconds from 1 to %d, not %s", FsmonMaxNumber, shownNumber(rest[i]))
					}
					a.Wait = time.Duration(n) * time.Second
				}
			}
			continue
		}
		if a.Op != fsmon.OpWatch {
			return FsmonArgs{}, argErr(11, "%s after %s: it goes alone after the monitor ID", cmd.shown(arg), arg0(a.Op))
		}
		flag, value, hasValue := cmd.split(arg)
		if !cmd.known(flag) {
			switch {
			case !strings.HasPrefix(arg, "-") && prevSecret:
				return FsmonArgs{}, argErr(11, "unexpected argument after the password (not shown): quote a password that contains blanks")
			case !strings.HasPrefix(arg, "-"):
				return FsmonArgs{}, argErr(11, "unexpected argument %q", arg)
			case cmd.gluedValue(arg) != "":
				return FsmonArgs{}, argErr(11, "write the value of %s after a blank, not glued to it", cmd.gluedValue(arg))
			}
			return FsmonArgs{}, argErr(11, "option %s is not supported yet", cmd.shown(arg))
		}
		if _, dup := a.Values[flag]; dup {
			return FsmonArgs{}, argErr(11, "%s is given twice", flag)
		}
		if !hasValue {
			if i+1 >= len(rest) {
				return FsmonArgs{}, argErr(11, "%s needs a value", flag)
			}
			i++
			value = rest[i]
		}
		v, err := cmd.check(flag, value)
		if err != nil {
			return FsmonArgs{}, err
		}
		a.Values[flag] = v
		afterSecret = slices.Contains(cmd.Secret, flag)
	}
	if a.Op == fsmon.OpWatch {
		if _, ok := a.Values[cmd.Target]; !ok {
			return FsmonArgs{}, argErr(12, "%s is required", cmd.Target)
		}
	} else {
		a.Values = nil
	}
	return a, nil
}

// arg0 is the legacy word of an operation.
func arg0(op fsmon.Op) string {
	for _, w := range []string{"-stop", "-pause", "-continue", "-disp", "-del"} {
		if o, _ := fsmonOp(w); o == op {
			return w
		}
	}
	return "the operation"
}

// split splits "-n2049" into "-n" and "2049" for the options the seed writes glued, and
// "--password-file=x" for a long option.
func (cmd FsmonCommand) split(arg string) (flag, value string, ok bool) {
	for _, g := range cmd.Glued {
		if v, found := strings.CutPrefix(arg, g); found && v != "" {
			return g, v, true
		}
	}
	if strings.HasPrefix(arg, "--") {
		if f, v, found := strings.Cut(arg, "="); found && slices.Contains(cmd.Strings, f) {
			return f, v, true
		}
	}
	return arg, "", false
}

// gluedValue returns the option arg begins with when it is an option with a value glued where
// none may be (-sshare, -pSECRET), else "".
func (cmd FsmonCommand) gluedValue(arg string) string {
	for _, w := range []string{"-stop", "-pause", "-continue", "-disp", "-del"} {
		if strings.HasPrefix(arg, w) {
			return ""
		}
	}
	for _, f := range cmd.order() {
		if len(f) == 2 && strings.HasPrefix(arg, f) && len(arg) > 2 {
			return f
		}
	}
	return ""
}

// secretish reports whether arg looks like an option that takes a password: a Secret option in
// either case, or an option shown cut (see shown).
func (cmd FsmonCommand) secretish(arg string) bool {
	for _, f := range cmd.Secret {
		if strings.EqualFold(arg, f) {
			return true
		}
	}
	return strings.HasPrefix(arg, "-") && strings.HasSuffix(cmd.shown(arg), "...")
}

// shown is arg as a refusal may show it: cut to its first letter and "..." when it may hold a
// password (a --p=SECRET or --password=SECRET the command does not have).
func (cmd FsmonCommand) shown(arg string) string {
	name := strings.TrimLeft(arg, "-")
	dashes := arg[:len(arg)-len(name)]
	if name == "" {
		return ShownArg(arg)
	}
	low := strings.ToLower(name)
	secret := strings.Contains(low, "pass") || strings.Contains(low, "pwd")
	for _, f := range cmd.Secret {
		secret = secret || (len(low) > 1 && strings.HasPrefix(low, strings.TrimLeft(f, "-")))
	}
	if secret {
		return dashes + ShownArg(name[:1]) + "..."
	}
	if f, _, ok := strings.Cut(arg, "="); ok {
		return ShownArg(f)
	}
	return ShownArg(arg)
}

func (cmd FsmonCommand) known(flag string) bool {
	if slices.Contains(cmd.Strings, flag) {
		return true
	}
	for _, n := range cmd.Numbers {
		if n.Flag == flag {
			return true
		}
	}
	return false
}

// check validates one option value and returns its canonical form.
func (cmd FsmonCommand) check(flag, value string) (string, error) {
	for _, n := range cmd.Numbers {
		if n.Flag != flag {
			continue
		}
		v, ok := fsmonNumber(value, n.Min, n.Max)
		if !ok {
			takes := n.Takes
			if takes == "" {
				takes = "a number"
			}
			return "", argErr(11, "%s takes %s from %d to %d, not %s", flag, takes, n.Min, n.Max, shownNumber(value))
		}
		return strconv.Itoa(v), nil
	}
	if len(value) > FsmonMaxString {
		return "", argErr(11, "%s is longer than %d bytes", flag, FsmonMaxString)
	}
	if value == "" && !slices.Contains(cmd.MayBeEmpty, flag) {
		return "", argErr(11, "%s is empty", flag)
	}
	if strings.ContainsAny(value, "\x00") {
		return "", argErr(11, "%s holds a NUL byte", flag)
	}
	if flag == "-a" {
		if _, _, err := ParseFsmonAddress(value, cmd.AddressPort, 0); err != nil {
			return "", argErr(11, "-a %q: %v", value, err)
		}
	}
	return value, nil
}

// shownNumber is a refused number as a refusal shows it: as typed when it is all digits (and
// a sign), quoted otherwise.
func shownNumber(s string) string {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if t == "" || strings.Trim(t, "0123456789") != "" {
		return strconv.Quote(s)
	}
	return s
}

// ParseFsmonAddress reads an -a value: an IPv4 or IPv6 address, or with withPort also
// "address:port" ("[v6]:port"). The port is defPort when none is given.
func ParseFsmonAddress(s string, withPort bool, defPort int) (netip.Addr, int, error) {
	if ip, err := netip.ParseAddr(s); err == nil && ip.Zone() == "" {
		return ip, defPort, nil
	}
	if !withPort {
		return netip.Addr{}, 0, fmt.Errorf("not an IP address")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("neither an IP address nor address:port")
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, 0, fmt.Errorf("%q is not an IP address", host)
	}
	p, ok := fsmonNumber(port, 1, 65535)
	if !ok {
		return netip.Addr{}, 0, fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return ip, p, nil
}

// fsmonNumber reads a decimal number the way the original's atoi-based parser accepted one, but
// strictly: digits only (leading zeros allowed, read as decimal), within min..max.
func fsmonNumber(s string, min, max int) (int, bool) {
	if len(s) > 12 || !AllDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, false
	}
	return n, true
}

func (cmd FsmonCommand) order() []string {
	out := slices.Clone(cmd.Strings)
	for _, n := range cmd.Numbers {
		out = append(out, n.Flag)
	}
	return out
}
