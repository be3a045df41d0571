package cluster

import (
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
)

// What a previous daemon of this server left, as the shell found it before the loop started:
// its run records, and for each script it recorded whether that script still runs or how it ended.

type adoptedJob struct {
	info  resource.JobInfo
	alive bool
	// result is how the script ended, when it has; known says the result was recorded.
	result resource.Result
	known  bool
}

type adoptedRes struct {
	rec         resourceRecord
	start, stop *adoptedJob
}

type adoptedGroup struct {
	rec *groupRecord
	// res is indexed like the group's resources; nil where there is no record.
	res []*adoptedRes
}

// resumeState is what adopt keeps of a group until the join tells whether it is still ours.
type resumeState struct {
	rec *groupRecord
	res []*adoptedRes
}

// adopt rebuilds groups from what a previous daemon left, before the first event: status shows
// them truthfully at once, and scripts still running are watched, never started a second time.
// What happens to them next depends on the lease: see resume and discardAdopted.
func (m *machine) adopt(previous int64, groups []adoptedGroup) []action {
	var out []action
	m.lease.id = previous
	for i, a := range groups {
		if i >= len(m.groups) || (a.rec == nil && !anyRecord(a.res)) {
			continue
		}
		g := m.groups[i]
		g.resume = &resumeState{rec: a.rec, res: a.res}
		if a.rec != nil {
			g.token, g.ev = a.rec.Token, a.rec.Event
		}
		for j, ar := range a.res {
			if ar == nil || j >= len(g.res) {
				continue
			}
			r := g.res[j]
			r.state, r.ev, r.detail = ar.rec.State, ar.rec.Event, ar.rec.Detail
			out = append(out, m.adoptScript(i, r, jobStart, ar.start)...)
			out = append(out, m.adoptScript(i, r, jobStop, ar.stop)...)
		}
	}
	return out
}

// adoptScript takes over r's start or stop script that the previous daemon left (aj; nil when it
// left none): its info, and while it still runs, a job of this daemon and a watch on it. An
// asynchronous script runs as long as its resource is Online, so only a synchronous one is watched
// with a timeout.
func (m *machine) adoptScript(group int, r *rsc, kind jobKind, aj *adoptedJob) []action {
	if aj == nil {
		return nil
	}
	info, job, mode, timeout := &r.startInfo, &r.start, r.cfg.StartMode, r.cfg.StartTimeout
	if kind == jobStop {
		info, job, mode, timeout = &r.stopInfo, &r.stop, r.cfg.StopMode, r.cfg.StopTimeout
	}
	*info = aj.info
	if !aj.alive {
		return nil
	}
	*job = m.newJob(group, r.idx, kind)
	w := actWatch{job: *job, info: aj.info}
	if mode != config.ModeAsync {
		w.timeout = timeout
	}
	return []action{w}
}

func anyRecord(rs []*adoptedRes) bool {
	for _, r := range rs {
		if r != nil {
			return true
		}
	}
	return false
}

// resume finishes, once the previous lease proved still alive, what the previous daemon was in
// the middle of: a start that still runs is waited for, one that ended is judged by its result,
// an asynchronous service that died meanwhile is a failure, a stop goes on.
func (m *machine) resume(now time.Duration, g *grp, emit func(...action)) {
	rs := g.resume
	g.resume = nil
	emit(alertGroupRecovered(g.cfg.Name))
	var o *op
	if rs.rec != nil && !rs.rec.Done {
		switch rs.rec.Op {
		case recStart:
			o = &op{kind: opStart, phase: phaseResources, failover: rs.rec.Event.Event == "FAILOVER"}
		case recStop:
			o = &op{kind: opStop, phase: phaseResources, factor: FactorGroupStop, clear: true}
		}
	}
	var failed, dead *rsc
	var failedDetail string
	for j, ar := range rs.res {
		if ar == nil {
			continue
		}
		r := g.res[j]
		switch {
		case r.state == status.OnlinePending && r.start != 0:
			if o == nil || o.kind != opStart {
				o = &op{kind: opStart, phase: phaseResources, failover: g.ev.Event == "FAILOVER"}
			}
			o.inflight = true
		case r.state == status.OnlinePending:
			switch {
			case ar.start != nil && ar.start.known && ar.start.result.OK():
				r.state = status.Online
			case ar.start != nil && ar.start.known:
				failed, failedDetail = r, "start script "+ar.start.result.String()
			default:
				failed, failedDetail = r, "start was interrupted"
			}
		case r.state == status.Online && r.cfg.StartMode == config.ModeAsync && r.start == 0:
			dead = r
		case r.state == status.OfflinePending && r.stop != 0:
			if o == nil || o.kind != opStop {
				o = &op{kind: opStop, phase: phaseResources, factor: r.ev.Factor, clear: true}
			}
			o.inflight = true
		case r.state == status.OfflinePending:
			if ar.stop != nil && ar.stop.known && ar.stop.result.OK() {
				r.state = status.Offline
				emit(actReap{group: g.idx, res: j, grace: reapGrace(r)})
			} else {
				r.state, r.detail = status.OfflineFailure, "stop was interrupted"
			}
		}
	}
	g.op = o
	switch {
	case failed != nil:
		if g.op == nil || g.op.kind != opStart {
			g.op = &op{kind: opStart, phase: phaseResources, failover: g.ev.Event == "FAILOVER"}
		}
		g.op.inflight = false
		m.startFailed(g, failed, failedDetail, emit)
	case dead != nil && g.op == nil && !m.pidWatched(g, dead):
		m.asyncFailed(g, dead, "asynchronous start script ended while clpd was not running", emit)
	}
	m.save(g, emit)
}

// discardAdopted: the previous daemon's lease is gone, so whatever it left running here may now
// run elsewhere: it is killed, without running scripts that would act on resources this server
// no longer owns.
func (m *machine) discardAdopted(now time.Duration, emit func(...action)) {
	for _, g := range m.groups {
		if g.resume == nil {
			continue
		}
		if !g.canFailOver {
			// No other server may run it, so nothing of it needs killing: it is adopted, and
			// owned again on the new lease.
			m.resume(now, g, emit)
			g.token = 0
			continue
		}
		g.resume = nil
		g.token = 0
		g.op = nil
		m.forgetJobs(g)
		g.epoch++
		g.fence = &fenceState{phase: fenceKilling, leftovers: true, was: make([]bool, len(g.res))}
		emit(actKill{group: g.idx, epoch: g.epoch, notAfter: now + leftoverKillTime})
	}
}

// leftoverKillTime bounds the kill of what a previous daemon left (no lease deadline applies:
// that lease is gone).
const leftoverKillTime = 5 * time.Second

// resumeAll runs resume for every adopted group once the previous lease is known to be alive.
func (m *machine) resumeAll(now time.Duration, emit func(...action)) {
	for _, g := range m.groups {
		if g.resume != nil {
			m.resume(now, g, emit)
		}
	}
}
