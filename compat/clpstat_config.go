package compat

import (
	"errors"
	"io"
	"strings"

	"clpkit/pkg/status"
)

// The configuration displays of clpstat (--cl, --sv, --hb, --grp, --rsc, --mon and -i, research
// note §2.5) share the CLUSTER INFORMATION frame and the columns of --mon (configHeader,
// configItem: the colon in column 61). Each item opens with `  [KindN : name]`, N counting from
// 0 in configuration order, and its settings follow one per line. Two scripts fix the rest:
//
//   - genw-arpTable.sh takes the server names with `clpstat --sv | grep "Server" | awk '{print
//     $3}' | sed 's/]//g'`, so --sv prints "Server" on its bracket lines and nowhere else;
//   - it takes a floating IP with `clpstat --rsc fip1 | grep IP | awk -F: '{print $2}'`, which
//     gives the blank after the colon too (" 10.0.0.100"): the resource's parameters are
//     printed as settings, and nothing else of --rsc spells "IP".

// Errors wrapped, with the name, by the configuration displays asked for a name that the
// cluster does not have. Nothing is written then.
var (
	ErrUnknownServer    = errors.New("no such server")
	ErrUnknownHeartbeat = errors.New("no such heartbeat resource")
	ErrUnknownGroup     = errors.New("no such group")
	ErrUnknownResource  = errors.New("no such group resource")
)

// groupType is the Type of every group: clpkit has failover groups only.
const groupType = "failover"

// WriteClusterConfig writes `clpstat --cl`: the cluster's name and comment, and with detail
// (--detail) its settings, c.Settings in their order.
func WriteClusterConfig(w io.Writer, c status.Cluster, detail bool) error {
	return writeConfigDisplay(w, c, "", nil, func(b *strings.Builder, c status.Cluster, _ string) bool {
		clusterConfig(b, c, detail)
		return true
	})
}

// WriteServerConfig writes `clpstat --sv [name]`: each server, or those named name, as
// `[ServerN : name]` with its Address and Comment.
func WriteServerConfig(w io.Writer, c status.Cluster, name string) error {
	return writeConfigDisplay(w, c, name, ErrUnknownServer, serverConfig)
}

// WriteHeartbeatConfig writes `clpstat --hb [name]`: each heartbeat resource, or those named
// name, as `[HBN : name]` with its Type and Comment. The resources and their numbers are those
// of `clpstat -n` (heartbeatList).
func WriteHeartbeatConfig(w io.Writer, c status.Cluster, name string) error {
	return writeConfigDisplay(w, c, name, ErrUnknownHeartbeat, heartbeatConfig)
}

// WriteGroupConfig writes `clpstat --grp [name]`: each group, or those named name, as
// `[GroupN : name]` with its Type, Comment and Startup Server, the failover priority list
// separated by blanks.
func WriteGroupConfig(w io.Writer, c status.Cluster, name string) error {
	return writeConfigDisplay(w, c, name, ErrUnknownGroup, groupConfig)
}

// WriteResourceConfig writes `clpstat --rsc [name]`: each group resource, or those named name,
// as `[ResourceN : name]` with its Type, Comment and then its parameters (Resource.Params) in
// their order. N counts the resources of all groups, in configuration order, so that it names
// one resource of the cluster like the N of the other displays.
func WriteResourceConfig(w io.Writer, c status.Cluster, name string) error {
	return writeConfigDisplay(w, c, name, ErrUnknownResource, resourceConfig)
}

// WriteConfig writes `clpstat -i`: every configuration display in one frame, in the order
// --cl (with detail, --detail), --sv, --hb, --grp, --rsc, --mon.
func WriteConfig(w io.Writer, c status.Cluster, detail bool) error {
	return writeConfigDisplay(w, c, "", nil, func(b *strings.Builder, c status.Cluster, _ string) bool {
		clusterConfig(b, c, detail)
		serverConfig(b, c, "")
		heartbeatConfig(b, c, "")
		groupConfig(b, c, "")
		resourceConfig(b, c, "")
		monitorConfig(b, c, "")
		return true
	})
}

// clusterConfig appends the `[Cluster : name]` block. The model has no comment for the cluster
// itself, so the Comment line is there, for the scripts that look for it, and empty.
func clusterConfig(b *strings.Builder, c status.Cluster, detail bool) {
	b.WriteString("  [Cluster : " + clean(c.Name) + "]\n")
	configItem(b, "Comment", "")
	if detail {
		for _, p := range c.Settings {
			configItem(b, p.Name, p.Value)
		}
	}
}

func serverConfig(b *strings.Builder, c status.Cluster, name string) bool {
	return configBlocks(b, "Server", c.Servers, name, func(s status.Server) string { return s.Name }, func(s status.Server) {
		configItem(b, "Address", s.Address)
		configItem(b, "Comment", s.Comment)
	})
}

func heartbeatConfig(b *strings.Builder, c status.Cluster, name string) bool {
	return configBlocks(b, "HB", heartbeatList(c), name, func(h status.Heartbeat) string { return h.Name }, func(h status.Heartbeat) {
		configItem(b, "Type", heartbeatType(h.Name))
		configItem(b, "Comment", h.Comment)
	})
}

func groupConfig(b *strings.Builder, c status.Cluster, name string) bool {
	return configBlocks(b, "Group", c.Groups, name, func(g status.Group) string { return g.Name }, func(g status.Group) {
		configItem(b, "Type", groupType)
		configItem(b, "Comment", g.Comment)
		configItem(b, "Startup Server", strings.Join(g.Servers, " "))
	})
}

// resourceConfig numbers the resources of all groups in one sequence (see WriteResourceConfig).
func resourceConfig(b *strings.Builder, c status.Cluster, name string) bool {
	var all []status.Resource
	for _, g := range c.Groups {
		all = append(all, g.Resources...)
	}
	return configBlocks(b, "Resource", all, name, func(r status.Resource) string { return r.Name }, func(r status.Resource) {
		configItem(b, "Type", r.Type)
		configItem(b, "Comment", r.Comment)
		for _, p := range r.Params {
			configItem(b, p.Name, p.Value)
		}
	})
}

// heartbeatType is the Type of a heartbeat resource: its name without the trailing number, which
// is how CLUSTERPRO names them (lanhb1 is of type lanhb, §2.5) and how clpkit names its own
// (leasehb1, witnesshb1). The model carries no type of its own for heartbeats.
func heartbeatType(name string) string {
	return strings.TrimRight(name, "0123456789")
}
