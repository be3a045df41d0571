package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/pki"
)

// TestJoin: how a member starting on an empty data directory enters the store, for each answer
// the other members can give.
func TestJoin(t *testing.T) {
	mc := MemberConfig{Name: "server3", Dir: "/var/lib/clpkit/etcd", PeerURL: "https://10.0.0.3:2380",
		InitialCluster: "server1=https://10.0.0.1:2380,server2=https://10.0.0.2:2380,server3=https://10.0.0.3:2380"}
	started := func(name, peer string) MemberInfo {
		return MemberInfo{ID: 1, Name: name, PeerURLs: []string{peer}, ClientURLs: []string{strings.Replace(peer, "2380", "2379", 1)}}
	}
	added := func(id uint64, peer string) MemberInfo {
		return MemberInfo{ID: id, PeerURLs: []string{peer}, Learner: true}
	}
	initial := func(id uint64, peer string) MemberInfo { return MemberInfo{ID: id, PeerURLs: []string{peer}} }
	s1, s2 := started("server1", "https://10.0.0.1:2380"), started("server2", "https://10.0.0.2:2380")
	for _, tc := range []struct {
		name     string
		remote   []MemberInfo
		existing bool
		initial  string
		err      string
	}{
		{name: "nobody answers", initial: mc.InitialCluster},
		{name: "first start of the configured servers", remote: []MemberInfo{s1, s2, initial(0x33, mc.PeerURL)}, initial: mc.InitialCluster},
		{name: "added with clpmember add to the configured servers", remote: []MemberInfo{s1, s2, added(0x33, mc.PeerURL)}, existing: true,
			initial: "server1=https://10.0.0.1:2380,server2=https://10.0.0.2:2380,server3=https://10.0.0.3:2380"},
		{name: "added with clpmember add", remote: []MemberInfo{s1, added(0x33, mc.PeerURL)}, existing: true,
			initial: "server1=https://10.0.0.1:2380,server3=https://10.0.0.3:2380"},
		{name: "another added member is named for the initial cluster", remote: []MemberInfo{s1, s2, added(0x44, "https://10.0.0.4:2380"), added(0x33, mc.PeerURL)}, existing: true,
			initial: "server1=https://10.0.0.1:2380,server2=https://10.0.0.2:2380,unstarted-44=https://10.0.0.4:2380,server3=https://10.0.0.3:2380"},
		{name: "not added", remote: []MemberInfo{s1, s2},
			err: "membership change refused: server3 (peer URL https://10.0.0.3:2380) is not a member of the running store (members: server1, server2): on a running server, run `clpmember add server3` first"},
		{name: "started before, data lost", remote: []MemberInfo{s1, s2, started("server3", mc.PeerURL)},
			err: "membership change refused: server3 is a member of the running store but its data directory /var/lib/clpkit/etcd is empty (lost or replaced): on a running server, run `clpmember remove server3` and then `clpmember add server3`, and start clpd here again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Join(mc, tc.remote)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || !errors.Is(err, ErrMember) {
					t.Fatalf("error %v\nwant   %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Existing != tc.existing || got.InitialCluster != tc.initial {
				t.Fatalf("existing %v, initial %q; want %v, %q", got.Existing, got.InitialCluster, tc.existing, tc.initial)
			}
		})
	}
}

