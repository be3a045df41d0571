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

// grp is one failover group as this server runs it.
type grp struct {
	idx int
	cfg *config.Group
	// canFailOver: another server of the group's policy could start it, so it must be fenced when
	// this server loses its lease.
	canFailOver bool
	// token is the create revision of this server's owner key for the group: the fencing token
	// every start is checked against. 0 when this server holds no ownership.
	token int64
	// epoch counts fences of the group; the executor refuses spawns of an older epoch.
	epoch int
	// ev is the CLP_* event of the current activation.
	ev  resource.Event
	res []*rsc
	op  *op
	// fence is set while the group is being fenced.
	fence *fenceState
	// moveWait holds the callers of a move until the destination reports.
	moveWait *moveWait
	// pendingReown: the group runs here on a lease that is gone; take its owner key again.
	// reowning: that acquisition is in flight.
	pendingReown, reowning bool
	// retryAt is when a failed store write of the group is tried again (0: nothing waits).
	retryAt time.Duration
	// resume is what a previous daemon left of the group, until the join decides its fate.
	resume *resumeState
	// pendingFailure is a resource whose failure arrived while the cluster was suspended; its
	// recovery runs on resume.
	pendingFailure *rsc
	// failovers counts the activation failures of the group on this server that failed it over
	// (activation_failover_threshold); a start asked for by an operator resets it.
	failovers int
}

// rsc is one resource of a group.
type rsc struct {
	idx     int
	cfg     *config.Resource
	state   status.State
	detail  string
	ev      resource.Event
	attempt int
	// start is the running start script: a pending synchronous start, or an asynchronous one for
	// as long as the resource is Online. startInfo outlives it (CLP_PID of the stop script).
	start     jobID
	startInfo resource.JobInfo
	// stop is the running stop script.
	stop     jobID
	stopInfo resource.JobInfo
}

// opKind is the kind of a group operation.
type opKind int

const (
	// opStart activates the group: owner key, then resources in dependency order.
	opStart opKind = iota
	// opStop deactivates it: resources in reverse order, then the owner key is released.
	opStop
	// opRecover handles an asynchronous resource whose start script ended: its stop script
	// cleans up, the resource is marked failed, and the final action applies.
	opRecover
)

type opPhase int

const (
	phaseAcquire opPhase = iota
	phaseResources
	phaseRelease
)

// op is a group operation in progress. inflight says an action was emitted whose completion
// event has not come back yet; the operation moves on only when it has.
type op struct {
	kind     opKind
	phase    opPhase
	inflight bool
	// failover marks a start that takes a group over (alerts 60–62); its CLP_* event is g.ev.
	failover bool
	// factor, clear and handover describe a stop: CLP_FACTOR; whether failure states are cleared;
	// the marker left for the other servers (nil clears it).
	factor   string
	clear    bool
	handover *store.Marker
	// move is the destination of a move (alerts 50–52; the callers wait for it).
	move string
	// target is the resource an opRecover is about.
	target *rsc
	// only limits the operation to these resources (clprsc, a restart of one resource and its
	// dependants); nil means every resource of the group.
	only []bool
	// restart: a stop that starts the same resources again once they are down (a monitor's
	// RESTART step), keeping the group's ownership.
	restart bool
	// monitor is the monitor whose recovery this operation is; it may act again once it ends.
	monitor *mon
	// diskFailed is a disk resource whose activation failed for good during this start: the
	// resources that do not need it start on with CLP_DISK=FAILURE (the templates' ERROR_DISK
	// branches), then the failure takes its ladder.
	diskFailed *rsc
	// waiters get result when the operation (and whatever it chains into) ends.
	waiters []*request
	result  error
}

type fencePhase int

const (
	fenceKilling fencePhase = iota
	fenceCleaning
)

// fenceState follows one group through fencing.
type fenceState struct {
	phase fencePhase
	// was marks the resources that were active when the fence began: their stop scripts clean up.
	was    []bool
	cursor int
	job    jobID
	// leftovers: a restarted daemon kills what a previous one left, without cleanup scripts (the
	// group may run elsewhere now).
	leftovers bool
}

type moveWait struct {
	dest    string
	waiters []*request
	// seq is the store view current when the group was handed over: only a later one tells.
	seq int
}

// active reports whether anything of the group may run here.
func (g *grp) active() bool {
	for _, r := range g.res {
		if r.state != status.Offline && r.state != status.OnlineFailure {
			return true
		}
		if r.start != 0 || r.stop != 0 {
			return true
		}
	}
	return false
}

// shown reports whether the group is on this server as far as status goes (failures included).
func (g *grp) shown() bool {
	for _, r := range g.res {
		if r.state != status.Offline {
			return true
		}
	}
	return g.op != nil && g.op.kind == opStart && g.op.phase != phaseAcquire
}

func (g *grp) busy() bool { return g.op != nil || g.fence != nil }

func (g *grp) activeResources() []bool {
	out := make([]bool, len(g.res))
	for i, r := range g.res {
		out[i] = r.state != status.Offline && r.state != status.OnlineFailure || r.start != 0 || r.stop != 0
	}
	return out
}

func (m *machine) group(name string) *grp {
	for _, g := range m.groups {
		if g.cfg.Name == name {
			return g
		}
	}
	return nil
}

// --- requests ---

