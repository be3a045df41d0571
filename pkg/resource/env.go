// Package resource holds the resource kinds a group is made of. The exec kind runs the operator's
// start.sh and stop.sh with the CLP_* environment of CLUSTERPRO (and the ARMS_* names of its
// Windows-era ancestor), each in its own process group, surviving a daemon restart.
package resource

import (
	"strconv"
	"strings"
)

// Event is what the cluster tells one script run: the CLP_* values of DESIGN.md §4.
type Event struct {
	// Event is START or FAILOVER; a stop script gets the value its start received.
	Event string `json:"event"`
	// Server is HOME on the group's first server, else OTHER.
	Server string `json:"server"`
	// Disk is SUCCESS, or FAILURE when a disk resource of the group failed.
	Disk string `json:"disk"`
	// Factor is why a stop script runs (GROUPSTOP, GROUPMOVE, ...); empty for start scripts.
	Factor   string `json:"factor,omitempty"`
	Group    string `json:"group"`
	Resource string `json:"resource"`
	// Priority is this server's place in the group's failover policy, 1 = highest.
	Priority int `json:"priority"`
	// PID is the asynchronous start script's process, given to its stop script.
	PID int `json:"pid,omitempty"`
	// ServerPrev is where the group ran before a move or failover; empty when unknown.
	ServerPrev string `json:"server_prev,omitempty"`
}

// Host holds the values that are the same for every script a daemon runs.
type Host struct {
	Path         string // CLP_PATH: the install prefix
	VersionFull  string
	VersionMajor string
	OSName       string
	OSVer        string
	// Cluster are the CLPKIT_SOCKET, CLPKIT_ALERT_LOG and CLPKIT_SERVER settings ("NAME=value")
	// of the daemon, so that clpgrp, clpstat or clplogcmd called from a script reach the cluster
	// that runs it.
	Cluster []string
}

// isClusterVar says whether kv sets one of the variables Host.Cluster sets; inherited values of
// them are dropped.
func isClusterVar(kv string) bool {
	for _, p := range []string{"CLPKIT_SOCKET=", "CLPKIT_ALERT_LOG=", "CLPKIT_SERVER="} {
		if strings.HasPrefix(kv, p) {
			return true
		}
	}
	return false
}

// base copies env without the variables a script must get from this daemon only: CLP_* and
// ARMS_* of the contract (a daemon started from a script must not leak its own), NOTIFY_SOCKET,
// and the CLPKIT_* variables Host.Cluster sets.
func base(env []string, h Host) []string {
	out := make([]string, 0, len(env)+32)
	for _, kv := range env {
		if strings.HasPrefix(kv, "CLP_") || strings.HasPrefix(kv, "ARMS_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		if isClusterVar(kv) {
			continue
		}
		out = append(out, kv)
	}
	return append(out, h.Cluster...)
}

// hostVars sets the values that are the same for every script.
func hostVars(out []string, h Host) []string {
	return append(out, "CLP_PATH="+h.Path, "CLP_VERSION_FULL="+h.VersionFull, "CLP_VERSION_MAJOR="+h.VersionMajor,
		"CLP_OSNAME="+h.OSName, "CLP_OSVER="+h.OSVer)
}

// MonitorEnviron is the environment of a monitor's scripts: a custom monitor's check (action "")
// or its recovery script, preaction.sh, which gets CLP_ACTION (RECOVERY, RESTART, FAILOVER or
// FINALACTION) and the monitor's counters.
func MonitorEnviron(env []string, h Host, monitor, action string, recovery, restart, failover int) []string {
	out := base(env, h)
	out = append(out, "CLP_MONITORNAME="+monitor)
	if action != "" {
		out = append(out, "CLP_ACTION="+action,
			"CLP_RECOVERYCOUNT="+strconv.Itoa(recovery),
			"CLP_RESTARTCOUNT="+strconv.Itoa(restart),
			"CLP_FAILOVERCOUNT="+strconv.Itoa(failover))
	}
	return hostVars(out, h)
}

// Environ returns base without any inherited CLP_*/ARMS_* variable (a daemon started from a
// script must not leak its own), plus the contract's variables for a script at scriptPath.
func Environ(env []string, h Host, e Event, scriptPath string) []string {
	out := base(env, h)
	dir := scriptPath
	if i := strings.LastIndexByte(dir, '/'); i > 0 {
		dir = dir[:i]
	}
	set := func(k, v string) { out = append(out, k+"="+v) }
	// The Windows-era ARMS_* names carry the same values as these, so scripts ported from ARM
	// keep working.
	event := func(prefix string) {
		set(prefix+"EVENT", e.Event)
		set(prefix+"SERVER", e.Server)
		set(prefix+"DISK", e.Disk)
		if e.Factor != "" {
			set(prefix+"FACTOR", e.Factor)
		}
		set(prefix+"GROUPNAME", e.Group)
	}
	event("CLP_")
	set("CLP_RESOURCENAME", e.Resource)
	set("CLP_PRIORITY", strconv.Itoa(e.Priority))
	if e.PID != 0 {
		set("CLP_PID", strconv.Itoa(e.PID))
	}
	if e.ServerPrev != "" {
		set("CLP_SERVER_PREV", e.ServerPrev)
	}
	out = hostVars(out, h)
	set("CLP_SCRIPT_PATH", dir)
	event("ARMS_")
	return out
}
