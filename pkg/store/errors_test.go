package store

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// closedPort returns a loopback address nothing listens on: every dial is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(memberPort(t)))
}

// silentPeer returns the address of a listener that takes connections and never answers, as a
// frozen etcd does.
func silentPeer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case <-done:
				c.Close()
				return
			default:
				held = append(held, c)
			}
		}
	}()
	return l.Addr().String()
}

// A Store call against an etcd that cannot be reached ends at the caller's deadline with an error
// that says what was being done and still is context.DeadlineExceeded underneath: callers tell a
// store that did not answer in time from one that refused (ErrFenced, ErrOwnedElsewhere).
func TestErrorsKeepTheDeadline(t *testing.T) {
	calls := []struct {
		name string
		what string // the words the error must begin with
		call func(ctx context.Context, s *Store) error
	}{
		{"Join", "granting lease", func(ctx context.Context, s *Store) error {
			_, _, err := s.Join(ctx, "s1", 0, 5*time.Second)
			return err
		}},
		{"Join again", "renewing lease 7", func(ctx context.Context, s *Store) error {
			_, _, err := s.Join(ctx, "s1", 7, 5*time.Second)
			return err
		}},
		{"Renew", "renewing lease 7", func(ctx context.Context, s *Store) error { return s.Renew(ctx, 7) }},
		{"Revoke", "revoking lease 7", func(ctx context.Context, s *Store) error { return s.Revoke(ctx, 7) }},
		{"Snapshot", "reading the cluster's keys", func(ctx context.Context, s *Store) error {
			_, err := s.Snapshot(ctx)
			return err
		}},
		{"Acquire", "acquiring group g1", func(ctx context.Context, s *Store) error {
			_, err := s.Acquire(ctx, "g1", "s1", 7)
			return err
		}},
		{"Guard", "checking ownership of group g1", func(ctx context.Context, s *Store) error { return s.Guard(ctx, "g1", 42) }},
		{"Release", "releasing group g1", func(ctx context.Context, s *Store) error {
			return s.Release(ctx, "g1", 42, &Marker{Server: "s1", State: MarkerOrphaned})
		}},
		{"SetMarker", "updating group g1", func(ctx context.Context, s *Store) error {
			return s.SetMarker(ctx, "g1", Marker{Server: "s1", State: MarkerOnline}, 42)
		}},
		{"Publish", "publishing the status of server s1", func(ctx context.Context, s *Store) error {
			return s.Publish(ctx, "s1", []byte(`{"groups":[]}`), 7)
		}},
	}
	endpoints := []struct {
		name string
		addr func(*testing.T) string
	}{
		{"refused", closedPort},
		{"silent", silentPeer},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := Connect(ctx, Options{Endpoints: []string{ep.addr(t)}, Cluster: "c1", DialTimeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatalf("Connect does not wait for the store, yet: %v", err)
			}
			defer s.Close()
			for _, c := range calls {
				t.Run(c.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
					defer cancel()
					began := time.Now()
					err := c.call(ctx, s)
					if took := time.Since(began); took > 5*time.Second {
						t.Errorf("returned %v after the deadline", took)
					}
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("error %v (%T), want one that is context.DeadlineExceeded", err, err)
					}
					if !strings.HasPrefix(err.Error(), c.what+": ") {
						t.Errorf("error %q does not begin with what was being done (%q)", err, c.what)
					}
				})
			}
		})
	}
}
