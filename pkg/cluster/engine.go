package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// Store is what the engine needs of the coordination store (pkg/store.Store satisfies it). The
// engine gives every call a deadline.
type Store interface {
	Join(ctx context.Context, server string, previous int64, ttl time.Duration) (store.Lease, bool, error)
	Renew(ctx context.Context, id int64) error
	Revoke(ctx context.Context, id int64) error
	Snapshot(ctx context.Context) (store.Snapshot, error)
	Watch(ctx context.Context) <-chan struct{}
	Acquire(ctx context.Context, group, server string, lease int64) (int64, error)
	Guard(ctx context.Context, group string, token int64) error
	SetMarker(ctx context.Context, group string, m store.Marker, token int64) error
	Release(ctx context.Context, group string, token int64, m *store.Marker) error
	Publish(ctx context.Context, server string, data []byte, lease int64) error
}

// Containment holds every process a resource's scripts start, so that all of it can be killed at
// once (pkg/daemon provides one over cgroup v2). Without one, scripts run in process groups only,
// and a daemon a script double-forks out of its process group escapes fencing.
type Containment interface {
	// Dir returns the cgroup a script of kind ("start" or "stop") of a resource is cloned into,
	// open, and its path.
	Dir(group, resource, kind string) (*os.File, string, error)
	// KillGroup kills every process of a group and waits until none is left.
	KillGroup(ctx context.Context, group string) error
	// KillPath kills every process of one cgroup (a script that timed out) and waits.
	KillPath(ctx context.Context, path string) error
	// Terminate sends SIGTERM to what a resource's start scripts left, waits up to grace for it to
	// go, then kills whatever remains.
	Terminate(ctx context.Context, group, resource string, grace time.Duration) error
	// GroupPath is a group's cgroup, for the guard.
	GroupPath(group string) string
}

// Guard is the process that kills this server's groups should this daemon fall silent. Arm and
// Disarm report whether the guard had fenced before: it killed the groups while this daemon
// thought it was in charge.
type Guard interface {
	Arm(ctx context.Context, fenceAt, expiry time.Duration, t GuardTargets) (wasFenced bool, err error)
	Disarm(ctx context.Context) (wasFenced bool, err error)
}

// GuardTargets are what the guard kills, removes and unmounts when it fences.
type GuardTargets struct {
	Cgroups []string
	PGIDs   []int
	// Addresses are floating addresses, "prefix@interface", removed first.
	Addresses []string
	// Mounts are shared disks, unmounted last.
	Mounts []Mount
}

// Mount is a shared disk mounted on this server.
type Mount struct{ Device, MountPoint string }

// Clock reads the time the engine and the guard share.
type Clock interface{ Now() time.Duration }

// BootClock is CLOCK_BOOTTIME: shared by every process of the machine, never set, and still
// counting while the machine is suspended (the store's clock runs on meanwhile).
type BootClock struct{}

// Now returns the time since boot.
func (BootClock) Now() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic("CLOCK_BOOTTIME is not available: " + err.Error())
	}
	return time.Duration(ts.Nano())
}

// Alert levels passed to Deps.Alert.
const (
	LevelInfo  = "INFO"
	LevelWarn  = "WARN"
	LevelError = "ERR"
)

// Stop factors (CLP_FACTOR).
const (
	FactorGroupStop       = "GROUPSTOP"
	FactorGroupMove       = "GROUPMOVE"
	FactorGroupFailover   = "GROUPFAILOVER"
	FactorClusterShutdown = "CLUSTERSHUTDOWN"
	FactorServerShutdown  = "SERVERSHUTDOWN"
	FactorResourceRestart = "RESOURCERESTART"
)

// Deps are the engine's collaborators, passed in so tests can run many engines in one process.
type Deps struct {
	Config *config.Config
	// Local is this server's name in Config.
	Local string
	Store Store
	// Alert records an event in the alert log (module "pm", "rc", ...).
	Alert func(module string, eventID int, level, text string)
	Log   *slog.Logger
	Host  resource.Host
	// Environ is the base environment scripts inherit (normally os.Environ()).
	Environ  []string
	ProcRoot string
	Clock    Clock
	// Containment may be nil: scripts then run in process groups only.
	Containment Containment
	// Guard may be nil: nothing then kills the groups if this daemon is killed or frozen.
	Guard Guard
	// GuardFenced says the guard killed this server's groups while no daemon ran: a lease a
	// previous daemon held is then discarded rather than re-attached.
	GuardFenced bool
	// SuspendFile keeps the suspended state across restarts.
	SuspendFile string
}

