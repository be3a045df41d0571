package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// MemberInfo is one member of the store as etcd lists it.
type MemberInfo struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
	Leader     bool
	// Learner is a member that receives the log but does not vote: clpmember add adds one, so
	// the store keeps its quorum while the new server is not running yet; it becomes a voting
	// member once it has caught up (Promote).
	Learner bool
}

// Started reports whether the member has ever run: etcd lists a member added but not yet
// started with no name and no client URLs.
func (m MemberInfo) Started() bool { return len(m.ClientURLs) > 0 }

// HasPeer reports whether url is one of the member's peer URLs.
func (m MemberInfo) HasPeer(url string) bool { return slices.Contains(m.PeerURLs, url) }

func memberInfos(r *clientv3.MemberListResponse, leader uint64) []MemberInfo {
	out := make([]MemberInfo, 0, len(r.Members))
	for _, m := range r.Members {
		out = append(out, MemberInfo{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, Leader: m.ID == leader && leader != 0, Learner: m.IsLearner})
	}
	slices.SortFunc(out, func(a, b MemberInfo) int { return strings.Compare(a.Name+a.peer(), b.Name+b.peer()) })
	return out
}

func (m MemberInfo) peer() string {
	if len(m.PeerURLs) == 0 {
		return ""
	}
	return m.PeerURLs[0]
}

// Members lists the store's members as a quorum agrees on them, the leader marked.
func (s *Store) Members(ctx context.Context) ([]MemberInfo, error) {
	r, err := s.cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the store's members: %w", err)
	}
	var leader uint64
	for _, ep := range s.cli.Endpoints() {
		if st, err := s.cli.Status(ctx, ep); err == nil {
			leader = st.Leader
			break
		}
	}
	return memberInfos(r, leader), nil
}

// ErrMember says a membership change was refused; its text says why and what to do.
var ErrMember = errors.New("membership change refused")

// AddMember adds a member with peerURL to the store as a learner, not yet started: the server
// that owns it joins when its clpd starts on an empty data directory, and is promoted to a voting
// member once it has caught up. A voting member added at once would count in the quorum before
// it runs: a one-server store would lose its quorum, and its server fence its groups, until the
// new one started. It returns the members afterwards.
func (s *Store) AddMember(ctx context.Context, peerURL string) ([]MemberInfo, error) {
	ms, err := s.Members(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.HasPeer(peerURL) {
			return nil, fmt.Errorf("%w: %s is already the peer URL of member %s", ErrMember, peerURL, m.display())
		}
		if !m.Started() || m.Learner {
			// One newcomer at a time: etcd allows one learner, and a store that grows by
			// several members before any runs is one whose quorum depends on machines that
			// may never start.
			return nil, fmt.Errorf("%w: member %s was added but has not joined yet: start clpd on it (or remove it) before adding another", ErrMember, m.display())
		}
	}
	err = whenHealthy(ctx, func() error {
		_, err := s.cli.MemberAddAsLearner(ctx, []string{peerURL})
		return err
	})
	if errors.Is(err, rpctypes.ErrUnhealthy) {
		return nil, fmt.Errorf("%w: etcd adds a member only while every voting member has been connected for 5 s, and not all are (members: %s): start the members that are down first", ErrMember, names(ms))
	}
	if err != nil {
		return nil, fmt.Errorf("adding a store member at %s: %w", peerURL, err)
	}
	return s.Members(ctx)
}

// RemoveMember removes the member named name (or whose peer URL is name) from the store. It
// returns the members afterwards.
func (s *Store) RemoveMember(ctx context.Context, name string) ([]MemberInfo, error) {
	ms, err := s.Members(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ms, func(m MemberInfo) bool { return m.Name == name || m.HasPeer(name) })
	if i < 0 {
		return nil, fmt.Errorf("%w: the store has no member %s (members: %s)", ErrMember, name, names(ms))
	}
	if len(ms) == 1 {
		return nil, fmt.Errorf("%w: %s is the store's only member", ErrMember, name)
	}
	err = whenHealthy(ctx, func() error {
		_, err := s.cli.MemberRemove(ctx, ms[i].ID)
		return err
	})
	if errors.Is(err, rpctypes.ErrUnhealthy) || errors.Is(err, rpctypes.ErrMemberNotEnoughStarted) {
		return nil, fmt.Errorf("%w: removing %s would leave the store without a quorum of running members (members: %s): start the members that are down first", ErrMember, name, names(ms))
	}
	if err != nil {
		return nil, fmt.Errorf("removing store member %s: %w", name, err)
	}
	return s.Members(ctx)
}

