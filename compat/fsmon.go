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
// no flag parser reads that, so ParseFsmonArgs does, and NormalizeFsmonArgs rewrites the line
// into one urfave/cli can parse. Errors carry the seed's message IDs: 13 when there is no ID, 12
// when the share or directory is missing, 11 for anything else.

// FsmonCommand is the grammar of one monitor command.
type FsmonCommand struct {
	// Name is the command name, e.g. "clp_sambamon".
	Name string
	// Target is the required option: "-s" (share) or "-d" (directory).
	Target string
	// Strings are the options that take a string, Target included.
	Strings []string
	// Numbers are the options that take a number, with their ranges.
	Numbers []FsmonNumber
	// MayBeEmpty are string options that accept "" (a password may be empty).
	MayBeEmpty []string
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

// Sambamon is the grammar of clp_sambamon.
func Sambamon() FsmonCommand {
	return FsmonCommand{
		Name:        "clp_sambamon",
		Target:      "-s",
		Strings:     []string{"-s", "-a", "-u", "-p"},
		Numbers:     fsmonTimings(),
		MayBeEmpty:  []string{"-p"},
		AddressPort: true,
	}
}

// Nfsmon is the grammar of clp_nfsmon.
func Nfsmon() FsmonCommand {
	return FsmonCommand{
		Name:    "clp_nfsmon",
		Target:  "-d",
		Strings: []string{"-d", "-a"},
		Numbers: append([]FsmonNumber{{"-n", 1, 65535}}, fsmonTimings()...),
		Glued:   []string{"-n"},
	}
}

func fsmonTimings() []FsmonNumber {
	return []FsmonNumber{{"-i", 1, FsmonMaxNumber}, {"-c", 1, FsmonMaxNumber}, {"-r", 1, FsmonMaxNumber}}
}

// FsmonOp is what a command line asks for.
type FsmonOp string

// The operations, named as their legacy words.
const (
	FsmonWatch    FsmonOp = ""
	FsmonStop     FsmonOp = "-stop"
	FsmonPause    FsmonOp = "-pause"
	FsmonContinue FsmonOp = "-continue"
	FsmonDisp     FsmonOp = "-disp"
	FsmonDel      FsmonOp = "-del"
)

func fsmonOps() []FsmonOp {
	return []FsmonOp{FsmonStop, FsmonPause, FsmonContinue, FsmonDisp, FsmonDel}
}

// FsmonArgs is a parsed command line.
type FsmonArgs struct {
	// Help is set for --help (or -help); nothing else is then set.
	Help bool
	ID   string
	Op   FsmonOp
	// Wait is the -stop wait in seconds.
	Wait int
	// Values holds the options given with FsmonWatch, by flag ("-s"), numbers in canonical
	// decimal.
	Values map[string]string
}

// FsmonArgError is a command line the monitor refuses, with the seed's message ID (11, 12 or
// 13). Detail says what was wrong, for the man page's readers and for tests; it is not part of
// the legacy message.
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

func isHelp(a string) bool { return a == "--help" || a == "-help" }

// ParseFsmonArgs reads a legacy command line (without the program name).
func ParseFsmonArgs(cmd FsmonCommand, args []string) (FsmonArgs, error) {
	if len(args) > 0 && isHelp(args[0]) {
		return FsmonArgs{Help: true}, nil
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
	for i := 0; i < len(rest); i++ {
		arg := rest[i]
		if isHelp(arg) {
			return FsmonArgs{Help: true}, nil
		}
		if op := FsmonOp(arg); slices.Contains(fsmonOps(), op) {
			if a.Op != FsmonWatch || len(a.Values) > 0 {
				return FsmonArgs{}, argErr(11, "%s goes alone after the monitor ID", arg)
			}
			a.Op = op
			if op == FsmonStop {
				a.Wait = FsmonDefaultStopWait
				if i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "-") {
					i++
					n, ok := fsmonNumber(rest[i], 1, FsmonMaxNumber)
					if !ok {
						return FsmonArgs{}, argErr(11, "the -stop wait %q is not a number from 1 to %d", rest[i], FsmonMaxNumber)
					}
					a.Wait = n
				}
			}
			continue
		}
		if a.Op != FsmonWatch {
			return FsmonArgs{}, argErr(11, "%q after %s", arg, a.Op)
		}
		flag, value, hasValue := cmd.splitGlued(arg)
		if !cmd.known(flag) {
			return FsmonArgs{}, argErr(11, "unknown argument %q", arg)
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
	}
	if a.Op == FsmonWatch {
		if _, ok := a.Values[cmd.Target]; !ok {
			return FsmonArgs{}, argErr(12, "%s is required", cmd.Target)
		}
	} else {
		a.Values = nil
	}
	return a, nil
}

// splitGlued splits "-n2049" into "-n" and "2049" for the options the seed writes glued.
func (cmd FsmonCommand) splitGlued(arg string) (flag, value string, ok bool) {
	for _, g := range cmd.Glued {
		if v, found := strings.CutPrefix(arg, g); found && v != "" {
			return g, v, true
		}
	}
	return arg, "", false
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
			return "", argErr(11, "%s %q is not a number from %d to %d", flag, value, n.Min, n.Max)
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
	if s == "" || len(s) > 12 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, false
	}
	return n, true
}

// Normalized is the command line for the App: the options as "-x=value" (so that no value is
// ever taken for a flag, a password "--help" included), then "--", the ID and the operation's
// words. For --help it is just "--help".
func (a FsmonArgs) Normalized(cmd FsmonCommand) []string {
	if a.Help {
		return []string{"--help"}
	}
	var out []string
	for _, f := range cmd.order() {
		if v, ok := a.Values[f]; ok {
			out = append(out, f+"="+v)
		}
	}
	out = append(out, "--", a.ID)
	if a.Op != FsmonWatch {
		out = append(out, string(a.Op))
	}
	if a.Op == FsmonStop {
		out = append(out, strconv.Itoa(a.Wait))
	}
	return out
}

// Legacy renders a as the legacy command line it was read from (in a canonical order).
func (a FsmonArgs) Legacy(cmd FsmonCommand) []string {
	if a.Help {
		return []string{"--help"}
	}
	out := []string{a.ID}
	if a.Op != FsmonWatch {
		out = append(out, string(a.Op))
		if a.Op == FsmonStop {
			out = append(out, strconv.Itoa(a.Wait))
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

func (cmd FsmonCommand) order() []string {
	out := slices.Clone(cmd.Strings)
	for _, n := range cmd.Numbers {
		out = append(out, n.Flag)
	}
	return out
}

// NormalizeFsmonArgs parses a legacy command line and returns its Normalized form.
func NormalizeFsmonArgs(cmd FsmonCommand, args []string) ([]string, error) {
	a, err := ParseFsmonArgs(cmd, args)
	if err != nil {
		return nil, err
	}
	return a.Normalized(cmd), nil
}

// FsmonControl reads the words Normalized puts after the monitor ID: nothing for a watch, else
// the operation and, for -stop, its wait.
func FsmonControl(words []string) (fsmon.Op, time.Duration, error) {
	if len(words) == 0 {
		return fsmon.OpWatch, 0, nil
	}
	ops := map[FsmonOp]fsmon.Op{FsmonStop: fsmon.OpStop, FsmonPause: fsmon.OpPause, FsmonContinue: fsmon.OpContinue,
		FsmonDisp: fsmon.OpDisp, FsmonDel: fsmon.OpDel}
	op, ok := ops[FsmonOp(words[0])]
	switch {
	case !ok:
		return 0, 0, argErr(11, "unknown operation %q", words[0])
	case op == fsmon.OpStop && len(words) == 2:
		n, ok := fsmonNumber(words[1], 1, FsmonMaxNumber)
		if !ok {
			return 0, 0, argErr(11, "the -stop wait %q is not a number from 1 to %d", words[1], FsmonMaxNumber)
		}
		return op, time.Duration(n) * time.Second, nil
	case op == fsmon.OpStop && len(words) == 1:
		return op, FsmonDefaultStopWait * time.Second, nil
	case len(words) != 1:
		return 0, 0, argErr(11, "%s takes no value", words[0])
	}
	return op, 0, nil
}