func (m *machine) request(now time.Duration, r *request, emit func(...action)) {
	refuse := func(err error) { emit(actReply{r: r, err: err}) }
	switch r.kind {
	case reqServiceStart:
		m.serviceStart(r, emit)
		return
	case reqServiceStop:
		m.serviceStop(r, emit)
		return
	case reqSuspend, reqResume:
		m.suspend(r, emit)
		return
	case reqMonSuspend, reqMonResume, reqMonClear:
		m.monitorRequest(r, emit)
		return
	case reqRscStart, reqRscStop:
		m.resourceRequest(r, emit)
		return
	}
	g := m.group(r.group)
	if g == nil {
		refuse(status.ErrInvalidGroup(r.group))
		return
	}
	if r.kind == reqCurrent {
		emit(actReply{r: r, value: m.current(g)})
		return
	}
	if r.kind == reqMoveGroup && r.dest != "" {
		if _, ok := m.p.cfg.Server(r.dest); !ok {
			refuse(status.ErrInvalidServer(r.dest))
			return
		}
	}
	if !m.admitNow(g, r, emit) {
		return
	}
	switch r.kind {
	case reqStartGroup:
		if !slices.Contains(g.cfg.Servers, m.p.local) {
			refuse(status.ErrInvalidServer(m.p.local))
			return
		}
		if groupState("", m.states(g)) == status.Online && g.token != 0 {
			refuse(status.ErrAlreadyStarted())
			return
		}
		g.failovers = 0
		if o, ok := m.view.snap.Owners[g.cfg.Name]; ok && o.Server != m.p.local {
			if r.force {
				// A live owner is never overridden: the group would run on two servers at once.
				refuse(&status.OpError{Code: status.CodeStartedOther, Msg: "The group is running on server " + o.Server + "; -f cannot start it here while that server holds it. Stop it there, or move it with clpgrp -m."})
				return
			}
			refuse(status.ErrStartedOther())
			return
		}
		m.startOp(g, "START", "", []*request{r})
	case reqStopGroup:
		if !g.shown() {
			if o, ok := m.view.snap.Owners[g.cfg.Name]; ok && o.Server != m.p.local {
				refuse(status.ErrStartedOther())
				return
			}
			refuse(status.ErrAlreadyStopped())
			return
		}
		m.stopOp(g, FactorGroupStop, true, nil, "", []*request{r}, nil, emit)
	case reqMoveGroup:
		m.move(g, r, emit)
	}
}

// resourceRequest handles clprsc -s and -t: one resource, with the ones it needs (-s -f) or the
// ones that need it (-t -f).
func (m *machine) resourceRequest(r *request, emit func(...action)) {
	refuse := func(err error) { emit(actReply{r: r, err: err}) }
	gi, ri := m.resourceIndex(r.resource)
	if gi < 0 {
		refuse(status.ErrInvalidResource(r.resource))
		return
	}
	g := m.groups[gi]
	if !m.admitNow(g, r, emit) {
		return
	}
	rs := g.cfg.Resources
	res := g.res[ri]
	switch r.kind {
	case reqRscStart:
		if !slices.Contains(g.cfg.Servers, m.p.local) {
			refuse(status.ErrInvalidServer(m.p.local))
			return
		}
		if res.state == status.Online {
			refuse(&status.OpError{Code: status.CodeAlreadyStarted, Msg: "The resource has already been started on the local server."})
			return
		}
		if o, ok := m.view.snap.Owners[g.cfg.Name]; ok && o.Server != m.p.local {
			refuse(status.ErrStartedOther())
			return
		}
		only := dependencies(rs, ri)
		if j := g.firstNotIn(only, ri, status.Online); j >= 0 && !r.force {
			refuse(&status.OpError{Code: status.CodeBusy, Msg: fmt.Sprintf("Resource %s depends on %s, which is not Online. Start it first, or use -f.", res.cfg.Name, rs[j].Name)})
			return
		}
		g.failovers = 0
		if g.token != 0 {
			g.op = &op{kind: opStart, phase: phaseResources, only: only, waiters: []*request{r}}
			if g.ev.Group == "" {
				g.ev = m.baseEvent(g, "START", "")
			}
			m.save(g, emit)
			return
		}
		m.startOp(g, "START", "", []*request{r})
		g.op.only = only
	case reqRscStop:
		if res.state == status.Offline && res.start == 0 {
			refuse(&status.OpError{Code: status.CodeAlreadyStopped, Msg: "The resource has already been stopped."})
			return
		}
		only := dependants(rs, ri)
		if j := g.firstNotIn(only, ri, status.Offline); j >= 0 && !r.force {
			refuse(&status.OpError{Code: status.CodeBusy, Msg: fmt.Sprintf("Resource %s is needed by %s, which is not Offline. Stop it first, or use -f.", res.cfg.Name, rs[j].Name)})
			return
		}
		m.stopOp(g, FactorGroupStop, true, nil, "", []*request{r}, nil, emit)
		g.op.only = only
	}
}

// firstNotIn is the first resource of set, other than ri, whose state is not want; -1 when every one
// is. clprsc without -f acts on one resource only when the ones it needs (or that need it) already
// are where the operation would take them.
func (g *grp) firstNotIn(set []bool, ri int, want status.State) int {
	for j, in := range set {
		if in && j != ri && g.res[j].state != want {
			return j
		}
	}
	return -1
}

// admitNow tells whether r, an operation on g, goes ahead now. While the service is on its way up
// (clpd has just started) r waits for the join instead of failing a script that called clpgrp
// right after starting clpd; an operation admit refuses is answered with its error.
func (m *machine) admitNow(g *grp, r *request, emit func(...action)) bool {
	if m.svc == svcJoining {
		m.deferred = append(m.deferred, r)
		return false
	}
	if err := m.admit(g); err != nil {
		emit(actReply{r: r, err: err})
		return false
	}
	return true
}

// admit decides whether a group operation may begin now.
func (m *machine) admit(g *grp) error {
	switch m.svc {
	case svcDown:
		return errNotStarted(m.p.local)
	case svcLeaving:
		return &status.OpError{Code: status.CodeNotStarted, Msg: "The cluster service is stopping on server " + m.p.local + "."}
	case svcFencing, svcRejoining:
		return errRejoining(m.p.local)
	}
	if m.suspended {
		return errSuspended()
	}
	if g.busy() || g.moveWait != nil {
		return status.ErrBusy()
	}
	return nil
}

func (m *machine) current(g *grp) string {
	if g.shown() {
		return m.p.local
	}
	return m.view.snap.Owners[g.cfg.Name].Server
}