// whenHealthy runs change until etcd stops answering "unhealthy cluster" or ctx ends. etcd
// changes the membership only once the voting members have been connected for 5 s, which a store
// that just started, or a member that just joined, has not.
func whenHealthy(ctx context.Context, change func() error) error {
	for {
		err := change()
		if !errors.Is(err, rpctypes.ErrUnhealthy) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Promote makes the learner id a voting member. etcd refuses while the learner has not caught up
// with the leader; Promote tries again every half second until ctx ends.
func (s *Store) Promote(ctx context.Context, id uint64) error {
	for {
		_, err := s.cli.MemberPromote(ctx, id)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("promoting store member %x to a voting member: %w", id, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (m MemberInfo) display() string {
	if m.Name != "" {
		return m.Name
	}
	return "(unstarted) " + m.peer()
}

func names(ms []MemberInfo) string {
	var n []string
	for _, m := range ms {
		n = append(n, m.display())
	}
	return strings.Join(n, ", ")
}

// Discover asks the members at endpoints (the other servers' client URLs) which members the
// store has, as any one of them knows it without a quorum. It returns nil, nil when none
// answers within timeout: no store runs yet, or none can be reached.
func Discover(ctx context.Context, endpoints []string, tc *tls.Config, timeout time.Duration) ([]MemberInfo, error) {
	if len(endpoints) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tc, DialTimeout: timeout, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return nil, nil
	}
	defer cli.Close()
	r, err := cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return nil, nil
	}
	return memberInfos(r, 0), nil
}

// Join decides how the member mc, starting on an empty data directory, enters the store, given
// the members another member listed (nil: none answered). It returns mc to start with:
//   - nobody answered, or the store is the configuration's initial cluster and lists this
//     member as a voter that never started: mc as it is (a first start of the configured
//     servers);
//   - the store lists this member's peer URL as a learner not started (clpmember add), or its
//     members are not the configuration's: mc joining the existing store, whose current
//     members are the initial cluster;
//   - the store lists it as started: refused, its data is gone (remove and add it again);
//   - the store does not list it: refused, add it first.
func Join(mc MemberConfig, remote []MemberInfo) (MemberConfig, error) {
	if remote == nil {
		return mc, nil
	}
	i := slices.IndexFunc(remote, func(m MemberInfo) bool { return m.HasPeer(mc.PeerURL) })
	if i < 0 {
		return mc, fmt.Errorf("%w: %s (peer URL %s) is not a member of the running store (members: %s): on a running server, run `clpmember add %s` first",
			ErrMember, mc.Name, mc.PeerURL, names(remote), mc.Name)
	}
	if remote[i].Started() {
		return mc, fmt.Errorf("%w: %s is a member of the running store but its data directory %s is empty (lost or replaced): on a running server, run `clpmember remove %s` and then `clpmember add %s`, and start clpd here again",
			ErrMember, mc.Name, mc.Dir, mc.Name, mc.Name)
	}
	if !remote[i].Learner && sameCluster(mc.InitialCluster, remote) {
		return mc, nil
	}
	var initial []string
	for j, m := range remote {
		name := m.Name
		switch {
		case j == i:
			name = mc.Name
		case name == "":
			name = fmt.Sprintf("unstarted-%x", m.ID)
		}
		for _, u := range m.PeerURLs {
			initial = append(initial, name+"="+u)
		}
	}
	mc.InitialCluster = strings.Join(initial, ",")
	mc.Existing = true
	return mc, nil
}

// sameCluster reports whether the members' peer URLs are exactly those of initialCluster.
func sameCluster(initialCluster string, ms []MemberInfo) bool {
	var a, b []string
	for _, m := range strings.Split(initialCluster, ",") {
		if _, u, ok := strings.Cut(strings.TrimSpace(m), "="); ok {
			a = append(a, u)
		}
	}
	for _, m := range ms {
		b = append(b, m.PeerURLs...)
	}
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
