package disk

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mountEntry is one line of /proc/<pid>/mountinfo (proc(5)):
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// with the octal escapes of its paths undone.
type mountEntry struct {
	ID, Parent   int
	Major, Minor uint32
	Root         string // the mounted directory of the file system ("/" unless a bind mount)
	Point        string // where it is mounted
	Opts         string // per-mount options ("rw,noatime")
	FSType       string
	Source       string // the device, or what the file system calls its source ("tmpfs")
	SuperOpts    string // per-superblock options
}

// readMountinfo reads <procRoot>/self/mountinfo: the mounts of this process's mount namespace.
func readMountinfo(procRoot string) ([]mountEntry, error) {
	path := procRootOr(procRoot) + "/self/mountinfo"
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	defer f.Close()
	entries, err := parseMountinfo(f)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table %s: %w", path, err)
	}
	return entries, nil
}

// parseMountinfo parses a whole mountinfo file. Malformed lines are an error rather than being
// skipped: a mount table that cannot be read cannot tell that something is not mounted.
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	sc := bufio.NewScanner(r)
	// Option strings (overlay's lowerdir lists, for one) can make lines long.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var entries []mountEntry
	n := 0
	for sc.Scan() {
		n++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		e, err := parseMountinfoLine(sc.Text())
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

func parseMountinfoLine(line string) (mountEntry, error) {
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
		return mountEntry{}, fmt.Errorf("malformed mountinfo line %q", line)
	}
	var e mountEntry
	var err error
	if e.ID, err = strconv.Atoi(f[0]); err != nil {
		return mountEntry{}, fmt.Errorf("malformed mount id in %q", line)
	}
	if e.Parent, err = strconv.Atoi(f[1]); err != nil {
		return mountEntry{}, fmt.Errorf("malformed parent id in %q", line)
	}
	maj, min, ok := strings.Cut(f[2], ":")
	ma, err1 := strconv.ParseUint(maj, 10, 32)
	mi, err2 := strconv.ParseUint(min, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return mountEntry{}, fmt.Errorf("malformed device number in %q", line)
	}
	e.Major, e.Minor = uint32(ma), uint32(mi)
	e.Root = unescapeMountinfo(f[3])
	e.Point = unescapeMountinfo(f[4])
	e.Opts = f[5]
	e.FSType = unescapeMountinfo(f[sep+1])
	e.Source = unescapeMountinfo(f[sep+2])
	if sep+3 < len(f) {
		e.SuperOpts = f[sep+3]
	}
	return e, nil
}

// unescapeMountinfo undoes the \ooo escapes the kernel writes for blanks, tabs, newlines and
// backslashes in mountinfo paths ("/mnt/my\040data" is "/mnt/my data"). A backslash that does
// not start three octal digits is kept as it is.
func unescapeMountinfo(s string) string {
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

// topMount returns the mount that is visible at point: of the mounts there, the one no other
// mount there is stacked on.
func topMount(entries []mountEntry, point string) (mountEntry, bool) {
	var at []mountEntry
	for _, e := range entries {
		if e.Point == point {
			at = append(at, e)
		}
	}
	for i := len(at) - 1; i >= 0; i-- {
		covered := false
		for _, o := range at {
			if o.Parent == at[i].ID && o.ID != at[i].ID {
				covered = true
				break
			}
		}
		if !covered {
			return at[i], true
		}
	}
	return mountEntry{}, false
}

// submounts returns the mount points strictly beneath point.
func submounts(entries []mountEntry, point string) []string {
	var out []string
	for _, e := range entries {
		if e.Point != point && under(e.Point, point) {
			out = append(out, e.Point)
		}
	}
	return out
}

// Mounted tells what is mounted at mountPoint according to <procRoot>/self/mountinfo (procRoot
// is "/proc" when empty): the source of the mount visible there (a device path such as
// "/dev/sdb1" for a disk file system, "tmpfs" and the like otherwise) and whether anything is.
// mountPoint is compared after filepath.Clean but symbolic links in it are not resolved; the
// kernel lists mount points by their real paths.
func Mounted(procRoot, mountPoint string) (device string, ok bool, err error) {
	entries, err := readMountinfo(procRoot)
	if err != nil {
		return "", false, err
	}
	e, ok := topMount(entries, filepath.Clean(mountPoint))
	return e.Source, ok, nil
}

// under reports whether path is dir or lies beneath it; both must be clean absolute paths.
func under(path, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(path, "/")
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}

func procRootOr(procRoot string) string {
	if procRoot == "" {
		return "/proc"
	}
	return procRoot
}
