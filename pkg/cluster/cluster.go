// Package cluster runs this server's share of the cluster: it joins the store, starts, stops and
// recovers failover groups and their resources, applies the recovery policy, and reports status.
// Decisions that do not need processes (orders, states, targets) are pure functions in decide.go.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// Coordinator is what the cluster needs of the store (pkg/store.Store satisfies it).
type Coordinator interface {
	Join(ctx context.Context, server string, previous int64, ttl time.Duration) (store.Lease, error)
	Renew(ctx context.Context, l store.Lease) error
	Leave(ctx context.Context, l store.Lease) error
	OnlineServers(ctx context.Context) (map[string]bool, error)
	Owners(ctx context.Context) (map[string]store.Owner, error)
	Acquire(ctx context.Context, group, server string, l store.Lease) (int64, error)
	Guard(ctx context.Context, group string, token int64) error
	Release(ctx context.Context, group string, token int64) error
	SetMarker(ctx context.Context, group string, m store.Marker, token int64) error
	ClearMarker(ctx context.Context, group string, token int64) error
	Markers(ctx context.Context) (map[string]store.Marker, error)
	Changes(ctx context.Context) <-chan struct{}
	PublishStatus(ctx context.Context, server string, data []byte, l store.Lease) error
	Statuses(ctx context.Context) (map[string][]byte, error)
}

// Alert levels passed to Deps.Alert.
const (
	LevelInfo  = "INFO"
	LevelWarn  = "WARN"
	LevelError = "ERR"
)

// Deps are the cluster's collaborators, passed in so tests can run many clusters in one process.
type Deps struct {
	Config *config.Config
	// Local is this server's name in Config.
	Local string
	Store Coordinator
	// Alert records an event of module "rc" in the alert log.
	Alert func(eventID int, level, text string)
	Log   *slog.Logger
	Host  resource.Host
	// Environ is the base environment scripts inherit (normally os.Environ()).
	Environ  []string
	ProcRoot string
	// Shutdown is called when a final action asks for the cluster service to stop.
	Shutdown func()
}

// Stop factors (CLP_FACTOR).
const (
	FactorGroupStop       = "GROUPSTOP"
	FactorGroupMove       = "GROUPMOVE"
	FactorGroupFailover   = "GROUPFAILOVER"
	FactorClusterShutdown = "CLUSTERSHUTDOWN"
	FactorServerShutdown  = "SERVERSHUTDOWN"
)

// Cluster is one server's cluster service.
type Cluster struct {
	d    Deps
	recs records

	mu        sync.Mutex
	started   bool
	stopping  bool
	suspended bool
	// changed wakes the status publisher.
	changed  chan struct{}
	lease    store.Lease
	stopBeat context.CancelFunc
	groups   []*group
	// life is the context operations run on: they outlive the API call that asked for them.
	life context.Context
}

type group struct {
	cfg *config.Group
	// op serialises operations on the group; a second one is refused as busy.
	op sync.Mutex

	// The fields below are guarded by Cluster.mu.
	running string // opStart/opStop while an operation runs
	token   int64
	// moveTo is the destination while the group is stopped for a move.
	moveTo string
	event  resource.Event
	res    []*res
}

type res struct {
	cfg    *config.Resource
	state  status.State
	detail string
	ev     resource.Event
	// job is the start script: while it runs for a pending start, and for as long as an
	// asynchronous resource is Online.
	job *resource.Job
	// stopJob is the stop script while the resource goes Offline.
	stopJob *resource.Job
	// stopping is set while the cluster itself stops the resource, so the exit of its
	// asynchronous start script is expected and not a failure.
	stopping bool
}

