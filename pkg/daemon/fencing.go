package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"clpkit/pkg/cgroup"
	"clpkit/pkg/cluster"
	"clpkit/pkg/config"
)

// cgroupTree keeps every group's processes in cgroup v2: <base>/<group>/<resource>/{start,stop}.
// Killing <base>/<group> fences the whole group at once, double-forked daemons included.
type cgroupTree struct {
	base string
	// ownParent: base is the default clpkit/<cluster>.<server>, so its parent is clpkit's too.
	ownParent bool
}

func (t cgroupTree) cg(parts ...string) cgroup.Cgroup {
	return cgroup.Cgroup{Path: filepath.Join(append([]string{t.base}, parts...)...)}
}

// Dir returns a script's cgroup, open for clone-into. An empty one left from before is removed and
// made anew: on the kernels seen here (6.18) a child cloned with CLONE_INTO_CGROUP into a cgroup
// that was once killed through cgroup.kill (itself or an ancestor) is killed at birth, because
// the kill sequence it is checked against is the parent's. A fresh directory has none.
func (t cgroupTree) Dir(group, res, kind string) (*os.File, string, error) {
	c := t.cg(group, res, kind)
	if populated, err := c.Populated(); err == nil && !populated {
		if err := syscall.Rmdir(c.Path); err != nil && !errors.Is(err, syscall.ENOENT) {
			return nil, "", fmt.Errorf("renewing cgroup %s: %w", c.Path, err)
		}
	}
	if err := c.Ensure(); err != nil {
		return nil, "", err
	}
	f, err := c.Open()
	if err != nil {
		return nil, "", err
	}
	return f, c.Path, nil
}

// kill kills a cgroup; one that was never created held nothing.
func kill(ctx context.Context, c cgroup.Cgroup) error {
	if err := c.Kill(ctx); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (t cgroupTree) KillGroup(ctx context.Context, group string) error {
	return kill(ctx, t.cg(group))
}

func (t cgroupTree) KillPath(ctx context.Context, path string) error {
	return kill(ctx, cgroup.Cgroup{Path: path})
}

func (t cgroupTree) Terminate(ctx context.Context, group, res string, grace time.Duration) error {
	c := t.cg(group, res, "start")
	n, err := c.Signal(syscall.SIGTERM)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && n == 0) {
		return nil
	}
	gctx, cancel := context.WithTimeout(ctx, grace)
	err = c.WaitEmpty(gctx)
	cancel()
	if err == nil {
		return nil
	}
	return kill(ctx, c)
}

func (t cgroupTree) GroupPath(group string) string { return t.cg(group).Path }

// fencing is what stops this server's groups when clpd cannot: the cgroups their processes live
// in, and the guard process.
type fencing struct {
	containment cluster.Containment
	guard       cluster.Guard
	guardFenced bool
	tree        *cgroupTree
	closers     []func()
	releasers   []func(clean bool)
}

// setUpFencing finds the cgroup v2 mount and starts (or reconnects to) the guard. Where either is
// missing, it says so once, plainly: the cluster still runs, with weaker guarantees.
func setUpFencing(ctx context.Context, cfg *config.Config, local string, o Options) (*fencing, error) {
	f := &fencing{}
	mount, err := cgroup.FindV2("/proc")
	switch {
	case errors.Is(err, cgroup.ErrNoV2):
		o.Log.Warn("no cgroup v2 mount: scripts run in process groups only, and a daemon a script double-forks out of its process group escapes fencing")
	case err != nil:
		return nil, fmt.Errorf("finding the cgroup v2 mount: %w", err)
	default:
		rel := cfg.Paths.Cgroup
		if rel == "" {
			rel = filepath.Join("clpkit", cfg.Cluster.Name+"."+local)
		}
		t := &cgroupTree{base: filepath.Join(mount, rel), ownParent: cfg.Paths.Cgroup == ""}
		if err := (cgroup.Cgroup{Path: t.base}).Ensure(); err != nil {
			return nil, fmt.Errorf("creating the groups' cgroups: %w", err)
		}
		f.tree, f.containment = t, t
		o.Log.Info("the groups' processes live in cgroup v2", "cgroup", t.base)
	}
	if err := f.startGuard(ctx, cfg, local, o); err != nil {
		return nil, err
	}
	return f, nil
}

// release removes what clpd leaves behind when it exits: empty cgroups, and the guard. After a
// clean stop (clean: every group stopped) the guard is disarmed and told to go; otherwise it
// stays armed, to kill what may still run here at its deadline.
func (f *fencing) release(clean bool) {
	for _, r := range f.releasers {
		r(clean)
	}
	if f.tree != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		// Only empty cgroups go; one still holding processes (a failed stop) stays, with them.
		_ = removeEmpty(ctx, f.tree.base)
		if f.tree.ownParent {
			_ = syscall.Rmdir(filepath.Dir(f.tree.base))
		}
	}
}

func (f *fencing) close() {
	for _, c := range f.closers {
		c()
	}
}

// removeEmpty removes the cgroups of dir's subtree that hold no process, children first.
func removeEmpty(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			_ = removeEmpty(ctx, filepath.Join(dir, e.Name()))
		}
	}
	c := cgroup.Cgroup{Path: dir}
	if populated, err := c.Populated(); err == nil && !populated {
		return syscall.Rmdir(dir)
	}
	return nil
}
