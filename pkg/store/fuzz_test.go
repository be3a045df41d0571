package store

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"go.etcd.io/etcd/api/v3/mvccpb"
)

// What clpd reads back from the store is written by every server of the cluster, by any version
// of clpd, or by an operator with etcdctl. decodeSnapshot must take any keys and values without
// panicking, keep only what it understands, and never let a key outside the cluster's prefix in.

const fuzzPrefix = "/clpkit/c1"

// checkSnapshot checks what decodeSnapshot may return for kvs, whatever they hold.
func checkSnapshot(t *testing.T, kvs []*mvccpb.KeyValue, snap Snapshot) {
	t.Helper()
	has := func(key string, pred func(*mvccpb.KeyValue) bool) bool {
		for _, kv := range kvs {
			if string(kv.Key) == key && pred(kv) {
				return true
			}
		}
		return false
	}
	anyValue := func(*mvccpb.KeyValue) bool { return true }
	name := func(kind, n string) {
		if n == "" || strings.Contains(n, "/") {
			t.Fatalf("%s name %q: empty or with a slash", kind, n)
		}
	}
	for s, lease := range snap.Servers {
		name("server", s)
		if !has(fuzzPrefix+"/servers/"+s, func(kv *mvccpb.KeyValue) bool { return string(kv.Value) == s && kv.Lease == lease }) {
			t.Fatalf("server %s (lease %d) is in no key whose value names it", s, lease)
		}
	}
	for g, o := range snap.Owners {
		name("group", g)
		if !has(fuzzPrefix+"/groups/"+g+"/owner", func(kv *mvccpb.KeyValue) bool {
			return string(kv.Value) == o.Server && kv.CreateRevision == o.Token && kv.Lease == o.Lease
		}) {
			t.Fatalf("owner %+v of %s is in no owner key", o, g)
		}
	}
	for g, m := range snap.Markers {
		name("group", g)
		if m.Server == "" {
			t.Fatalf("marker of %s names no server: %+v", g, m)
		}
		if !has(fuzzPrefix+"/groups/"+g+"/active", anyValue) {
			t.Fatalf("marker of %s is in no active key", g)
		}
	}
	for s := range snap.Statuses {
		name("status of server", s)
		if !has(fuzzPrefix+"/status/"+s, anyValue) {
			t.Fatalf("status of %s is in no status key", s)
		}
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	// Two keys with their values, and the lease and create revision both carry: what a Get of the
	// cluster's prefix returns, with realistic keys of every kind, and some that are not.
	seeds := []struct {
		k1, v1, k2, v2 string
	}{
		{"/clpkit/c1/servers/s1", "s1", "/clpkit/c1/groups/g1/owner", "s1"},
		{"/clpkit/c1/groups/g1/active", `{"server":"s1","state":"online"}`, "/clpkit/c1/groups/g1/owner", "s1"},
		{"/clpkit/c1/groups/g1/active", `{"server":"s1","state":"moving","target":"s2"}`, "/clpkit/c1/status/s2", `{"groups":[{"name":"g2","state":"Online","current":"s2"}]}`},
		{"/clpkit/c1/groups/g1/active", `{"server":"","state":"online"}`, "/clpkit/c1/servers/s2", "s3"},
		{"/clpkit/c1/groups/g1/active", `{"server":1}`, "/clpkit/c1/groups//owner", "s1"},
		{"/clpkit/c1/groups/g1/x/active", "{}", "/clpkit/c1/servers/a/b", "a/b"},
		{"/clpkit/c2/servers/s1", "s1", "/clpkit/c1", ""},
		{"/clpkit/c1/", "", "/clpkit/c1/status/", "x"},
		{"/clpkit/c1/members/s1", "http://192.0.2.1:2380", "/clpkit/c1/groups/g1/active", "\xff\xfe"},
	}
	for _, s := range seeds {
		f.Add(s.k1, []byte(s.v1), s.k2, []byte(s.v2), int64(0x694d), int64(42))
	}
	f.Fuzz(func(t *testing.T, k1 string, v1 []byte, k2 string, v2 []byte, lease, create int64) {
		kvs := []*mvccpb.KeyValue{
			{Key: []byte(k1), Value: v1, Lease: lease, CreateRevision: create},
			{Key: []byte(k2), Value: v2, Lease: lease + 1, CreateRevision: create + 1},
		}
		snap := decodeSnapshot(fuzzPrefix, 7, kvs)
		if snap.Rev != 7 || snap.Servers == nil || snap.Owners == nil || snap.Markers == nil || snap.Statuses == nil {
			t.Fatalf("snapshot not whole: %+v", snap)
		}
		checkSnapshot(t, kvs, snap)

		// A key outside the prefix changes nothing.
		inside := decodeSnapshot(fuzzPrefix, 7, kvs[:1])
		other := append(kvs[:1:1], &mvccpb.KeyValue{Key: []byte("/clpkit/c10/" + k2), Value: v2})
		if got := decodeSnapshot(fuzzPrefix, 7, other); !equalSnapshots(got, inside) {
			t.Fatalf("a key of cluster c10 changed c1's snapshot:\n%+v\n%+v", got, inside)
		}
	})
}

func equalSnapshots(a, b Snapshot) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// FuzzMarker checks that every marker a server writes is read back as written, whatever its
// names hold, and that a marker value another writer damaged is skipped, never half-read.
func FuzzMarker(f *testing.F) {
	f.Add("g1", "s1", MarkerOnline, "", []byte(`{"server":"s1","state":"online"}`))
	f.Add("failover-app", "server2", MarkerMoving, "server1", []byte(`{"server":"s1","state":"moving","target":"s2","extra":[1,2]}`))
	f.Add("g", "s", MarkerOrphaned, "", []byte(`{"server":"s1","state":`))
	f.Add("日本語", "サーバ", "", "", []byte(`null`))
	f.Fuzz(func(t *testing.T, group, server, state, target string, raw []byte) {
		if group == "" || strings.Contains(group, "/") {
			return // not a group name: config refuses it
		}
		m := Marker{Server: server, State: state, Target: target}
		v, err := encodeMarker(m)
		if err != nil {
			t.Fatalf("encodeMarker(%+v): %v", m, err)
		}
		key := []byte(fuzzPrefix + "/groups/" + group + "/active")
		snap := decodeSnapshot(fuzzPrefix, 1, []*mvccpb.KeyValue{{Key: key, Value: []byte(v)}})
		got, ok := snap.Markers[group]
		switch {
		case server == "" && ok:
			t.Fatalf("a marker naming no server was kept: %+v", got)
		case server != "" && !ok:
			t.Fatalf("marker %+v (%s) was not read back", m, v)
		case ok && utf8.ValidString(server) && utf8.ValidString(state) && utf8.ValidString(target) && got != m:
			t.Fatalf("marker %+v read back as %+v", m, got)
		}

		// Whatever else sits in the key: kept whole when it decodes with a server, else skipped.
		snap = decodeSnapshot(fuzzPrefix, 1, []*mvccpb.KeyValue{{Key: key, Value: raw}})
		var want Marker
		decodes := json.Unmarshal(raw, &want) == nil && want.Server != ""
		got, ok = snap.Markers[group]
		if ok != decodes || (ok && got != want) {
			t.Fatalf("value %q read as %+v (kept %v), want %+v (kept %v)", raw, got, ok, want, decodes)
		}
	})
}