// New returns the cluster service of d.Local; it does nothing until Start.
func New(d Deps) (*Cluster, error) {
	if _, ok := d.Config.Server(d.Local); !ok {
		return nil, fmt.Errorf("server %q is not in %s", d.Local, d.Config.File)
	}
	dir := filepath.Join(d.Config.Paths.RunDir, "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating run state dir: %w", err)
	}
	if d.ProcRoot == "" {
		d.ProcRoot = "/proc"
	}
	c := &Cluster{d: d, recs: records{dir: dir}, changed: make(chan struct{}, 1)}
	for i := range d.Config.Groups {
		g := &group{cfg: &d.Config.Groups[i]}
		for j := range g.cfg.Resources {
			g.res = append(g.res, &res{cfg: &g.cfg.Resources[j], state: status.Offline})
		}
		c.groups = append(c.groups, g)
	}
	return c, nil
}

func (c *Cluster) group(name string) (*group, error) {
	for _, g := range c.groups {
		if g.cfg.Name == name {
			return g, nil
		}
	}
	return nil, status.ErrInvalidGroup(name)
}

func (c *Cluster) leasePath() string {
	return filepath.Join(c.d.Config.Paths.DataDir, "lease")
}

// Start joins the cluster (the server becomes Online), recovers what a previous daemon left
// running, and starts the auto-start groups. life bounds every operation the cluster runs.
func (c *Cluster) Start(life context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return nil
	}
	c.life = life
	c.mu.Unlock()

	var prev int64
	if b, err := os.ReadFile(c.leasePath()); err == nil {
		fmt.Sscanf(string(b), "%x", &prev)
	}
	ctx, cancel := context.WithTimeout(life, 30*time.Second)
	defer cancel()
	l, err := c.d.Store.Join(ctx, c.d.Local, prev, c.d.Config.Timing.HeartbeatTimeout)
	if err != nil {
		return fmt.Errorf("joining the cluster: %w", err)
	}
	if err := os.WriteFile(c.leasePath(), []byte(fmt.Sprintf("%x\n", int64(l.ID))), 0o600); err != nil {
		return fmt.Errorf("recording lease: %w", err)
	}
	beat, stop := context.WithCancel(life)
	c.mu.Lock()
	c.lease, c.started, c.stopping, c.stopBeat = l, true, false, stop
	c.mu.Unlock()
	go c.heartbeat(beat, l)
	go c.publish(beat, l)

	var auto []*group
	for _, g := range c.groups {
		resumed, err := c.recover(g)
		if err != nil {
			c.d.Log.Error("recovering group", "group", g.cfg.Name, "err", err)
		}
		if !resumed && g.cfg.AutoStart {
			auto = append(auto, g)
		}
	}
	for _, g := range auto {
		go func() {
			if err := c.autoStart(life, g); err != nil {
				c.d.Log.Warn("auto-start", "group", g.cfg.Name, "err", err)
			}
		}()
	}
	go c.reconcile(beat)
	return nil
}

// heartbeat renews the lease every interval. A server that cannot renew within the lease TTL
// minus one interval stops its groups before another server could take them over.
func (c *Cluster) heartbeat(ctx context.Context, l store.Lease) {
	t := c.d.Config.Timing
	last := time.Now()
	tick := time.NewTicker(t.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, t.HeartbeatInterval)
		err := c.d.Store.Renew(rctx, l)
		cancel()
		if err == nil {
			last = time.Now()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(last) > t.HeartbeatTimeout-t.HeartbeatInterval {
			c.d.Alert(5, LevelError, "Heartbeat lease could not be renewed; stopping the groups of this server to keep them from running twice.")
			go c.fence(l)
			return
		}
	}
}

