package compat

import (
	"time"

	"clpkit/pkg/status"
)

// Fixtures of the monitor renderings. Like the others, they are functions, so no test can leak
// a mutation into another.

func monOn(server string, st status.State, c status.Counters) status.MonitorOnServer {
	return status.MonitorOnServer{Server: server, State: st, Counters: c}
}

func twoServers(second status.State) []status.Server {
	return []status.Server{
		{Name: "server1", State: status.Online, Heartbeats: []status.Heartbeat{hb("lankhb1", status.Normal, kernelHB)}},
		{Name: "server2", State: second, Heartbeats: []status.Heartbeat{hb("lankhb1", status.Normal, kernelHB)}},
	}
}

// monitorsCluster has every cluster-wide monitor word and every per-server word, full settings,
// and this server in second place, so that --local cannot pass by reading the first entry.
func monitorsCluster() status.Cluster {
	noop := status.Counters{FailoverMax: 1, FinalActionIs: "No operation"}
	stop := status.Counters{RecoveryMax: 1, RestartMax: 3, FailoverMax: 1, FinalActionIs: "Stop group"}
	restarted := stop
	restarted.Recovery, restarted.Restart = 1, 2
	reboot := status.Counters{FinalActionIs: "Stop the cluster service and reboot OS"}

	genwErr := monOn("server2", status.Error, restarted)
	genwErr.Detail = "script exited with status 1"
	return status.Cluster{
		Name:        "mon-cluster",
		LocalServer: "server2",
		Taken:       time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		Servers:     twoServers(status.Online),
		Groups: []status.Group{{
			Name: "failover1", State: status.Online, Current: "server2", Servers: []string{"server2", "server1"},
			Resources: []status.Resource{rsc("exec1", "exec", status.Online)},
		}},
		Monitors: []status.Monitor{
			// Watches exec1, so it monitors only where failover1 runs: Normal all the same.
			{Name: "pidw1", Type: "pidw", State: status.Normal, Target: "exec1", RecoveryTarget: "failover1",
				Servers: []status.MonitorOnServer{monOn("server1", status.Offline, noop), monOn("server2", status.Online, noop)}},
			{Name: "genw1", Type: "genw", Comment: "database check", State: status.Caution, RecoveryTarget: "failover1",
				Servers: []status.MonitorOnServer{monOn("server1", status.Online, stop), genwErr}},
			{Name: "ipw1", Type: "ipw", State: status.Error, RecoveryTarget: "LocalServer",
				Servers: []status.MonitorOnServer{monOn("server1", status.Error, reboot), monOn("server2", status.Error, reboot)}},
			{Name: "userw", Type: "userw", Comment: "User mode monitor", State: status.Suspend, RecoveryTarget: "LocalServer",
				Servers: []status.MonitorOnServer{monOn("server1", status.Suspend, noop), monOn("server2", status.Suspend, noop)}},
			{Name: "diskw1", Type: "diskw", State: status.Offline, Target: "md1", RecoveryTarget: "failover1",
				Servers: []status.MonitorOnServer{monOn("server1", status.Offline, stop), monOn("server2", status.Offline, stop)}},
			// No word at all, and no entry for this server: Unknown everywhere it is asked.
			{Name: "miiw1", Type: "miiw", RecoveryTarget: "LocalServer",
				Servers: []status.MonitorOnServer{monOn("server1", status.Unknown, noop)}},
		},
	}
}

// monstatNone is a running two-server cluster with no monitor resource.
func monstatNone() status.Cluster {
	return status.Cluster{Name: "cluster", LocalServer: "server1", Servers: twoServers(status.Online)}
}

// monstatTwo has two servers, the second one down, with one Normal and one Error monitor.
func monstatTwo() status.Cluster {
	c := monstatNone()
	c.Servers = twoServers(status.Offline)
	c.Monitors = []status.Monitor{
		{Name: "userw", Type: "userw", State: status.Normal, RecoveryTarget: "LocalServer",
			Servers: []status.MonitorOnServer{monOn("server1", status.Online, status.Counters{}), monOn("server2", status.Offline, status.Counters{})}},
		{Name: "genw1", Type: "genw", State: status.Error, RecoveryTarget: "failover1",
			Servers: []status.MonitorOnServer{monOn("server1", status.Error, status.Counters{}), monOn("server2", status.Offline, status.Counters{})}},
	}
	return c
}

// monstatSuspend has a suspended monitor, and a second server whose state is not known.
func monstatSuspend() status.Cluster {
	c := monstatNone()
	c.Servers = twoServers(status.Unknown)
	c.Monitors = []status.Monitor{
		{Name: "userw", Type: "userw", State: status.Suspend, RecoveryTarget: "LocalServer",
			Servers: []status.MonitorOnServer{monOn("server1", status.Suspend, status.Counters{}), monOn("server2", status.Unknown, status.Counters{})}},
	}
	return c
}

// monitorEdgeCluster has control characters everywhere a string reaches the text, a duplicated
// local server name, an entry for a server that is not configured, an empty monitor name and
// state, a monitor with no entry at all, and two monitors of the same name.
func monitorEdgeCluster() status.Cluster {
	return status.Cluster{
		Name:        "edge\ncluster",
		LocalServer: "s1",
		Servers: []status.Server{
			{Name: "s1", State: status.Online},
			{Name: "s1", State: status.Offline},
			{Name: "new\nline", State: status.State("Odd\r\nState")},
			{Name: "", State: ""},
		},
		Monitors: []status.Monitor{
			{Name: "m\n  Monitor9 [fake : Normal]", Type: "ty\tpe", Comment: "c\x00", State: status.State("Bad\x1bWord"),
				Target: "t\rx", RecoveryTarget: "r\n",
				Servers: []status.MonitorOnServer{
					{Server: "ghost", State: status.Online},
					{Server: "s1", State: "", Counters: status.Counters{RecoveryMax: -1, FinalActionIs: "a\nb"}},
					{Server: "new\nline", State: status.Error},
				}},
			{Name: "", Type: "", State: ""},
			{Name: "dup", Type: "pidw", State: status.Normal},
			{Name: "dup", Type: "genw", State: status.Error},
		},
	}
}
