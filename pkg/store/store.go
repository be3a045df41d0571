package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// ErrOwnedElsewhere is returned when a group's owner key belongs to another server.
var ErrOwnedElsewhere = errors.New("group is owned by another server")

// ErrFenced is returned when a fencing token is no longer the group's current owner revision:
// the caller lost ownership and must not act on the group's resources.
var ErrFenced = errors.New("ownership lost (stale fencing token)")

// ErrLeaseGone is returned by Renew when the store no longer knows the lease: it expired or was
// revoked, and every key on it is gone.
var ErrLeaseGone = errors.New("lease not found (expired or revoked)")

// Store is one server's view of the cluster's coordination keys. Every method takes a context and
// callers give each call a deadline: a store that does not answer must never hang the caller.
type Store struct {
	cli    *clientv3.Client
	prefix string
}

// Options are how a Store connects.
type Options struct {
	Endpoints []string
	// Cluster names the key prefix: /clpkit/<cluster>/.
	Cluster string
	// TLS, when set, is the client side of mutually authenticated TLS.
	TLS *tls.Config
	// DialTimeout bounds the first connection; 0 means 5 s.
	DialTimeout time.Duration
}

// Connect opens a client. It does not wait for the store to answer: the first call does.
func Connect(ctx context.Context, o Options) (*Store, error) {
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: o.DialTimeout,
		TLS:         o.TLS,
		Context:     ctx,
		Logger:      zap.NewNop(),
		// A connection that died silently (a cable cut long enough for TCP's retransmissions
		// to back off to minutes) is found and redialled within seconds after the cable is
		// back. gRPC allows no client ping more often than every 10 s.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
		// Reconnect fast once a cut cable is back: gRPC's default backoff grows to two minutes,
		// which would keep a fenced server out of the cluster long after the store answers.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd at %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	return &Store{cli: cli, prefix: path.Join("/clpkit", o.Cluster)}, nil
}

// Close closes the client.
func (s *Store) Close() error {
	if err := s.cli.Close(); err != nil {
		return fmt.Errorf("closing the connection to etcd: %w", err)
	}
	return nil
}

func (s *Store) serverKey(name string) string { return path.Join(s.prefix, "servers", name) }
func (s *Store) ownerKey(group string) string { return path.Join(s.prefix, "groups", group, "owner") }

// Lease is a server's heartbeat: while it lives, the server is Online and its owner keys stand.
type Lease struct {
	ID clientv3.LeaseID
	// TTL is what the store granted: etcd raises a TTL below its minimum (1.5 × its election
	// timeout, in whole seconds), never lowers it.
	TTL time.Duration
}

// Join grants (or, after a daemon restart, re-attaches to) the server's lease and publishes the
// server key on it. A previous lease that is still alive is kept, so the groups this server owned
// before a crash are still its own and no other server could have taken them meanwhile;
// reattached says so.
func (s *Store) Join(ctx context.Context, server string, previous int64, ttl time.Duration) (l Lease, reattached bool, err error) {
	if previous != 0 {
		r, err := s.cli.KeepAliveOnce(ctx, clientv3.LeaseID(previous))
		switch {
		case err == nil:
			l := Lease{ID: clientv3.LeaseID(previous), TTL: time.Duration(r.TTL) * time.Second}
			return l, true, s.publish(ctx, server, l)
		case !errors.Is(err, rpctypes.ErrLeaseNotFound):
			return Lease{}, false, fmt.Errorf("renewing lease %x: %w", previous, err)
		}
	}
	g, err := s.cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
	if err != nil {
		return Lease{}, false, fmt.Errorf("granting lease: %w", err)
	}
	l = Lease{ID: g.ID, TTL: time.Duration(g.TTL) * time.Second}
	return l, false, s.publish(ctx, server, l)
}

func (s *Store) publish(ctx context.Context, server string, l Lease) error {
	if _, err := s.cli.Put(ctx, s.serverKey(server), server, clientv3.WithLease(l.ID)); err != nil {
		return fmt.Errorf("publishing server %s: %w", server, err)
	}
	return nil
}

