package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// mark records where the group runs and how it is doing; see store.Marker.
func (c *Cluster) mark(ctx context.Context, g *group, m store.Marker) {
	c.mu.Lock()
	token := g.token
	c.mu.Unlock()
	if err := c.d.Store.SetMarker(ctx, g.cfg.Name, m, token); err != nil {
		c.d.Log.Warn("recording group marker", "group", g.cfg.Name, "err", err)
	}
}

// handOver leaves the marker that tells the other servers what to do with a group this server
// has just stopped: take it over after a server shutdown, start it on the destination of a move,
// or nothing at all after an operator's stop.
func (c *Cluster) handOver(ctx context.Context, g *group, factor string, token int64) {
	c.mu.Lock()
	dest := g.moveTo
	g.moveTo = ""
	c.mu.Unlock()
	var err error
	switch factor {
	case FactorGroupMove:
		err = c.d.Store.SetMarker(ctx, g.cfg.Name, store.Marker{Server: c.d.Local, State: store.MarkerMoving, Target: dest}, token)
	case FactorServerShutdown, FactorGroupFailover:
		err = c.d.Store.SetMarker(ctx, g.cfg.Name, store.Marker{Server: c.d.Local, State: store.MarkerOrphaned}, token)
	default:
		err = c.d.Store.ClearMarker(ctx, g.cfg.Name, token)
	}
	if err != nil {
		c.d.Log.Warn("handing group over", "group", g.cfg.Name, "err", err)
	}
}

// autoStart starts a group when the cluster service starts, unless it is running elsewhere or
// waits to be taken over (reconcile does that, with CLP_EVENT=FAILOVER), or this server is not
// the first Online server of its policy.
func (c *Cluster) autoStart(ctx context.Context, g *group) error {
	owners, err := c.d.Store.Owners(ctx)
	if err != nil {
		return err
	}
	if o, ok := owners[g.cfg.Name]; ok && o.Server != c.d.Local {
		return nil
	}
	markers, err := c.d.Store.Markers(ctx)
	if err != nil {
		return err
	}
	if m, ok := markers[g.cfg.Name]; ok && m.Server != c.d.Local {
		return nil
	}
	online, err := c.d.Store.OnlineServers(ctx)
	if err != nil {
		return err
	}
	if first := moveTarget(g.cfg.Servers, "", online); first != c.d.Local {
		return nil
	}
	return c.StartGroup(ctx, g.cfg.Name, false)
}

// reconcile takes over the groups that need this server: orphaned by a server that shut down or
// lost its lease (CLP_EVENT=FAILOVER on the first Online server of the policy), or moved here
// (CLP_EVENT=START). It runs on every change of the cluster's keys (an expired lease deletes its
// owner keys, which is such a change), and on a slow tick in case a watch was interrupted.
func (c *Cluster) reconcile(ctx context.Context) {
	changes := c.d.Store.Changes(ctx)
	tick := time.NewTicker(10 * c.d.Config.Timing.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-tick.C:
		}
		c.takeOver(ctx)
	}
}

func (c *Cluster) takeOver(ctx context.Context) {
	c.mu.Lock()
	ok := c.started && !c.stopping && !c.suspended
	c.mu.Unlock()
	if !ok {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, c.d.Config.Timing.HeartbeatInterval)
	markers, err1 := c.d.Store.Markers(rctx)
	owners, err2 := c.d.Store.Owners(rctx)
	online, err3 := c.d.Store.OnlineServers(rctx)
	cancel()
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	for _, g := range c.groups {
		m, ok := markers[g.cfg.Name]
		if !ok {
			continue
		}
		if _, owned := owners[g.cfg.Name]; owned {
			continue
		}
		target, event := "", "FAILOVER"
		switch {
		case m.State == store.MarkerMoving:
			target, event = m.Target, "START"
		case m.Server == c.d.Local:
			// This server's own group from before its restart: auto-start decides.
			continue
		default:
			target = moveTarget(g.cfg.Servers, m.Server, online)
		}
		if target != c.d.Local || !g.op.TryLock() {
			continue
		}
		ev := c.baseEvent(g, event, m.Server)
		go func() {
			defer g.op.Unlock()
			if event == "FAILOVER" {
				c.d.Alert(60, LevelInfo, fmt.Sprintf("Failover group %s has started.", g.cfg.Name))
			}
			if err := c.startGroup(c.life, g, ev); err != nil {
				c.d.Log.Warn("taking over group", "group", g.cfg.Name, "err", err)
				if event == "FAILOVER" {
					c.d.Alert(62, LevelError, fmt.Sprintf("Failover group %s has failed.", g.cfg.Name))
				}
				return
			}
			if event == "FAILOVER" {
				c.d.Alert(61, LevelInfo, fmt.Sprintf("Failover group %s has completed.", g.cfg.Name))
			}
		}()
	}
}

