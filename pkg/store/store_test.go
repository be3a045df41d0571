package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"clpkit/pkg/pki"
)

// newStore runs a real embedded etcd member with the cluster's certificates and connects to it as
// clpd does.
func newStore(t *testing.T) *Store {
	t.Helper()
	_, f := testPKI(t)
	mc := startTLSMember(t, f, 50, 500)
	tc, err := pki.ClientConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Connect(ctx, Options{Endpoints: []string{mc.ClientURL}, Cluster: "c1", TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestOwnershipAndFencing(t *testing.T) {
	s := newStore(t)
	ctx := deadline(t)
	l1, re, err := s.Join(ctx, "s1", 0, time.Second)
	if err != nil || re {
		t.Fatalf("join: %v, reattached %v", err, re)
	}
	if l1.TTL != time.Second {
		t.Fatalf("granted TTL %v, want 1s (election timeout 500 ms)", l1.TTL)
	}
	l2, _, err := s.Join(ctx, "s2", 0, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Snapshot(ctx)
	if err != nil || snap.Servers["s1"] != int64(l1.ID) || snap.Servers["s2"] != int64(l2.ID) {
		t.Fatalf("servers = %v, %v", snap.Servers, err)
	}
	tok, err := s.Acquire(ctx, "g", "s1", int64(l1.ID))
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.Acquire(ctx, "g", "s1", int64(l1.ID)); err != nil || again != tok {
		t.Fatalf("re-acquiring one's own group: %d, %v (want %d)", again, err, tok)
	}
	if _, err := s.Acquire(ctx, "g", "s2", int64(l2.ID)); !errors.Is(err, ErrOwnedElsewhere) {
		t.Fatalf("s2 took a group s1 owns: %v", err)
	}
	if err := s.Guard(ctx, "g", tok); err != nil {
		t.Fatalf("the owner's token is refused: %v", err)
	}
	// s1 stops renewing: its lease expires, its owner key goes, s2 takes the group with a new
	// token, and s1's old token is fenced.
	var tok2 int64
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if tok2, err = s.Acquire(ctx, "g", "s2", int64(l2.ID)); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("s2 never got the group after s1's lease expired: %v", err)
	}
	if tok2 <= tok {
		t.Fatalf("new token %d is not after the old %d", tok2, tok)
	}
	if err := s.Renew(ctx, int64(l1.ID)); !errors.Is(err, ErrLeaseGone) {
		t.Fatalf("renewing an expired lease: %v", err)
	}
	if err := s.Guard(ctx, "g", tok); !errors.Is(err, ErrFenced) {
		t.Fatalf("the stale token is not fenced: %v", err)
	}
	if err := s.SetMarker(ctx, "g", Marker{Server: "s1", State: MarkerOnline}, tok); !errors.Is(err, ErrFenced) {
		t.Fatalf("a fenced server could write the marker: %v", err)
	}
	if err := s.SetMarker(ctx, "g", Marker{Server: "s2", State: MarkerOnline}, tok2); err != nil {
		t.Fatal(err)
	}
	snap, _ = s.Snapshot(ctx)
	if snap.Markers["g"] != (Marker{Server: "s2", State: MarkerOnline}) {
		t.Fatalf("markers = %v", snap.Markers)
	}
	if o := snap.Owners["g"]; o.Server != "s2" || o.Token != tok2 || o.Lease != int64(l2.ID) {
		t.Fatalf("owners = %v", snap.Owners)
	}
	// A release with a stale token does nothing; with the right one the marker and the owner key
	// change together.
	if err := s.Release(ctx, "g", tok, nil); !errors.Is(err, ErrFenced) {
		t.Fatalf("a stale release: %v", err)
	}
	moving := &Marker{Server: "s2", State: MarkerMoving, Target: "s1"}
	if err := s.Release(ctx, "g", tok2, moving); err != nil {
		t.Fatal(err)
	}
	snap, _ = s.Snapshot(ctx)
	if _, owned := snap.Owners["g"]; owned || snap.Markers["g"] != *moving {
		t.Fatalf("after release: owners %v, markers %v", snap.Owners, snap.Markers)
	}
	// A restarted daemon re-attaches to its live lease.
	back, re, err := s.Join(ctx, "s2", int64(l2.ID), 10*time.Second)
	if err != nil || !re || back.ID != l2.ID {
		t.Fatalf("re-attaching to a live lease: %v, %v, %x", err, re, back.ID)
	}
	if err := s.Revoke(ctx, int64(l2.ID)); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, int64(l2.ID)); err != nil {
		t.Fatalf("revoking a lease that is gone: %v", err)
	}
	if snap, _ := s.Snapshot(ctx); snap.Servers["s2"] != 0 {
		t.Fatal("s2 is still online after leaving")
	}
	fresh, re, err := s.Join(ctx, "s2", int64(l2.ID), 10*time.Second)
	if err != nil || re || fresh.ID == l2.ID {
		t.Fatalf("joining after the old lease was revoked: %v, %v, %x", err, re, fresh.ID)
	}
}

// Watch signals a change, and again after the watch is re-established.
func TestWatchSignals(t *testing.T) {
	s := newStore(t)
	ctx := deadline(t)
	ch := s.Watch(ctx)
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("no first signal")
	}
	if _, _, err := s.Join(ctx, "s1", 0, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatal("no signal after a change")
	}
}

// A snapshot skips keys and values it does not know rather than failing on them.
func TestDecodeSnapshot(t *testing.T) {
	s := newStore(t)
	ctx := deadline(t)
	for k, v := range map[string]string{
		"/clpkit/c1/servers/s1":         "s1",
		"/clpkit/c1/servers/liar":       "s1",
		"/clpkit/c1/groups/g/active":    "{not json",
		"/clpkit/c1/groups/h/active":    `{"server":"s2","state":"online"}`,
		"/clpkit/c1/groups//owner":      "s1",
		"/clpkit/c1/groups/g/owner/x":   "s1",
		"/clpkit/c1/strange":            "x",
		"/clpkit/c1/status/s1":          "[]",
		"/clpkit/c1other/servers/s9":    "s9",
		"/clpkit/c1/servers/s1/extra/y": "s1",
	} {
		if _, err := s.cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Servers) != 1 || len(snap.Markers) != 1 || snap.Markers["h"].Server != "s2" || len(snap.Owners) != 0 || string(snap.Statuses["s1"]) != "[]" {
		t.Fatalf("snapshot: %+v", snap)
	}
}