// Engine is one server's cluster service: one goroutine (Run) owns the state; API calls, store
// changes, lease renewals, script exits and timers reach it as events; the machine decides; the
// engine carries out the actions, each blocking one in a goroutine of its own that reports back as
// an event, so nothing ever blocks the loop and fencing can always preempt.
type Engine struct {
	d       Deps
	m       *machine
	recs    records
	events  chan event
	statusQ chan chan status.Cluster
	exited  chan struct{}
	life    context.Context

	// The fields below belong to the loop goroutine.
	writes  chan func(context.Context)
	effects chan func()
	publish chan []byte
	guardQ  chan guardMsg
	track   tracking
	pending []action
	// exitErr is why the service could not stop cleanly, set when exited closes.
	exitErr error
	// gates hold each group's fencing epoch for the script executor: a spawn of an older epoch
	// than the group's is refused, and a kill moves the epoch under the same lock, so no script
	// can start in a group after its fence has begun.
	gates []*gate
	// runs cancel the monitors' running checks (loop-owned).
	runs map[int]context.CancelFunc
	// beat is when the loop last turned (Clock time), for the user-space monitor.
	beat atomic.Int64
	// notices carry clprexec --notice and --clear to each message monitor's run (made in New,
	// never changed: any goroutine may send).
	notices map[int]chan notice
}

type gate struct {
	mu    sync.Mutex
	epoch int
}

// tracking knows the running scripts of every group and the current lease; goroutines read it.
type tracking struct {
	mu    sync.Mutex
	jobs  map[int]map[jobID]trackedJob
	lease int64
}

type trackedJob struct {
	res  int
	kind jobKind
	job  *resource.Job
}

// flushTime bounds how long an engine that stops waits for its last alerts and answers.
const flushTime = 5 * time.Second

// storeTimeout bounds every store write and read.
const storeTimeout = 2 * time.Second

// New builds the engine of server d.Local, recovering what a previous daemon of this server left
// in the run directory. It does nothing until Run.
func New(d Deps) (*Engine, error) {
	cfg := d.Config
	if _, ok := cfg.Server(d.Local); !ok {
		return nil, fmt.Errorf("server %q is not in %s", d.Local, cfg.File)
	}
	dir := filepath.Join(cfg.Paths.RunDir, "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating run state dir: %w", err)
	}
	if d.ProcRoot == "" {
		d.ProcRoot = "/proc"
	}
	if d.Clock == nil {
		d.Clock = BootClock{}
	}
	t := cfg.Timing
	p := params{
		local: d.Local, cfg: cfg, ttl: t.HeartbeatTimeout, interval: t.HeartbeatInterval,
		fenceFrac: t.FenceFraction, guardFrac: t.FenceFraction + (1-t.FenceFraction)/2,
		retry: max(t.HeartbeatInterval, 200*time.Millisecond),
	}
	e := &Engine{
		d: d, m: newMachine(p), recs: records{dir: dir},
		events:  make(chan event, 256),
		statusQ: make(chan chan status.Cluster),
		exited:  make(chan struct{}),
		writes:  make(chan func(context.Context), 256),
		effects: make(chan func(), 1024),
		publish: make(chan []byte, 1),
		guardQ:  make(chan guardMsg, 1),
		runs:    map[int]context.CancelFunc{},
	}
	for range cfg.Groups {
		e.gates = append(e.gates, &gate{})
	}
	e.notices = map[int]chan notice{}
	for i, m := range cfg.Monitors {
		if m.Type == config.MonitorMessage {
			e.notices[i] = make(chan notice, 1)
		}
	}
	if d.SuspendFile != "" {
		if _, err := os.Stat(d.SuspendFile); err == nil {
			e.m.suspended = true
		}
	}
	adopted, err := e.recover()
	if err != nil {
		return nil, err
	}
	e.pending = e.m.adopt(e.previousLease(), adopted)
	return e, nil
}

