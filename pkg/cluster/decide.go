package cluster

import (
	"clpkit/pkg/config"
	"clpkit/pkg/status"
)

// startOrder returns resource indexes so that every resource comes after the ones it depends on;
// among resources free to go, configuration order wins, so the order is stable and predictable.
// The config loader rejects cycles; a cycle here would leave its members out rather than loop.
func startOrder(rs []config.Resource) []int {
	idx := make(map[string]int, len(rs))
	for i, r := range rs {
		idx[r.Name] = i
	}
	done := make([]bool, len(rs))
	out := make([]int, 0, len(rs))
	for len(out) < len(rs) {
		progressed := false
		for i, r := range rs {
			if done[i] {
				continue
			}
			ready := true
			for _, d := range r.Depends {
				if j, ok := idx[d]; ok && !done[j] {
					ready = false
					break
				}
			}
			if ready {
				done[i] = true
				out = append(out, i)
				progressed = true
				break
			}
		}
		if !progressed {
			break
		}
	}
	return out
}

// stopOrder is startOrder reversed: dependants stop before what they depend on.
func stopOrder(rs []config.Resource) []int {
	o := startOrder(rs)
	for i, j := 0, len(o)-1; i < j; i, j = i+1, j-1 {
		o[i], o[j] = o[j], o[i]
	}
	return o
}

// groupState derives a group's state from its resources' states and the operation in progress
// ("" when none). A group is Online only when every resource is; failures win over everything
// but a running operation, so an operator sees at once that something needs attention.
func groupState(op string, rs []status.State) status.State {
	switch op {
	case recStart:
		return status.OnlinePending
	case recStop:
		return status.OfflinePending
	}
	online, offline := 0, 0
	for _, s := range rs {
		switch s {
		case status.OnlineFailure:
			return status.OnlineFailure
		case status.OfflineFailure:
			return status.OfflineFailure
		case status.Online:
			online++
		case status.Offline:
			offline++
		}
	}
	switch {
	case offline == len(rs):
		return status.Offline
	case online == len(rs):
		return status.Online
	default:
		// Part up, part down, no failure recorded: not what anyone asked for.
		return status.OnlineFailure
	}
}

// mustKeepOwnership reports whether a server must keep a group's owner key: while anything of
// the group may still run here (Online, pending, or a failed stop), no other server may start it.
func mustKeepOwnership(rs []status.State) bool {
	for _, s := range rs {
		if s != status.Offline && s != status.OnlineFailure {
			return true
		}
	}
	return false
}

// serverRole returns CLP_SERVER and CLP_PRIORITY for server in a group's failover policy.
func serverRole(policy []string, server string) (string, int) {
	for i, s := range policy {
		if s == server {
			if i == 0 {
				return "HOME", 1
			}
			return "OTHER", i + 1
		}
	}
	return "OTHER", len(policy) + 1
}

// moveTarget picks where a group goes when moved without -a: the first server in its policy,
// other than from, that is Online. "" means nowhere.
func moveTarget(policy []string, from string, online map[string]bool) string {
	for _, s := range policy {
		if s != from && online[s] {
			return s
		}
	}
	return ""
}