func (m *machine) move(g *grp, r *request, emit func(...action)) {
	if !g.active() {
		emit(actReply{r: r, err: &status.OpError{Code: status.CodeAlreadyStopped, Msg: "The group is not running on server " + m.p.local + ": only a running group can be moved."}})
		return
	}
	online := m.online()
	target := r.dest
	if target == "" {
		if target = m.placeTarget(g, m.p.local, online); target == "" {
			emit(actReply{r: r, err: &status.OpError{Code: status.CodeNoDestination, Msg: "No server to move group " + g.cfg.Name + " to: no other server of its failover policy is Online."}})
			return
		}
	}
	if target == m.p.local {
		emit(actReply{r: r, err: status.ErrAlreadyStarted()})
		return
	}
	if !slices.Contains(g.cfg.Servers, target) || !online[target] {
		emit(actReply{r: r, err: status.ErrInvalidServer(target)})
		return
	}
	emit(alertGroupMoving(g.cfg.Name))
	m.stopOp(g, FactorGroupMove, true, &store.Marker{Server: m.p.local, State: store.MarkerMoving, Target: target}, target, []*request{r}, nil, emit)
}

func (m *machine) serviceStart(r *request, emit func(...action)) {
	switch m.svc {
	case svcDown:
		m.svc = svcJoining
		m.lease.retryAt = 0
		// Auto-start applies once per service start: not again after a fence and rejoin, which
		// would start a group an operator stopped.
		m.autoStarted = false
		m.resetMonitors()
		m.startWaiters = append(m.startWaiters, r)
	case svcUp:
		emit(actReply{r: r})
	case svcLeaving:
		emit(actReply{r: r, err: &status.OpError{Code: status.CodeBusy, Msg: "The cluster service is stopping on server " + m.p.local + ". Try again when it has stopped."}})
	default:
		m.startWaiters = append(m.startWaiters, r)
	}
}

func (m *machine) serviceStop(r *request, emit func(...action)) {
	if r.factor == "" {
		r.factor = FactorServerShutdown
	}
	if r.exiting {
		m.exiting = true
	}
	switch r.os {
	case "shutdown":
		m.exiting, m.osAction = true, m.p.cfg.OS.Shutdown
	case "reboot":
		m.exiting, m.osAction = true, m.p.cfg.OS.Reboot
	}
	if m.suspended && !m.exiting && m.svc == svcUp {
		emit(actReply{r: r, err: errSuspended()})
		return
	}
	switch m.svc {
	case svcDown:
		emit(actReply{r: r})
		if m.osAction != nil {
			// clpdown after clpcl -t: nothing runs here any more; the machine goes down.
			emit(actOS{argv: m.osAction})
			m.osAction = nil
		}
		if m.exiting {
			emit(actShutdown{})
		}
		return
	case svcJoining:
		if !m.lease.joinInFlight {
			m.svc = svcDown
			for _, w := range m.startWaiters {
				emit(actReply{r: w, err: errNotStarted(m.p.local)})
			}
			m.startWaiters = nil
			m.refuseDeferred(emit)
			emit(actReply{r: r})
			if m.exiting {
				emit(actShutdown{})
			}
			return
		}
		// The join lands first, then the service leaves at once.
		m.stopAfterFence = true
		m.leaveFactor = r.factor
	case svcUp:
		m.svc = svcLeaving
		m.leaveFactor = r.factor
	case svcFencing, svcRejoining:
		m.stopAfterFence = true
		m.leaveFactor = r.factor
	}
	m.stopWaiters = append(m.stopWaiters, r)
}

func (m *machine) suspend(r *request, emit func(...action)) {
	on := r.kind == reqSuspend
	switch m.svc {
	case svcUp:
	case svcJoining:
		m.deferred = append(m.deferred, r)
		return
	case svcFencing, svcRejoining:
		emit(actReply{r: r, err: errRejoining(m.p.local)})
		return
	default:
		emit(actReply{r: r, err: errNotStarted(m.p.local)})
		return
	}
	if on && !m.suspended {
		for _, g := range m.groups {
			if g.busy() {
				emit(actReply{r: r, err: &status.OpError{Code: status.CodeBusy, Msg: "Group " + g.cfg.Name + " is in the middle of an operation. Suspend the cluster when it has finished."}})
				return
			}
		}
	}
	if m.suspended != on {
		m.suspended = on
		emit(actSuspend{on: on})
	}
	from := r.from
	if from == "" {
		from = m.p.local
	}
	if on {
		emit(alertSuspendRequested(from))
	} else {
		emit(alertResumeRequested(from))
	}
	emit(actReply{r: r})
}

// refuseDeferred answers the requests held while the service was joining: it will not come up.
func (m *machine) refuseDeferred(emit func(...action)) {
	for _, r := range m.deferred {
		emit(actReply{r: r, err: errNotStarted(m.p.local)})
	}
	m.deferred = nil
}

// --- what the cluster needs of this server ---

