// Package status is the typed model of what a cluster is doing: the daemon fills it, every renderer
// (legacy clpstat text, JSON, metrics) reads it. It is a leaf: it imports nothing of clpkit.
package status

import "time"

// State is the word an operator sees in clpstat. The values are the legacy vocabulary, byte for
// byte, because scripts compare them with grep and string equality.
type State string

// States of servers, groups, resources, heartbeats and monitors.
const (
	Online         State = "Online"
	Offline        State = "Offline"
	OnlinePending  State = "Online Pending"
	OfflinePending State = "Offline Pending"
	OnlineFailure  State = "Online Failure"
	OfflineFailure State = "Offline Failure"
	Normal         State = "Normal"
	Caution        State = "Caution"
	Error          State = "Error"
	Suspend        State = "Suspend"
	Unknown        State = "Unknown"
)

// Failed reports whether s is one of the failure states.
func (s State) Failed() bool { return s == OnlineFailure || s == OfflineFailure || s == Error }

// Pending reports whether s is a transition in progress.
func (s State) Pending() bool { return s == OnlinePending || s == OfflinePending }

// Cluster is one snapshot of the whole cluster as seen from LocalServer.
type Cluster struct {
	Name string `json:"name"`
	// LocalServer is the server that answered; renderers mark it with '*'.
	LocalServer string `json:"local_server"`
	// Suspended is true after clpcl --suspend: groups keep running, nothing is started or stopped.
	Suspended bool      `json:"suspended"`
	Servers   []Server  `json:"servers"`
	Groups    []Group   `json:"groups"`
	Monitors  []Monitor `json:"monitors"`
	// Witness is the third member of a two-server cluster's store, "" when there is none; its
	// state shows as each server's witness heartbeat.
	Witness string `json:"witness,omitempty"`
	// Settings are the cluster's timings and store as clpstat --cl --detail shows them.
	Settings []Param   `json:"settings,omitempty"`
	Taken    time.Time `json:"taken"`
}

// Server is one member of the cluster, in configuration order.
type Server struct {
	Name       string      `json:"name"`
	Comment    string      `json:"comment"`
	Address    string      `json:"address"`
	State      State       `json:"state"`
	Heartbeats []Heartbeat `json:"heartbeats"`
}

// Heartbeat is one path by which a server proves it is alive. Comment is the type text shown in
// clpstat's comment column (for example "etcd Lease Heartbeat").
type Heartbeat struct {
	Name    string `json:"name"`
	State   State  `json:"state"`
	Comment string `json:"comment"`
}

// Group is a failover group, in configuration order.
type Group struct {
	Name    string `json:"name"`
	Comment string `json:"comment"`
	State   State  `json:"state"`
	// Current is the server running the group, or "" when it runs nowhere.
	Current string `json:"current"`
	// Servers is the failover priority list, first = highest priority (CLP_SERVER=HOME there).
	Servers   []string   `json:"servers"`
	Resources []Resource `json:"resources"`
}

// Resource is one resource of a group, in configuration order.
type Resource struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Comment string `json:"comment"`
	State   State  `json:"state"`
	// PID is the process of an asynchronous start script while it runs, else 0.
	PID int `json:"pid,omitempty"`
	// Detail says why the resource is in a failure state, for humans; empty otherwise.
	Detail string `json:"detail,omitempty"`
	// Params are the resource's settings as clpstat --rsc shows them, in display order
	// ("IP Address", "Device", "Mount Point", ...).
	Params []Param `json:"params,omitempty"`
}

// Param is one named setting shown by the configuration displays of clpstat.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Monitor is one monitor resource, in configuration order.
type Monitor struct {
	Name string `json:"name"`
	// Type is the monitor kind as CLUSTERPRO names it (pidw, genw, ipw, diskw, miiw, psw, userw).
	Type    string `json:"type"`
	Comment string `json:"comment"`
	// State is the cluster-wide word of the default clpstat block: Normal (normal wherever it
	// monitors), Caution (in error on some servers), Error (in error on every server that
	// monitors), Suspend, or Offline (monitoring nowhere).
	State State `json:"state"`
	// Target is the resource the monitor watches or runs with ("" for none).
	Target string `json:"target,omitempty"`
	// RecoveryTarget is the resource, group or "LocalServer" its recovery acts on.
	RecoveryTarget string `json:"recovery_target,omitempty"`
	// Servers is the monitor on each server, in configuration order.
	Servers []MonitorOnServer `json:"servers"`
}

// MonitorOnServer is one monitor on one server.
type MonitorOnServer struct {
	Server string `json:"server"`
	// State is Online (monitoring, normal), Error, Suspend, Offline (not monitoring) or Unknown.
	State State `json:"state"`
	// Detail says why the monitor is in error, for humans.
	Detail string `json:"detail,omitempty"`
	// Counters are the recovery actions taken on this server since they were last reset.
	Counters Counters `json:"counters"`
}

// Counters count a monitor's recovery actions on one server, against their thresholds.
type Counters struct {
	Recovery      int    `json:"recovery"`
	Restart       int    `json:"restart"`
	Failover      int    `json:"failover"`
	FinalAction   int    `json:"final_action"`
	RecoveryMax   int    `json:"recovery_max"`
	RestartMax    int    `json:"restart_max"`
	FailoverMax   int    `json:"failover_max"`
	FinalActionIs string `json:"final_action_is"`
}
