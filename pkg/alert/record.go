// Package alert is clpkit's alert log: the one place where the daemon and every tool (clplogcmd,
// pcheck, clp_sambamon, ...) record events an operator must see, in the spirit of the CLUSTERPRO
// alert view.
//
// # The alert log file
//
// The log is an append-only text file, one record per line, six fields separated by one space:
//
//	2026-11-22T02:35:18.123+00:00 server1 logcmd 1 WARN disk almost full on /data
//	time                          server  module ID level text
//
// The time is RFC 3339 with milliseconds and a numeric zone (never "Z"), so the line sorts and
// reads the same way everywhere. Server and module never contain blanks (a blank or control byte
// becomes '_', an empty value becomes "-"), so `awk '{print $5}'` is always the level. The text
// comes last and may contain blanks; CR and LF in it are replaced by a blank so that a record is
// always exactly one line. The level is one of INFO, WARN and ERR.
//
// The file is /var/log/clpkit/alert.log unless the environment variable CLPKIT_ALERT_LOG names
// another one (tests and per-test clusters use it); see [Path]. It and its directory are created
// when missing.
//
// Each record is written with a single write(2) on a descriptor opened with O_APPEND, so writers in
// several processes never interleave inside a line. The file is opened for each record rather
// than held open: alerts are rare, and this way logrotate can move the file away with no signal
// and no copytruncate.
//
// # Syslog
//
// Records can also go to syslog (facility daemon, tag = module, priority from the level) through
// [SyslogSink]. Containers and CI machines often have no /dev/log: [DialSyslog] then fails with
// [ErrNoSyslog], and the caller decides whether that matters; [NewStandard], used by the daemon,
// leaves syslog out silently.
//
// The package keeps no mutable state of its own: the path, clock and server name are given to
// the constructors, so one process can run many loggers (one per test cluster) side by side.
package alert

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is the layout of the time field: RFC 3339 with milliseconds and a numeric zone.
// "-07:00" (not "Z07:00") keeps UTC as "+00:00", so every line has the same width up to the server.
const TimeLayout = "2006-01-02T15:04:05.000-07:00"

// Level is the severity of a record. The zero value is Info, so a Record built without a level
// is informational rather than invalid.
type Level int

// The three levels of CLUSTERPRO's clplogcmd.
const (
	Info Level = iota
	Warning
	Error
)

