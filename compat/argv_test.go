package compat

import (
	"slices"
	"testing"
)

func TestReorder(t *testing.T) {
	value := func(f string) bool { return f == "-h" || f == "-a" || f == "--apito" || f == "-n" }
	tests := []struct {
		in, want []string
	}{
		{[]string{"-s", "failover1", "-h", "server1"}, []string{"-s", "-h", "server1", "failover1"}},
		{[]string{"-m", "failover1", "-a", "server2", "--apito", "30"}, []string{"-m", "-a", "server2", "--apito", "30", "failover1"}},
		{[]string{"-n", "failover1"}, []string{"-n", "failover1"}},
		{[]string{"-t"}, []string{"-t"}},
		{[]string{"failover1", "-t", "-f"}, []string{"-t", "-f", "failover1"}},
		{[]string{"-s", "--apito=5", "g"}, []string{"-s", "--apito=5", "g"}},
		{[]string{"-h"}, []string{"-h"}},
		{[]string{"-s", "--", "-odd"}, []string{"-s", "--", "-odd"}},
		{nil, []string{}},
	}
	for _, tt := range tests {
		if got := Reorder(tt.in, value); !slices.Equal(got, tt.want) {
			t.Errorf("Reorder(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzReorder(f *testing.F) {
	f.Add("-s\x00g\x00-h\x00x")
	f.Add("--\x00-a")
	f.Fuzz(func(t *testing.T, joined string) {
		in := splitNUL(joined)
		out := Reorder(in, func(s string) bool { return s == "-h" })
		if len(out) != len(in) {
			t.Fatalf("Reorder(%q) = %q: lost or invented arguments", in, out)
		}
	})
}

func splitNUL(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