// Run runs the loop until the service has stopped for good (SIGTERM, a final action) or ctx
// ends. Ending ctx abandons everything where it stands, like a crash; the groups are stopped by
// StopService(..., exiting) first.
func (e *Engine) Run(ctx context.Context) error {
	e.life = ctx
	go e.effector(ctx)
	go e.writer(ctx)
	go e.publisher(ctx)
	go e.guardFeeder(ctx)
	go e.viewer(ctx)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	e.apply(e.pending)
	e.pending = nil
	for {
		now := e.d.Clock.Now()
		e.beat.Store(int64(now))
		if w := e.m.wake(); w > 0 {
			timer.Reset(max(w-now, 0))
		} else {
			timer.Reset(time.Hour)
		}
		var ev event
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.exited:
			e.flush(flushTime)
			return e.exitErr
		case ev = <-e.events:
		case <-timer.C:
			ev = evTick{}
		case ch := <-e.statusQ:
			ch <- e.m.status(e.d.Clock.Now())
			continue
		}
		e.apply(e.m.step(e.d.Clock.Now(), ev))
	}
}

// post hands an event to the loop; it never blocks a goroutine past the engine's life.
func (e *Engine) post(ev event) {
	select {
	case e.events <- ev:
	case <-e.life.Done():
	}
}

// apply carries out the machine's actions, in order. Each either takes a moment (an alert line,
// a record file in the run directory, a signal) or is handed to a goroutine.
func (e *Engine) apply(acts []action) {
	for _, a := range acts {
		switch a := a.(type) {
		case actJoin:
			e.join(a)
		case actRenew:
			e.renew(a)
		case actRevoke:
			go func() {
				ctx, cancel := context.WithTimeout(e.life, storeTimeout)
				defer cancel()
				e.post(evRevoked{lease: a.lease, err: e.d.Store.Revoke(ctx, a.lease)})
			}()
		case actAcquire:
			e.write(func(ctx context.Context) {
				token, err := e.d.Store.Acquire(ctx, e.groupName(a.group), e.d.Local, a.lease)
				e.post(evAcquired{group: a.group, token: token, elsewhere: errors.Is(err, store.ErrOwnedElsewhere), err: err})
			})
		case actMark:
			e.write(func(ctx context.Context) {
				// A lost marker would leave a mover waiting for a start it cannot see: try again,
				// unless the group is no longer this server's.
				err := e.d.Store.SetMarker(ctx, e.groupName(a.group), a.marker, a.token)
				for try := 1; try < 3 && err != nil && !errors.Is(err, store.ErrFenced) && e.life.Err() == nil; try++ {
					rctx, cancel := context.WithTimeout(e.life, storeTimeout)
					err = e.d.Store.SetMarker(rctx, e.groupName(a.group), a.marker, a.token)
					cancel()
				}
				if err != nil {
					e.d.Log.Warn("recording group marker", "group", e.groupName(a.group), "err", err)
				}
			})
		case actRelease:
			e.write(func(ctx context.Context) {
				err := e.d.Store.Release(ctx, e.groupName(a.group), a.token, a.marker)
				e.post(evReleased{group: a.group, token: a.token, fenced: errors.Is(err, store.ErrFenced), err: err})
			})
		case actSpawn:
			e.spawn(a)
		case actWatch:
			e.watch(a)
		case actReap:
			e.reap(a)
		case actKill:
			e.kill(a)
		case actReply:
			e.effect(func() { a.r.reply <- reply{err: a.err, value: a.value} })
		case actAlert:
			if e.d.Alert != nil {
				e.effect(func() { e.d.Alert(a.module, a.id, a.level, a.text) })
			}
		case actSaveGroup:
			e.saveGroup(a)
		case actPublish:
			b, err := json.Marshal(a.status)
			if err != nil {
				e.d.Log.Error("encoding status", "err", err)
				continue
			}
			select {
			case <-e.publish:
			default:
			}
			e.publish <- b
		case actGuard:
			msg := e.guardMsg(a)
			select {
			case <-e.guardQ:
			default:
			}
			e.guardQ <- msg
		case actSuspend:
			e.saveSuspend(a.on)
		case actLease:
			e.saveLease(a.id)
		case actShutdown:
			select {
			case <-e.exited:
			default:
				e.exitErr = a.err
				close(e.exited)
			}
		case actLog:
			e.logLine(a)
		case actMonitor:
			e.monitorAct(a)
		case actScript:
			e.runScript(a)
		case actOS:
			e.runOS(a)
		}
	}
}

