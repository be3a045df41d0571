package cluster

import (
	"context"
	"fmt"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
)

// recover rebuilds a group from the run records a previous daemon of this server left (it was
// killed, or crashed), so status tells the truth: scripts still running are adopted, never started
// a second time; a resource whose process died meanwhile is not shown Online. The operation the
// previous daemon was in the middle of is then finished. It reports whether the group had any
// record (auto-start does not apply to such a group: it is already what the operator left).
func (c *Cluster) recover(g *group) (bool, error) {
	var grec groupRecord
	hasGroup, err := c.recs.read(c.recs.groupPath(g.cfg.Name), &grec)
	if err != nil {
		return false, err
	}
	found := hasGroup
	recs := make([]resourceRecord, len(g.res))
	for i, r := range g.res {
		ok, err := c.recs.read(c.recs.resPath(g.cfg.Name, r.cfg.Name), &recs[i])
		if err != nil {
			return false, err
		}
		if ok {
			found = true
			c.mu.Lock()
			r.state, r.ev, r.detail = recs[i].State, recs[i].Event, recs[i].Detail
			if recs[i].Job != nil {
				r.job = resource.Adopt(c.d.ProcRoot, recs[i].Job)
			}
			if recs[i].StopJob != nil {
				r.stopJob = resource.Adopt(c.d.ProcRoot, recs[i].StopJob)
			}
			c.mu.Unlock()
		}
	}
	if !found {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(c.life, 30*time.Second)
	defer cancel()
	owners, err := c.d.Store.Owners(ctx)
	if err != nil {
		return true, err
	}
	if o, ok := owners[g.cfg.Name]; ok && o.Server != c.d.Local {
		// Another server took the group over while this daemon was down: what is left here must
		// go, and without running scripts that would act on resources we no longer own.
		c.fenceLocal(g, o.Server)
		return true, nil
	}
	c.mu.Lock()
	l := c.lease
	c.mu.Unlock()
	token, err := c.d.Store.Acquire(ctx, g.cfg.Name, c.d.Local, l)
	if err != nil {
		c.fenceLocal(g, "another server")
		return true, err
	}
	c.mu.Lock()
	g.token, g.event = token, grec.Event
	if hasGroup && !grec.Done {
		g.running = grec.Op
	}
	c.mu.Unlock()
	c.d.Alert(3, LevelInfo, fmt.Sprintf("Group %s recovered from the previous run of clpd.", g.cfg.Name))
	g.op.Lock()
	go func() {
		defer g.op.Unlock()
		c.resume(c.life, g, grec, hasGroup)
	}()
	return true, nil
}

// resume finishes what the previous daemon left pending, with the group's operation lock held.
func (c *Cluster) resume(ctx context.Context, g *group, grec groupRecord, hasGroup bool) {
	var failed *res
	for _, r := range g.res {
		c.mu.Lock()
		st, job, stopJob := r.state, r.job, r.stopJob
		c.mu.Unlock()
		switch {
		case st == status.OnlinePending && job != nil:
			res := c.waitJob(ctx, job, r.cfg.StartTimeout)
			c.mu.Lock()
			r.job = nil
			c.mu.Unlock()
			if res.OK() {
				c.setRes(g, r, status.Online, "")
			} else {
				c.setRes(g, r, status.OnlineFailure, "start script "+res.String())
				failed = r
			}
		case st == status.OnlinePending:
			c.setRes(g, r, status.OnlineFailure, "start was interrupted")
			failed = r
		case st == status.Online && r.cfg.StartMode == config.ModeAsync:
			if job != nil && job.Running() {
				go c.watchAsync(g, r, job)
				continue
			}
			detail := "asynchronous start script ended while clpd was not running"
			c.d.Alert(32, LevelError, fmt.Sprintf("Resource %s has failed.(%s)", r.cfg.Name, detail))
			// The stop script still gets CLP_PID of the process that died.
			_ = c.stopResource(ctx, g, r, FactorGroupStop, g.token)
			c.setRes(g, r, status.OnlineFailure, detail)
			failed = r
		case st == status.OfflinePending && stopJob != nil:
			res := c.waitJob(ctx, stopJob, r.cfg.StopTimeout)
			if res.OK() {
				c.endStartJob(job, r.cfg.StopTimeout)
				c.clearJob(r)
				c.setRes(g, r, status.Offline, "")
			} else {
				c.clearJob(r)
				c.setRes(g, r, status.OfflineFailure, "stop script "+res.String())
			}
		case st == status.OfflinePending:
			c.setRes(g, r, status.OfflineFailure, "stop was interrupted")
		}
	}
	switch {
	case failed != nil:
		c.finalAction(ctx, g, failed.cfg.ActivationFinalAction)
	case hasGroup && !grec.Done && grec.Op == opStart:
		_ = c.startGroup(ctx, g, grec.Event)
	case hasGroup && !grec.Done && grec.Op == opStop:
		_ = c.stopGroup(ctx, g, FactorGroupStop, true)
	default:
		c.mu.Lock()
		g.running = ""
		c.mu.Unlock()
	}
}

// fenceLocal kills what is left of a group that another server now owns.
func (c *Cluster) fenceLocal(g *group, owner string) {
	for _, r := range g.res {
		c.mu.Lock()
		jobs := []*resource.Job{r.job, r.stopJob}
		r.job, r.stopJob = nil, nil
		c.mu.Unlock()
		for _, j := range jobs {
			if j != nil && j.Running() {
				j.Kill()
			}
		}
		c.setRes(g, r, status.Offline, "")
	}
	_ = c.recs.remove(c.recs.groupPath(g.cfg.Name))
	c.d.Alert(4, LevelWarn, fmt.Sprintf("Group %s is owned by %s: its leftovers on this server were killed.", g.cfg.Name, owner))
}