// String returns the spelling used in the alert log: INFO, WARN or ERR.
func (l Level) String() string {
	switch l {
	case Info:
		return "INFO"
	case Warning:
		return "WARN"
	case Error:
		return "ERR"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// Valid reports whether l is one of Info, Warning and Error.
func (l Level) Valid() bool { return l >= Info && l <= Error }

// levelNamed knows every spelling real scripts pass to clplogcmd -l (see the contract notes:
// INFO, WARN, ERR, warn, err, ERROR are all seen in the wild; WARNING is the obvious sibling).
// Matching is case-insensitive, so only the upper-case forms are listed.
func levelNamed(upper string) (Level, bool) {
	switch upper {
	case "INFO":
		return Info, true
	case "WARN", "WARNING":
		return Warning, true
	case "ERR", "ERROR":
		return Error, true
	}
	return 0, false
}

// AcceptedLevels lists the spellings ParseLevel accepts, for error and help texts.
const AcceptedLevels = "INFO, WARN, WARNING, ERR, ERROR (any case)"

// ParseLevel reads a level the way legacy scripts spell it: INFO, WARN, WARNING, ERR or ERROR in
// any case. Surrounding blanks are ignored because scripts build the value from variables.
func ParseLevel(s string) (Level, error) {
	if l, ok := levelNamed(strings.ToUpper(strings.TrimSpace(s))); ok {
		return l, nil
	}
	return 0, fmt.Errorf("unknown level %q: accepted are %s", s, AcceptedLevels)
}

// MarshalText renders the level as in the alert log, so JSON output (clpstat -o json) uses the
// same words as the file.
func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("invalid level %d", int(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText accepts every spelling ParseLevel accepts.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Record is one alert: what happened (ID, Level, Text), where (Server, Module) and when (Time).
type Record struct {
	Time   time.Time
	Server string
	// Module names the emitter, as CLUSTERPRO's "type" column: rc (group control), logcmd
	// (clplogcmd), pcheck, ... It is also the syslog tag.
	Module string
	// ID is the event ID within the module; the alert message catalogues key on (Module, ID).
	ID    int
	Level Level
	Text  string
}

// Line renders r as one alert log line, without the trailing newline. Fields are normalised so
// that the line always parses back (see the package documentation); ParseLine(r.Line()) returns
// r with that normalisation applied and the time cut to milliseconds.
func (r Record) Line() string {
	var b strings.Builder
	b.Grow(len(TimeLayout) + len(r.Server) + len(r.Module) + len(r.Text) + 16)
	b.WriteString(r.Time.Format(TimeLayout))
	b.WriteByte(' ')
	b.WriteString(field(r.Server))
	b.WriteByte(' ')
	b.WriteString(field(r.Module))
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(r.ID))
	b.WriteByte(' ')
	b.WriteString(r.Level.String())
	b.WriteByte(' ')
	b.WriteString(oneLine(r.Text))
	return b.String()
}

// field makes s usable as a blank-separated column: awk and our own parser split on blanks, so a
// blank or control byte inside would shift every later column, and an empty value would vanish.
// It works on bytes, not runes: the separators are ASCII, and a rune-wise rewrite would turn
// invalid UTF-8 into U+FFFD.
func field(s string) string {
	if s == "" {
		return "-"
	}
	return replaceBytes(s, isSeparator, '_')
}

func isSeparator(c byte) bool { return c <= ' ' || c == 0x7f }

// oneLine replaces CR and LF so that a record can never span two lines, whatever a script passes
// as its message (multi-line command output is a common case).
func oneLine(s string) string {
	return replaceBytes(s, func(c byte) bool { return c == '\r' || c == '\n' }, ' ')
}

// replaceBytes returns s with every byte for which match is true replaced by with.
func replaceBytes(s string, match func(byte) bool, with byte) string {
	i := indexByteFunc(s, match)
	if i < 0 {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if match(b[i]) {
			b[i] = with
		}
	}
	return string(b)
}

func indexByteFunc(s string, match func(byte) bool) int {
	for i := 0; i < len(s); i++ {
		if match(s[i]) {
			return i
		}
	}
	return -1
}

// ErrMalformed is wrapped by every ParseLine error, so readers can tell a bad line from an I/O
// error with errors.Is.
var ErrMalformed = errors.New("malformed alert record")

// ParseLine parses one alert log line (without its newline) back into a Record.
func ParseLine(line string) (Record, error) {
	// Six fields, split on single blanks: the text is the rest of the line and keeps its own
	// blanks, including leading and trailing ones.
	parts := strings.SplitN(line, " ", 6)
	if len(parts) < 5 {
		return Record{}, fmt.Errorf("%w: want 6 blank-separated fields, got %d", ErrMalformed, len(parts))
	}
	var r Record
	var err error
	if r.Time, err = time.Parse(TimeLayout, parts[0]); err != nil {
		return Record{}, fmt.Errorf("%w: time %q: want layout %s", ErrMalformed, parts[0], TimeLayout)
	}
	if r.Server, err = parseField("server", parts[1]); err != nil {
		return Record{}, err
	}
	if r.Module, err = parseField("module", parts[2]); err != nil {
		return Record{}, err
	}
	if r.ID, err = strconv.Atoi(parts[3]); err != nil {
		return Record{}, fmt.Errorf("%w: event ID %q is not an integer", ErrMalformed, parts[3])
	}
	if r.Level, err = ParseLevel(parts[4]); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(parts) == 6 {
		// Line() never writes CR or LF, but a hand-edited file or a CRLF copy may carry a CR.
		r.Text = oneLine(parts[5])
	}
	return r, nil
}

func parseField(name, s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("%w: empty %s field (two blanks in a row)", ErrMalformed, name)
	}
	if indexByteFunc(s, isSeparator) >= 0 {
		return "", fmt.Errorf("%w: %s field %q contains a control character", ErrMalformed, name, s)
	}
	return s, nil
}