// effect queues what the world sees of a decision: an alert line, or the answer to a caller.
// They run in order on one goroutine, so a caller never gets its answer before the alert of what
// it did; and off the loop, so a stuck syslog or a slow disk never holds it (nor a fence).
func (e *Engine) effect(f func()) {
	select {
	case e.effects <- f:
	default:
		// A thousand effects behind: their writer is stuck. Order gives way to progress.
		go f()
	}
}

func (e *Engine) effector(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-e.effects:
			f()
		}
	}
}

// flush waits, up to d, for the effects queued so far (the last alerts and answers of a service
// that stops for good).
func (e *Engine) flush(d time.Duration) {
	done := make(chan struct{})
	e.effect(func() { close(done) })
	select {
	case <-done:
	case <-time.After(d):
	}
}

func (e *Engine) logLine(a actLog) {
	switch a.level {
	case "ERROR":
		e.d.Log.Error(a.msg, a.args...)
	case "WARN":
		e.d.Log.Warn(a.msg, a.args...)
	default:
		e.d.Log.Info(a.msg, a.args...)
	}
}

func (e *Engine) groupName(i int) string { return e.d.Config.Groups[i].Name }

// --- the store ---

// write queues a store write. Writes run one at a time in order, each with a deadline, so a
// group's acquire, marks and release reach the store in the order the machine decided them.
func (e *Engine) write(f func(context.Context)) {
	select {
	case e.writes <- f:
	default:
		// The store has been silent long enough to fill the queue; run this one on its own
		// rather than block the loop.
		go func() {
			ctx, cancel := context.WithTimeout(e.life, storeTimeout)
			defer cancel()
			f(ctx)
		}()
	}
}

func (e *Engine) writer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-e.writes:
			wctx, cancel := context.WithTimeout(ctx, storeTimeout)
			f(wctx)
			cancel()
		}
	}
}

func (e *Engine) join(a actJoin) {
	go func() {
		ctx, cancel := context.WithTimeout(e.life, storeTimeout)
		defer cancel()
		previous := a.previous
		if previous != 0 && e.d.GuardFenced {
			// The guard already killed what ran on that lease: it must not be re-attached, and
			// revoking it hands the groups over at once.
			if err := e.d.Store.Revoke(ctx, previous); err != nil {
				e.post(evJoined{err: err})
				return
			}
			previous = 0
		}
		sent := e.d.Clock.Now()
		l, reattached, err := e.d.Store.Join(ctx, e.d.Local, previous, e.d.Config.Timing.HeartbeatTimeout)
		if err == nil && l.TTL > e.d.Config.Timing.HeartbeatTimeout {
			e.d.Log.Warn("the store granted a longer lease than configured: failover waits that long (etcd's minimum lease TTL is 1.5 × its election timeout)",
				"configured", e.d.Config.Timing.HeartbeatTimeout, "granted", l.TTL)
		}
		e.post(evJoined{lease: l, sent: sent, reattached: reattached, err: err})
	}()
}

func (e *Engine) renew(a actRenew) {
	go func() {
		// A renewal acknowledged after the fencing deadline proves nothing any more.
		ctx, cancel := context.WithTimeout(e.life, frac(e.d.Config.Timing.HeartbeatTimeout, e.d.Config.Timing.FenceFraction))
		defer cancel()
		sent := e.d.Clock.Now()
		err := e.d.Store.Renew(ctx, a.lease)
		e.post(evRenewed{lease: a.lease, sent: sent, gone: errors.Is(err, store.ErrLeaseGone), err: err})
	}()
}

// viewer keeps the machine's view of the store fresh: a full read after every change (and every
// few seconds, in case a watch missed one).
func (e *Engine) viewer(ctx context.Context) {
	changes := e.d.Store.Watch(ctx)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, storeTimeout)
		snap, err := e.d.Store.Snapshot(rctx)
		cancel()
		if err != nil {
			e.post(evViewFailed{err: err})
			continue
		}
		e.post(evView{snap: snap})
	}
}

// publisher stores the latest status handed to it; older ones are dropped unsent.
func (e *Engine) publisher(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-e.publish:
			pctx, cancel := context.WithTimeout(ctx, storeTimeout)
			if err := e.d.Store.Publish(pctx, e.d.Local, b, e.leaseID()); err != nil && ctx.Err() == nil {
				e.d.Log.Warn("publishing status", "err", err)
			}
			cancel()
		}
	}
}

// --- the guard ---

