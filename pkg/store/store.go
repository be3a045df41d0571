package store

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ErrOwnedElsewhere is returned when a group's owner key belongs to another server.
var ErrOwnedElsewhere = errors.New("group is owned by another server")

// ErrFenced is returned when a fencing token is no longer the group's current owner revision:
// the caller lost ownership and must not act on the group's resources.
var ErrFenced = errors.New("ownership lost (stale fencing token)")

// Store is one server's view of the cluster's coordination keys.
type Store struct {
	cli    *clientv3.Client
	prefix string
}

// Connect opens a client on endpoints for cluster. The keys live under /clpkit/<cluster>/.
func Connect(ctx context.Context, endpoints []string, cluster string) (*Store, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 5 * time.Second,
		Context:     ctx,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd at %s: %w", strings.Join(endpoints, ","), err)
	}
	return &Store{cli: cli, prefix: path.Join("/clpkit", cluster)}, nil
}

// Close closes the client.
func (s *Store) Close() error { return s.cli.Close() }

func (s *Store) serverKey(name string) string { return path.Join(s.prefix, "servers", name) }
func (s *Store) ownerKey(group string) string { return path.Join(s.prefix, "groups", group, "owner") }

// Lease is a server's heartbeat: while it lives, the server is Online and its owner keys stand.
type Lease struct {
	ID  clientv3.LeaseID
	TTL time.Duration
}

// Join grants (or, after a daemon restart, re-attaches to) the server's lease and publishes the
// server key on it. A previous lease that is still alive is kept, so the groups this server owned
// before a crash are still its own and no other server could have taken them meanwhile.
func (s *Store) Join(ctx context.Context, server string, previous int64, ttl time.Duration) (Lease, error) {
	if previous != 0 {
		if _, err := s.cli.KeepAliveOnce(ctx, clientv3.LeaseID(previous)); err == nil {
			l := Lease{ID: clientv3.LeaseID(previous), TTL: ttl}
			return l, s.publish(ctx, server, l)
		} else if !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return Lease{}, fmt.Errorf("renewing lease %x: %w", previous, err)
		}
	}
	g, err := s.cli.Grant(ctx, int64((ttl+time.Second-1)/time.Second))
	if err != nil {
		return Lease{}, fmt.Errorf("granting lease: %w", err)
	}
	l := Lease{ID: g.ID, TTL: ttl}
	return l, s.publish(ctx, server, l)
}

func (s *Store) publish(ctx context.Context, server string, l Lease) error {
	if _, err := s.cli.Put(ctx, s.serverKey(server), server, clientv3.WithLease(l.ID)); err != nil {
		return fmt.Errorf("publishing server %s: %w", server, err)
	}
	return nil
}

// Renew keeps the lease alive once. It fails when the lease has expired.
func (s *Store) Renew(ctx context.Context, l Lease) error {
	if _, err := s.cli.KeepAliveOnce(ctx, l.ID); err != nil {
		return fmt.Errorf("renewing lease %x: %w", int64(l.ID), err)
	}
	return nil
}

// Leave revokes the lease: the server goes Offline and every owner key on it disappears.
func (s *Store) Leave(ctx context.Context, l Lease) error {
	if _, err := s.cli.Revoke(ctx, l.ID); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("revoking lease %x: %w", int64(l.ID), err)
	}
	return nil
}

// OnlineServers returns the servers whose lease is alive.
func (s *Store) OnlineServers(ctx context.Context) (map[string]bool, error) {
	r, err := s.cli.Get(ctx, s.serverKey("")+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading servers: %w", err)
	}
	on := make(map[string]bool, len(r.Kvs))
	for _, kv := range r.Kvs {
		on[string(kv.Value)] = true
	}
	return on, nil
}

// Owner is who runs a group, and the fencing token of that ownership.
type Owner struct {
	Server string
	Token  int64
}

// Owners returns the owner of every group that has one.
func (s *Store) Owners(ctx context.Context) (map[string]Owner, error) {
	r, err := s.cli.Get(ctx, path.Join(s.prefix, "groups")+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("reading group owners: %w", err)
	}
	out := make(map[string]Owner, len(r.Kvs))
	for _, kv := range r.Kvs {
		k := strings.TrimPrefix(string(kv.Key), path.Join(s.prefix, "groups")+"/")
		if g, ok := strings.CutSuffix(k, "/owner"); ok {
			out[g] = Owner{Server: string(kv.Value), Token: kv.CreateRevision}
		}
	}
	return out, nil
}

// Acquire makes server the owner of group on lease l, or confirms it already is. The returned
// token is the owner key's create revision; it changes every time ownership is taken anew.
func (s *Store) Acquire(ctx context.Context, group, server string, l Lease) (int64, error) {
	k := s.ownerKey(group)
	r, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, server, clientv3.WithLease(l.ID))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("acquiring group %s: %w", group, err)
	}
	if r.Succeeded {
		return r.Header.Revision, nil
	}
	kvs := r.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 1 && string(kvs[0].Value) == server && kvs[0].Lease == int64(l.ID) {
		return kvs[0].CreateRevision, nil
	}
	if len(kvs) == 1 {
		return 0, fmt.Errorf("acquiring group %s: %w (%s)", group, ErrOwnedElsewhere, kvs[0].Value)
	}
	return 0, fmt.Errorf("acquiring group %s: %w", group, ErrOwnedElsewhere)
}

// Guard fails with ErrFenced unless token is still the group's owner revision. Every resource
// action checks it first, so a server that lost the group cannot touch its resources.
func (s *Store) Guard(ctx context.Context, group string, token int64) error {
	k := s.ownerKey(group)
	r, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", token)).Commit()
	if err != nil {
		return fmt.Errorf("checking ownership of group %s: %w", group, err)
	}
	if !r.Succeeded {
		return fmt.Errorf("group %s: %w", group, ErrFenced)
	}
	return nil
}

// Release gives the group up, if token still owns it.
func (s *Store) Release(ctx context.Context, group string, token int64) error {
	k := s.ownerKey(group)
	if _, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", token)).
		Then(clientv3.OpDelete(k)).Commit(); err != nil {
		return fmt.Errorf("releasing group %s: %w", group, err)
	}
	return nil
}
