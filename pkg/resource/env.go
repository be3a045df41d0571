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
}

// Environ returns base without any inherited CLP_*/ARMS_* variable (a daemon started from a
// script must not leak its own), plus the contract's variables for a script at scriptPath.
func Environ(base []string, h Host, e Event, scriptPath string) []string {
	out := make([]string, 0, len(base)+24)
	for _, kv := range base {
		if strings.HasPrefix(kv, "CLP_") || strings.HasPrefix(kv, "ARMS_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		out = append(out, kv)
	}
	dir := scriptPath
	if i := strings.LastIndexByte(dir, '/'); i > 0 {
		dir = dir[:i]
	}
	set := func(k, v string) { out = append(out, k+"="+v) }
	set("CLP_EVENT", e.Event)
	set("CLP_SERVER", e.Server)
	set("CLP_DISK", e.Disk)
	if e.Factor != "" {
		set("CLP_FACTOR", e.Factor)
	}
	set("CLP_GROUPNAME", e.Group)
	set("CLP_RESOURCENAME", e.Resource)
	set("CLP_PRIORITY", strconv.Itoa(e.Priority))
	if e.PID != 0 {
		set("CLP_PID", strconv.Itoa(e.PID))
	}
	if e.ServerPrev != "" {
		set("CLP_SERVER_PREV", e.ServerPrev)
	}
	set("CLP_PATH", h.Path)
	set("CLP_VERSION_FULL", h.VersionFull)
	set("CLP_VERSION_MAJOR", h.VersionMajor)
	set("CLP_OSNAME", h.OSName)
	set("CLP_OSVER", h.OSVer)
	set("CLP_SCRIPT_PATH", dir)
	// The Windows-era names carry the same values, so scripts ported from ARM keep working.
	set("ARMS_EVENT", e.Event)
	set("ARMS_SERVER", e.Server)
	set("ARMS_DISK", e.Disk)
	if e.Factor != "" {
		set("ARMS_FACTOR", e.Factor)
	}
	set("ARMS_GROUPNAME", e.Group)
	return out
}
