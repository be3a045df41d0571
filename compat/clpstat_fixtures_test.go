package compat

import (
	"strings"
	"time"

	"clpkit/pkg/status"
)

// The fixtures are functions, not package variables, so no test can leak a mutation into another.

const kernelHB = "Kernel Mode LAN Heartbeat"

func hb(name string, st status.State, comment string) status.Heartbeat {
	return status.Heartbeat{Name: name, State: st, Comment: comment}
}

func rsc(name, typ string, st status.State) status.Resource {
	return status.Resource{Name: name, Type: typ, State: st}
}

func mon(name, typ string, st status.State) status.Monitor {
	return status.Monitor{Name: name, Type: typ, State: st}
}

// sampleA is research note §2.1 Sample A (EXPRESSCLUSTER/Apache-Tomcat).
func sampleA() status.Cluster {
	return status.Cluster{
		Name:        "TomcatCluster",
		LocalServer: "server1",
		Servers: []status.Server{
			{Name: "server1", State: status.Online, Heartbeats: []status.Heartbeat{hb("lankhb1", status.Normal, kernelHB)}},
			{Name: "server2", State: status.Online, Heartbeats: []status.Heartbeat{hb("lankhb1", status.Normal, kernelHB)}},
		},
		Groups: []status.Group{{
			Name: "failover", State: status.Online, Current: "server1", Servers: []string{"server1", "server2"},
			Resources: []status.Resource{rsc("fip", "fip", status.Online), rsc("md", "md", status.Online)},
		}},
		Monitors: []status.Monitor{
			mon("fipw1", "fipw", status.Normal), mon("mdnw1", "mdnw", status.Normal),
			mon("mdw1", "mdw", status.Normal), mon("userw", "userw", status.Normal),
		},
	}
}

// sampleB is Sample B (EXPRESSCLUSTER/clpaic): cluster stopped, NP resources after the HB.
func sampleB() status.Cluster {
	hbs := func() []status.Heartbeat {
		return []status.Heartbeat{
			hb("lankhb1", status.Offline, kernelHB),
			hb("pingnp1", status.Offline, "ping resolution"),
		}
	}
	return status.Cluster{
		Name:        "cluster-x600",
		LocalServer: "116rhel94",
		Servers: []status.Server{
			{Name: "116rhel94", State: status.Offline, Heartbeats: hbs()},
			{Name: "117rhel94", State: status.Offline, Heartbeats: hbs()},
		},
		Groups: []status.Group{
			{Name: "failover1", State: status.Offline, Resources: []status.Resource{rsc("exec1", "exec", status.Offline)}},
			{Name: "failover2", State: status.Offline, Resources: []status.Resource{rsc("exec2", "exec", status.Offline)}},
		},
		Monitors: []status.Monitor{mon("userw", "userw", status.Offline)},
	}
}

// sampleC is Sample C (EXPRESSCLUSTER/Podman): comments on servers, groups and one monitor.
func sampleC() status.Cluster {
	hbs := func() []status.Heartbeat {
		return []status.Heartbeat{
			hb("lankhb1", status.Normal, kernelHB),
			hb("httpnp1", status.Normal, "http resolution"),
		}
	}
	userw := mon("userw", "userw", status.Normal)
	userw.Comment = "User mode monitor"
	return status.Cluster{
		Name:        "cluster",
		LocalServer: "server1",
		Servers: []status.Server{
			{Name: "server1", Comment: "Primary server", State: status.Online, Heartbeats: hbs()},
			{Name: "server2", Comment: "Secondary server", State: status.Online, Heartbeats: hbs()},
		},
		Groups: []status.Group{{
			Name: "failover1", Comment: "Group for MariaDB", State: status.Online, Current: "server1",
			Resources: []status.Resource{rsc("exec-mariadb", "exec", status.Online), rsc("md1", "md", status.Online)},
		}},
		Monitors: []status.Monitor{mon("mdnw1", "mdnw", status.Normal), mon("mdw1", "mdw", status.Normal), userw},
	}
}

