package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"clpkit/pkg/cluster"
	"clpkit/pkg/config"
	"clpkit/pkg/guard"
)

// guardLink is clpd's side of the guard: it keeps one connection, dials again after a failure,
// and starts a new guard when none answers (an operator may have killed it).
type guardLink struct {
	socket, bin, logFile, pidFile string
	args                          []string
	log                           func(msg string, args ...any)

	mu        sync.Mutex
	c         *guard.Client
	lastSpawn time.Time
}

func (g *guardLink) client(ctx context.Context) (*guard.Client, error) {
	if g.c != nil {
		return g.c, nil
	}
	c, err := guard.Dial(ctx, g.socket)
	if err != nil {
		// No guard answers: start one, at most once a second.
		if time.Since(g.lastSpawn) < time.Second {
			return nil, err
		}
		g.lastSpawn = time.Now()
		if err := g.spawn(ctx); err != nil {
			return nil, err
		}
		if c, err = guard.Dial(ctx, g.socket); err != nil {
			return nil, err
		}
	}
	g.c = c
	return c, nil
}

func (g *guardLink) spawn(ctx context.Context) error {
	pid, err := guard.Spawn(ctx, g.bin, g.socket, g.logFile, g.args)
	var busy *guard.BusyError
	if errors.As(err, &busy) {
		// Another guard won the race to the socket: it serves as well.
		return nil
	}
	if err != nil {
		return fmt.Errorf("starting the guard %s: %w", g.bin, err)
	}
	if err := os.WriteFile(g.pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		g.log("recording the guard's pid", "err", err)
	}
	return nil
}

// call runs one exchange; a failed connection is dropped so the next call dials again.
func (g *guardLink) call(ctx context.Context, f func(*guard.Client) (guard.Reply, error)) (guard.Reply, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, err := g.client(ctx)
	if err != nil {
		return guard.Reply{}, err
	}
	r, err := f(c)
	var refused *guard.RefusedError
	if err != nil && !errors.As(err, &refused) {
		c.Close()
		g.c = nil
	}
	return r, err
}

func (g *guardLink) Arm(ctx context.Context, fenceAt, expiry time.Duration, t cluster.GuardTargets) (bool, error) {
	var mounts []guard.Mount
	for _, m := range t.Mounts {
		mounts = append(mounts, guard.Mount{Device: m.Device, MountPoint: m.MountPoint})
	}
	r, err := g.call(ctx, func(c *guard.Client) (guard.Reply, error) {
		return c.ArmAll(ctx, fenceAt, expiry, t.Cgroups, t.PGIDs, t.Addresses, mounts)
	})
	return r.WasFenced, err
}

func (g *guardLink) Disarm(ctx context.Context) (bool, error) {
	r, err := g.call(ctx, func(c *guard.Client) (guard.Reply, error) { return c.Disarm(ctx) })
	return r.WasFenced, err
}

// startGuard starts (or reconnects to) the guard process, and learns whether it fenced this
// server's groups while no clpd ran.
func (f *fencing) startGuard(ctx context.Context, cfg *config.Config, local string, o Options) error {
	if !cfg.Fencing.Guard {
		o.Log.Warn("the guard is off ([fencing] guard = false): if clpd is killed or frozen, its groups may outlive its lease")
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding clpguard: %w", err)
	}
	bin := filepath.Join(filepath.Dir(exe), "clpguard")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("clpguard is not installed next to clpd (%s): install it, or set guard = false in [fencing] (then nothing stops the groups if clpd is killed or frozen)", bin)
	}
	args, err := watchdogArgs(cfg, o)
	if err != nil {
		return err
	}
	g := &guardLink{
		socket: filepath.Join(cfg.Paths.RunDir, "guard.sock"), bin: bin,
		logFile: filepath.Join(cfg.Paths.LogDir, "clpguard.log"),
		pidFile: filepath.Join(cfg.Paths.RunDir, "guard.pid"),
		args:    args, log: o.Log.Warn,
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := g.call(sctx, func(c *guard.Client) (guard.Reply, error) { return c.Status(sctx) })
	if err != nil {
		return fmt.Errorf("the guard (%s) does not answer: %w", g.socket, err)
	}
	if st.Fenced {
		f.guardFenced = true
		o.Log.Warn("the guard killed this server's groups while no clpd ran; they will not be adopted", "killed", st.Killed)
		// Acknowledged: the engine's first arm must not hear of this fence again.
		if _, err := g.call(sctx, func(c *guard.Client) (guard.Reply, error) { return c.Disarm(sctx) }); err != nil {
			return fmt.Errorf("the guard (%s) does not answer: %w", g.socket, err)
		}
	}
	f.guard = g
	f.releasers = append(f.releasers, func(clean bool) {
		// The guard stays only while it guards something (a group whose stop failed). The
		// engine's last disarm may not have reached it before the engine ended.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if clean {
			if _, err := g.call(ctx, func(c *guard.Client) (guard.Reply, error) { return c.Disarm(ctx) }); err != nil {
				o.Log.Warn("disarming the guard", "err", err)
			}
		}
		if _, err := g.call(ctx, func(c *guard.Client) (guard.Reply, error) { return c.Exit(ctx, false) }); err != nil {
			o.Log.Warn("the guard stays running", "err", err)
			return
		}
		_ = os.Remove(g.pidFile)
	})
	f.closers = append(f.closers, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.c != nil {
			g.c.Close()
		}
	})
	return nil
}

// watchdogArgs decides whether the guard feeds the kernel watchdog. It is pinged only while a
// stall of the whole machine would still reset it before the lease can expire, so its timeout
// (whole seconds) must fit below the lease minus a renewal.
func watchdogArgs(cfg *config.Config, o Options) ([]string, error) {
	fc, tm := cfg.Fencing, cfg.Timing
	if fc.Watchdog == "off" {
		return nil, nil
	}
	fits := fc.WatchdogFits(tm)
	_, statErr := os.Stat(fc.WatchdogDevice)
	switch {
	case fc.Watchdog == "on" && statErr != nil:
		// A configuration this machine cannot honour: restarting clpd would not help.
		return nil, &config.Error{File: cfg.File, Msg: fmt.Sprintf("[fencing] watchdog = \"on\" but %s is not there (%v): load softdog (modprobe softdog) or set watchdog = \"auto\"", fc.WatchdogDevice, statErr)}
	case statErr != nil:
		o.Log.Info("no kernel watchdog: " + fc.WatchdogDevice + " does not exist; the guard alone stops the groups if clpd stalls")
		return nil, nil
	case !fits:
		o.Log.Info("the kernel watchdog is not used: its timeout counts in whole seconds and " + fc.WatchdogTimeout.String() +
			" does not fit below heartbeat_timeout " + tm.HeartbeatTimeout.String() + " minus a renewal; with heartbeat_timeout = \"2s\" it would be")
		return nil, nil
	}
	return []string{"--watchdog", fc.WatchdogDevice, "--watchdog-timeout", strconv.Itoa(int(fc.WatchdogTimeout / time.Second))}, nil
}
