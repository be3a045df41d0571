package compat

import (
	"time"

	"clpkit/pkg/status"
)

// Fixtures of -n, -p, the configuration displays and --local. Functions, like the others.

const (
	leaseHB   = "etcd Lease Heartbeat"
	witnessHB = "Witness Heartbeat"
)

// witnessCluster is a running two-server cluster with a witness, as clpd reports it on node1:
// both heartbeats Normal everywhere, failover1 on node1 and failover2 on node2. The server names
// share nothing with the index names (server0, server1), so that `grep $hostname` picks the map
// line alone, as on a real cluster.
func witnessCluster() status.Cluster {
	hbs := func(lease, witness status.State) []status.Heartbeat {
		return []status.Heartbeat{hb("leasehb1", lease, leaseHB), hb(WitnessHeartbeat, witness, witnessHB)}
	}
	fip := rsc("fip1", "fip", status.Online)
	fip.Comment = "service address"
	fip.Params = []status.Param{{Name: "IP Address", Value: "10.0.0.100"}}
	exec := rsc("exec1", "exec", status.Online)
	exec.Params = []status.Param{{Name: "Start Script", Value: "scripts/exec1/start.sh"}, {Name: "Stop Script", Value: "scripts/exec1/stop.sh"}}
	return status.Cluster{
		Name:        "cluster1",
		LocalServer: "node1",
		Witness:     "witness1",
		Taken:       time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		Servers: []status.Server{
			{Name: "node1", Comment: "Primary server", Address: "192.0.2.11", State: status.Online, Heartbeats: hbs(status.Normal, status.Normal)},
			{Name: "node2", Address: "192.0.2.12", State: status.Online, Heartbeats: hbs(status.Normal, status.Normal)},
		},
		Groups: []status.Group{
			{Name: "failover1", Comment: "web service", State: status.Online, Current: "node1", Servers: []string{"node1", "node2"},
				Resources: []status.Resource{fip, exec}},
			{Name: "failover2", State: status.Online, Current: "node2", Servers: []string{"node2", "node1"},
				Resources: []status.Resource{rsc("exec2", "exec", status.Online)}},
		},
		Monitors: []status.Monitor{
			{Name: "userw", Type: "userw", Comment: "User mode monitor", State: status.Normal, RecoveryTarget: "LocalServer",
				Servers: []status.MonitorOnServer{
					monOn("node1", status.Online, status.Counters{FinalActionIs: "No operation"}),
					monOn("node2", status.Online, status.Counters{FinalActionIs: "No operation"}),
				}},
		},
		Settings: []status.Param{
			{Name: "Heartbeat Interval", Value: "1s"},
			{Name: "Heartbeat Timeout", Value: "10s"},
			{Name: "Shutdown Monitoring Method", Value: "softdog"},
		},
	}
}

// partitioned is witnessCluster after node2 went away: node2 Offline with its heartbeats, and
// node1's witness heartbeat in the state witness (Normal: the witness still answers node1).
func partitioned(witness status.State) status.Cluster {
	c := witnessCluster()
	c.Servers[1].State = status.Offline
	for i := range c.Servers[1].Heartbeats {
		c.Servers[1].Heartbeats[i].State = status.Offline
	}
	c.Servers[0].Heartbeats[1].State = witness
	return c
}

// noWitness is witnessCluster without a witness (and without its heartbeat).
func noWitness() status.Cluster {
	c := witnessCluster()
	c.Witness = ""
	for i := range c.Servers {
		c.Servers[i].Heartbeats = c.Servers[i].Heartbeats[:1]
	}
	return c
}

// statesWitness is statesCluster (this server third, srv-b Offline with heartbeats in Error and
// Caution) with its witness set.
func statesWitness() status.Cluster {
	c := statesCluster()
	c.Witness = "192.0.2.30"
	return c
}

// oddHeartbeats has heartbeat lists that differ between servers, a server whose state is not
// known, one with an odd state word, a local server with no heartbeat and a duplicated name.
func oddHeartbeats() status.Cluster {
	return status.Cluster{
		Name:        "odd",
		LocalServer: "b",
		Witness:     "w",
		Servers: []status.Server{
			{Name: "a", State: status.Unknown, Heartbeats: []status.Heartbeat{
				hb("leasehb1", status.Unknown, leaseHB), hb("lankhb1", status.Caution, kernelHB),
				hb("leasehb1", status.Normal, "duplicate"),
			}},
			{Name: "b", State: status.Online},
			{Name: "c", State: "Isolated", Heartbeats: []status.Heartbeat{
				hb(WitnessHeartbeat, status.Online, witnessHB), hb("leasehb1", "", leaseHB),
			}},
		},
	}
}
