// Package store is clpkit's coordination on etcd: an embedded member (the single-machine default)
// or an external cluster, server leases as heartbeats, and per-group owner keys whose create
// revision is the fencing token every resource action is checked against.
package store

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// MemberConfig describes the embedded etcd member a clpd runs.
type MemberConfig struct {
	Name      string
	Dir       string
	ClientURL string
	PeerURL   string
	// InitialCluster is "name=peerURL,..."; empty means a single-member cluster of this member.
	InitialCluster string
	// LogFile receives etcd's own log; empty discards it (the daemon's log is not etcd's).
	LogFile string
}

// Member is a running embedded etcd member.
type Member struct {
	e *embed.Etcd
}

// StartMember starts the member and returns once it serves clients, or fails with why it could not.
func StartMember(ctx context.Context, mc MemberConfig) (*Member, error) {
	cu, err := url.Parse(mc.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("etcd client url %q: %w", mc.ClientURL, err)
	}
	pu, err := url.Parse(mc.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("etcd peer url %q: %w", mc.PeerURL, err)
	}
	if err := os.MkdirAll(mc.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd data dir: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = mc.Name
	cfg.Dir = mc.Dir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = mc.InitialCluster
	if cfg.InitialCluster == "" {
		cfg.InitialCluster = mc.Name + "=" + mc.PeerURL
	}
	cfg.InitialClusterToken = "clpkit-" + mc.Name
	// A member restarted on its own data dir rejoins what it was part of; "new" is only used
	// for the very first start.
	if _, err := os.Stat(filepath.Join(mc.Dir, "member")); err == nil {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	// Ownership data is tiny; keep history short so the backend never fills up.
	cfg.AutoCompactionMode = "revision"
	cfg.AutoCompactionRetention = "1000"
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	if mc.LogFile != "" {
		cfg.LogOutputs = []string{mc.LogFile}
	} else {
		cfg.LogOutputs = []string{"/dev/null"}
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd member %s in %s: %w", mc.Name, mc.Dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return &Member{e: e}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd member %s: %w", mc.Name, err)
	case <-ctx.Done():
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("waiting for embedded etcd member %s to be ready: %w", mc.Name, ctx.Err())
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd member %s was not ready after 60s (is another member using %s?)", mc.Name, mc.Dir)
	}
}

// Close stops the member.
func (m *Member) Close() { m.e.Close() }
