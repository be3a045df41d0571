package mfes

import (
	"context"
	"fmt"
	"syscall"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
)

// systemdBackend drives a systemd unit over the system bus. systemd already knows every process
// of the unit (its cgroup), so the forced stop is SIGKILL to all of them; the processes pattern,
// when set, also catches what escaped the cgroup.
type systemdBackend struct {
	m   *Manager
	svc *Service
}

func (b systemdBackend) conn(ctx context.Context) (*sdbus.Conn, error) {
	c, err := sdbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to systemd over D-Bus: %w", err)
	}
	return c, nil
}

// job runs a start or stop job and waits for its result.
func (b systemdBackend) job(ctx context.Context, what string, call func(*sdbus.Conn, chan<- string) (int, error)) error {
	c, err := b.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ch := make(chan string, 1)
	if _, err := call(c, ch); err != nil {
		return fmt.Errorf("%s %s: %w", what, b.svc.Unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fmt.Errorf("systemd's %s job for %s ended %q", what, b.svc.Unit, res)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("systemd's %s job for %s did not end in time: %w", what, b.svc.Unit, ctx.Err())
	}
}

func (b systemdBackend) start(ctx context.Context, _ request) error {
	return b.job(ctx, "start", func(c *sdbus.Conn, ch chan<- string) (int, error) {
		return c.StartUnitContext(ctx, b.svc.Unit, "replace", ch)
	})
}

func (b systemdBackend) stop(ctx context.Context, _ request) error {
	return b.job(ctx, "stop", func(c *sdbus.Conn, ch chan<- string) (int, error) {
		return c.StopUnitContext(ctx, b.svc.Unit, "replace", ch)
	})
}

func (b systemdBackend) forceStop(ctx context.Context, _ request) error {
	c, err := b.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.KillUnitWithTarget(ctx, b.svc.Unit, sdbus.All, int32(syscall.SIGKILL)); err != nil {
		return fmt.Errorf("killing %s: %w", b.svc.Unit, err)
	}
	return nil
}

func (b systemdBackend) running(ctx context.Context) (bool, string, error) {
	c, err := b.conn(ctx)
	if err != nil {
		return false, "", err
	}
	defer c.Close()
	p, err := c.GetUnitPropertyContext(ctx, b.svc.Unit, "ActiveState")
	if err != nil {
		return false, "", fmt.Errorf("asking systemd about %s: %w", b.svc.Unit, err)
	}
	state, _ := p.Value.Value().(string)
	if unitRuns(state) {
		return true, fmt.Sprintf("unit %s is %s", b.svc.Unit, state), nil
	}
	if b.svc.Processes != nil || b.svc.Pidfile != "" {
		if run, why, err := b.m.processesRun(b.svc); err != nil || run {
			return run, why, err
		}
	}
	return false, fmt.Sprintf("unit %s is %s", b.svc.Unit, state), nil
}

// unitRuns reports whether a unit in ActiveState state has processes that may run.
func unitRuns(state string) bool {
	switch state {
	case "active", "reloading", "activating", "deactivating", "refreshing":
		return true
	}
	return false
}