// fence stops this server's groups after it lost its lease, then rejoins the cluster as soon as
// the store answers again. The old lease is revoked first, never re-attached: keys written on it
// (owner keys of groups now stopped, a stale status) must not come back to life, as they would if
// the store restarted and refreshed the lease.
func (c *Cluster) fence(old store.Lease) {
	_ = c.Stop(c.life, FactorServerShutdown)
	_ = os.Remove(c.leasePath())
	every := c.d.Config.Timing.HeartbeatInterval
	for {
		select {
		case <-c.life.Done():
			return
		case <-time.After(every):
		}
		ctx, cancel := context.WithTimeout(c.life, c.d.Config.Timing.HeartbeatTimeout)
		err := c.d.Store.Leave(ctx, old)
		cancel()
		if err != nil {
			continue
		}
		if err := c.Start(c.life); err != nil {
			continue
		}
		c.d.Alert(6, LevelInfo, "The coordination store answers again: server "+c.d.Local+" rejoined the cluster.")
		return
	}
}

// Stop stops every group of this server in reverse configuration order and leaves the cluster
// (clpcl -t, SIGTERM). Groups whose stop fails keep their ownership.
func (c *Cluster) Stop(ctx context.Context, factor string) error {
	c.mu.Lock()
	if !c.started {
		c.mu.Unlock()
		return nil
	}
	c.stopping = true
	c.mu.Unlock()
	var first error
	for i := len(c.groups) - 1; i >= 0; i-- {
		g := c.groups[i]
		g.op.Lock()
		if c.anyActive(g) {
			// Scripts run on the cluster's lifetime: a caller that stops waiting must not
			// leave a group half stopped.
			if err := c.stopGroup(c.life, g, factor, true); err != nil && first == nil {
				first = err
			}
		}
		g.op.Unlock()
	}
	c.mu.Lock()
	l, stop := c.lease, c.stopBeat
	c.started = false
	c.mu.Unlock()
	stop()
	if first != nil {
		// Leaving would drop the owner keys of groups that may still half-run here.
		return first
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.d.Store.Leave(lctx, l); err != nil {
		return err
	}
	_ = os.Remove(c.leasePath())
	return nil
}

// Started reports whether the cluster service runs on this server.
func (c *Cluster) Started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started
}

// SetSuspended suspends or resumes the cluster: while suspended, groups keep running but no
// group operation is accepted.
func (c *Cluster) SetSuspended(v bool) {
	c.mu.Lock()
	c.suspended = v
	c.mu.Unlock()
}

func (c *Cluster) anyActive(g *group) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range g.res {
		if r.state != status.Offline {
			return true
		}
	}
	return false
}

func (c *Cluster) states(g *group) []status.State {
	out := make([]status.State, len(g.res))
	for i, r := range g.res {
		out[i] = r.state
	}
	return out
}

// admit checks that an operation may run now and takes the group's operation lock.
func (c *Cluster) admit(g *group) error {
	c.mu.Lock()
	started, suspended := c.started, c.suspended
	c.mu.Unlock()
	if !started {
		return &status.OpError{Code: status.CodeNotStarted, Msg: "The cluster service is not started on server " + c.d.Local + ". Start it with: clpcl -s"}
	}
	if suspended {
		return &status.OpError{Code: status.CodeSuspended, Msg: "The cluster is suspended. Resume it with: clpcl --resume"}
	}
	if !g.op.TryLock() {
		return status.ErrBusy()
	}
	return nil
}

// StartGroup starts a group on this server (clpgrp -s).
func (c *Cluster) StartGroup(ctx context.Context, name string, force bool) error {
	g, err := c.group(name)
	if err != nil {
		return err
	}
	if err := c.admit(g); err != nil {
		return err
	}
	return c.await(ctx, g, func(life context.Context) error {
		c.mu.Lock()
		st := groupState(g.running, c.states(g))
		c.mu.Unlock()
		if st == status.Online {
			return status.ErrAlreadyStarted()
		}
		if err := c.checkOwner(life, g, force); err != nil {
			return err
		}
		ev := c.baseEvent(g, "START", "")
		return c.startGroup(life, g, ev)
	})
}