// guardMsg is an actGuard with its groups turned into what the guard kills: their cgroups, or,
// without cgroups, the process groups of their running scripts.
type guardMsg struct {
	armed           bool
	fenceAt, expiry time.Duration
	targets         GuardTargets
}

func (e *Engine) guardMsg(a actGuard) guardMsg {
	msg := guardMsg{armed: a.armed, fenceAt: a.fenceAt, expiry: a.expiry}
	for _, g := range a.groups {
		msg.targets.Addresses = append(msg.targets.Addresses, e.floating(g)...)
		msg.targets.Mounts = append(msg.targets.Mounts, e.mounts(g)...)
		if e.d.Containment != nil {
			msg.targets.Cgroups = append(msg.targets.Cgroups, e.d.Containment.GroupPath(e.groupName(g)))
			continue
		}
		for _, t := range e.trackedJobs(g) {
			msg.targets.PGIDs = append(msg.targets.PGIDs, t.job.Wrapper.PID)
		}
	}
	return msg
}

func (e *Engine) guardFeeder(ctx context.Context) {
	if e.d.Guard == nil {
		return
	}
	var failing bool
	for {
		var a guardMsg
		select {
		case <-ctx.Done():
			return
		case a = <-e.guardQ:
		}
		gctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		var err error
		var fenced bool
		if a.armed {
			fenced, err = e.d.Guard.Arm(gctx, a.fenceAt, a.expiry, a.targets)
		} else {
			fenced, err = e.d.Guard.Disarm(gctx)
		}
		cancel()
		if fenced {
			e.post(evGuardFenced{})
		}
		switch {
		case err != nil && !failing:
			failing = true
			e.d.Log.Error("the guard does not answer: if clpd is killed or frozen now, nothing stops its groups in time", "err", err)
		case err == nil && failing:
			failing = false
			e.d.Log.Info("the guard answers again")
		}
	}
}

// --- scripts ---

func (e *Engine) spawnSpec(a actSpawn) (resource.Spec, func(), error) {
	g := &e.d.Config.Groups[a.group]
	r := &g.Resources[a.res]
	script := r.Start
	if a.kind == jobStop {
		script = r.Stop
	}
	spec := resource.Spec{
		Script: script,
		Env:    resource.Environ(e.d.Environ, e.d.Host, a.ev, script),
		Log:    r.Log,
		RCFile: filepath.Join(e.recs.dir, g.Name+"."+r.Name+"."+a.kind.String()+".rc"),
	}
	closeDir := func() {}
	if e.d.Containment != nil {
		dir, path, err := e.d.Containment.Dir(g.Name, r.Name, a.kind.String())
		if err != nil {
			return spec, closeDir, fmt.Errorf("preparing the cgroup of %s: %w", r.Name, err)
		}
		spec.Cgroup, spec.CgroupPath = dir, path
		closeDir = func() { dir.Close() }
		spec.Kill = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := e.d.Containment.KillPath(ctx, path); err != nil {
				e.d.Log.Error("killing a script that timed out", "resource", r.Name, "err", err)
			}
		}
	}
	return spec, closeDir, nil
}

func (e *Engine) spawn(a actSpawn) {
	gt := e.gates[a.group]
	go func() {
		if a.token != 0 {
			// A start checks the fencing token with the store first; the check cannot outlast the
			// fencing deadline.
			budget := min(a.notAfter-e.d.Clock.Now(), storeTimeout)
			ctx, cancel := context.WithTimeout(e.life, max(budget, 0))
			err := e.d.Store.Guard(ctx, e.groupName(a.group), a.token)
			cancel()
			if err != nil {
				e.post(evSpawned{job: a.job, fenced: errors.Is(err, store.ErrFenced), err: err})
				return
			}
		}
		if e.d.Config.Groups[a.group].Resources[a.res].Type != config.TypeExec {
			e.runBuiltin(a, gt)
			return
		}
		spec, closeDir, err := e.spawnSpec(a)
		if err != nil {
			e.post(evSpawned{job: a.job, err: err})
			return
		}
		defer closeDir()
		gt.mu.Lock()
		if gt.epoch != a.epoch || (a.token != 0 && e.d.Clock.Now() >= a.notAfter) {
			gt.mu.Unlock()
			e.post(evSpawned{job: a.job, fenced: true, err: errors.New("the group is being fenced")})
			return
		}
		j, err := resource.Spawn(e.d.ProcRoot, spec)
		gt.mu.Unlock()
		if err != nil {
			e.post(evSpawned{job: a.job, err: err})
			return
		}
		e.post(evSpawned{job: a.job, info: j.Info()})
		e.trackJob(a.group, a.job, trackedJob{res: a.res, kind: a.kind, job: j})
		// Only the script's own timeout kills it. The engine's end does not: a daemon that
		// exits leaves its scripts as they are, for the next one to adopt (or the guard to kill).
		ctx := context.Background()
		if !a.async {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, a.timeout)
			defer cancel()
		}
		e.await(a.group, a.job, j, ctx)
	}()
}

