package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"clpkit/pkg/mountinfo"
)

// ErrNoV2 says that the machine (or this process's mount namespace) has no cgroup v2 mounted, or
// that this process is in no v2 cgroup: resources then run in process groups only, and fencing
// falls back to killing those.
var ErrNoV2 = errors.New("no cgroup v2 hierarchy is mounted")

// FindV2 returns the mount point of the cgroup v2 hierarchy, read from <procRoot>/self/mountinfo
// (procRoot is normally "/proc"). It is /sys/fs/cgroup on a pure v2 system, often
// /sys/fs/cgroup/unified on a hybrid one, and anything an administrator chose elsewhere, so it is
// never assumed. The error wraps ErrNoV2 when no cgroup2 file system is mounted.
func FindV2(procRoot string) (string, error) {
	path := procRoot + "/self/mountinfo"
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("finding the cgroup v2 mount: %w", err)
	}
	defer f.Close()
	mount, err := parseMountinfo(f)
	if err != nil {
		return "", fmt.Errorf("finding the cgroup v2 mount in %s: %w", path, err)
	}
	return mount, nil
}

// parseMountinfo returns the mount point of the first cgroup2 mount whose root is the
// hierarchy's root, or else of the first cgroup2 mount at all (a container may see only a bind
// mount of its own subtree, which is still where its cgroups live). Lines are documented in
// proc(5): "36 35 98:0 /root /mnt opts [optional...] - fstype source superopts".
func parseMountinfo(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	// Mount options of overlay file systems can make lines long.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	first := ""
	for sc.Scan() {
		// A line the parser refuses is no cgroup2 mount: skip it rather than fail, since
		// the mount we look for may come after it.
		e, err := mountinfo.ParseLine(sc.Text())
		if err != nil || e.FSType != "cgroup2" {
			continue
		}
		mount := e.Point
		if e.Root == "/" {
			return mount, nil
		}
		if first == "" {
			first = mount
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if first == "" {
		return "", ErrNoV2
	}
	return first, nil
}

// Self returns this process's cgroup v2 path relative to the v2 mount ("/" for the root, else
// "/clpkit/g1" and the like), from the "0::" line of <procRoot>/self/cgroup. The error wraps
// ErrNoV2 when the file has no such line (a pure v1 system).
func Self(procRoot string) (string, error) {
	path := procRoot + "/self/cgroup"
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading this process's cgroup: %w", err)
	}
	p, err := parseSelf(string(b))
	if err != nil {
		return "", fmt.Errorf("reading this process's cgroup from %s: %w", path, err)
	}
	return p, nil
}

// parseSelf reads the v2 entry of a /proc/PID/cgroup file: the line "0::PATH" (hierarchy 0, no
// controller list). v1 lines ("4:memory:/x", "9:name=systemd:/") are skipped.
func parseSelf(s string) (string, error) {
	for _, line := range strings.Split(s, "\n") {
		rest, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		// A cgroup removed while the process was in it (only possible for a zombie's entry,
		// or a process in a namespace) is shown with this suffix; the path is what matters.
		rest = strings.TrimSuffix(rest, " (deleted)")
		if !strings.HasPrefix(rest, "/") {
			return "", fmt.Errorf("malformed cgroup v2 line %q", line)
		}
		return rest, nil
	}
	return "", ErrNoV2
}