// checkOwner refuses to start a group that runs on another server, unless forced.
func (c *Cluster) checkOwner(ctx context.Context, g *group, force bool) error {
	owners, err := c.d.Store.Owners(ctx)
	if err != nil {
		return &status.OpError{Code: status.CodeInternal, Msg: "Could not read group ownership: " + err.Error()}
	}
	o, ok := owners[g.cfg.Name]
	switch {
	case !ok || o.Server == c.d.Local:
		return nil
	case force:
		// A live owner is never overridden: the group would run on two servers at once.
		return &status.OpError{Code: status.CodeStartedOther, Msg: "The group is running on server " + o.Server + "; -f cannot start it here while that server holds it. Stop it there, or move it with clpgrp -m."}
	default:
		return status.ErrStartedOther()
	}
}

// StopGroup stops a group running on this server (clpgrp -t).
func (c *Cluster) StopGroup(ctx context.Context, name string) error {
	g, err := c.group(name)
	if err != nil {
		return err
	}
	if err := c.admit(g); err != nil {
		return err
	}
	return c.await(ctx, g, func(life context.Context) error {
		if !c.anyActive(g) {
			owners, err := c.d.Store.Owners(life)
			if err == nil {
				if o, ok := owners[g.cfg.Name]; ok && o.Server != c.d.Local {
					return status.ErrStartedOther()
				}
			}
			return status.ErrAlreadyStopped()
		}
		return c.stopGroup(life, g, FactorGroupStop, true)
	})
}

// MoveGroup moves a group to dest, or to the next server of its policy when dest is "".
func (c *Cluster) MoveGroup(ctx context.Context, name, dest string) error {
	g, err := c.group(name)
	if err != nil {
		return err
	}
	if dest != "" {
		if _, ok := c.d.Config.Server(dest); !ok {
			return status.ErrInvalidServer(dest)
		}
	}
	if err := c.admit(g); err != nil {
		return err
	}
	defer g.op.Unlock()
	if !c.anyActive(g) {
		return &status.OpError{Code: status.CodeAlreadyStopped, Msg: "The group is not running on server " + c.d.Local + ": only a running group can be moved."}
	}
	online, err := c.d.Store.OnlineServers(ctx)
	if err != nil {
		return &status.OpError{Code: status.CodeInternal, Msg: "Could not read server states: " + err.Error()}
	}
	target := dest
	if target == "" {
		target = moveTarget(g.cfg.Servers, c.d.Local, online)
		if target == "" {
			return &status.OpError{Code: status.CodeNoDestination, Msg: "No server to move group " + g.cfg.Name + " to: no other server of its failover policy is Online."}
		}
	}
	if target == c.d.Local {
		return status.ErrAlreadyStarted()
	}
	inPolicy := false
	for _, s := range g.cfg.Servers {
		inPolicy = inPolicy || s == target
	}
	if !inPolicy || !online[target] {
		return status.ErrInvalidServer(target)
	}
	return c.moveTo(ctx, g, target)
}

// Current returns the server running a group, or "" (clpgrp -n).
func (c *Cluster) Current(ctx context.Context, name string) (string, error) {
	g, err := c.group(name)
	if err != nil {
		return "", err
	}
	if c.anyActive(g) {
		return c.d.Local, nil
	}
	owners, err := c.d.Store.Owners(ctx)
	if err != nil {
		return "", &status.OpError{Code: status.CodeInternal, Msg: "Could not read group ownership: " + err.Error()}
	}
	return owners[name].Server, nil
}

// await runs op on the cluster's lifetime context, holding the group's operation lock taken by
// admit, and waits for it as long as ctx allows. An operation is never abandoned half-way
// because its caller stopped waiting.
func (c *Cluster) await(ctx context.Context, g *group, op func(life context.Context) error) error {
	done := make(chan error, 1)
	go func() {
		defer g.op.Unlock()
		done <- op(c.life)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return status.ErrTimeout()
	}
}