// sampleD is Sample D (EXPRESSCLUSTER/kubernetes): the group is really named container-recovery.
func sampleD() status.Cluster {
	return status.Cluster{
		Name:        "postgres-sss-0",
		LocalServer: "postgres-sss-0",
		Servers: []status.Server{{
			Name: "postgres-sss-0", State: status.Online,
			Heartbeats: []status.Heartbeat{hb("lanhb1", status.Normal, "LAN Heartbeat")},
		}},
		Groups: []status.Group{{
			Name: "container-recovery", State: status.Online, Current: "postgres-sss-0",
			Resources: []status.Resource{rsc("exec", "exec", status.Online)},
		}},
		Monitors: []status.Monitor{mon("psqlw", "psqlw", status.Normal)},
	}
}

// sampleF is Sample F (EXPRESSCLUSTER/Docker), rendered with --long.
func sampleF() status.Cluster {
	hbs := func() []status.Heartbeat {
		return []status.Heartbeat{hb("lankhb1", status.Normal, kernelHB), hb("lankhb2", status.Normal, kernelHB)}
	}
	return status.Cluster{
		Name:        "cluster",
		LocalServer: "node1",
		Servers: []status.Server{
			{Name: "node1", State: status.Online, Heartbeats: hbs()},
			{Name: "node2", State: status.Online, Heartbeats: hbs()},
		},
		Groups: []status.Group{{
			Name: "failover-mariadb1", State: status.Online, Current: "node1",
			Resources: []status.Resource{rsc("exec-mariadb1", "exec", status.Online), rsc("md1", "md", status.Online)},
		}},
		Monitors: []status.Monitor{mon("mdnw1", "mdnw", status.Normal), mon("mdw1", "mdw", status.Normal), mon("mysqlw1", "mysqlw", status.Normal)},
	}
}

// clpaicGroupMap is the cluster behind the verbatim `clpstat -g` sample of §2.3: the same
// cluster as Sample B, but running.
func clpaicGroupMap() status.Cluster {
	c := sampleB()
	for i := range c.Servers {
		c.Servers[i].State = status.Online
	}
	c.Groups[0].State, c.Groups[0].Current = status.Online, "116rhel94"
	c.Groups[1].State, c.Groups[1].Current = status.Online, "117rhel94"
	return c
}

// statesCluster has every group state, failure states on each kind of item, and the local server
// in third place so that index-based idioms cannot pass by accident with index 1.
func statesCluster() status.Cluster {
	failed := rsc("fip1", "fip", status.OnlineFailure)
	failed.Detail = "address 192.0.2.10 already in use"
	pending := rsc("exec-start", "exec", status.OnlinePending)
	pending.PID = 4242
	return status.Cluster{
		Name:        "states",
		LocalServer: "srv-c",
		Taken:       time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC),
		Servers: []status.Server{
			{Name: "srv-a", Comment: "Primary server", Address: "192.0.2.1", State: status.Online, Heartbeats: []status.Heartbeat{
				hb("lankhb1", status.Normal, kernelHB), hb("witnesshb1", status.Normal, "Witness Heartbeat"),
			}},
			{Name: "srv-b", Address: "192.0.2.2", State: status.Offline, Heartbeats: []status.Heartbeat{
				hb("lankhb1", status.Error, kernelHB), hb("witnesshb1", status.Caution, "Witness Heartbeat"),
			}},
			{Name: "srv-c", Address: "192.0.2.3", State: status.Online, Heartbeats: []status.Heartbeat{
				hb("lankhb1", status.Normal, kernelHB), hb("witnesshb1", status.Normal, "Witness Heartbeat"),
			}},
		},
		Groups: []status.Group{
			{Name: "g-online", Comment: "web", State: status.Online, Current: "srv-a", Servers: []string{"srv-a", "srv-c"},
				Resources: []status.Resource{rsc("exec-web", "exec", status.Online)}},
			{Name: "g-offline", State: status.Offline, Servers: []string{"srv-a", "srv-b"},
				Resources: []status.Resource{rsc("exec-off", "exec", status.Offline)}},
			{Name: "g-onpend", State: status.OnlinePending, Current: "srv-c", Servers: []string{"srv-c"},
				Resources: []status.Resource{pending}},
			{Name: "g-offpend", State: status.OfflinePending, Current: "srv-a",
				Resources: []status.Resource{rsc("exec-stop", "exec", status.OfflinePending)}},
			{Name: "g-onfail", State: status.OnlineFailure, Current: "srv-c",
				Resources: []status.Resource{failed, rsc("md1", "md", status.Online)}},
			{Name: "g-offfail", State: status.OfflineFailure, Current: "srv-a",
				Resources: []status.Resource{rsc("exec-bad", "exec", status.OfflineFailure)}},
		},
		Monitors: []status.Monitor{
			mon("fipw1", "fipw", status.Normal), mon("mdnw1", "mdnw", status.Caution),
			mon("mdw1", "mdw", status.Error), mon("genw-db", "genw", status.Suspend),
			mon("userw", "userw", status.Unknown), mon("psqlw", "psqlw", status.Offline),
		},
	}
}

