package cluster

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/status"
)

// connected reports whether this server can vouch for what the store says: it holds a lease the
// store acknowledged within the fencing deadline, and its last read succeeded. A server that
// cannot must not call the others Offline: it does not know.
func (m *machine) connected(now time.Duration) bool {
	return m.holdsLease() && m.view.ok && now < m.fenceAt()
}

// status is the cluster as this server sees it at now. It reads only the machine's state, so it
// answers at once even when the store does not.
func (m *machine) status(now time.Duration) status.Cluster {
	cfg := m.p.cfg
	out := status.Cluster{Name: cfg.Cluster.Name, LocalServer: m.p.local, Suspended: m.suspended, Settings: settings(cfg)}
	if cfg.Witness != nil {
		out.Witness = cfg.Witness.Name
	}
	remoteWitness := m.remoteWitness()
	conn := m.connected(now)
	online := m.online()
	for _, s := range cfg.Servers {
		st, hb := status.Offline, status.Offline
		switch {
		case s.Name == m.p.local:
			if m.holdsLease() {
				st, hb = status.Online, status.Normal
			}
		case !conn:
			if m.svc != svcDown {
				st, hb = status.Unknown, status.Unknown
			}
		case online[s.Name]:
			st, hb = status.Online, status.Normal
		}
		sv := status.Server{
			Name: s.Name, Comment: s.Comment, Address: s.Address, State: st,
			Heartbeats: []status.Heartbeat{{Name: "leasehb1", State: hb, Comment: "etcd Lease Heartbeat"}},
		}
		if cfg.Witness != nil {
			w := status.Offline
			switch {
			case s.Name == m.p.local && m.svc != svcDown && m.witnessKnown:
				w = map[bool]status.State{true: status.Normal, false: status.Offline}[m.witnessOK]
			case s.Name == m.p.local:
			case hb == status.Normal:
				if ok, known := remoteWitness[s.Name]; known {
					w = map[bool]status.State{true: status.Normal, false: status.Offline}[ok]
				} else {
					w = status.Unknown
				}
			case hb == status.Unknown:
				w = status.Unknown
			}
			sv.Heartbeats = append(sv.Heartbeats, status.Heartbeat{Name: "witnesshb1", State: w, Comment: "Witness Heartbeat"})
		}
		out.Servers = append(out.Servers, sv)
	}
	remote := m.remoteGroups()
	for _, g := range m.groups {
		sg := m.groupStatus(g)
		if !g.shown() {
			o, owned := m.view.snap.Owners[g.cfg.Name]
			switch {
			case !conn && m.svc != svcDown:
				// Cut off from the store: where the group runs now is not known here.
				sg.State = status.Unknown
			case owned && o.Server != m.p.local:
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
	remoteMons := m.remoteMonitors()
	for _, mo := range m.mons {
		sm := status.Monitor{Name: mo.cfg.Name, Type: mo.cfg.TypeName(), Comment: mo.cfg.Comment,
			Target: mo.cfg.Target, RecoveryTarget: mo.cfg.RecoveryTarget}
		for _, s := range cfg.Servers {
			switch {
			case s.Name == m.p.local:
				sm.Servers = append(sm.Servers, m.monitorHere(mo))
			case !conn && m.svc != svcDown:
				sm.Servers = append(sm.Servers, status.MonitorOnServer{Server: s.Name, State: status.Unknown})
			case online[s.Name]:
				if rm, ok := remoteMons[s.Name][mo.cfg.Name]; ok {
					rm.Server = s.Name
					sm.Servers = append(sm.Servers, rm)
				} else {
					sm.Servers = append(sm.Servers, status.MonitorOnServer{Server: s.Name, State: status.Unknown})
				}
			default:
				sm.Servers = append(sm.Servers, status.MonitorOnServer{Server: s.Name, State: status.Offline})
			}
		}
		sm.State = summary(sm.Servers)
		out.Monitors = append(out.Monitors, sm)
	}
	return out
}

// published is what a server tells the others about itself: the groups it runs and its monitors.
type published struct {
	Groups   []status.Group     `json:"groups"`
	Monitors []publishedMonitor `json:"monitors,omitempty"`
	// Witness says whether the server reaches the store's witness (nil: not known).
	Witness *bool `json:"witness,omitempty"`
}

type publishedMonitor struct {
	Name string `json:"name"`
	status.MonitorOnServer
}

func (m *machine) localPublished() published {
	p := published{Groups: m.localGroups()}
	if m.witnessKnown {
		ok := m.witnessOK
		p.Witness = &ok
	}
	for _, mo := range m.mons {
		p.Monitors = append(p.Monitors, publishedMonitor{Name: mo.cfg.Name, MonitorOnServer: m.monitorHere(mo)})
	}
	return p
}

// decodePublished reads another server's word; what does not decode is skipped: it is not
// something to fail on.
func decodePublished(b []byte) (published, bool) {
	var p published
	if json.Unmarshal(b, &p) != nil {
		return published{}, false
	}
	return p, true
}

// remoteMonitors is what the other servers published of their monitors, by server and name.
func (m *machine) remoteMonitors() map[string]map[string]status.MonitorOnServer {
	out := map[string]map[string]status.MonitorOnServer{}
	for server, b := range m.view.snap.Statuses {
		p, ok := decodePublished(b)
		if server == m.p.local || !ok {
			continue
		}
		out[server] = map[string]status.MonitorOnServer{}
		for _, pm := range p.Monitors {
			out[server][pm.Name] = pm.MonitorOnServer
		}
	}
	return out
}

// groupStatus is g as this server runs it.
func (m *machine) groupStatus(g *grp) status.Group {
	sg := status.Group{Name: g.cfg.Name, Comment: g.cfg.Comment, Servers: g.cfg.Servers}
	for _, r := range g.res {
		sr := status.Resource{Name: r.cfg.Name, Type: r.cfg.Type, State: r.state, Detail: r.detail, Params: resourceParams(r.cfg)}
		if g.fence != nil && g.fence.phase == fenceKilling && r.state != status.Offline {
			sr.State = status.OfflinePending
		}
		if r.start != 0 && r.cfg.StartMode == config.ModeAsync && r.state == status.Online {
			sr.PID = r.startInfo.ScriptPID
		}
		sg.Resources = append(sg.Resources, sr)
	}
	opName := ""
	if g.op != nil {
		switch g.op.kind {
		case opStart:
			if g.op.phase != phaseAcquire {
				opName = recStart
			}
		case opStop:
			opName = recStop
		}
	}
	if g.fence != nil {
		opName = recStop
	}
	sg.State = groupState(opName, m.states(g))
	if g.shown() {
		sg.Current = m.p.local
	}
	return sg
}

func (m *machine) states(g *grp) []status.State {
	out := make([]status.State, len(g.res))
	for i, r := range g.res {
		out[i] = r.state
	}
	return out
}

// localGroups is the status of the groups that are (partly) on this server, for the others.
func (m *machine) localGroups() []status.Group {
	var out []status.Group
	for _, g := range m.groups {
		if g.shown() {
			out = append(out, m.groupStatus(g))
		}
	}
	return out
}

// remoteGroups decodes what the other servers published about the groups they run. A status that
// does not decode is skipped: it is another server's word, not something to fail on.
func (m *machine) remoteGroups() map[string]status.Group {
	out := map[string]status.Group{}
	for server, b := range m.view.snap.Statuses {
		if server == m.p.local {
			continue
		}
		p, ok := decodePublished(b)
		if !ok {
			continue
		}
		for _, g := range p.Groups {
			out[g.Name] = g
		}
	}
	return out
}

// resourceParams are a resource's settings as clpstat --rsc shows them.
func resourceParams(r *config.Resource) []status.Param {
	switch r.Type {
	case config.TypeFIP:
		ps := []status.Param{{Name: "IP Address", Value: r.Address}}
		if r.Interface != "" {
			ps = append(ps, status.Param{Name: "Interface", Value: r.Interface})
		}
		return ps
	case config.TypeDisk:
		return []status.Param{{Name: "Device Name", Value: r.Device}, {Name: "Mount Point", Value: r.MountPoint},
			{Name: "File System", Value: r.FSType}}
	}
	return []status.Param{{Name: "Start Script", Value: r.Start}, {Name: "Stop Script", Value: r.Stop}}
}

// remoteWitness is whether each other server says it reaches the witness.
func (m *machine) remoteWitness() map[string]bool {
	out := map[string]bool{}
	for server, b := range m.view.snap.Statuses {
		if p, ok := decodePublished(b); ok && server != m.p.local && p.Witness != nil {
			out[server] = *p.Witness
		}
	}
	return out
}

// settings are the cluster's timings and store as clpstat --cl --detail shows them.
func settings(cfg *config.Config) []status.Param {
	t := cfg.Timing
	ps := []status.Param{
		{Name: "Heartbeat Interval", Value: t.HeartbeatInterval.String()},
		{Name: "Heartbeat Timeout", Value: t.HeartbeatTimeout.String()},
		{Name: "Fence Fraction", Value: strconv.FormatFloat(t.FenceFraction, 'g', -1, 64)},
		{Name: "Startup Wait", Value: t.StartupWait.String()},
		{Name: "Store", Value: cfg.Store.Mode},
	}
	if cfg.Store.Mode == "external" {
		ps = append(ps, status.Param{Name: "Store Endpoints", Value: strings.Join(cfg.Store.Endpoints, " ")})
	} else {
		ps = append(ps, status.Param{Name: "Store Election Timeout", Value: cfg.Store.ElectionTimeout.String()})
	}
	if cfg.Witness != nil {
		ps = append(ps, status.Param{Name: "Witness", Value: cfg.Witness.Name + " " + cfg.Witness.Address})
	}
	return ps
}