// baseEvent is the CLP_* event of a group activation on this server.
func (c *Cluster) baseEvent(g *group, event, prev string) resource.Event {
	role, prio := serverRole(g.cfg.Servers, c.d.Local)
	return resource.Event{Event: event, Server: role, Disk: "SUCCESS", Group: g.cfg.Name, Priority: prio, ServerPrev: prev}
}

func (c *Cluster) saveGroup(g *group, op string, done bool) {
	rec := groupRecord{Op: op, Done: done, Event: g.event, Token: g.token}
	if err := c.recs.write(c.recs.groupPath(g.cfg.Name), rec); err != nil {
		c.d.Log.Error("saving group state", "group", g.cfg.Name, "err", err)
	}
	c.notifyChange()
}

// setRes changes a resource's state and persists it: Offline clears the record.
func (c *Cluster) setRes(g *group, r *res, st status.State, detail string) {
	c.mu.Lock()
	r.state, r.detail = st, detail
	rec := resourceRecord{State: st, Event: r.ev, Detail: detail, Job: r.job, StopJob: r.stopJob}
	c.mu.Unlock()
	path := c.recs.resPath(g.cfg.Name, r.cfg.Name)
	var err error
	if st == status.Offline {
		err = c.recs.remove(path)
	} else {
		err = c.recs.write(path, rec)
	}
	if err != nil {
		c.d.Log.Error("saving resource state", "resource", r.cfg.Name, "err", err)
	}
	c.notifyChange()
}

// startGroup activates the group's resources in dependency order. Resources already Online (a
// resumed start) are left alone.
func (c *Cluster) startGroup(ctx context.Context, g *group, ev resource.Event) error {
	c.mu.Lock()
	l := c.lease
	c.mu.Unlock()
	token, err := c.d.Store.Acquire(ctx, g.cfg.Name, c.d.Local, l)
	if err != nil {
		if errors.Is(err, store.ErrOwnedElsewhere) {
			return status.ErrStartedOther()
		}
		return &status.OpError{Code: status.CodeInternal, Msg: "Could not take ownership of group " + g.cfg.Name + ": " + err.Error()}
	}
	c.mu.Lock()
	g.token, g.event, g.running = token, ev, opStart
	c.mu.Unlock()
	c.saveGroup(g, opStart, false)
	c.mark(ctx, g, store.Marker{Server: c.d.Local, State: store.MarkerStarting})
	c.d.Alert(10, LevelInfo, fmt.Sprintf("Activating group %s has started.", g.cfg.Name))

	for _, i := range startOrder(g.cfg.Resources) {
		r := g.res[i]
		c.mu.Lock()
		st := r.state
		c.mu.Unlock()
		if st == status.Online {
			continue
		}
		if err := c.startResource(ctx, g, r, ev, token); err != nil {
			c.d.Alert(12, LevelError, fmt.Sprintf("Activating group %s has failed.", g.cfg.Name))
			c.mark(ctx, g, store.Marker{Server: c.d.Local, State: store.MarkerFailed})
			c.finalAction(ctx, g, r.cfg.ActivationFinalAction)
			return status.ErrStartFailed(g.cfg.Name)
		}
	}
	c.mu.Lock()
	g.running = ""
	c.mu.Unlock()
	c.saveGroup(g, opStart, true)
	c.mark(ctx, g, store.Marker{Server: c.d.Local, State: store.MarkerOnline})
	c.d.Alert(11, LevelInfo, fmt.Sprintf("Activating group %s has completed.", g.cfg.Name))
	return nil
}