// nameOf builds a name of exactly n bytes whose digits show where a cut happened.
func nameOf(prefix string, n int) string {
	var b strings.Builder
	b.WriteString(prefix)
	for i := 0; b.Len() < n; i++ {
		b.WriteByte(byte('0' + i%10))
	}
	return b.String()[:n]
}

// edgeCluster exercises the widths: names of 15, 16, 17, 33, 34 and 40 characters, an empty
// name, an empty state, non-ASCII names, control characters, a duplicated local server name and a
// group current on a server that is not configured.
func edgeCluster() status.Cluster {
	return status.Cluster{
		Name:        "edge\tcluster",
		LocalServer: nameOf("s16-", 16),
		Servers: []status.Server{
			{Name: nameOf("s16-", 16), State: status.Online, Heartbeats: []status.Heartbeat{
				hb(nameOf("h15-", 15), "", "empty state"),
				hb(nameOf("h16-", 16), status.Normal, kernelHB),
				hb(nameOf("h32-", 32), status.Normal, ""),
				hb(nameOf("h33-", 33), status.Normal, ""),
			}},
			{Name: nameOf("s17-", 17), State: status.Offline, Heartbeats: []status.Heartbeat{hb("", status.Offline, "")}},
			{Name: nameOf("s16-", 16), Comment: "duplicate of the local name", State: status.Online},
			{Name: nameOf("s33-", 33), State: status.Online},
			{Name: nameOf("s34-", 34), State: status.Online},
			{Name: "サーバー", Comment: "主系", State: status.Online},
			{Name: "", State: status.Online},
			{Name: "nl\nname", Comment: "line\nbreak", State: status.State("Odd\r\nState")},
		},
		Groups: []status.Group{
			{Name: nameOf("g40-", 40), State: status.Online, Current: nameOf("s34-", 34)},
			{Name: "グループ名前がとても長いグループ名前", State: status.Online, Current: "サーバー",
				Resources: []status.Resource{rsc("リソース名前がとても長いリソース", "exec", status.Online)}},
			{Name: "ghost", State: status.Online, Current: "not-a-server"},
			{Name: "", State: status.Offline},
		},
		Monitors: []status.Monitor{
			mon(nameOf("m17-", 17), "userw", status.Normal),
			mon(nameOf("m18-", 18), "userw", status.Normal),
			mon(nameOf("m34-", 34), "userw", status.Normal),
			mon(nameOf("m35-", 35), "userw", status.Normal),
		},
	}
}
