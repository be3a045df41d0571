package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newStore runs a real embedded etcd member for the test.
func newStore(t *testing.T) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	m, err := StartMember(ctx, MemberConfig{Name: "t", Dir: t.TempDir(), ClientURL: client, PeerURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	s, err := Connect(ctx, []string{client}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOwnershipAndFencing(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	l1, err := s.Join(ctx, "s1", 0, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := s.Join(ctx, "s2", 0, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	on, _ := s.OnlineServers(ctx)
	if !on["s1"] || !on["s2"] {
		t.Fatalf("online = %v", on)
	}
	tok, err := s.Acquire(ctx, "g", "s1", l1)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.Acquire(ctx, "g", "s1", l1); err != nil || again != tok {
		t.Fatalf("re-acquiring one's own group: %d, %v (want %d)", again, err, tok)
	}
	if _, err := s.Acquire(ctx, "g", "s2", l2); !errors.Is(err, ErrOwnedElsewhere) {
		t.Fatalf("s2 took a group s1 owns: %v", err)
	}
	if err := s.Guard(ctx, "g", tok); err != nil {
		t.Fatalf("the owner's token is refused: %v", err)
	}
	// s1 stops renewing: its lease expires, its owner key goes, s2 takes the group with a new
	// token, and s1's old token is fenced.
	deadline := time.Now().Add(10 * time.Second)
	var tok2 int64
	for time.Now().Before(deadline) {
		if tok2, err = s.Acquire(ctx, "g", "s2", l2); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("s2 never got the group after s1's lease expired: %v", err)
	}
	if tok2 <= tok {
		t.Fatalf("new token %d is not after the old %d", tok2, tok)
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
	if m, _ := s.Markers(ctx); m["g"] != (Marker{Server: "s2", State: MarkerOnline}) {
		t.Fatalf("markers = %v", m)
	}
	owners, _ := s.Owners(ctx)
	if owners["g"] != (Owner{Server: "s2", Token: tok2}) {
		t.Fatalf("owners = %v", owners)
	}
	// A release with a stale token does nothing; with the right one the group is free.
	_ = s.Release(ctx, "g", tok)
	if owners, _ := s.Owners(ctx); owners["g"].Server != "s2" {
		t.Fatal("a stale release freed the group")
	}
	if err := s.Release(ctx, "g", tok2); err != nil {
		t.Fatal(err)
	}
	if owners, _ := s.Owners(ctx); len(owners) != 0 {
		t.Fatalf("owners after release = %v", owners)
	}
	// A restarted daemon re-attaches to its live lease.
	back, err := s.Join(ctx, "s2", int64(l2.ID), 10*time.Second)
	if err != nil || back.ID != l2.ID {
		t.Fatalf("re-attaching to a live lease: %v, %x", err, back.ID)
	}
	if err := s.Leave(ctx, l2); err != nil {
		t.Fatal(err)
	}
	if on, _ := s.OnlineServers(ctx); on["s2"] {
		t.Fatal("s2 is still online after leaving")
	}
	fresh, err := s.Join(ctx, "s2", int64(l2.ID), 10*time.Second)
	if err != nil || fresh.ID == l2.ID {
		t.Fatalf("joining after the old lease was revoked: %v, %x", err, fresh.ID)
	}
}