// reconcile starts what this server should run: groups moved here, groups orphaned by a server
// that stopped or lost its lease (this server being the first Online one of their policy that is
// not the server that lost them), auto-start groups once per service start, owner keys of groups
// that kept running through a fence, and recoveries held back while the cluster was suspended.
func (m *machine) reconcile(now time.Duration, emit func(...action)) {
	online := m.online()
	if m.view.snap.Servers[m.p.local] != m.lease.id {
		// The read predates this server's (re)join; decisions need one that shows this lease.
		return
	}
	waiting := false
	for _, g := range m.groups {
		if g.busy() || g.retryAt > now {
			continue
		}
		if g.pendingFailure != nil {
			r := g.pendingFailure
			g.pendingFailure = nil
			m.recoverOp(g, r)
			continue
		}
		if g.cfg.Failback && g.moveWait == nil && g.token != 0 {
			m.failback(g, online, emit)
			continue
		}
		if g.moveWait != nil || g.token != 0 || g.active() {
			continue
		}
		if _, owned := m.view.snap.Owners[g.cfg.Name]; owned {
			continue
		}
		mk, marked := m.view.snap.Markers[g.cfg.Name]
		switch {
		case marked && mk.State == store.MarkerMoving && online[mk.Target]:
			if mk.Target == m.p.local {
				m.startOp(g, "START", mk.Server, nil)
			}
		case marked:
			target := m.placeTarget(g, mk.Server, online)
			if target == "" && online[mk.Server] && !m.excluded(g, mk.Server) {
				target = mk.Server
			}
			if target == m.p.local {
				m.startOp(g, "FAILOVER", mk.Server, nil)
			}
		case !m.autoStarted && g.cfg.AutoStart:
			if !m.policyUp(g, online) && now < m.upSince+m.p.cfg.Timing.StartupWait {
				// Its first server may be a moment from joining: starting it here now would
				// start it on the wrong server (CLP_SERVER=OTHER) for no reason.
				waiting = true
				continue
			}
			if m.placeTarget(g, "", online) == m.p.local {
				m.startOp(g, "START", "", nil)
			}
		}
	}
	if !waiting {
		m.autoStarted = true
	}
}

// policyUp says whether every server of the group's policy is Online.
func (m *machine) policyUp(g *grp, online map[string]bool) bool {
	for _, s := range g.cfg.Servers {
		if !online[s] {
			return false
		}
	}
	return true
}

// placeTarget picks where a group starts: the first server of its policy, other than from, that
// is Online and runs no other group of the group's exclusion set. "" means nowhere.
func (m *machine) placeTarget(g *grp, from string, online map[string]bool) string {
	for _, s := range g.cfg.Servers {
		if s != from && online[s] && !m.excluded(g, s) {
			return s
		}
	}
	return ""
}

// excluded says whether server runs another group of g's exclusion set: this server as it runs
// its groups, another as the store shows their owners.
func (m *machine) excluded(g *grp, server string) bool {
	if g.cfg.Exclusion == "" {
		return false
	}
	for _, o := range m.groups {
		if o == g || o.cfg.Exclusion != g.cfg.Exclusion {
			continue
		}
		if server == m.p.local && (o.shown() || o.token != 0 || o.op != nil && o.op.kind == opStart) {
			return true
		}
		if ow, ok := m.view.snap.Owners[o.cfg.Name]; ok && ow.Server == server {
			return true
		}
	}
	return false
}

// failback moves a group that runs here back to a server earlier in its policy once one is
// Online (CLUSTERPRO's automatic failback).
func (m *machine) failback(g *grp, online map[string]bool, emit func(...action)) {
	if groupState("", m.states(g)) != status.Online {
		return
	}
	target := m.placeTarget(g, "", online)
	if target == "" || target == m.p.local {
		return
	}
	if slices.Index(g.cfg.Servers, target) > slices.Index(g.cfg.Servers, m.p.local) && slices.Contains(g.cfg.Servers, m.p.local) {
		return
	}
	emit(alertGroupFailingBack(g.cfg.Name, target))
	m.stopOp(g, FactorGroupMove, true, &store.Marker{Server: m.p.local, State: store.MarkerMoving, Target: target}, target, nil, nil, emit)
}

// checkMoves answers moves waiting for their destination; it only reads the store, so it goes on
// while the cluster is suspended.
func (m *machine) checkMoves(emit func(...action)) {
	for _, g := range m.groups {
		if g.moveWait != nil {
			m.checkMove(g, emit)
		}
	}
}

// checkMove answers the callers of a move once the destination has started the group, or failed.
func (m *machine) checkMove(g *grp, emit func(...action)) {
	w := g.moveWait
	if m.view.seq <= w.seq {
		return
	}
	mk, ok := m.view.snap.Markers[g.cfg.Name]
	var err error
	switch {
	case ok && mk.State == store.MarkerMoving:
		return
	case ok && mk.Server == w.dest && mk.State == store.MarkerStarting:
		return
	case ok && mk.Server == m.p.local && (mk.State == store.MarkerOnline || mk.State == store.MarkerStarting):
		// A read that began before the release reached the store: it still shows this server's
		// own marker from before the move, which says nothing of the destination.
		return
	case ok && mk.Server == w.dest && mk.State == store.MarkerOnline:
		emit(alertGroupMoved(g.cfg.Name))
	default:
		emit(alertGroupMoveFailed(g.cfg.Name))
		err = status.ErrStartFailed(g.cfg.Name)
	}
	for _, r := range w.waiters {
		emit(actReply{r: r, err: err})
	}
	g.moveWait = nil
}

// progressLeave stops the groups one at a time, the last configured first, then revokes the lease.
func (m *machine) progressLeave(now time.Duration, emit func(...action)) {
	for _, g := range m.groups {
		if g.busy() {
			return
		}
	}
	for i := len(m.groups) - 1; i >= 0; i-- {
		g := m.groups[i]
		if g.leaveFailed() {
			continue
		}
		if g.shown() || g.token != 0 {
			// Only a server shutdown hands groups over, and only to a server that may run them:
			// a group of this server alone would otherwise start again by itself at the next
			// service start, although no one asked for it.
			handover := &store.Marker{Server: m.p.local, State: store.MarkerOrphaned}
			if m.leaveFactor != FactorServerShutdown || !g.canFailOver {
				handover = nil
			}
			m.stopOp(g, m.leaveFactor, true, handover, "", nil, nil, emit)
			return
		}
	}
	var failed []string
	for _, g := range m.groups {
		if g.leaveFailed() {
			failed = append(failed, g.cfg.Name)
		}
	}
	if len(failed) > 0 {
		// Leaving would drop the owner keys of groups that may still half-run here.
		err := status.ErrStopFailed(failed[0])
		for _, r := range m.stopWaiters {
			emit(actReply{r: r, err: err})
		}
		m.stopWaiters = nil
		m.svc = svcUp
		if m.exiting {
			emit(actShutdown{err: err})
		}
		return
	}
	if m.lease.id != 0 && !m.lease.revokeInFlight {
		m.lease.revokeInFlight = true
		emit(actRevoke{lease: m.lease.id})
	}
}

