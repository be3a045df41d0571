package disk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"clpkit/pkg/mountinfo"
)

// readMountinfo reads <procRoot>/self/mountinfo: the mounts of this process's mount namespace.
func readMountinfo(procRoot string) ([]mountinfo.Entry, error) {
	path := procRootOr(procRoot) + "/self/mountinfo"
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	defer f.Close()
	entries, err := mountinfo.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table %s: %w", path, err)
	}
	return entries, nil
}

// topMount returns the mount that is visible at point: of the mounts there, the one no other
// mount there is stacked on.
func topMount(entries []mountinfo.Entry, point string) (mountinfo.Entry, bool) {
	var at []mountinfo.Entry
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
	return mountinfo.Entry{}, false
}

// submounts returns the mount points strictly beneath point.
func submounts(entries []mountinfo.Entry, point string) []string {
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
