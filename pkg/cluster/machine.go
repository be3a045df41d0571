package cluster

import (
	"fmt"
	"slices"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// svcPhase is where this server's cluster service is in its life.
type svcPhase int

const (
	// svcDown: not a member (before clpcl -s, after clpcl -t): no lease, nothing admitted.
	svcDown svcPhase = iota
	// svcJoining: a lease has been asked for.
	svcJoining
	// svcUp: the lease is held and renewed; groups run and operations are admitted.
	svcUp
	// svcLeaving: clpcl -t or SIGTERM: groups are being stopped, then the lease is revoked.
	svcLeaving
	// svcFencing: the lease could not be proven alive in time: the groups' processes are being
	// killed (then cleaned up by their stop scripts while budget remains).
	svcFencing
	// svcRejoining: fenced; the old lease is revoked and a new one asked for once the store
	// answers.
	svcRejoining
)

var svcNames = [...]string{"down", "joining", "up", "leaving", "fencing", "rejoining"}

func (p svcPhase) String() string { return svcNames[p] }

// params are the machine's fixed settings, from the configuration.
type params struct {
	local string
	cfg   *config.Config
	// ttl is the lease TTL asked for; interval the renewal period.
	ttl, interval time.Duration
	// fenceFrac and guardFrac place the two deadlines in the TTL: this daemon fences at
	// lastAck+fenceFrac·TTL, the guard process at lastAck+guardFrac·TTL; the store cannot expire
	// the lease before lastAck+TTL.
	fenceFrac, guardFrac float64
	// retry is how long a failed store write waits before it is tried again.
	retry time.Duration
}

// leaseState tracks the lease and what its renewals prove.
type leaseState struct {
	id int64
	// lastAck is the send time of the latest renewal (or grant) the store acknowledged.
	lastAck time.Duration
	// nextRenew is when the next renewal goes out.
	nextRenew time.Duration
	// revoking is the lease being discarded after a fence, until the store confirms.
	revoking int64
	// retryAt is when the next join or revocation attempt may go out.
	retryAt time.Duration
	// joinInFlight and revokeInFlight keep one attempt out at a time.
	joinInFlight, revokeInFlight bool
}

// machine is one server's cluster state. It is owned by the event loop; step is its only entry.
type machine struct {
	p      params
	svc    svcPhase
	lease  leaseState
	view   storeView
	groups []*grp

	suspended bool
	// settled turns true once this daemon knows what it runs after a (re)start: status is
	// published and groups are taken over or auto-started only then.
	settled bool
	// autoStarted: the auto-start decisions of this service start have been made.
	autoStarted bool
	// upSince is when this service start joined the cluster; auto-start waits from there for
	// the other servers (timing.startup_wait).
	upSince time.Duration

	// startWaiters wait for the service to be Up (clpcl -s); stopWaiters for it to be Down.
	startWaiters, stopWaiters []*request
	// deferred are group requests that arrived while the service was joining.
	deferred []*request
	// leaveFactor is the CLP_FACTOR of the service stop under way.
	leaveFactor string
	// stopAfterFence: a service stop arrived while fencing; do not rejoin afterwards.
	stopAfterFence bool
	// exiting: the daemon stops once the service is down (SIGTERM).
	exiting bool

	nextJob jobID
	jobs    map[jobID]jobRef

	mons []*mon
	// witnessOK: this server reaches the store's witness member (witnessKnown: it was probed).
	witnessOK, witnessKnown bool
	// scripts maps a running recovery script to its monitor.
	scripts map[jobID]int
	// osAction is the shutdown or reboot command a final action runs once the service is down.
	osAction []string

	// published is what was last handed to actPublish, so unchanged status is not rewritten.
	published string
	// guardSent is the guard state last sent, so it is only re-sent when it changes.
	guardSent actGuard
}

// storeView is what the machine last read of the cluster's keys.
type storeView struct {
	ok bool
	// seq counts reads.
	seq  int
	snap store.Snapshot
}

// jobRef says which resource a running script belongs to.
type jobRef struct {
	group, res int
	kind       jobKind
}

// newMachine builds the state of server local. Recovered records (from a previous daemon of this
// server that was killed) come in through adopt before the first event.
func newMachine(p params) *machine {
	m := &machine{p: p, jobs: map[jobID]jobRef{}, scripts: map[jobID]int{}}
	for i := range p.cfg.Groups {
		g := &grp{idx: i, cfg: &p.cfg.Groups[i]}
		g.canFailOver = slices.ContainsFunc(g.cfg.Servers, func(s string) bool { return s != p.local })
		for j := range g.cfg.Resources {
			g.res = append(g.res, &rsc{idx: j, cfg: &g.cfg.Resources[j], state: status.Offline})
		}
		m.groups = append(m.groups, g)
	}
	m.newMonitors()
	return m
}

// fenceAt is when this daemon must have started fencing; guardAt when the guard kills; expiry the
// earliest the store can expire the lease.
func (m *machine) fenceAt() time.Duration { return m.lease.lastAck + frac(m.p.ttl, m.p.fenceFrac) }
func (m *machine) guardAt() time.Duration { return m.lease.lastAck + frac(m.p.ttl, m.p.guardFrac) }
func (m *machine) expiry() time.Duration  { return m.lease.lastAck + m.p.ttl }

func frac(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }

// anyActive reports whether anything of any group may run here.
func (m *machine) anyActive() bool {
	for _, g := range m.groups {
		if g.active() || g.op != nil || g.fence != nil || g.resume != nil {
			return true
		}
	}
	return false
}

// holdsLease reports whether the machine believes it holds a live lease.
func (m *machine) holdsLease() bool { return m.svc == svcUp || m.svc == svcLeaving }

// step applies one event at time now and returns what to do about it.
func (m *machine) step(now time.Duration, ev event) []action {
	var out []action
	emit := func(a ...action) { out = append(out, a...) }
	switch e := ev.(type) {
	case evTick:
	case evRequest:
		m.request(now, e.r, emit)
	case evJoined:
		m.joined(now, e, emit)
	case evRenewed:
		m.renewed(now, e, emit)
	case evRevoked:
		m.revoked(now, e, emit)
	case evView:
		m.view = storeView{ok: true, snap: e.snap, seq: m.view.seq + 1}
	case evViewFailed:
		m.view.ok = false
	case evAcquired:
		m.acquired(now, e, emit)
	case evReleased:
		m.released(now, e, emit)
	case evSpawned:
		m.spawned(now, e, emit)
	case evExited:
		m.exited(now, e, emit)
	case evReaped:
		m.reaped(now, e, emit)
	case evKilled:
		m.killed(now, e, emit)
	case evMonitor:
		m.monitorResult(now, e, emit)
	case evScriptDone:
		m.scriptDone(now, e, emit)
	case evWitness:
		m.witnessOK, m.witnessKnown = e.ok, true
	case evGuardFenced:
		// Whatever this daemon believes runs here was killed: fence, so the state says so and the
		// groups are handed over with a fresh lease.
		m.fence(now, "The guard killed the groups of server "+m.p.local+" while clpd did not answer", emit)
	}
	m.settle(now, emit)
	return out
}

// settle runs after every event: deadlines first (fencing preempts everything), then the work the
// new state calls for, then what the guard and the other servers must hear.
func (m *machine) settle(now time.Duration, emit func(...action)) {
	if m.holdsLease() && now >= m.fenceAt() {
		m.fence(now, "Server "+m.p.local+" could not renew its lease in time", emit)
	}
	m.progressFence(now, emit)
	m.progressLease(now, emit)
	if m.svc == svcUp {
		m.reown(now, emit)
	}
	if m.svc == svcUp && m.settled && !m.suspended {
		m.reconcile(now, emit)
	}
	if m.svc == svcUp {
		m.checkMoves(emit)
	}
	if m.svc == svcLeaving {
		m.progressLeave(now, emit)
	}
	// A monitor's recovery starts an operation, and an operation starts or stops monitors: two
	// rounds let both take effect within this event.
	for range 2 {
		m.progressGroups(now, emit)
		m.syncMonitors(now, emit)
	}
	m.feedGuard(emit)
	m.publish(emit)
}

// wake is when the machine next needs a tick even if nothing happens; 0 means no timer.
func (m *machine) wake() time.Duration {
	var t []time.Duration
	if m.holdsLease() {
		t = append(t, m.lease.nextRenew, m.fenceAt())
	}
	if m.svc == svcRejoining || (m.svc == svcJoining && !m.lease.joinInFlight) {
		t = append(t, m.lease.retryAt)
	}
	for _, g := range m.groups {
		if g.retryAt > 0 {
			t = append(t, g.retryAt)
		}
	}
	if w := m.monitorWake(); w > 0 {
		t = append(t, w)
	}
	if m.svc == svcUp && !m.autoStarted && m.upSince > 0 {
		t = append(t, m.upSince+m.p.cfg.Timing.StartupWait)
	}
	if len(t) == 0 {
		return 0
	}
	return slices.Min(t)
}

// reown takes the owner keys of groups that kept running here through a fence.
func (m *machine) reown(now time.Duration, emit func(...action)) {
	for _, g := range m.groups {
		if g.pendingReown && !g.reowning && g.retryAt <= now {
			g.pendingReown, g.reowning, g.retryAt = false, true, 0
			emit(actAcquire{group: g.idx, lease: m.lease.id})
		}
	}
}

// --- the lease ---

func (m *machine) progressLease(now time.Duration, emit func(...action)) {
	switch m.svc {
	case svcUp, svcLeaving:
		if now >= m.lease.nextRenew {
			emit(actRenew{lease: m.lease.id})
			m.lease.nextRenew = now + m.p.interval
		}
	case svcJoining:
		if !m.lease.joinInFlight && now >= m.lease.retryAt {
			m.lease.joinInFlight = true
			emit(actJoin{previous: m.lease.id})
		}
	case svcRejoining:
		switch {
		case m.stopAfterFence && !m.lease.joinInFlight:
			// Everything of the fenced lease is dead; if the store does not take the revocation
			// the lease expires on its own. Nothing is gained by waiting for it.
			if m.lease.revoking != 0 && !m.lease.revokeInFlight {
				emit(actRevoke{lease: m.lease.revoking})
			}
			m.down(emit)
		case m.lease.revoking != 0:
			if !m.lease.revokeInFlight && now >= m.lease.retryAt {
				m.lease.revokeInFlight = true
				emit(actRevoke{lease: m.lease.revoking})
			}
		case m.stopAfterFence:
			// The join in flight lands first, then the service leaves at once.
		case !m.lease.joinInFlight && now >= m.lease.retryAt:
			m.lease.joinInFlight = true
			emit(actJoin{})
		}
	}
}

func (m *machine) joined(now time.Duration, e evJoined, emit func(...action)) {
	m.lease.joinInFlight = false
	if m.svc != svcJoining && m.svc != svcRejoining {
		if e.err == nil {
			// The service stopped while this join was under way: the lease is not wanted.
			emit(actRevoke{lease: int64(e.lease.ID)})
		}
		return
	}
	if e.err != nil {
		if m.stopAfterFence {
			// The service was asked to stop while it could not join: it is down.
			m.down(emit)
			return
		}
		m.lease.retryAt = now + m.p.retry
		emit(actLog{level: "WARN", msg: "joining the cluster", args: []any{"err", e.err}})
		return
	}
	if now >= e.sent+frac(m.p.ttl, m.p.fenceFrac) && !m.anyActive() {
		// The grant took so long (a store still forming its quorum) that it proves the lease
		// alive no longer: holding it would only mean fencing at once. Nothing runs here to
		// protect, so it is given back and asked for again, quietly.
		emit(actRevoke{lease: int64(e.lease.ID)})
		emit(actLog{level: "INFO", msg: "the lease grant came back after the fencing deadline; asking again", args: []any{"took", now - e.sent}})
		m.lease.retryAt = now
		return
	}
	m.lease.id = int64(e.lease.ID)
	m.lease.lastAck = e.sent
	emit(actLease{id: m.lease.id})
	m.lease.nextRenew = now + m.p.interval
	rejoin := m.svc == svcRejoining
	if !rejoin {
		m.upSince = now
	}
	m.svc = svcUp
	if e.reattached {
		m.resumeAll(now, emit)
	} else {
		// Whatever a previous daemon left is not ours any more: the lease it was owned on is gone.
		m.discardAdopted(now, emit)
	}
	m.settled = true
	for _, g := range m.groups {
		if g.fence == nil && g.token == 0 && (g.active() || g.op != nil && g.op.phase != phaseAcquire) {
			// Still running here on a fresh lease (a group that cannot fail over, kept through a
			// fence): own it again.
			g.pendingReown = true
		}
	}
	if m.stopAfterFence {
		// A service stop came while the join was under way: leave at once, as it asked.
		m.stopAfterFence = false
		m.svc = svcLeaving
	}
	for _, r := range m.startWaiters {
		emit(actReply{r: r})
	}
	m.startWaiters = nil
	held := m.deferred
	m.deferred = nil
	for _, r := range held {
		m.request(now, r, emit)
	}
	if rejoin {
		emit(alertStoreRejoined(m.p.local))
	} else {
		emit(alertDaemonStarting())
	}
}

func (m *machine) renewed(now time.Duration, e evRenewed, emit func(...action)) {
	if !m.holdsLease() || e.lease != m.lease.id {
		return
	}
	switch {
	case e.err == nil:
		// A renewal proves the lease alive until its send time plus the TTL: acknowledgements may
		// arrive out of order, so only a later send time moves the deadline.
		if e.sent > m.lease.lastAck && now < m.fenceAt() {
			m.lease.lastAck = e.sent
		}
	case e.gone:
		m.fence(now, "The store no longer knows the lease of server "+m.p.local, emit)
	}
}

func (m *machine) revoked(now time.Duration, e evRevoked, emit func(...action)) {
	m.lease.revokeInFlight = false
	switch {
	case m.svc == svcRejoining && e.lease == m.lease.revoking:
		if e.err != nil {
			m.lease.retryAt = now + m.p.retry
			return
		}
		m.lease.revoking = 0
		m.lease.id = 0
		m.lease.retryAt = now
		emit(actLease{})
	case m.svc == svcLeaving && e.lease == m.lease.id:
		if e.err != nil {
			// The store did not answer: the lease expires on its own, and nothing runs here.
			emit(actLog{level: "WARN", msg: "revoking the lease on leaving", args: []any{"err", e.err}})
		}
		m.lease.id = 0
		m.down(emit)
	}
}

// down ends the service: every waiter learns of it.
func (m *machine) down(emit func(...action)) {
	m.svc = svcDown
	m.stopAfterFence = false
	m.settled = false
	// A join or revocation still in flight stays accounted for: a new service start must not
	// send a second one.
	m.lease = leaseState{joinInFlight: m.lease.joinInFlight, revokeInFlight: m.lease.revokeInFlight}
	emit(actLease{})
	for _, r := range m.stopWaiters {
		emit(actReply{r: r})
	}
	m.stopWaiters = nil
	for _, r := range m.startWaiters {
		emit(actReply{r: r, err: errNotStarted(m.p.local)})
	}
	m.startWaiters = nil
	m.refuseDeferred(emit)
	emit(alertDaemonStopping())
	if m.osAction != nil {
		emit(actOS{argv: m.osAction})
		m.osAction = nil
	}
	if m.exiting {
		emit(actShutdown{})
	}
}

// --- fencing ---

// fence gives up everything this server runs that another server could start, because the lease
// can no longer be proven alive: every process of those groups is killed at once, then their stop
// scripts clean up while the budget before the guard's deadline lasts, then the server rejoins
// with a new lease. Groups that cannot run anywhere else are left running: killing them would
// protect nothing.
func (m *machine) fence(now time.Duration, why string, emit func(...action)) {
	if !m.holdsLease() {
		return
	}
	emit(alertFencing(why))
	if m.svc == svcLeaving {
		// The service stop under way ends with the fence: no rejoin, and its waiters hear once
		// the old lease is discarded.
		m.stopAfterFence = true
	}
	m.svc = svcFencing
	m.lease.revoking = m.lease.id
	for _, g := range m.groups {
		g.pendingReown, g.reowning = false, false
		g.retryAt = 0
		if g.moveWait != nil {
			// Whether the destination got the group is not this server's to know any more.
			for _, r := range g.moveWait.waiters {
				emit(actReply{r: r, err: errLostLease(m.p.local)})
			}
			g.moveWait = nil
		}
		if !g.canFailOver {
			// It keeps running, and its operation goes on once the group is owned again on the
			// next lease; its token died with this one.
			g.token = 0
			continue
		}
		if !g.active() && g.op == nil && g.token == 0 {
			continue
		}
		m.abortOp(g, errLostLease(m.p.local), emit)
		g.epoch++
		g.fence = &fenceState{phase: fenceKilling, was: g.activeResources()}
		g.token = 0
		m.forgetJobs(g)
		emit(actKill{group: g.idx, epoch: g.epoch, notAfter: m.guardAt()})
	}
}

// progressFence moves fenced groups from killed to cleaned up, and the service on to rejoining
// once no group is being fenced.
func (m *machine) progressFence(now time.Duration, emit func(...action)) {
	if m.svc != svcFencing {
		return
	}
	for _, g := range m.groups {
		if g.fence != nil {
			return
		}
	}
	m.svc = svcRejoining
	m.lease.retryAt = now
	if m.stopAfterFence {
		emit(alertFencedStopping(m.p.local))
		return
	}
	emit(alertFencedRejoining(m.p.local))
}

func (m *machine) killed(now time.Duration, e evKilled, emit func(...action)) {
	g := m.groups[e.group]
	if g.fence == nil || g.fence.phase != fenceKilling {
		return
	}
	killed := alertGroupFenced(g.cfg.Name, m.p.local)
	if e.err != nil {
		// The processes could not all be confirmed gone. The guard kills again at its deadline;
		// nothing more can be done here.
		emit(actLog{level: "ERROR", msg: "fencing group", args: []any{"group", g.cfg.Name, "err", e.err}})
		killed = alertGroupFencedUnconfirmed(g.cfg.Name, m.p.local, e.err)
	}
	for _, r := range g.res {
		r.state, r.detail, r.attempt = status.Offline, "", 0
	}
	if g.fence.leftovers {
		g.fence = nil
		emit(alertLeftoversKilled(g.cfg.Name))
		m.save(g, emit)
		return
	}
	g.fence.phase = fenceCleaning
	g.fence.cursor = 0
	emit(killed)
	m.nextCleanup(now, g, emit)
}

// nextCleanup runs the stop script of the next resource that was active when the fence began, in
// stop order, if the budget before the guard's deadline allows; otherwise the fence is over.
func (m *machine) nextCleanup(now time.Duration, g *grp, emit func(...action)) {
	f := g.fence
	order := stopOrder(g.cfg.Resources)
	for f.cursor < len(order) {
		i := order[f.cursor]
		f.cursor++
		if !f.was[i] {
			continue
		}
		budget := m.guardAt() - now - cleanupMargin
		if budget < minCleanup {
			break
		}
		r := g.res[i]
		ev := r.ev
		if ev.Group == "" {
			ev = m.baseEvent(g, "START", "")
			ev.Resource = r.cfg.Name
		}
		ev.Factor = FactorServerShutdown
		id := m.newJob(g.idx, i, jobStop)
		r.stop = id
		f.job = id
		emit(actSpawn{job: id, group: g.idx, res: i, kind: jobStop, ev: ev, timeout: min(budget, r.cfg.StopTimeout), epoch: g.epoch})
		return
	}
	g.fence = nil
	emit(actSaveGroup{group: g.idx})
}

// The fence's stop scripts must end before the guard's deadline with room for a last kill;
// below minCleanup of budget they are not worth starting.
const (
	cleanupMargin = 50 * time.Millisecond
	minCleanup    = 100 * time.Millisecond
)

// --- the guard and the other servers ---

// feedGuard keeps the guard process armed with the deadline at which it must kill, should this
// daemon fall silent, every group that runs here and could run elsewhere.
func (m *machine) feedGuard(emit func(...action)) {
	var want actGuard
	for _, g := range m.groups {
		if g.canFailOver && (g.active() || g.op != nil || g.fence != nil) {
			want.groups = append(want.groups, g.idx)
		}
	}
	if len(want.groups) > 0 && m.lease.lastAck > 0 {
		want.armed = true
		want.fenceAt = m.guardAt()
		want.expiry = m.expiry()
	} else {
		want.groups = nil
	}
	if want.armed == m.guardSent.armed && want.fenceAt == m.guardSent.fenceAt && slices.Equal(want.groups, m.guardSent.groups) {
		return
	}
	m.guardSent = want
	emit(want)
}

// publish hands the status of this server's groups to the other servers, once this daemon has
// settled (a restarted daemon must not announce what it has not yet checked) and only on change.
func (m *machine) publish(emit func(...action)) {
	if m.svc != svcUp || !m.settled {
		return
	}
	p := m.localPublished()
	key := fmt.Sprint(p)
	if key == m.published {
		return
	}
	m.published = key
	emit(actPublish{status: p})
}

// --- helpers ---

// forgetJobs stops following the group's scripts: they are being killed, and their exits no
// longer mean anything.
func (m *machine) forgetJobs(g *grp) {
	for _, r := range g.res {
		if r.start != 0 {
			delete(m.jobs, r.start)
			r.start = 0
		}
		if r.stop != 0 {
			delete(m.jobs, r.stop)
			r.stop = 0
		}
	}
}

func (m *machine) newJob(group, res int, kind jobKind) jobID {
	m.nextJob++
	m.jobs[m.nextJob] = jobRef{group: group, res: res, kind: kind}
	return m.nextJob
}

// baseEvent is the CLP_* event of a group activation on this server.
func (m *machine) baseEvent(g *grp, event, prev string) resource.Event {
	role, prio := serverRole(g.cfg.Servers, m.p.local)
	return resource.Event{Event: event, Server: role, Disk: "SUCCESS", Group: g.cfg.Name, Priority: prio, ServerPrev: prev}
}

// online is the set of servers whose lease the last read of the store showed alive.
func (m *machine) online() map[string]bool {
	out := make(map[string]bool, len(m.view.snap.Servers))
	for s := range m.view.snap.Servers {
		out[s] = true
	}
	return out
}