// startResource runs one resource's start script, with its retries. On failure the resource is
// left in Online Failure.
func (c *Cluster) startResource(ctx context.Context, g *group, r *res, base resource.Event, token int64) error {
	ev := base
	ev.Resource = r.cfg.Name
	c.mu.Lock()
	r.ev, r.job, r.stopping = ev, nil, false
	c.mu.Unlock()
	c.d.Alert(30, LevelInfo, fmt.Sprintf("Activating %s resource has started.", r.cfg.Name))
	var last string
	for attempt := 0; attempt <= r.cfg.ActivationRetry; attempt++ {
		if err := c.d.Store.Guard(ctx, g.cfg.Name, token); err != nil {
			last = err.Error()
			break
		}
		c.setRes(g, r, status.OnlinePending, "")
		job, err := resource.Spawn(c.d.ProcRoot, c.spec(g, r, r.cfg.Start, "start", ev))
		if err != nil {
			last = err.Error()
			continue
		}
		if r.cfg.StartMode == config.ModeAsync {
			c.mu.Lock()
			r.job = job
			c.mu.Unlock()
			c.setRes(g, r, status.Online, "")
			go c.watchAsync(g, r, job)
			c.d.Alert(31, LevelInfo, fmt.Sprintf("Activating %s resource has completed.", r.cfg.Name))
			return nil
		}
		c.mu.Lock()
		r.job = job // persisted while pending so a restarted daemon can wait for it
		c.mu.Unlock()
		c.setRes(g, r, status.OnlinePending, "")
		res := c.waitJob(ctx, job, r.cfg.StartTimeout)
		c.mu.Lock()
		r.job = nil
		c.mu.Unlock()
		if res.OK() {
			c.setRes(g, r, status.Online, "")
			c.d.Alert(31, LevelInfo, fmt.Sprintf("Activating %s resource has completed.", r.cfg.Name))
			return nil
		}
		last = "start script " + res.String()
		if attempt < r.cfg.ActivationRetry {
			c.d.Alert(32, LevelWarn, fmt.Sprintf("Activating %s resource has failed.(%s) Retrying (%d/%d).", r.cfg.Name, last, attempt+1, r.cfg.ActivationRetry))
		}
	}
	c.setRes(g, r, status.OnlineFailure, last)
	c.d.Alert(32, LevelError, fmt.Sprintf("Activating %s resource has failed.(%s)", r.cfg.Name, last))
	return errors.New(last)
}

func (c *Cluster) waitJob(ctx context.Context, job *resource.Job, timeout time.Duration) resource.Result {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return job.Wait(wctx)
}

func (c *Cluster) spec(g *group, r *res, script, action string, ev resource.Event) resource.Spec {
	return resource.Spec{
		Script: script,
		Env:    resource.Environ(c.d.Environ, c.d.Host, ev, script),
		Log:    r.cfg.Log,
		RCFile: filepath.Join(c.recs.dir, g.cfg.Name+"."+r.cfg.Name+"."+action+".rc"),
	}
}

// watchAsync notices an asynchronous start script that ends while its resource is Online: the
// resource has failed, its stop script cleans up, and the final action applies.
func (c *Cluster) watchAsync(g *group, r *res, job *resource.Job) {
	res := job.Wait(context.Background())
	c.mu.Lock()
	expected := r.stopping || r.job != job
	c.mu.Unlock()
	if expected {
		return
	}
	g.op.Lock()
	defer g.op.Unlock()
	c.mu.Lock()
	stale := r.job != job || r.stopping
	c.mu.Unlock()
	if stale {
		return
	}
	detail := "asynchronous start script ended (" + res.String() + ")"
	c.d.Alert(32, LevelError, fmt.Sprintf("Resource %s has failed.(%s)", r.cfg.Name, detail))
	c.failAsync(c.life, g, r, detail)
}

// failAsync runs the stop script of a resource whose asynchronous start ended, marks it failed,
// and applies the final action.
func (c *Cluster) failAsync(ctx context.Context, g *group, r *res, detail string) {
	c.mu.Lock()
	token := g.token
	c.mu.Unlock()
	_ = c.stopResource(ctx, g, r, FactorGroupStop, token)
	c.setRes(g, r, status.OnlineFailure, detail)
	c.finalAction(ctx, g, r.cfg.ActivationFinalAction)
}

