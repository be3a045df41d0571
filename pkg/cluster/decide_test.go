package cluster

import (
	"slices"
	"testing"

	"clpkit/pkg/config"
	"clpkit/pkg/status"
)

func cres(name string, deps ...string) config.Resource {
	return config.Resource{Name: name, Depends: deps}
}

func TestStartOrder(t *testing.T) {
	tests := []struct {
		name string
		rs   []config.Resource
		want []int
	}{
		{"config order without dependencies", []config.Resource{cres("a"), cres("b"), cres("c")}, []int{0, 1, 2}},
		{"dependency first", []config.Resource{cres("exec", "fip"), cres("fip")}, []int{1, 0}},
		{"chain", []config.Resource{cres("c", "b"), cres("b", "a"), cres("a")}, []int{2, 1, 0}},
		{"diamond keeps config order among ready ones", []config.Resource{cres("top", "l", "r"), cres("l", "base"), cres("r", "base"), cres("base")}, []int{3, 1, 2, 0}},
		{"unknown dependency is ignored", []config.Resource{cres("a", "nosuch")}, []int{0}},
		{"cycle leaves its members out instead of looping", []config.Resource{cres("a", "b"), cres("b", "a"), cres("c")}, []int{2}},
		{"empty", nil, []int{}},
	}
	for _, tt := range tests {
		if got := startOrder(tt.rs); !slices.Equal(got, tt.want) {
			t.Errorf("%s: startOrder = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := stopOrder([]config.Resource{cres("exec", "fip"), cres("fip")}); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("stopOrder = %v, want the dependant first", got)
	}
}

func TestGroupState(t *testing.T) {
	on, off, onF, offF := status.Online, status.Offline, status.OnlineFailure, status.OfflineFailure
	tests := []struct {
		op   string
		rs   []status.State
		want status.State
	}{
		{"", []status.State{on, on}, status.Online},
		{"", []status.State{off, off}, status.Offline},
		{"", nil, status.Offline},
		{"", []status.State{on, onF}, status.OnlineFailure},
		{"", []status.State{off, onF}, status.OnlineFailure},
		{"", []status.State{on, offF}, status.OfflineFailure},
		{"", []status.State{on, off}, status.OnlineFailure},
		{recStart, []status.State{on, off}, status.OnlinePending},
		{recStop, []status.State{on, off}, status.OfflinePending},
		{recStart, []status.State{onF}, status.OnlinePending},
	}
	for _, tt := range tests {
		if got := groupState(tt.op, tt.rs); got != tt.want {
			t.Errorf("groupState(%q, %v) = %q, want %q", tt.op, tt.rs, got, tt.want)
		}
	}
}

func TestMustKeepOwnership(t *testing.T) {
	tests := []struct {
		rs   []status.State
		want bool
	}{
		{[]status.State{status.Offline}, false},
		{[]status.State{status.Offline, status.OnlineFailure}, false},
		{[]status.State{status.Online}, true},
		{[]status.State{status.Offline, status.OfflineFailure}, true},
		{[]status.State{status.OnlinePending}, true},
		{[]status.State{status.OfflinePending}, true},
	}
	for _, tt := range tests {
		if got := mustKeepOwnership(tt.rs); got != tt.want {
			t.Errorf("mustKeepOwnership(%v) = %v, want %v", tt.rs, got, tt.want)
		}
	}
}

func TestServerRole(t *testing.T) {
	policy := []string{"s1", "s2", "s3"}
	tests := []struct {
		server string
		role   string
		prio   int
	}{
		{"s1", "HOME", 1}, {"s2", "OTHER", 2}, {"s3", "OTHER", 3}, {"x", "OTHER", 4},
	}
	for _, tt := range tests {
		role, prio := serverRole(policy, tt.server)
		if role != tt.role || prio != tt.prio {
			t.Errorf("serverRole(%s) = %s %d, want %s %d", tt.server, role, prio, tt.role, tt.prio)
		}
	}
}

func TestMoveTarget(t *testing.T) {
	policy := []string{"s1", "s2", "s3"}
	tests := []struct {
		from   string
		online map[string]bool
		want   string
	}{
		{"s1", map[string]bool{"s1": true, "s2": true, "s3": true}, "s2"},
		{"s1", map[string]bool{"s1": true, "s3": true}, "s3"},
		{"s2", map[string]bool{"s1": true, "s2": true}, "s1"},
		{"s1", map[string]bool{"s1": true}, ""},
		{"", map[string]bool{"s2": true}, "s2"},
		{"s1", nil, ""},
	}
	for _, tt := range tests {
		if got := moveTarget(policy, tt.from, tt.online); got != tt.want {
			t.Errorf("moveTarget(from %s, %v) = %q, want %q", tt.from, tt.online, got, tt.want)
		}
	}
}