// leaveFailed: a stop of this group failed while leaving, so the service cannot leave.
func (g *grp) leaveFailed() bool {
	for _, r := range g.res {
		if r.state == status.OfflineFailure {
			return true
		}
	}
	return false
}

// --- group operations ---

func (m *machine) startOp(g *grp, event, prev string, waiters []*request) {
	g.op = &op{kind: opStart, phase: phaseAcquire, failover: event == "FAILOVER", waiters: waiters}
	g.ev = m.baseEvent(g, event, prev)
}

func (m *machine) stopOp(g *grp, factor string, clear bool, handover *store.Marker, move string, waiters []*request, result error, emit func(...action)) {
	g.op = &op{kind: opStop, phase: phaseResources, factor: factor, clear: clear, handover: handover, move: move, waiters: waiters, result: result}
	emit(alertGroupStopping(g.cfg.Name))
	m.save(g, emit)
}

func (m *machine) recoverOp(g *grp, r *rsc) {
	g.op = &op{kind: opRecover, phase: phaseResources, target: r}
}

// abortOp ends the group's operation without finishing it (fencing): its callers are told why.
func (m *machine) abortOp(g *grp, err error, emit func(...action)) {
	if g.op != nil && g.op.monitor != nil {
		g.op.monitor.recovering = false
	}
	if g.op != nil {
		for _, r := range g.op.waiters {
			emit(actReply{r: r, err: err})
		}
		g.op = nil
	}
	if g.moveWait != nil {
		for _, r := range g.moveWait.waiters {
			emit(actReply{r: r, err: err})
		}
		g.moveWait = nil
	}
}

// finish ends the group's operation and answers its callers: with err when there is one, else
// with what the operation recorded (a start that failed before the stop it chained into).
func (m *machine) finish(g *grp, err error, emit func(...action)) {
	o := g.op
	g.op = nil
	if o.monitor != nil {
		o.monitor.recovering = false
	}
	if err == nil {
		err = o.result
	}
	for _, r := range o.waiters {
		emit(actReply{r: r, err: err})
	}
	m.save(g, emit)
}

// progressGroups moves every group's operation on by as much as it can go without waiting.
func (m *machine) progressGroups(now time.Duration, emit func(...action)) {
	for _, g := range m.groups {
		if g.fence != nil || g.op == nil || g.op.inflight {
			continue
		}
		if g.retryAt > now {
			continue
		}
		g.retryAt = 0
		switch g.op.kind {
		case opStart:
			m.advanceStart(now, g, emit)
		case opStop:
			m.advanceStop(now, g, emit)
		case opRecover:
			m.advanceRecover(now, g, emit)
		}
	}
}

// mayStart: a start script may begin only while the lease is proven alive, with room before the
// fencing deadline for the script to be spawned.
func (m *machine) mayStart(now time.Duration) bool {
	return m.holdsLease() && now+spawnMargin < m.fenceAt()
}

// spawnMargin keeps a start from being spawned in the last moment before the fencing deadline.
const spawnMargin = 20 * time.Millisecond

func (m *machine) advanceStart(now time.Duration, g *grp, emit func(...action)) {
	o := g.op
	switch o.phase {
	case phaseAcquire:
		if !m.holdsLease() {
			return
		}
		o.inflight = true
		emit(actAcquire{group: g.idx, lease: m.lease.id})
		return
	case phaseResources:
	default:
		return
	}
	if g.token == 0 {
		// The group kept running through a fence and is not owned again yet: nothing of it may
		// start before it is.
		return
	}
	for _, i := range startOrder(g.cfg.Resources) {
		r := g.res[i]
		if r.state == status.Online || o.only != nil && !o.only[i] {
			continue
		}
		if o.diskFailed != nil && dependencies(g.cfg.Resources, i)[o.diskFailed.idx] {
			// It needs the disk that failed (or is that disk): it stays down.
			continue
		}
		if !m.mayStart(now) {
			// The fence is about to come; it ends this operation.
			return
		}
		if r.attempt == 0 {
			emit(alertResourceActivating(r.cfg.Name))
		}
		r.state, r.detail = status.OnlinePending, ""
		r.ev = g.ev
		r.ev.Resource = r.cfg.Name
		id := m.newJob(g.idx, i, jobStart)
		r.start = id
		o.inflight = true
		emit(actSpawn{job: id, group: g.idx, res: i, kind: jobStart, ev: r.ev, timeout: r.cfg.StartTimeout,
			async: r.cfg.StartMode == config.ModeAsync, token: g.token, notAfter: m.fenceAt(), epoch: g.epoch})
		m.save(g, emit)
		return
	}
	if d := o.diskFailed; d != nil {
		o.diskFailed = nil
		m.startFailed(g, d, d.detail, emit)
		return
	}
	emit(actMark{group: g.idx, token: g.token, marker: store.Marker{Server: m.p.local, State: store.MarkerOnline}})
	emit(alertGroupActivated(g.cfg.Name))
	if o.failover {
		emit(alertGroupFailedOver(g.cfg.Name))
	}
	m.finish(g, nil, emit)
}

