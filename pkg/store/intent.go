package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
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

func encodeMarker(m Marker) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding marker: %w", err)
	}
	return string(b), nil
}

// SetMarker writes the group's marker, if token still owns the group.
func (s *Store) SetMarker(ctx context.Context, group string, m Marker, token int64) error {
	b, err := encodeMarker(m)
	if err != nil {
		return fmt.Errorf("updating group %s: %w", group, err)
	}
	r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(s.ownerKey(group)), "=", token)).
		Then(clientv3.OpPut(s.markerKey(group), b)).Commit()
	if err != nil {
		return fmt.Errorf("updating group %s: %w", group, err)
	}
	if !r.Succeeded {
		return fmt.Errorf("updating group %s: %w", group, ErrFenced)
	}
	return nil
}

// Watch signals (without detail) every change to the cluster's keys until ctx ends, and once more
// whenever the watch had to be re-established: readers re-read a Snapshot, so a missed, merged or
// compacted-away event loses nothing.
func (s *Store) Watch(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	signal := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
			wc := s.cli.Watch(wctx, s.prefix+"/", clientv3.WithPrefix())
			signal()
			for resp := range wc {
				if resp.Err() != nil {
					break
				}
				signal()
			}
			cancel()
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return out
}

func (s *Store) statusKey(server string) string { return path.Join(s.prefix, "status", server) }

// Publish stores this server's view of the groups it runs, on its lease, so any server can show
// them.
func (s *Store) Publish(ctx context.Context, server string, data []byte, lease int64) error {
	if _, err := s.cli.Put(ctx, s.statusKey(server), string(data), clientv3.WithLease(clientv3.LeaseID(lease))); err != nil {
		return fmt.Errorf("publishing the status of server %s: %w", server, err)
	}
	return nil
}

// decodeSnapshot sorts the cluster's keys into a Snapshot. Keys it does not know, and values that
// do not decode, are skipped: the store is shared, and one bad value must not blind a server to
// the rest.
func decodeSnapshot(prefix string, rev int64, kvs []*mvccpb.KeyValue) Snapshot {
	snap := Snapshot{Rev: rev, Servers: map[string]int64{}, Owners: map[string]Owner{}, Markers: map[string]Marker{}, Statuses: map[string][]byte{}}
	base := prefix + "/"
	for _, kv := range kvs {
		k, ok := strings.CutPrefix(string(kv.Key), base)
		if !ok {
			continue
		}
		kind, rest, ok := strings.Cut(k, "/")
		if !ok || rest == "" {
			continue
		}
		switch kind {
		case "servers":
			if !strings.Contains(rest, "/") && string(kv.Value) == rest {
				snap.Servers[rest] = kv.Lease
			}
		case "status":
			if !strings.Contains(rest, "/") {
				snap.Statuses[rest] = kv.Value
			}
		case "groups":
			g, leaf, ok := strings.Cut(rest, "/")
			if !ok || g == "" {
				continue
			}
			switch leaf {
			case "owner":
				snap.Owners[g] = Owner{Server: string(kv.Value), Token: kv.CreateRevision, Lease: kv.Lease}
			case "active":
				var m Marker
				if json.Unmarshal(kv.Value, &m) == nil && m.Server != "" {
					snap.Markers[g] = m
				}
			}
		}
	}
	return snap
}
