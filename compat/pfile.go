package compat

// This file reads ProcessSaver pfiles (seed 002 §5.1, research/legacy-tools.md §1.3):
//
//	##### PARAM #####
//	IPCKEY  0x00001234
//	MSG_CHECK_INTERVAL 5
//	MONITOR_INTERVAL 10
//	SHM_DUMP_FILE /var/opt/HA/PS/conf/bin/pfile_tomcat.dmp
//	##### PENT #####
//	/usr/bin/java:/var/opt/HA/PS/conf/bin/tomcat_start.sh:86400:3:exit:include_strings=apache&tomcat
//
// Lines starting with '#' (the banners included) are comments, blank lines are ignored, a line
// "KEY value" with a known key is a PARAM, a line with colons is a PENT:
// process:restart_script:grace:retry:retry_over_action[:options]. Empty grace and retry take the
// documented defaults (86400, 3). Options are name=value separated by ',', a value is one or more
// strings separated by '&'. The options field is everything after the fifth colon, so strings may
// hold colons (a Java class path). Every problem is reported as one line: file:line: field: what.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"clpkit/pkg/psaver"
)

// pfileKeys are the PARAM keys, in the order of the seed's sample.
func pfileKeys() []string {
	return []string{"IPCKEY", "MSG_CHECK_INTERVAL", "MONITOR_INTERVAL", "SHM_DUMP_FILE"}
}

// The PENT options.
const (
	OptInclude = "include_strings"
	OptExclude = "exclude_strings"
)

func pfileOptions() []string { return []string{OptInclude, OptExclude} }

// pentFields names the fields of a PENT line, for messages.
func pentFields() []string {
	return []string{"process", "restart_script", "grace", "retry", "retry_over_action", "options"}
}

const pentSyntax = "process:restart_script:grace:retry:retry_over_action[:options]"

// Bounds of the numbers: wide enough for any real use, small enough that the arithmetic on
// them (durations in nanoseconds) cannot overflow.
const (
	maxInterval = 86400      // MSG_CHECK_INTERVAL, MONITOR_INTERVAL: a day
	maxGrace    = 31_536_000 // a year
	maxRetry    = 1_000_000
)

// PfileError is one problem of a pfile, located. Error() is one line:
//
//	/var/opt/HA/PS/conf/bin/pfile_tomcat:7: grace: "8640O" is not a whole number of seconds
//
// Line is 0 for the file as a whole, Field "" for the line as a whole.
type PfileError struct {
	Path  string
	Line  int
	Field string
	Msg   string
}

func (e *PfileError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	// One line whatever a path or value held: control characters become '?'.
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, b.String())
}

// PfileProblem marks the error as a problem of the pfile (see psaver.PfileError).
func (e *PfileError) PfileProblem() {}

// pfileParser holds the first error found among PARAM lines and among PENT lines separately,
// so that padmin can read the PARAM section of a pfile whose entries are broken.
type pfileParser struct {
	path     string
	cfg      psaver.Config
	seen     map[string]int // PARAM key -> line
	paramErr *PfileError
	pentErr  *PfileError
}

// ParsePfile parses the content of the pfile at path (used in messages). It is pure: the files
// the pfile names are not looked at (LoadPfile does that).
func ParsePfile(path string, data []byte) (psaver.Config, error) {
	return parsePfile(path, data).result()
}

func (p *pfileParser) result() (psaver.Config, error) {
	if p.paramErr != nil {
		return psaver.Config{}, p.paramErr
	}
	if p.pentErr != nil {
		return psaver.Config{}, p.pentErr
	}
	if err := p.complete(true); err != nil {
		return psaver.Config{}, err
	}
	return p.cfg, nil
}

// ParsePfileParams parses only what padmin needs: the PARAM section. Broken PENT lines are
// ignored, so that padmin can still show and control a pcheck whose pfile was edited badly
// (reload then reports the problem).
func ParsePfileParams(path string, data []byte) (psaver.Config, error) {
	p := parsePfile(path, data)
	if p.paramErr != nil {
		return psaver.Config{}, p.paramErr
	}
	if err := p.complete(false); err != nil {
		return psaver.Config{}, err
	}
	return p.cfg, nil
}