func (m *machine) advanceStop(now time.Duration, g *grp, emit func(...action)) {
	o := g.op
	if o.phase == phaseResources {
		for _, i := range stopOrder(g.cfg.Resources) {
			r := g.res[i]
			if o.only != nil && !o.only[i] {
				continue
			}
			switch r.state {
			case status.Offline:
				continue
			case status.OnlineFailure:
				// Its start failed: there is nothing of it to stop, only the failure to clear.
				if r.start == 0 {
					if o.clear {
						r.state, r.detail = status.Offline, ""
					}
					continue
				}
			}
			if r.attempt == 0 {
				emit(alertResourceStopping(r.cfg.Name))
			}
			m.spawnStop(g, r, o.factor, emit)
			o.inflight = true
			return
		}
		if o.restart {
			// Down: the same resources start again, on the same ownership.
			g.op = &op{kind: opStart, phase: phaseResources, only: o.only, waiters: o.waiters, monitor: o.monitor}
			g.ev.Event = "START"
			m.advanceStart(now, g, emit)
			return
		}
		if o.only != nil && g.active() {
			// Part of the group was stopped (clprsc -t); the rest runs on and the group stays
			// this server's.
			emit(alertGroupStopped(g.cfg.Name))
			m.finish(g, nil, emit)
			return
		}
		o.phase = phaseRelease
	}
	if g.token == 0 {
		m.stopDone(g, emit)
		return
	}
	o.inflight = true
	emit(actRelease{group: g.idx, token: g.token, marker: o.handover})
}

func (m *machine) spawnStop(g *grp, r *rsc, factor string, emit func(...action)) {
	r.state, r.detail = status.OfflinePending, ""
	ev := r.ev
	if ev.Group == "" {
		ev = m.baseEvent(g, "START", "")
		ev.Resource = r.cfg.Name
	}
	ev.Factor = factor
	if r.cfg.StartMode == config.ModeAsync {
		// CLP_PID is the asynchronous start script's process, live or dead.
		ev.PID = r.startInfo.ScriptPID
	}
	id := m.newJob(g.idx, r.idx, jobStop)
	r.stop = id
	emit(actSpawn{job: id, group: g.idx, res: r.idx, kind: jobStop, ev: ev, timeout: r.cfg.StopTimeout,
		async: r.cfg.StopMode == config.ModeAsync, epoch: g.epoch})
	m.save(g, emit)
}

func (m *machine) stopDone(g *grp, emit func(...action)) {
	o := g.op
	emit(alertGroupStopped(g.cfg.Name))
	if o.move != "" {
		g.moveWait = &moveWait{dest: o.move, waiters: o.waiters, seq: m.view.seq}
		o.waiters = nil
	}
	m.finish(g, nil, emit)
}

func (m *machine) advanceRecover(now time.Duration, g *grp, emit func(...action)) {
	r := g.op.target
	g.op.inflight = true
	m.spawnStop(g, r, FactorGroupStop, emit)
}

// startFailed handles a resource whose activation failed for good: alerts, the failure marker,
// then the resource's final action.
func (m *machine) startFailed(g *grp, r *rsc, detail string, emit func(...action)) {
	o := g.op
	r.state, r.detail, r.attempt = status.OnlineFailure, detail, 0
	emit(alertResourceActivateFailed(r.cfg.Name, detail))
	emit(alertGroupActivateFailed(g.cfg.Name))
	if o.failover {
		emit(alertGroupFailoverFailed(g.cfg.Name))
	}
	if g.token != 0 {
		emit(actMark{group: g.idx, token: g.token, marker: store.Marker{Server: m.p.local, State: store.MarkerFailed}})
	}
	o.result = status.ErrStartFailed(g.cfg.Name)
	if g.failovers < r.cfg.ActivationFailover && g.canFailOver && g.token != 0 && m.failoverTarget(g) != "" {
		// CLUSTERPRO's failover threshold of an activation failure: the next server tries.
		g.failovers++
		emit(alertActivationFailover(g.cfg.Name, m.failoverTarget(g), r.cfg.Name, m.p.local, g.failovers, r.cfg.ActivationFailover))
		waiters := o.waiters
		m.failoverOp(g, o.monitor, o.result, emit)
		g.op.waiters = waiters
		return
	}
	m.finalAction(g, r.cfg.ActivationFinalAction, emit)
}

// finalAction applies what the configuration says to do once a resource's retries are spent. The
// callers of the failed operation hear once whatever it chains into has ended.
func (m *machine) finalAction(g *grp, action string, emit func(...action)) {
	o := g.op
	switch action {
	case config.ActionStopGroup:
		m.stopOp(g, FactorGroupStop, false, nil, "", o.waiters, o.result, emit)
		g.op.monitor = o.monitor
	case config.ActionStopCluster:
		m.finish(g, nil, emit)
		m.shutdown()
	case config.ActionShutdown, config.ActionReboot:
		m.finish(g, nil, emit)
		m.shutdown()
		m.osAction = m.p.cfg.OS.Shutdown
		if action == config.ActionReboot {
			m.osAction = m.p.cfg.OS.Reboot
		}
	default:
		m.finish(g, nil, emit)
	}
}

// shutdown stops the cluster service and then the daemon (a final action).
func (m *machine) shutdown() {
	m.exiting = true
	if m.svc == svcUp {
		m.svc = svcLeaving
		m.leaveFactor = FactorServerShutdown
	}
}

// --- completions ---

func (m *machine) acquired(now time.Duration, e evAcquired, emit func(...action)) {
	g := m.groups[e.group]
	if g.reowning {
		g.reowning = false
		switch {
		case e.err == nil:
			g.token = e.token
			m.save(g, emit)
		case e.elsewhere:
			emit(actLog{level: "ERROR", msg: "a group that runs here is owned by another server", args: []any{"group", g.cfg.Name}})
		default:
			g.pendingReown = true
			g.retryAt = now + m.p.retry
		}
		return
	}
	o := g.op
	if o == nil || o.kind != opStart || o.phase != phaseAcquire {
		return
	}
	o.inflight = false
	switch {
	case e.elsewhere:
		// Another server holds it: refused for a caller, lost the race for a takeover.
		m.finish(g, status.ErrStartedOther(), emit)
		return
	case e.err != nil:
		emit(actLog{level: "WARN", msg: "taking ownership", args: []any{"group", g.cfg.Name, "err", e.err}})
		if len(o.waiters) == 0 {
			g.retryAt = now + m.p.retry
			g.op = nil
			return
		}
		m.finish(g, &status.OpError{Code: status.CodeInternal, Msg: "Could not take ownership of group " + g.cfg.Name + ": " + e.err.Error()}, emit)
		return
	}
	g.token = e.token
	o.phase = phaseResources
	emit(actMark{group: g.idx, token: g.token, marker: store.Marker{Server: m.p.local, State: store.MarkerStarting}})
	if o.failover {
		// Written once the group is this server's: a takeover that lost the race is no failover.
		emit(alertGroupFailingOver(g.cfg.Name))
	}
	emit(alertGroupActivating(g.cfg.Name))
	m.save(g, emit)
}