// moveTo stops the group here with CLP_FACTOR=GROUPMOVE, hands it to target, and waits until
// target has started it (or failed to).
func (c *Cluster) moveTo(ctx context.Context, g *group, target string) error {
	c.d.Alert(50, LevelInfo, fmt.Sprintf("Moving group %s has started.", g.cfg.Name))
	c.mu.Lock()
	g.moveTo = target
	c.mu.Unlock()
	if err := c.stopGroup(c.life, g, FactorGroupMove, true); err != nil {
		c.d.Alert(52, LevelError, fmt.Sprintf("Moving group %s has failed.", g.cfg.Name))
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return status.ErrTimeout()
		case <-tick.C:
		}
		markers, err := c.d.Store.Markers(ctx)
		if err != nil {
			continue
		}
		m, ok := markers[g.cfg.Name]
		switch {
		case !ok || (m.Server == target && m.State == store.MarkerFailed):
			c.d.Alert(52, LevelError, fmt.Sprintf("Moving group %s has failed.", g.cfg.Name))
			return status.ErrStartFailed(g.cfg.Name)
		case m.Server == target && m.State == store.MarkerOnline:
			c.d.Alert(51, LevelInfo, fmt.Sprintf("Moving group %s has completed.", g.cfg.Name))
			return nil
		}
	}
}

func (c *Cluster) notifyChange() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// publish keeps this server's group status in the store, so clpstat on any server shows it.
func (c *Cluster) publish(ctx context.Context, l store.Lease) {
	for {
		b, err := json.Marshal(c.localGroups())
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := c.d.Store.PublishStatus(pctx, c.d.Local, b, l); err != nil && ctx.Err() == nil {
				c.d.Log.Warn("publishing status", "err", err)
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-c.changed:
		case <-time.After(10 * time.Second):
		}
	}
}

// localGroups is the status of the groups that are (partly) on this server.
func (c *Cluster) localGroups() []status.Group {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []status.Group
	for _, g := range c.groups {
		sg, active := c.groupStatus(g)
		if active {
			out = append(out, sg)
		}
	}
	return out
}

// groupStatus is g as this server runs it; active reports whether any of it is on this server.
// The caller holds c.mu.
func (c *Cluster) groupStatus(g *group) (status.Group, bool) {
	sg := status.Group{Name: g.cfg.Name, Comment: g.cfg.Comment, Servers: g.cfg.Servers}
	active := false
	for _, r := range g.res {
		sr := status.Resource{Name: r.cfg.Name, Type: r.cfg.Type, State: r.state, Detail: r.detail}
		if r.job != nil && r.cfg.StartMode == config.ModeAsync && r.state == status.Online {
			sr.PID = r.job.ScriptPID
		}
		active = active || r.state != status.Offline
		sg.Resources = append(sg.Resources, sr)
	}
	sg.State = groupState(g.running, c.states(g))
	if active {
		sg.Current = c.d.Local
	}
	return sg, active
}

// remoteGroups reads what the other servers published about the groups they run.
func (c *Cluster) remoteGroups(ctx context.Context) map[string]status.Group {
	out := map[string]status.Group{}
	all, err := c.d.Store.Statuses(ctx)
	if err != nil {
		return out
	}
	for server, b := range all {
		if server == c.d.Local {
			continue
		}
		var gs []status.Group
		if json.Unmarshal(b, &gs) != nil {
			continue
		}
		for _, g := range gs {
			out[g.Name] = g
		}
	}
	return out
}