func parsePfile(path string, data []byte) *pfileParser {
	p := &pfileParser{
		path: path,
		cfg: psaver.Config{
			Pfile:            path,
			MsgCheckInterval: psaver.DefaultMsgCheckInterval,
			MonitorInterval:  psaver.DefaultMonitorInterval,
		},
		seen: make(map[string]int),
	}
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		// CRLF files (edited on Windows) are read as LF files.
		line := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.IndexByte(line, 0) >= 0 {
			p.errLine(n, "", "contains a NUL byte: is this a text file?", true)
			continue
		}
		word, rest := line, ""
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			word, rest = line[:i], line[i:]
		}
		switch {
		case slices.Contains(pfileKeys(), word):
			p.param(n, word, strings.TrimSpace(rest))
		case strings.Contains(line, ":"):
			p.pent(n, line)
		case isKeyword(word):
			p.errLine(n, word, fmt.Sprintf("unknown PARAM key: accepted are %s", strings.Join(pfileKeys(), ", ")), true)
		default:
			p.errLine(n, "", fmt.Sprintf("%q is neither a PARAM line (KEY value) nor a PENT line (%s)", clip(line), pentSyntax), true)
		}
	}
	return p
}

// complete checks what only the whole file can tell.
func (p *pfileParser) complete(needEntries bool) error {
	if _, ok := p.seen["IPCKEY"]; !ok {
		return &PfileError{Path: p.path, Msg: "no IPCKEY line: add one to the PARAM section, e.g. \"IPCKEY 0x0000abcd\" (a key no other pfile uses)"}
	}
	if needEntries && len(p.cfg.Entries) == 0 {
		return &PfileError{Path: p.path, Msg: "no PENT line: nothing to watch (" + pentSyntax + ")"}
	}
	return nil
}

