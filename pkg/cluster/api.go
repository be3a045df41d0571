package cluster

import (
	"context"
	"time"

	"clpkit/pkg/status"
)

// The engine's API: each call becomes a request event and waits for the machine's answer as long
// as ctx allows. A caller that stops waiting does not stop the operation: it goes on to its end.

func (e *Engine) do(ctx context.Context, r *request) (string, error) {
	r.reply = make(chan reply, 1)
	select {
	case e.events <- evRequest{r: r}:
	case <-ctx.Done():
		return "", status.ErrTimeout()
	case <-e.exited:
		return "", errNotStarted(e.d.Local)
	}
	select {
	case rep := <-r.reply:
		return rep.value, rep.err
	case <-ctx.Done():
		return "", status.ErrTimeout()
	case <-e.exited:
		// The engine ended; an answer it decided before that is still on its way.
		select {
		case rep := <-r.reply:
			return rep.value, rep.err
		case <-time.After(flushTime):
			return "", errNotStarted(e.d.Local)
		}
	}
}

// StartGroup starts a group on this server (clpgrp -s).
func (e *Engine) StartGroup(ctx context.Context, name string, force bool) error {
	_, err := e.do(ctx, &request{kind: reqStartGroup, group: name, force: force})
	return err
}

// StopGroup stops a group running on this server (clpgrp -t).
func (e *Engine) StopGroup(ctx context.Context, name string) error {
	_, err := e.do(ctx, &request{kind: reqStopGroup, group: name})
	return err
}

// MoveGroup moves a group to dest, or to the next server of its policy when dest is "".
func (e *Engine) MoveGroup(ctx context.Context, name, dest string) error {
	_, err := e.do(ctx, &request{kind: reqMoveGroup, group: name, dest: dest})
	return err
}

// Current returns the server running a group, or "" (clpgrp -n).
func (e *Engine) Current(ctx context.Context, name string) (string, error) {
	return e.do(ctx, &request{kind: reqCurrent, group: name})
}

// StartService makes this server a member of the cluster (clpcl -s, and clpd at start-up); it
// returns once the server holds its lease.
func (e *Engine) StartService(ctx context.Context) error {
	_, err := e.do(ctx, &request{kind: reqServiceStart})
	return err
}

// StopService stops this server's groups and leaves the cluster (clpcl -t). With exiting (the
// daemon was told to stop), Run returns once the service is down.
func (e *Engine) StopService(ctx context.Context, factor string, exiting bool) error {
	_, err := e.do(ctx, &request{kind: reqServiceStop, factor: factor, exiting: exiting})
	return err
}

// Suspend suspends (on) or resumes the cluster service: while suspended nothing is started,
// stopped or recovered, and group operations are refused.
func (e *Engine) Suspend(ctx context.Context, on bool, from string) error {
	k := reqResume
	if on {
		k = reqSuspend
	}
	_, err := e.do(ctx, &request{kind: k, from: from})
	return err
}

// Status returns the cluster as this server sees it. It never waits for the store.
func (e *Engine) Status(ctx context.Context) (status.Cluster, error) {
	ch := make(chan status.Cluster, 1)
	select {
	case e.statusQ <- ch:
	case <-ctx.Done():
		return status.Cluster{}, status.ErrTimeout()
	case <-e.exited:
		return status.Cluster{}, errNotStarted(e.d.Local)
	}
	select {
	case st := <-ch:
		return st, nil
	case <-ctx.Done():
		return status.Cluster{}, status.ErrTimeout()
	}
}

// Done is closed once Run has returned for good.
func (e *Engine) Done() <-chan struct{} { return e.exited }

// Monitor operations of MonitorControl (clpmonctrl).
const (
	MonitorSuspend = "suspend"
	MonitorResume  = "resume"
	MonitorClear   = "clear"
)

// MonitorControl suspends, resumes or clears the counters of the named monitors (every monitor
// when none is named) on this server.
func (e *Engine) MonitorControl(ctx context.Context, op string, names []string) error {
	var k reqKind
	switch op {
	case MonitorSuspend:
		k = reqMonSuspend
	case MonitorResume:
		k = reqMonResume
	case MonitorClear:
		k = reqMonClear
	default:
		return &status.OpError{Code: status.CodeInternal, Msg: "unknown monitor operation " + op}
	}
	_, err := e.do(ctx, &request{kind: k, monitors: names})
	return err
}

// StartResource starts one resource of a group on this server (clprsc -s); with force, the
// resources it depends on are started first.
func (e *Engine) StartResource(ctx context.Context, name string, force bool) error {
	_, err := e.do(ctx, &request{kind: reqRscStart, resource: name, force: force})
	return err
}

// StopResource stops one resource running on this server (clprsc -t); with force, the resources
// that depend on it are stopped first.
func (e *Engine) StopResource(ctx context.Context, name string, force bool) error {
	_, err := e.do(ctx, &request{kind: reqRscStop, resource: name, force: force})
	return err
}

// SetWitness tells the engine whether this server reaches the store's witness member (shown as
// each server's witness heartbeat).
func (e *Engine) SetWitness(ok bool) { e.post(evWitness{ok: ok}) }

// Down stops the cluster service and the daemon, then runs the configured shutdown (or, with
// reboot, reboot) command (clpdown).
func (e *Engine) Down(ctx context.Context, reboot bool) error {
	os := "shutdown"
	if reboot {
		os = "reboot"
	}
	_, err := e.do(ctx, &request{kind: reqServiceStop, factor: FactorServerShutdown, os: os})
	return err
}
