// Package mountinfo reads /proc/<pid>/mountinfo (proc(5)), the kernel's table of a mount
// namespace: the shared-disk resource asks it what is mounted where, and the cgroup code where
// the v2 hierarchy is. One parser, so both read the kernel's escapes and optional fields alike.
package mountinfo

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Entry is one line of /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// with the octal escapes of its paths undone.
type Entry struct {
	ID, Parent   int
	Major, Minor uint32
	Root         string // the mounted directory of the file system ("/" unless a bind mount)
	Point        string // where it is mounted
	Opts         string // per-mount options ("rw,noatime")
	FSType       string
	Source       string // the device, or what the file system calls its source ("tmpfs")
	SuperOpts    string // per-superblock options
}

// Parse parses a whole mountinfo file. Malformed lines are an error rather than being
// skipped: a mount table that cannot be read cannot tell that something is not mounted.
func Parse(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	// Option strings (overlay's lowerdir lists, for one) can make lines long.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var entries []Entry
	n := 0
	for sc.Scan() {
		n++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		e, err := ParseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return entries, nil
}

// ParseLine parses one line of a mountinfo file.
func ParseLine(line string) (Entry, error) {
	f := strings.Fields(line)
	// The optional fields end at a lone "-", which cannot come before field 7; after it come the
	// file system type, the source and the super options.
	sep := -1
	for i := 6; i < len(f); i++ {
		if f[i] == "-" {
			sep = i
			break
		}
	}
	if sep < 0 || sep+2 >= len(f) {
		return Entry{}, fmt.Errorf("malformed mountinfo line %q", line)
	}
	var e Entry
	var err error
	if e.ID, err = strconv.Atoi(f[0]); err != nil {
		return Entry{}, fmt.Errorf("malformed mount id in %q", line)
	}
	if e.Parent, err = strconv.Atoi(f[1]); err != nil {
		return Entry{}, fmt.Errorf("malformed parent id in %q", line)
	}
	maj, min, ok := strings.Cut(f[2], ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return Entry{}, fmt.Errorf("malformed device number in %q", line)
	}
	e.Major, e.Minor = uint32(ma), uint32(mi)
	e.Root = Unescape(f[3])
	e.Point = Unescape(f[4])
	e.Opts = f[5]
	e.FSType = Unescape(f[sep+1])
	e.Source = Unescape(f[sep+2])
	if sep+3 < len(f) {
		e.SuperOpts = f[sep+3]
	}
	return e, nil
}

// Unescape undoes the \ooo escapes the kernel writes for blanks, tabs, newlines and
// backslashes in mountinfo paths ("/mnt/my\040data" is "/mnt/my data"). A backslash that does
// not start three octal digits is kept as it is.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] >= '0' && s[i+1] <= '3' && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