// await waits for a script and reports its end; it gives up (without touching the script) when
// the engine ends first.
func (e *Engine) await(group int, id jobID, j *resource.Job, ctx context.Context) {
	defer e.untrackJob(group, id)
	select {
	case <-j.Done():
	case <-ctx.Done():
		// The timeout: Wait kills what the script started.
	case <-e.life.Done():
		return
	}
	res := j.Wait(ctx)
	if e.life.Err() != nil {
		return
	}
	e.post(evExited{job: id, result: res})
}

func (e *Engine) watch(a actWatch) {
	ref := e.m.jobs[a.job]
	var kill func()
	if e.d.Containment != nil && a.info.Cgroup != "" {
		path := a.info.Cgroup
		kill = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = e.d.Containment.KillPath(ctx, path)
		}
	}
	j := resource.Adopt(e.d.ProcRoot, a.info, kill)
	e.trackJob(ref.group, a.job, trackedJob{res: ref.res, kind: ref.kind, job: j})
	go func() {
		ctx := context.Background()
		if a.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, a.timeout)
			defer cancel()
		}
		e.await(ref.group, a.job, j, ctx)
	}()
}

// track records a running script; without cgroups, fencing kills the process groups of these.
func (e *Engine) trackJob(group int, id jobID, t trackedJob) {
	e.track.mu.Lock()
	defer e.track.mu.Unlock()
	if e.track.jobs == nil {
		e.track.jobs = map[int]map[jobID]trackedJob{}
	}
	if e.track.jobs[group] == nil {
		e.track.jobs[group] = map[jobID]trackedJob{}
	}
	e.track.jobs[group][id] = t
}

func (e *Engine) untrackJob(group int, id jobID) {
	e.track.mu.Lock()
	defer e.track.mu.Unlock()
	delete(e.track.jobs[group], id)
}

// trackedJobs returns the running scripts of a group.
func (e *Engine) trackedJobs(group int) []trackedJob {
	e.track.mu.Lock()
	defer e.track.mu.Unlock()
	var out []trackedJob
	for _, t := range e.track.jobs[group] {
		out = append(out, t)
	}
	return out
}

func (e *Engine) reap(a actReap) {
	g := &e.d.Config.Groups[a.group]
	r := &g.Resources[a.res]
	var starts []*resource.Job
	for _, t := range e.trackedJobs(a.group) {
		if t.res == a.res && t.kind == jobStart {
			starts = append(starts, t.job)
		}
	}
	go func() {
		ctx, cancel := context.WithTimeout(e.life, a.grace+10*time.Second)
		defer cancel()
		var err error
		if e.d.Containment != nil {
			err = e.d.Containment.Terminate(ctx, g.Name, r.Name, a.grace)
		} else {
			terminateJobs(ctx, starts, a.grace)
		}
		e.post(evReaped{group: a.group, res: a.res, err: err})
	}()
}

// terminateJobs is Terminate without cgroups: the start scripts' process groups get SIGTERM, then
// SIGKILL after grace.
func terminateJobs(ctx context.Context, jobs []*resource.Job, grace time.Duration) {
	for _, j := range jobs {
		j.Signal(syscall.SIGTERM)
	}
	gctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	for _, j := range jobs {
		j.Wait(gctx)
	}
}

