package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Marker states.
const (
	MarkerStarting = "starting"
	MarkerOnline   = "online"
	MarkerFailed   = "failed"
	// MarkerMoving hands the group to Marker.Target.
	MarkerMoving = "moving"
	// MarkerOrphaned is a group its server gave up without being asked to stop it (the server
	// shut down): another server should take it over.
	MarkerOrphaned = "orphaned"
)

// Marker says a group should be running. It is not attached to a lease: it outlives the server
// that wrote it, and that is what lets another server see a group it must take over.
type Marker struct {
	// Server last ran (or is starting) the group.
	Server string `json:"server"`
	State  string `json:"state"`
	// Target is the destination of a move.
	Target string `json:"target,omitempty"`
}

func (s *Store) markerKey(group string) string { return path.Join(s.prefix, "groups", group, "active") }

// SetMarker writes the group's marker, if token still owns the group.
func (s *Store) SetMarker(ctx context.Context, group string, m Marker, token int64) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return s.guarded(ctx, group, token, clientv3.OpPut(s.markerKey(group), string(b)))
}

// ClearMarker deletes the group's marker, if token still owns the group: nobody is to run it.
func (s *Store) ClearMarker(ctx context.Context, group string, token int64) error {
	return s.guarded(ctx, group, token, clientv3.OpDelete(s.markerKey(group)))
}

func (s *Store) guarded(ctx context.Context, group string, token int64, op clientv3.Op) error {
	r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(s.ownerKey(group)), "=", token)).Then(op).Commit()
	if err != nil {
		return fmt.Errorf("updating group %s: %w", group, err)
	}
	if !r.Succeeded {
		return fmt.Errorf("group %s: %w", group, ErrFenced)
	}
	return nil
}

// Markers returns every group's marker.
func (s *Store) Markers(ctx context.Context) (map[string]Marker, error) {
	base := path.Join(s.prefix, "groups") + "/"
	r, err := s.cli.Get(ctx, base, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading group markers: %w", err)
	}
	out := map[string]Marker{}
	for _, kv := range r.Kvs {
		g, ok := strings.CutSuffix(strings.TrimPrefix(string(kv.Key), base), "/active")
		if !ok {
			continue
		}
		var m Marker
		if json.Unmarshal(kv.Value, &m) == nil {
			out[g] = m
		}
	}
	return out, nil
}

// Changes signals (without detail) every change to the cluster's keys until ctx ends. Readers
// re-read what they need: a missed or merged signal loses nothing.
func (s *Store) Changes(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			wc := s.cli.Watch(clientv3.WithRequireLeader(ctx), s.prefix+"/", clientv3.WithPrefix())
			for range wc {
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}

func (s *Store) statusKey(server string) string { return path.Join(s.prefix, "status", server) }

// PublishStatus stores this server's view of the groups it runs, on its lease, so any server can
// show them.
func (s *Store) PublishStatus(ctx context.Context, server string, data []byte, l Lease) error {
	if _, err := s.cli.Put(ctx, s.statusKey(server), string(data), clientv3.WithLease(l.ID)); err != nil {
		return fmt.Errorf("publishing status: %w", err)
	}
	return nil
}

// Statuses returns what every Online server published.
func (s *Store) Statuses(ctx context.Context) (map[string][]byte, error) {
	base := path.Join(s.prefix, "status") + "/"
	r, err := s.cli.Get(ctx, base, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading statuses: %w", err)
	}
	out := make(map[string][]byte, len(r.Kvs))
	for _, kv := range r.Kvs {
		out[strings.TrimPrefix(string(kv.Key), base)] = kv.Value
	}
	return out, nil
}