// TestMembershipChange: a real store grows by a member that joins with Join's plan, serves
// from it, and shrinks again; the removed member stops, and stops again when restarted on its
// old data.
func TestMembershipChange(t *testing.T) {
	dir, f1 := testPKI(t)
	if err := pki.EnsureServer(dir, "server2", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	mc1 := startTLSMember(t, f1, 50, 500)
	tc, err := pki.ClientConfig(f1)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Connect(ctx, Options{Endpoints: []string{mc1.ClientURL}, Cluster: "c1", TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	mc2 := MemberConfig{
		Name: "server2", Dir: filepath.Join(t.TempDir(), "etcd"),
		ClientURL: fmt.Sprintf("https://127.0.0.1:%d", memberPort(t)),
		PeerURL:   fmt.Sprintf("https://127.0.0.1:%d", memberPort(t)),
		LogFile:   filepath.Join(t.TempDir(), "etcd.log"),
		TLS:       pki.ServerFiles(dir, "server2"), TickMs: 50, ElectionMs: 500,
	}
	mc2.InitialCluster = "server1=" + mc1.PeerURL + ",server2=" + mc2.PeerURL

	// Not added yet: refused, with the command that fixes it.
	remote, err := Discover(ctx, []string{mc1.ClientURL}, tc, 3*time.Second)
	if err != nil || len(remote) != 1 || remote[0].Name != "server1" {
		t.Fatalf("Discover: %v, %v", remote, err)
	}
	if _, err := Join(mc2, remote); err == nil || !strings.Contains(err.Error(), "run `clpmember add server2` first") {
		t.Fatalf("Join before add: %v", err)
	}

	// A one-member store keeps its quorum while the new member is added but not running: it is
	// a learner until promoted.
	ms, err := st.AddMember(ctx, mc2.PeerURL)
	if err != nil || len(ms) != 2 || ms[0].Started() || !ms[0].Learner {
		t.Fatalf("AddMember: %+v, %v", ms, err)
	}
	if _, err := st.cli.Put(ctx, "/clpkit/c1/k", "v"); err != nil {
		t.Fatalf("the store lost its quorum to an added member: %v", err)
	}
	if _, err := st.AddMember(ctx, mc2.PeerURL); err == nil || !strings.Contains(err.Error(), "is already the peer URL of member (unstarted)") {
		t.Fatalf("adding it twice: %v", err)
	}
	remote, _ = Discover(ctx, []string{mc1.ClientURL}, tc, 3*time.Second)
	plan, err := Join(mc2, remote)
	if err != nil || !plan.Existing {
		t.Fatalf("Join after add: %+v, %v", plan, err)
	}
	m2, err := StartMember(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := st.Promote(ctx, ms[0].ID); err != nil {
		t.Fatal(err)
	}
	ms, err = st.Members(ctx)
	if err != nil || len(ms) != 2 || !ms[0].Started() || !ms[1].Started() || ms[1].Name != "server2" || ms[1].Learner {
		t.Fatalf("members after the join: %+v, %v", ms, err)
	}
	if !ms[0].Leader && !ms[1].Leader {
		t.Errorf("no leader marked: %+v", ms)
	}
	tc2, _ := pki.ClientConfig(mc2.TLS)
	st2, err := Connect(ctx, Options{Endpoints: []string{mc2.ClientURL}, Cluster: "c1", TLS: tc2})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if r, err := st2.cli.Get(ctx, "/clpkit/c1/k"); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("reading through the new member: %v, %v", r, err)
	}

	if _, err := st.RemoveMember(ctx, "server9"); err == nil || err.Error() != "membership change refused: the store has no member server9 (members: server1, server2)" {
		t.Fatalf("removing an unknown member: %v", err)
	}
	ms, err = st.RemoveMember(ctx, "server2")
	if err != nil || len(ms) != 1 || ms[0].Name != "server1" {
		t.Fatalf("RemoveMember: %v, %v", ms, err)
	}
	select {
	case <-m2.Stopped():
	case <-time.After(10 * time.Second):
		t.Fatal("the removed member still runs")
	}
	m2.Close()
	if _, err := st.RemoveMember(ctx, "server1"); err == nil || !strings.Contains(err.Error(), "is the store's only member") {
		t.Fatalf("removing the last member: %v", err)
	}

	// Started again on its old data, the removed member stops on its own.
	mc2.NoWait = true
	m2, err = StartMember(ctx, mc2)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	select {
	case <-m2.Stopped():
	case <-time.After(15 * time.Second):
		t.Fatal("a removed member restarted on its data runs on")
	}
}
