package clustertest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"clpkit/pkg/cgroup"
)

// stopGuard kills the guard process a clpd of the test left running (its pid is in
// <run_dir>/guard.pid).
func stopGuard(runDir string) {
	b, err := os.ReadFile(filepath.Join(runDir, "guard.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if strings.TrimSpace(string(comm)) != "clpguard" {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// RemoveCgroup kills whatever is left in a test's cgroup (relative to the cgroup v2 mount) and
// removes it, with the shared parent directory when that is empty.
func RemoveCgroup(rel string) {
	mount, err := cgroup.FindV2("/proc")
	if err != nil || rel == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := cgroup.Cgroup{Path: filepath.Join(mount, rel)}
	if _, err := os.Stat(c.Path); err != nil {
		return
	}
	_ = c.Kill(ctx)
	_ = c.Remove(ctx)
	for dir := filepath.Dir(c.Path); dir != mount && strings.HasPrefix(dir, mount); dir = filepath.Dir(dir) {
		if syscall.Rmdir(dir) != nil {
			break
		}
	}
}