// finalAction applies what the configuration says to do once a resource's retries are spent.
func (c *Cluster) finalAction(ctx context.Context, g *group, action string) {
	switch action {
	case config.ActionStopGroup:
		_ = c.stopGroup(ctx, g, FactorGroupStop, false)
	case config.ActionStopCluster:
		c.mu.Lock()
		g.running = ""
		c.mu.Unlock()
		if c.d.Shutdown != nil {
			go c.d.Shutdown()
		}
	default:
		c.mu.Lock()
		g.running = ""
		c.mu.Unlock()
		c.saveGroup(g, opStart, true)
	}
}

// stopGroup deactivates the group's resources in reverse dependency order, then gives the group
// up. A failed stop halts there: what the failed resource depends on keeps running, and the
// group keeps its owner key so no other server starts it while it may be half up.
//
// clear says whether failure states are cleared (an operator's stop) or kept for the operator to
// see (the final action after a failure).
func (c *Cluster) stopGroup(ctx context.Context, g *group, factor string, clear bool) error {
	c.mu.Lock()
	g.running = opStop
	token := g.token
	c.mu.Unlock()
	c.saveGroup(g, opStop, false)
	c.d.Alert(20, LevelInfo, fmt.Sprintf("Stopping group %s has started.", g.cfg.Name))
	for _, i := range stopOrder(g.cfg.Resources) {
		r := g.res[i]
		c.mu.Lock()
		st := r.state
		c.mu.Unlock()
		switch st {
		case status.Offline:
			continue
		case status.OnlineFailure:
			// Its start failed: there is nothing of it to stop, only the failure to clear.
			if clear {
				c.setRes(g, r, status.Offline, "")
			}
			continue
		}
		if err := c.stopResource(ctx, g, r, factor, token); err != nil {
			c.mu.Lock()
			g.running = ""
			c.mu.Unlock()
			c.saveGroup(g, opStop, true)
			c.d.Alert(22, LevelError, fmt.Sprintf("Stopping group %s has failed.", g.cfg.Name))
			return status.ErrStopFailed(g.cfg.Name)
		}
	}
	c.mu.Lock()
	g.running = ""
	keep := mustKeepOwnership(c.states(g))
	c.mu.Unlock()
	if !keep {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		c.handOver(rctx, g, factor, token)
		if err := c.d.Store.Release(rctx, g.cfg.Name, token); err != nil {
			c.d.Log.Warn("releasing group", "group", g.cfg.Name, "err", err)
		}
		cancel()
		_ = c.recs.remove(c.recs.groupPath(g.cfg.Name))
	}
	c.d.Alert(21, LevelInfo, fmt.Sprintf("Stopping group %s has completed.", g.cfg.Name))
	return nil
}