func isKeyword(w string) bool {
	if w == "" {
		return false
	}
	for _, c := range w {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// clip shortens a quoted line in a message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

func (p *pfileParser) errLine(n int, field, msg string, param bool) {
	e := &PfileError{Path: p.path, Line: n, Field: field, Msg: msg}
	if param {
		if p.paramErr == nil {
			p.paramErr = e
		}
	} else if p.pentErr == nil {
		p.pentErr = e
	}
}

// placeholder reports whether v still holds a 【…】 placeholder of the seed's template.
func placeholder(v string) bool { return strings.Contains(v, "【") || strings.Contains(v, "】") }

const placeholderMsg = "the template's placeholder %s is still there: put the real value in its place"

func (p *pfileParser) param(n int, key, value string) {
	fail := func(msg string) { p.errLine(n, key, msg, true) }
	if first, ok := p.seen[key]; ok {
		fail(fmt.Sprintf("given again (first on line %d)", first))
		return
	}
	p.seen[key] = n
	if placeholder(value) {
		fail(fmt.Sprintf(placeholderMsg, strconv.Quote(value)))
		return
	}
	f := strings.Fields(value)
	switch {
	case len(f) == 0:
		fail("no value")
		return
	case len(f) > 1:
		fail(fmt.Sprintf("one value expected, found %d words: %q", len(f), value))
		return
	}
	v := f[0]
	switch key {
	case "IPCKEY":
		k, err := strconv.ParseUint(v, 0, 32)
		switch {
		case errors.Is(err, strconv.ErrRange):
			fail(fmt.Sprintf("%q does not fit in 32 bits", v))
		case err != nil:
			fail(fmt.Sprintf("%q is not a number: write the key in hexadecimal, e.g. 0x0000abcd", v))
		case k == 0:
			fail("0 is IPC_PRIVATE, not a key: choose a unique non-zero key, e.g. 0x0000abcd")
		default:
			p.cfg.IPCKey = uint32(k)
		}
	case "MSG_CHECK_INTERVAL", "MONITOR_INTERVAL":
		s, ok := seconds(v, 1, maxInterval)
		if !ok {
			fail(fmt.Sprintf("%q is not a whole number of seconds from 1 to %d", v, maxInterval))
			return
		}
		if key == "MONITOR_INTERVAL" {
			p.cfg.MonitorInterval = s
		} else {
			p.cfg.MsgCheckInterval = s
		}
	case "SHM_DUMP_FILE":
		if !filepath.IsAbs(v) {
			fail(fmt.Sprintf("%q is not an absolute path", v))
			return
		}
		p.cfg.DumpFile = filepath.Clean(v)
	}
}

// seconds parses a whole number of seconds in [lo, hi].
func seconds(v string, lo, hi int) (time.Duration, bool) {
	n, ok := number(v, lo, hi)
	return time.Duration(n) * time.Second, ok
}

// number parses a decimal whole number in [lo, hi]; signs and other bases are refused, as a C
// atoi user would not expect them to work.
func number(v string, lo, hi int) (int, bool) {
	if v == "" || len(v) > 10 || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

func (p *pfileParser) pent(n int, line string) {
	names := pentFields()
	f := strings.SplitN(line, ":", len(names))
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	fail := func(i int, msg string) { p.errLine(n, names[i], msg, false) }
	if len(f) < 5 {
		p.errLine(n, "", fmt.Sprintf("a PENT line has at least 5 fields separated by ':' (%s); this one has %d", pentSyntax, len(f)), false)
		return
	}
	for i, v := range f {
		if placeholder(v) {
			fail(i, fmt.Sprintf(placeholderMsg, strconv.Quote(v)))
			return
		}
	}
	e := psaver.Entry{Program: f[0], Script: f[1], Grace: psaver.DefaultGrace, Retry: psaver.DefaultRetry, Line: n}
	if e.Program == "" {
		fail(0, "empty: name the program to watch, e.g. /usr/bin/java")
		return
	}
	if e.Script == "" {
		fail(1, "empty: name the restart script")
		return
	}
	if !filepath.IsAbs(e.Script) {
		fail(1, fmt.Sprintf("%q is not an absolute path", e.Script))
		return
	}
	e.Script = filepath.Clean(e.Script)
	if f[2] != "" {
		g, ok := seconds(f[2], 0, maxGrace)
		if !ok {
			fail(2, fmt.Sprintf("%q is not a whole number of seconds from 0 to %d", f[2], maxGrace))
			return
		}
		e.Grace = g
	}
	if f[3] != "" {
		r, ok := number(f[3], 0, maxRetry)
		if !ok {
			fail(3, fmt.Sprintf("%q is not a whole number from 0 to %d", f[3], maxRetry))
			return
		}
		e.Retry = r
	}
	act := psaver.Action(strings.ToLower(f[4]))
	if !slices.Contains(psaver.Actions(), act) {
		var names []string
		for _, a := range psaver.Actions() {
			names = append(names, string(a))
		}
		what := fmt.Sprintf("unknown action %q", f[4])
		if f[4] == "" {
			what = "empty"
		}
		fail(4, fmt.Sprintf("%s: accepted are %s", what, strings.Join(names, ", ")))
		return
	}
	e.Action = act
	if len(f) == 6 && f[5] != "" {
		if msg := parseOptions(f[5], &e); msg != "" {
			fail(5, msg)
			return
		}
	}
	p.cfg.Entries = append(p.cfg.Entries, e)
}

// parseOptions reads "include_strings=apache&tomcat,exclude_strings=grep" into e; it returns
// the problem, "" when there is none.
func parseOptions(field string, e *psaver.Entry) string {
	for _, item := range strings.Split(field, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return fmt.Sprintf("empty option in %q (options are separated by ',')", field)
		}
		name, value, ok := strings.Cut(item, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !slices.Contains(pfileOptions(), name) {
			return fmt.Sprintf("unknown option %q: accepted are %s", name, strings.Join(pfileOptions(), ", "))
		}
		if !ok || value == "" {
			return fmt.Sprintf("%s has no value: write %s=string1&string2", name, name)
		}
		for _, o := range e.Options {
			if o.Name == name {
				return fmt.Sprintf("%s is given twice: put all its strings in one, separated by '&'", name)
			}
		}
		strs := strings.Split(value, "&")
		if slices.Contains(strs, "") {
			return fmt.Sprintf("%q has an empty string (strings are separated by one '&')", name+"="+value)
		}
		if name == OptInclude {
			e.Include = strs
		} else {
			e.Exclude = strs
		}
		e.Options = append(e.Options, psaver.Option{Name: name, Value: value})
	}
	return ""
}

// LoadPfile reads the pfile at path and checks it the way the seed's construction guide asks
// (§5.1, §5.2): the pfile owned by root and not writable by group or others (-rw-r--r--), each
// restart script an executable regular file, owned by root and not writable by group or others
// (-rwxr-xr-x). pcheck runs the scripts as root: a file others can write is a way to root. When
// pcheck does not run as root (tests, a private instance), files of its own user are accepted
// too.
func LoadPfile(path string) (psaver.Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return psaver.Config{}, &PfileError{Path: path, Msg: err.Error()}
	}
	if msg := checkFile(abs, false); msg != "" {
		return psaver.Config{}, &PfileError{Path: abs, Msg: msg}
	}
	data, err := psaver.ReadPfile(abs)
	if tl := (*psaver.TooLargeError)(nil); errors.As(err, &tl) {
		return psaver.Config{}, tl
	}
	if err != nil {
		return psaver.Config{}, &PfileError{Path: abs, Msg: "cannot read: " + pathErr(err)}
	}
	p := parsePfile(abs, data)
	cfg, err := p.result()
	if err != nil {
		return psaver.Config{}, err
	}
	for _, e := range cfg.Entries {
		if msg := checkFile(e.Script, true); msg != "" {
			return psaver.Config{}, &PfileError{Path: abs, Line: e.Line, Field: "restart_script", Msg: e.Script + ": " + msg}
		}
	}
	if d := cfg.DumpFile; d != "" {
		fail := func(msg string) error {
			return &PfileError{Path: abs, Line: p.seen["SHM_DUMP_FILE"], Field: "SHM_DUMP_FILE", Msg: msg}
		}
		if d == abs {
			return psaver.Config{}, fail("is the pfile itself")
		}
		for _, e := range cfg.Entries {
			if d == e.Script {
				return psaver.Config{}, fail(fmt.Sprintf("is the restart script of line %d", e.Line))
			}
		}
		if fi, err := os.Stat(filepath.Dir(d)); err != nil || !fi.IsDir() {
			return psaver.Config{}, fail(fmt.Sprintf("the directory %s does not exist", filepath.Dir(d)))
		}
		if fi, err := os.Stat(d); err == nil && !fi.Mode().IsRegular() {
			return psaver.Config{}, fail(d + " exists and is not a regular file")
		}
	}
	return cfg, nil
}

// LoadPfileParams reads the PARAM section of the pfile at path (see ParsePfileParams); padmin
// uses it, and does not check permissions: it only reads the IPCKEY to find pcheck.
func LoadPfileParams(path string) (psaver.Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return psaver.Config{}, &PfileError{Path: path, Msg: err.Error()}
	}
	data, err := psaver.ReadPfile(abs)
	if tl := (*psaver.TooLargeError)(nil); errors.As(err, &tl) {
		return psaver.Config{}, tl
	}
	if err != nil {
		return psaver.Config{}, &PfileError{Path: abs, Msg: pathErr(err)}
	}
	return ParsePfileParams(abs, data)
}

// checkFile returns what is wrong with the file at p, "" when nothing is.
func checkFile(p string, script bool) string {
	fi, err := os.Stat(p)
	if err != nil {
		return pathErr(err)
	}
	if !fi.Mode().IsRegular() {
		return "not a regular file"
	}
	perm := fi.Mode().Perm()
	want := "644 (-rw-r--r--)"
	if script {
		want = "755 (-rwxr-xr-x)"
	}
	if perm&0o022 != 0 {
		return fmt.Sprintf("mode %04o lets group or others write it: chmod %s", perm, want)
	}
	if script && perm&0o100 == 0 {
		return fmt.Sprintf("not executable (mode %04o): chmod %s", perm, want)
	}
	if uid, ok := ownerUID(fi); ok && uid != 0 && int(uid) != os.Geteuid() {
		return fmt.Sprintf("owned by uid %d: it must belong to root (chown root)", uid)
	}
	return ""
}

func ownerUID(fi os.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// pathErr is the reason of a path error without the operation and path os adds, which the
// message already names.
func pathErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