func (m *machine) released(now time.Duration, e evReleased, emit func(...action)) {
	g := m.groups[e.group]
	o := g.op
	if o == nil || o.kind != opStop || o.phase != phaseRelease || e.token != g.token {
		return
	}
	o.inflight = false
	if e.err != nil && !e.fenced {
		emit(actLog{level: "WARN", msg: "releasing group", args: []any{"group", g.cfg.Name, "err", e.err}})
		g.retryAt = now + m.p.retry
		return
	}
	// Released, or no longer this server's to release (its owner key is gone or another's):
	// either way nothing of it is held here any more.
	g.token = 0
	m.stopDone(g, emit)
}

func (m *machine) spawned(now time.Duration, e evSpawned, emit func(...action)) {
	ref, ok := m.jobs[e.job]
	if !ok {
		return
	}
	g, r := m.groups[ref.group], m.groups[ref.group].res[ref.res]
	if g.fence != nil && g.fence.job == e.job {
		if e.err != nil {
			delete(m.jobs, e.job)
			r.stop = 0
			m.nextCleanup(now, g, emit)
		}
		return
	}
	if ref.kind == jobStart {
		r.startInfo = e.info
		if e.err != nil || e.fenced {
			delete(m.jobs, e.job)
			r.start = 0
			detail := "start script could not be run: " + errText(e.err)
			if e.fenced {
				detail = "ownership of the group was lost"
				r.attempt = r.cfg.ActivationRetry
			}
			m.startAttemptFailed(g, r, detail, emit)
			return
		}
		if r.cfg.StartMode == config.ModeAsync && g.op != nil && g.op.kind == opStart {
			r.state, r.attempt = status.Online, 0
			g.op.inflight = false
			emit(alertResourceActivated(r.cfg.Name))
		}
		m.save(g, emit)
		return
	}
	r.stopInfo = e.info
	if e.err != nil {
		delete(m.jobs, e.job)
		r.stop = 0
		m.stopAttemptFailed(g, r, "stop script could not be run: "+errText(e.err), emit)
		return
	}
	m.save(g, emit)
	if r.cfg.StopMode == config.ModeAsync {
		// An asynchronous stop is done once it runs; its script goes on by itself.
		delete(m.jobs, e.job)
		r.stop = 0
		m.stopSucceeded(g, r, emit)
	}
}

func (m *machine) exited(now time.Duration, e evExited, emit func(...action)) {
	ref, ok := m.jobs[e.job]
	if !ok {
		return
	}
	delete(m.jobs, e.job)
	g, r := m.groups[ref.group], m.groups[ref.group].res[ref.res]
	if g.fence != nil {
		if g.fence.job == e.job {
			r.stop = 0
			g.fence.job = 0
			m.nextCleanup(now, g, emit)
		}
		return
	}
	if ref.kind == jobStop {
		if r.stop != e.job {
			return
		}
		r.stop = 0
		if g.op != nil && g.op.kind == opRecover && g.op.target == r {
			emit(actReap{group: g.idx, res: r.idx, grace: reapGrace(r)})
			return
		}
		if e.result.OK() {
			m.stopSucceeded(g, r, emit)
			return
		}
		m.stopAttemptFailed(g, r, scriptDetail(r, "stop", e.result), emit)
		return
	}
	if r.start != e.job {
		return
	}
	r.start = 0
	if g.op != nil && g.op.kind == opStart && r.state == status.OnlinePending {
		if e.result.OK() {
			r.state, r.attempt = status.Online, 0
			g.op.inflight = false
			emit(alertResourceActivated(r.cfg.Name))
			m.save(g, emit)
			return
		}
		m.startAttemptFailed(g, r, scriptDetail(r, "start", e.result), emit)
		return
	}
	if r.state != status.Online || r.cfg.StartMode != config.ModeAsync {
		return
	}
	if g.op != nil && (g.op.kind == opStop || g.op.kind == opRecover) {
		// It is being stopped: the end of its start script is expected.
		return
	}
	detail := "asynchronous start script ended (" + e.result.String() + ")"
	if m.procEnded(now, g, r, "the process of "+r.cfg.Name+" ended ("+e.result.String()+")", emit) {
		// A pid monitor watches it: its recovery ladder decides; the resource stays Online, as
		// CLUSTERPRO shows an exec resource whose monitor found its process gone.
		m.save(g, emit)
		return
	}
	m.asyncFailed(g, r, detail, emit)
}

// asyncFailed handles an asynchronous resource whose start script ended while it was Online.
func (m *machine) asyncFailed(g *grp, r *rsc, detail string, emit func(...action)) {
	emit(alertResourceFailed(r.cfg.Name, detail))
	r.detail = detail
	switch {
	case m.suspended:
		r.state = status.OnlineFailure
		g.pendingFailure = r
	case g.op != nil:
		// A start in progress restarts it when it gets to it; anything else leaves it failed.
		r.state = status.OnlineFailure
	default:
		m.recoverOp(g, r)
	}
	m.save(g, emit)
}

// recovered: the stop script of a failed asynchronous resource has run; the final action follows.
func (m *machine) recovered(g *grp, r *rsc, emit func(...action)) {
	r.state, r.attempt = status.OnlineFailure, 0
	m.save(g, emit)
	m.finalAction(g, r.cfg.ActivationFinalAction, emit)
}

