package cluster

import (
	"slices"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// Monitors feed the machine like any other event source: the engine runs their checks and reports
// each change of health (evMonitor); the machine decides what the change means. An error climbs
// the recovery ladder of CLUSTERPRO one step per error: the recovery script (preaction.sh) as an
// action of its own, then restarts of the recovery target on this server, then failovers of its
// group to the next server, then the final action. Each step is counted on this server and runs
// the recovery script first, with CLP_ACTION naming the step. A monitor's failover is the same
// path as a lost server's: the group is released with a marker the next server picks up.

// Steps of the ladder, as preaction.sh sees them in CLP_ACTION.
const (
	stepRecovery = "RECOVERY"
	stepRestart  = "RESTART"
	stepFailover = "FAILOVER"
	stepFinal    = "FINALACTION"
)

// counters count a monitor's recovery actions on this server since they were last reset.
type counters struct{ recovery, restart, failover, final int }

// mon is one monitor as this server runs it.
type mon struct {
	idx int
	cfg *config.Monitor
	// group and res locate the target resource (-1 when the monitor has none); rgroup is the
	// group its recovery acts on (-1 for LocalServer).
	group, res, rgroup int
	// procOfTarget: a pid monitor of an asynchronous exec resource. The machine already learns
	// the moment that script ends, so no check runs for it.
	procOfTarget bool
	// gen numbers the engine's runs of the monitor; running says one is on.
	gen     int
	running bool
	// suspended by clpmonctrl -s.
	suspended bool
	// failed: the last word of the checks is an error; detail says which.
	failed bool
	detail string
	cnt    counters
	// recovering: a step of the ladder is under way; errors meanwhile are not acted on.
	recovering bool
	// pending: an error waits for its recovery target to be free (an operation under way).
	pending bool
	// script is the running recovery script and step the step that follows it.
	script jobID
	step   string
	// held is a step whose recovery script ended while the cluster was suspended: it is taken
	// on resume.
	held string
	// normalSince is when the monitor came back to normal after an error, for the counters' reset.
	normalSince time.Duration
}

func (m *machine) newMonitors() {
	for i := range m.p.cfg.Monitors {
		c := &m.p.cfg.Monitors[i]
		mo := &mon{idx: i, cfg: c, group: -1, res: -1, rgroup: -1}
		if c.Target != "" {
			mo.group, mo.res = m.resourceIndex(c.Target)
			mo.procOfTarget = c.Type == config.MonitorPID && c.PIDFile == ""
		}
		if c.RecoveryGroup != "" {
			mo.rgroup = m.group(c.RecoveryGroup).idx
		}
		m.mons = append(m.mons, mo)
	}
}

func (m *machine) resourceIndex(name string) (int, int) {
	for _, g := range m.groups {
		for _, r := range g.res {
			if r.cfg.Name == name {
				return g.idx, r.idx
			}
		}
	}
	return -1, -1
}

// monitorWanted says whether the monitor should be checking now: the service is up and not
// suspended, the monitor is not suspended, and for timing "active" its target is Online here and
// not being stopped.
func (m *machine) monitorWanted(mo *mon) bool {
	if m.svc != svcUp || !m.settled || m.suspended || mo.suspended {
		return false
	}
	if mo.cfg.Timing == config.TimingAlways {
		return true
	}
	g := m.groups[mo.group]
	if g.fence != nil || g.op != nil && g.op.kind != opStart {
		return false
	}
	return g.res[mo.res].state == status.Online
}

// syncMonitors starts and stops the monitors' checks as the state calls for, and takes ladder
// steps that waited for their target to be free.
func (m *machine) syncMonitors(now time.Duration, emit func(...action)) {
	for _, mo := range m.mons {
		want := m.monitorWanted(mo)
		switch {
		case want && !mo.running:
			mo.gen++
			mo.running, mo.failed, mo.detail = true, false, ""
			if mo.cnt != (counters{}) {
				// A monitor that starts again (its target restarted, moved, or started by hand)
				// starts normal: the quiet period before its counters reset begins now.
				mo.normalSince = now
			}
			if !mo.procOfTarget {
				emit(actMonitor{mon: mo.idx, gen: mo.gen, on: true})
			}
			emit(alertMonitorStarted(mo.cfg.Name))
			if mo.procOfTarget && m.groups[mo.group].res[mo.res].start == 0 {
				m.monitorError(now, mo, "the process of "+mo.cfg.Target+" is not running", emit)
			}
		case !want && mo.running:
			mo.running = false
			if !mo.procOfTarget {
				emit(actMonitor{mon: mo.idx, gen: mo.gen})
			}
			emit(alertMonitorStopped(mo.cfg.Name))
		}
		if mo.held != "" && m.svc == svcUp && !m.suspended {
			step := mo.held
			mo.held = ""
			if g := m.rgroupOf(mo); g != nil && (g.busy() || g.moveWait != nil) {
				mo.recovering = false
			} else {
				m.takeStep(now, mo, step, emit)
			}
		}
		if mo.pending && !mo.recovering && mo.script == 0 {
			mo.pending = false
			m.ladder(now, mo, emit)
		}
		if r := mo.cfg.ResetAfter; r > 0 && mo.normalSince > 0 && now >= mo.normalSince+r {
			mo.normalSince = 0
			if mo.cnt != (counters{}) {
				mo.cnt = counters{}
				emit(actLog{level: "INFO", msg: "recovery counters reset after a quiet period", args: []any{"monitor", mo.cfg.Name}})
			}
		}
	}
}

// monitorWake is when a monitor's counters are next due to reset (0: none).
func (m *machine) monitorWake() time.Duration {
	var t time.Duration
	for _, mo := range m.mons {
		if mo.cfg.ResetAfter > 0 && mo.normalSince > 0 {
			at := mo.normalSince + mo.cfg.ResetAfter
			if t == 0 || at < t {
				t = at
			}
		}
	}
	return t
}

// monitorResult applies a change of health the engine reported.
func (m *machine) monitorResult(now time.Duration, e evMonitor, emit func(...action)) {
	if e.mon < 0 || e.mon >= len(m.mons) {
		return
	}
	mo := m.mons[e.mon]
	if !mo.running || e.gen != mo.gen {
		return
	}
	if e.err == nil {
		if mo.failed {
			mo.failed, mo.detail = false, ""
			mo.normalSince = now
			emit(alertMonitorNormal(mo.cfg.Name))
		}
		return
	}
	if e.timeout && !mo.cfg.TimeoutIsError {
		emit(alertMonitorWarn(mo.cfg.Name, e.err))
		return
	}
	m.monitorError(now, mo, e.err.Error(), emit)
}

// pidWatched says whether a pid monitor watches the resource's asynchronous start: its end is
// then that monitor's error (found when the monitor starts, if it is not running now).
func (m *machine) pidWatched(g *grp, r *rsc) bool {
	return slices.ContainsFunc(m.mons, func(mo *mon) bool { return mo.procOfTarget && mo.group == g.idx && mo.res == r.idx })
}

// procEnded is the end of an asynchronous exec resource's start script while it was Online: for a
// resource a pid monitor watches, that monitor's error. It reports whether one took it.
func (m *machine) procEnded(now time.Duration, g *grp, r *rsc, detail string, emit func(...action)) bool {
	took := false
	for _, mo := range m.mons {
		if mo.procOfTarget && mo.group == g.idx && mo.res == r.idx {
			took = true
			if mo.running {
				m.monitorError(now, mo, detail, emit)
			}
		}
	}
	return took
}

// resetMonitors clears every monitor's counters: a new start of the cluster service begins with
// none, as CLUSTERPRO's do after a cluster restart.
func (m *machine) resetMonitors() {
	for _, mo := range m.mons {
		mo.cnt, mo.normalSince = counters{}, 0
	}
}

func (m *machine) monitorError(now time.Duration, mo *mon, detail string, emit func(...action)) {
	if !mo.failed {
		emit(alertMonitorError(mo.cfg.Name, detail))
	}
	mo.failed, mo.detail = true, detail
	mo.normalSince = 0
	m.ladder(now, mo, emit)
}

// nextStep is the ladder's next step for the monitor on this server, "" when it is exhausted.
func (m *machine) nextStep(mo *mon) string {
	c, cfg := mo.cnt, mo.cfg
	if cfg.RecoveryScript != "" && c.recovery < cfg.RecoveryThreshold {
		return stepRecovery
	}
	if mo.rgroup >= 0 {
		if c.restart < cfg.RestartThreshold {
			return stepRestart
		}
		if c.failover < cfg.FailoverThreshold && m.failoverTarget(m.groups[mo.rgroup]) != "" {
			return stepFailover
		}
	}
	if c.final == 0 {
		return stepFinal
	}
	return ""
}

// failoverTarget is the server a group of this server would fail over to now ("" for none).
func (m *machine) failoverTarget(g *grp) string {
	return m.placeTarget(g, m.p.local, m.online())
}

// ladder takes the next step for a monitor in error, unless one is under way or its target is in
// the middle of an operation (then it waits, pending).
func (m *machine) ladder(now time.Duration, mo *mon, emit func(...action)) {
	if mo.recovering || mo.script != 0 {
		return
	}
	step := m.nextStep(mo)
	if step == "" {
		return
	}
	if m.svc != svcUp || m.suspended {
		return
	}
	if mo.rgroup >= 0 && step != stepRecovery {
		g := m.groups[mo.rgroup]
		if g.busy() || g.moveWait != nil {
			mo.pending = true
			return
		}
		if !g.shown() && (step != stepFinal || mo.cfg.FinalAction == config.ActionStopGroup) {
			emit(alertRecoveryTargetInactive(mo.cfg.RecoveryTarget))
			return
		}
	}
	switch step {
	case stepRecovery:
		mo.cnt.recovery++
	case stepRestart:
		mo.cnt.restart++
	case stepFailover:
		mo.cnt.failover++
	case stepFinal:
		mo.cnt.final++
	}
	mo.recovering = true
	if mo.cfg.RecoveryScript == "" {
		m.takeStep(now, mo, step, emit)
		return
	}
	mo.step = step
	mo.script = m.newScriptJob(mo.idx)
	emit(alertRecoveryScriptStarted(step, mo.cfg.Name))
	emit(actScript{job: mo.script, mon: mo.idx, action: step, counts: mo.cnt, timeout: mo.cfg.RecoveryScriptTimeout})
}

// scriptDone: the recovery script ended; the step it preceded follows, whatever its result
// (CLUSTERPRO goes on with the recovery even when the script fails).
func (m *machine) scriptDone(now time.Duration, e evScriptDone, emit func(...action)) {
	idx, ok := m.scripts[e.job]
	if !ok {
		return
	}
	delete(m.scripts, e.job)
	mo := m.mons[idx]
	if mo.script != e.job {
		return
	}
	mo.script = 0
	switch {
	case e.err != nil:
		emit(alertRecoveryScriptNotRun(mo.cfg.Name, e.err))
	case !e.result.OK():
		emit(alertRecoveryScriptFailed(mo.cfg.Name, e.result.String()))
	default:
		emit(alertRecoveryScriptCompleted(mo.cfg.Name))
	}
	step := mo.step
	mo.step = ""
	if m.svc != svcUp {
		mo.recovering = false
		return
	}
	if m.suspended {
		// Suspended while the script ran: nothing is started or stopped until resume.
		mo.held = step
		return
	}
	if step != stepRecovery && mo.rgroup >= 0 {
		if g := m.groups[mo.rgroup]; g.busy() || g.moveWait != nil {
			// Something else took the group meanwhile (an operator, a fence): the step is void.
			mo.recovering = false
			return
		}
	}
	m.takeStep(now, mo, step, emit)
}

// rgroupOf is the group the monitor's recovery acts on, nil for LocalServer.
func (m *machine) rgroupOf(mo *mon) *grp {
	if mo.rgroup < 0 {
		return nil
	}
	return m.groups[mo.rgroup]
}

// takeStep carries a step of the ladder out. mo.recovering is cleared when the operation it starts
// ends (see finish), or at once for steps that start none.
func (m *machine) takeStep(now time.Duration, mo *mon, step string, emit func(...action)) {
	name := mo.cfg.Name
	switch step {
	case stepRecovery:
		mo.recovering = false
		emit(alertRecoveryScriptExecuted(name))
	case stepRestart:
		g := m.groups[mo.rgroup]
		emit(alertRecoveryRestart(mo.cfg.RecoveryTarget, name))
		var only []bool
		if mo.cfg.RecoveryKind == config.TargetResource {
			_, ri := m.resourceIndex(mo.cfg.RecoveryTarget)
			only = dependants(g.cfg.Resources, ri)
		}
		m.restartOp(g, only, mo, emit)
	case stepFailover:
		g := m.groups[mo.rgroup]
		emit(alertRecoveryFailover(g.cfg.Name, name))
		m.failoverOp(g, mo, nil, emit)
	case stepFinal:
		m.monitorFinal(mo, emit)
	}
}

// monitorFinal applies a monitor's final action.
func (m *machine) monitorFinal(mo *mon, emit func(...action)) {
	name := mo.cfg.Name
	switch mo.cfg.FinalAction {
	case config.ActionStopGroup:
		g := m.groups[mo.rgroup]
		emit(alertRecoveryStopGroup(g.cfg.Name, name))
		m.stopOp(g, FactorGroupStop, false, nil, "", nil, nil, emit)
		g.op.monitor = mo
		return
	case config.ActionStopCluster:
		emit(alertRecoveryStopCluster(name))
		m.shutdown()
	case config.ActionShutdown:
		emit(alertRecoveryShutdown(name))
		m.shutdown()
		m.osAction = m.p.cfg.OS.Shutdown
	case config.ActionReboot:
		emit(alertRecoveryReboot(name))
		m.shutdown()
		m.osAction = m.p.cfg.OS.Reboot
	default:
		emit(alertMonitorNoFinalAction(name))
	}
	mo.recovering = false
}

// dependants marks resource i and every resource that depends on it, directly or not: a restart
// of i takes them down and up with it.
func dependants(rs []config.Resource, i int) []bool {
	out := make([]bool, len(rs))
	out[i] = true
	for changed := true; changed; {
		changed = false
		for j, r := range rs {
			if out[j] {
				continue
			}
			for _, d := range r.Depends {
				if k := slices.IndexFunc(rs, func(x config.Resource) bool { return x.Name == d }); k >= 0 && out[k] {
					out[j], changed = true, true
					break
				}
			}
		}
	}
	return out
}

// dependencies marks resource i and everything it depends on, directly or not.
func dependencies(rs []config.Resource, i int) []bool {
	out := make([]bool, len(rs))
	var mark func(int)
	mark = func(j int) {
		if out[j] {
			return
		}
		out[j] = true
		for _, d := range rs[j].Depends {
			if k := slices.IndexFunc(rs, func(x config.Resource) bool { return x.Name == d }); k >= 0 {
				mark(k)
			}
		}
	}
	mark(i)
	return out
}

// restartOp stops the resources of only (all when nil) and starts them again, keeping the group's
// ownership: CLP_FACTOR=RESOURCERESTART for the stops, CLP_EVENT=START for the starts.
func (m *machine) restartOp(g *grp, only []bool, mo *mon, emit func(...action)) {
	g.op = &op{kind: opStop, phase: phaseResources, factor: FactorResourceRestart, clear: true, only: only, restart: true, monitor: mo}
	m.save(g, emit)
}

// failoverOp stops the group here and hands it to the next server of its policy, which starts it
// with CLP_EVENT=FAILOVER.
func (m *machine) failoverOp(g *grp, mo *mon, result error, emit func(...action)) {
	handover := &store.Marker{Server: m.p.local, State: store.MarkerOrphaned}
	m.stopOp(g, FactorGroupFailover, true, handover, "", nil, result, emit)
	g.op.monitor = mo
}

func (m *machine) newScriptJob(monIdx int) jobID {
	m.nextJob++
	m.scripts[m.nextJob] = monIdx
	return m.nextJob
}

// monitorRequest handles clpmonctrl -s, -r and -c.
func (m *machine) monitorRequest(r *request, emit func(...action)) {
	var sel []*mon
	if len(r.monitors) == 0 {
		sel = m.mons
	}
	for _, name := range r.monitors {
		i := slices.IndexFunc(m.mons, func(mo *mon) bool { return mo.cfg.Name == name })
		if i < 0 {
			emit(actReply{r: r, err: status.ErrInvalidMonitor(name)})
			return
		}
		sel = append(sel, m.mons[i])
	}
	if r.kind != reqMonClear && m.svc != svcUp {
		emit(actReply{r: r, err: errNotStarted(m.p.local)})
		return
	}
	for _, mo := range sel {
		switch r.kind {
		case reqMonSuspend:
			if !mo.suspended {
				mo.suspended = true
				emit(alertMonitorSuspended(mo.cfg.Name))
			}
		case reqMonResume:
			if mo.suspended {
				mo.suspended = false
				emit(alertMonitorResumed(mo.cfg.Name))
			}
		case reqMonClear:
			mo.cnt = counters{}
			mo.normalSince = 0
		}
	}
	emit(actReply{r: r})
}

// monitorStatus is this server's view of one monitor.
func (m *machine) monitorHere(mo *mon) status.MonitorOnServer {
	st := status.Offline
	switch {
	case mo.suspended && m.svc == svcUp, m.suspended && m.svc == svcUp:
		st = status.Suspend
	case mo.running && mo.failed:
		st = status.Error
	case mo.running:
		st = status.Online
	}
	cfg := mo.cfg
	return status.MonitorOnServer{Server: m.p.local, State: st, Detail: mo.detail, Counters: status.Counters{
		Recovery: mo.cnt.recovery, Restart: mo.cnt.restart, Failover: mo.cnt.failover, FinalAction: mo.cnt.final,
		RecoveryMax: cfg.RecoveryThreshold, RestartMax: cfg.RestartThreshold, FailoverMax: cfg.FailoverThreshold,
		FinalActionIs: cfg.FinalAction,
	}}
}

// summary is a monitor's cluster-wide word from its state on each server.
func summary(on []status.MonitorOnServer) status.State {
	var online, failed, suspended int
	for _, s := range on {
		switch s.State {
		case status.Online:
			online++
		case status.Error:
			failed++
		case status.Suspend:
			suspended++
		}
	}
	switch {
	case failed > 0 && online == 0:
		return status.Error
	case failed > 0:
		return status.Caution
	case online > 0:
		return status.Normal
	case suspended > 0:
		return status.Suspend
	}
	return status.Offline
}