// stopResource runs one resource's stop script with its retries; the asynchronous start script,
// if still running afterwards, is terminated.
func (c *Cluster) stopResource(ctx context.Context, g *group, r *res, factor string, token int64) error {
	c.mu.Lock()
	ev := r.ev
	startJob := r.job
	r.stopping = true
	c.mu.Unlock()
	ev.Factor = factor
	if startJob != nil {
		ev.PID = startJob.ScriptPID
	}
	c.d.Alert(40, LevelInfo, fmt.Sprintf("Stopping %s resource has started.", r.cfg.Name))
	// Stopping is not fenced: a server that lost the group must still stop what runs here.
	var last string
	for attempt := 0; attempt <= r.cfg.DeactivationRetry; attempt++ {
		c.setRes(g, r, status.OfflinePending, "")
		job, err := resource.Spawn(c.d.ProcRoot, c.spec(g, r, r.cfg.Stop, "stop", ev))
		if err != nil {
			last = err.Error()
			continue
		}
		c.mu.Lock()
		r.stopJob = job
		c.mu.Unlock()
		c.setRes(g, r, status.OfflinePending, "")
		if r.cfg.StopMode == config.ModeAsync {
			c.endStartJob(startJob, r.cfg.StopTimeout)
			c.clearJob(r)
			c.setRes(g, r, status.Offline, "")
			c.d.Alert(41, LevelInfo, fmt.Sprintf("Stopping %s resource has completed.", r.cfg.Name))
			return nil
		}
		res := c.waitJob(ctx, job, r.cfg.StopTimeout)
		c.mu.Lock()
		r.stopJob = nil
		c.mu.Unlock()
		if res.OK() {
			c.endStartJob(startJob, r.cfg.StopTimeout)
			c.clearJob(r)
			c.setRes(g, r, status.Offline, "")
			c.d.Alert(41, LevelInfo, fmt.Sprintf("Stopping %s resource has completed.", r.cfg.Name))
			return nil
		}
		last = "stop script " + res.String()
		if attempt < r.cfg.DeactivationRetry {
			c.d.Alert(42, LevelWarn, fmt.Sprintf("Stopping %s resource has failed.(%s) Retrying (%d/%d).", r.cfg.Name, last, attempt+1, r.cfg.DeactivationRetry))
		}
	}
	c.setRes(g, r, status.OfflineFailure, last)
	c.d.Alert(42, LevelError, fmt.Sprintf("Stopping %s resource has failed.(%s)", r.cfg.Name, last))
	if r.cfg.DeactivationFinalAction == config.ActionStopCluster && c.d.Shutdown != nil {
		go c.d.Shutdown()
	}
	return errors.New(last)
}

func (c *Cluster) clearJob(r *res) {
	c.mu.Lock()
	r.job, r.stopJob, r.stopping = nil, nil, false
	c.mu.Unlock()
}

// endStartJob terminates an asynchronous start script that outlived its stop script: SIGTERM to
// its process group, then SIGKILL when it has not gone within the stop timeout.
func (c *Cluster) endStartJob(j *resource.Job, timeout time.Duration) {
	if j == nil || !j.Running() {
		return
	}
	j.Signal(15)
	wctx, cancel := context.WithTimeout(context.Background(), min(timeout, 10*time.Second))
	defer cancel()
	j.Wait(wctx)
}

// Status returns the cluster as this server sees it.
func (c *Cluster) Status(ctx context.Context) status.Cluster {
	cfg := c.d.Config
	out := status.Cluster{Name: cfg.Cluster.Name, LocalServer: c.d.Local, Taken: time.Now()}
	c.mu.Lock()
	started, suspended := c.started, c.suspended
	c.mu.Unlock()
	out.Suspended = suspended
	var online map[string]bool
	var owners map[string]store.Owner
	remote := map[string]status.Group{}
	if started {
		// A store that does not answer must not hang clpstat: what this server runs is known
		// without it.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		online, _ = c.d.Store.OnlineServers(sctx)
		owners, _ = c.d.Store.Owners(sctx)
		remote = c.remoteGroups(sctx)
		cancel()
	}
	for _, s := range cfg.Servers {
		st, hb := status.Offline, status.Offline
		if online[s.Name] {
			st, hb = status.Online, status.Normal
		}
		out.Servers = append(out.Servers, status.Server{
			Name: s.Name, Comment: s.Comment, Address: s.Address, State: st,
			Heartbeats: []status.Heartbeat{{Name: "leasehb1", State: hb, Comment: "etcd Lease Heartbeat"}},
		})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.groups {
		sg, active := c.groupStatus(g)
		if !active {
			if o, ok := owners[g.cfg.Name]; ok && o.Server != c.d.Local {
				// Another server runs it; its resources' states are that server's to tell.
				if rg, ok := remote[g.cfg.Name]; ok && rg.Current == o.Server {
					sg.State, sg.Resources = rg.State, rg.Resources
				} else {
					sg.State = status.Unknown
				}
				sg.Current = o.Server
			}
		}
		out.Groups = append(out.Groups, sg)
	}
	return out
}