// Renew keeps the lease alive once. It fails with ErrLeaseGone when the lease has expired.
func (s *Store) Renew(ctx context.Context, id int64) error {
	if _, err := s.cli.KeepAliveOnce(ctx, clientv3.LeaseID(id)); err != nil {
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return fmt.Errorf("renewing lease %x: %w", id, ErrLeaseGone)
		}
		return fmt.Errorf("renewing lease %x: %w", id, err)
	}
	return nil
}

// Revoke revokes the lease: the server goes Offline and every owner key on it disappears. A lease
// the store no longer knows is not an error: it is as gone as a revocation would make it.
func (s *Store) Revoke(ctx context.Context, id int64) error {
	if _, err := s.cli.Revoke(ctx, clientv3.LeaseID(id)); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("revoking lease %x: %w", id, err)
	}
	return nil
}

// Owner is who runs a group, and the fencing token of that ownership.
type Owner struct {
	Server string
	Token  int64
	Lease  int64
}

// Snapshot is every coordination key of the cluster, read at one revision.
type Snapshot struct {
	Rev int64
	// Servers maps each Online server to its lease.
	Servers  map[string]int64
	Owners   map[string]Owner
	Markers  map[string]Marker
	Statuses map[string][]byte
}

// Snapshot reads every key of the cluster in one request, so what it returns is consistent.
func (s *Store) Snapshot(ctx context.Context) (Snapshot, error) {
	r, err := s.cli.Get(ctx, s.prefix+"/", clientv3.WithPrefix())
	if err != nil {
		return Snapshot{}, fmt.Errorf("reading the cluster's keys: %w", err)
	}
	return decodeSnapshot(s.prefix, r.Header.Revision, r.Kvs), nil
}

// Acquire makes server the owner of group on lease, or confirms it already is. The returned
// token is the owner key's create revision; it changes every time ownership is taken anew.
func (s *Store) Acquire(ctx context.Context, group, server string, lease int64) (int64, error) {
	k := s.ownerKey(group)
	r, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, server, clientv3.WithLease(clientv3.LeaseID(lease)))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("acquiring group %s: %w", group, err)
	}
	if r.Succeeded {
		return r.Header.Revision, nil
	}
	kvs := r.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 1 && string(kvs[0].Value) == server && kvs[0].Lease == lease {
		return kvs[0].CreateRevision, nil
	}
	if len(kvs) == 1 {
		return 0, fmt.Errorf("acquiring group %s: %w (%s)", group, ErrOwnedElsewhere, kvs[0].Value)
	}
	return 0, fmt.Errorf("acquiring group %s: %w", group, ErrOwnedElsewhere)
}

// Guard fails with ErrFenced unless token is still the group's owner revision. Every start of a
// resource checks it first, so a server that lost the group cannot start anything of it.
func (s *Store) Guard(ctx context.Context, group string, token int64) error {
	k := s.ownerKey(group)
	r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", token)).Commit()
	if err != nil {
		return fmt.Errorf("checking ownership of group %s: %w", group, err)
	}
	if !r.Succeeded {
		return fmt.Errorf("checking ownership of group %s: %w", group, ErrFenced)
	}
	return nil
}

// Release gives the group up, if token still owns it: the marker is written (or deleted when nil)
// and the owner key deleted in one transaction, so another server never sees the group free with
// a stale marker.
func (s *Store) Release(ctx context.Context, group string, token int64, m *Marker) error {
	k := s.ownerKey(group)
	mop := clientv3.OpDelete(s.markerKey(group))
	if m != nil {
		b, err := encodeMarker(*m)
		if err != nil {
			return fmt.Errorf("releasing group %s: %w", group, err)
		}
		mop = clientv3.OpPut(s.markerKey(group), b)
	}
	r, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", token)).
		Then(mop, clientv3.OpDelete(k)).Commit()
	if err != nil {
		return fmt.Errorf("releasing group %s: %w", group, err)
	}
	if !r.Succeeded {
		return fmt.Errorf("releasing group %s: %w", group, ErrFenced)
	}
	return nil
}