func (e *Engine) kill(a actKill) {
	gt := e.gates[a.group]
	name := e.groupName(a.group)
	jobs := e.trackedJobs(a.group)
	budget := a.notAfter - e.d.Clock.Now()
	go func() {
		gt.mu.Lock()
		gt.epoch = a.epoch
		gt.mu.Unlock()
		ctx, cancel := context.WithTimeout(e.life, max(budget, 100*time.Millisecond))
		defer cancel()
		e.removeFloating(ctx, a.group)
		var err error
		if e.d.Containment != nil {
			err = e.d.Containment.KillGroup(ctx, name)
		} else {
			for _, t := range jobs {
				t.job.Kill()
			}
		}
		// Its processes dead, the group's disks come off at once: another server will mount
		// them once the lease has expired. Not within the kill's budget, which may be spent by
		// now: an unmount that is cut short leaves the disk mounted here.
		dctx, dcancel := context.WithTimeout(e.life, 10*time.Second)
		e.releaseDisks(dctx, a.group)
		dcancel()
		e.post(evKilled{group: a.group, err: err})
	}()
}

// --- records ---

func (e *Engine) saveGroup(a actSaveGroup) {
	g := &e.d.Config.Groups[a.group]
	if a.rec == nil {
		if err := e.recs.remove(e.recs.groupPath(g.Name)); err != nil {
			e.d.Log.Error("clearing run state", "group", g.Name, "err", err)
		}
		for _, r := range g.Resources {
			_ = e.recs.remove(e.recs.resPath(g.Name, r.Name))
		}
		return
	}
	if err := e.recs.write(e.recs.groupPath(g.Name), a.rec); err != nil {
		e.d.Log.Error("saving run state", "group", g.Name, "err", err)
	}
	for i, r := range g.Resources {
		path := e.recs.resPath(g.Name, r.Name)
		var err error
		if i >= len(a.res) || a.res[i] == nil {
			err = e.recs.remove(path)
		} else {
			err = e.recs.write(path, a.res[i])
		}
		if err != nil {
			e.d.Log.Error("saving run state", "resource", r.Name, "err", err)
		}
	}
}

func (e *Engine) leasePath() string { return filepath.Join(e.d.Config.Paths.DataDir, "lease") }

func (e *Engine) previousLease() int64 {
	b, err := os.ReadFile(e.leasePath())
	if err != nil {
		return 0
	}
	id, err := strconv.ParseInt(strings.TrimSpace(string(b)), 16, 64)
	if err != nil {
		return 0
	}
	return id
}

func (e *Engine) saveLease(id int64) {
	e.track.mu.Lock()
	e.track.lease = id
	e.track.mu.Unlock()
	if id == 0 {
		if err := os.Remove(e.leasePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			e.d.Log.Error("clearing the lease record", "err", err)
		}
		return
	}
	if err := os.WriteFile(e.leasePath(), []byte(strconv.FormatInt(id, 16)+"\n"), 0o600); err != nil {
		e.d.Log.Error("recording the lease", "err", err)
	}
}

func (e *Engine) leaseID() int64 {
	e.track.mu.Lock()
	defer e.track.mu.Unlock()
	return e.track.lease
}

func (e *Engine) saveSuspend(on bool) {
	if e.d.SuspendFile == "" {
		return
	}
	var err error
	if on {
		err = os.WriteFile(e.d.SuspendFile, []byte("suspended\n"), 0o600)
	} else if err = os.Remove(e.d.SuspendFile); errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		e.d.Log.Error("recording the suspended state", "err", err)
	}
}

// recover reads what a previous daemon left: run records, and whether their scripts still run.
func (e *Engine) recover() ([]adoptedGroup, error) {
	out := make([]adoptedGroup, len(e.d.Config.Groups))
	for i, g := range e.d.Config.Groups {
		var grec groupRecord
		ok, err := e.recs.read(e.recs.groupPath(g.Name), &grec)
		if err != nil {
			return nil, err
		}
		if ok {
			out[i].rec = &grec
		}
		out[i].res = make([]*adoptedRes, len(g.Resources))
		for j, r := range g.Resources {
			var rr resourceRecord
			ok, err := e.recs.read(e.recs.resPath(g.Name, r.Name), &rr)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			ar := &adoptedRes{rec: rr}
			if rr.Start != nil {
				ar.start = e.probe(*rr.Start)
			}
			if rr.Stop != nil {
				ar.stop = e.probe(*rr.Stop)
			}
			out[i].res[j] = ar
		}
	}
	return out, nil
}

func (e *Engine) probe(info resource.JobInfo) *adoptedJob {
	j := resource.Adopt(e.d.ProcRoot, info, nil)
	if j.Running() {
		return &adoptedJob{info: info, alive: true}
	}
	res, known := info.Recorded()
	return &adoptedJob{info: info, result: res, known: known}
}