func (m *machine) startAttemptFailed(g *grp, r *rsc, detail string, emit func(...action)) {
	if g.op == nil || g.op.kind != opStart {
		r.state, r.detail = status.OnlineFailure, detail
		return
	}
	g.op.inflight = false
	if r.attempt < r.cfg.ActivationRetry {
		r.attempt++
		emit(alertResourceActivateRetry(r.cfg.Name, detail, r.attempt, r.cfg.ActivationRetry))
		r.state = status.OnlinePending
		return
	}
	if r.cfg.Type == config.TypeDisk && g.op.diskFailed == nil && !g.op.restart {
		r.state, r.detail, r.attempt = status.OnlineFailure, detail, 0
		emit(alertResourceActivateFailed(r.cfg.Name, detail))
		g.op.diskFailed = r
		g.ev.Disk = "FAILURE"
		return
	}
	m.startFailed(g, r, detail, emit)
}

func (m *machine) stopSucceeded(g *grp, r *rsc, emit func(...action)) {
	// What the start script left running goes with the resource.
	emit(actReap{group: g.idx, res: r.idx, grace: reapGrace(r)})
}

// reapGrace is how long what a start script left gets between SIGTERM and SIGKILL.
func reapGrace(r *rsc) time.Duration { return min(r.cfg.StopTimeout, 10*time.Second) }

func (m *machine) reaped(now time.Duration, e evReaped, emit func(...action)) {
	g := m.groups[e.group]
	r := g.res[e.res]
	if e.err != nil {
		emit(actLog{level: "WARN", msg: "terminating what a start script left", args: []any{"resource", r.cfg.Name, "err", e.err}})
	}
	if r.start != 0 {
		delete(m.jobs, r.start)
		r.start = 0
	}
	r.startInfo, r.stopInfo = resource.JobInfo{}, resource.JobInfo{}
	if g.op != nil && g.op.kind == opRecover {
		m.recovered(g, r, emit)
		return
	}
	r.state, r.detail, r.attempt, r.ev = status.Offline, "", 0, resource.Event{}
	emit(alertResourceStopped(r.cfg.Name))
	if g.op != nil {
		g.op.inflight = false
	}
	m.save(g, emit)
}

func (m *machine) stopAttemptFailed(g *grp, r *rsc, detail string, emit func(...action)) {
	o := g.op
	if o == nil {
		r.state, r.detail = status.OfflineFailure, detail
		return
	}
	if o.kind == opRecover {
		emit(actReap{group: g.idx, res: r.idx, grace: reapGrace(r)})
		return
	}
	o.inflight = false
	if r.attempt < r.cfg.DeactivationRetry {
		r.attempt++
		emit(alertResourceStopRetry(r.cfg.Name, detail, r.attempt, r.cfg.DeactivationRetry))
		return
	}
	r.state, r.detail, r.attempt = status.OfflineFailure, detail, 0
	emit(alertResourceStopFailed(r.cfg.Name, detail))
	emit(alertGroupStopFailed(g.cfg.Name))
	if o.move != "" {
		emit(alertGroupMoveFailed(g.cfg.Name))
	}
	// The group keeps its owner key: no other server may start it while it may still half-run.
	m.finish(g, status.ErrStopFailed(g.cfg.Name), emit)
	switch r.cfg.DeactivationFinalAction {
	case config.ActionStopCluster:
		m.shutdown()
	case config.ActionShutdown:
		m.shutdown()
		m.osAction = m.p.cfg.OS.Shutdown
	case config.ActionReboot:
		m.shutdown()
		m.osAction = m.p.cfg.OS.Reboot
	}
}

// --- persistence ---

// save records the group as it stands, for a daemon restarted after a crash.
func (m *machine) save(g *grp, emit func(...action)) {
	if g.token == 0 && !g.shown() && g.op == nil {
		emit(actSaveGroup{group: g.idx})
		return
	}
	rec := &groupRecord{Event: g.ev, Token: g.token}
	if g.op != nil {
		rec.Op = opName(g.op.kind)
	} else {
		rec.Done = true
		rec.Op = opName(opStart)
	}
	var rs []*resourceRecord
	for _, r := range g.res {
		if r.state == status.Offline && r.start == 0 && r.stop == 0 {
			rs = append(rs, nil)
			continue
		}
		rr := &resourceRecord{State: r.state, Event: r.ev, Detail: r.detail}
		if r.start != 0 {
			info := r.startInfo
			rr.Start = &info
		}
		if r.stop != 0 {
			info := r.stopInfo
			rr.Stop = &info
		}
		rs = append(rs, rr)
	}
	emit(actSaveGroup{group: g.idx, rec: rec, res: rs})
}

func opName(k opKind) string {
	if k == opStart {
		return recStart
	}
	return recStop
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

func errNotStarted(server string) error {
	return &status.OpError{Code: status.CodeNotStarted, Msg: "The cluster service is not started on server " + server + ". Start it with: clpcl -s"}
}

func errSuspended() error {
	return &status.OpError{Code: status.CodeSuspended, Msg: "The cluster is suspended. Resume it with: clpcl --resume"}
}

func errRejoining(server string) error {
	return &status.OpError{Code: status.CodeBusy, Msg: "Server " + server + " lost its lease on the cluster store and is rejoining. Try again later."}
}

func errLostLease(server string) error {
	return &status.OpError{Code: status.CodeInternal, Msg: "Server " + server + " lost its lease on the cluster store: its groups were stopped so that none runs on two servers. It rejoins the cluster when the store answers."}
}

// scriptDetail says how a start or stop ended: a script's exit, or what a built-in resource
// reported.
func scriptDetail(r *rsc, kind string, res resource.Result) string {
	if r.cfg.Type != config.TypeExec && res.Detail != "" {
		return res.Detail
	}
	return kind + " script " + res.String()
}
