// Package store is clpkit's coordination on etcd: an embedded member (the single-machine default)
// or an external cluster, server leases as heartbeats, and per-group owner keys whose create
// revision is the fencing token every resource action is checked against.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"clpkit/pkg/pki"
)

// MemberConfig describes the embedded etcd member a clpd runs.
type MemberConfig struct {
	Name      string
	Dir       string
	ClientURL string
	PeerURL   string
	// InitialCluster is "name=peerURL,..."; empty means a single-member cluster of this member.
	InitialCluster string
	// ClusterToken tells this cluster's members from another's at the first start; every
	// member must be given the same. Empty means one derived from InitialCluster (in any
	// order), which members of one configuration share.
	ClusterToken string
	// LogFile receives etcd's own log; empty discards it (the daemon's log is not etcd's).
	LogFile string
	// TLS, when set, makes the member serve only mutually authenticated TLS: its client and
	// peer URLs must be https://, it presents TLS.Cert and accepts only clients and peers whose
	// certificate the cluster CA (TLS.CA) signed. Unset, the member serves plain http:// and
	// only on a loopback address. Either way, only clpd may talk to the store: a client of the
	// store can start a group (scripts run as root) by writing one key.
	TLS pki.Files
	// TickMs and ElectionMs are etcd's heartbeat interval and election timeout in milliseconds;
	// 0 means etcd's defaults, 100 and 1000. The caller picks them because they bound the
	// shortest lease the member grants: etcd raises every lease TTL to at least
	// ceil(1.5 × election timeout) seconds, so the default 1000 ms turns a 1-second heartbeat
	// lease into 2 seconds, and a 1-second lease needs ElectionMs ≤ 666 (clpd runs 50/500).
	// ElectionMs must be at least 5 × TickMs.
	TickMs     uint
	ElectionMs uint
	// NoWait returns as soon as the member listens, without waiting for it to join a quorum: a
	// member of several waits for the others, which may boot later, and clpd's engine keeps
	// trying the store meanwhile.
	NoWait bool
	// Existing joins a running store (a member added with clpmember add) instead of forming
	// the initial cluster: InitialCluster must then list the store's current members.
	Existing bool
}

// tls reports whether the member serves TLS.
func (mc MemberConfig) tls() bool { return mc.TLS != (pki.Files{}) }

// checkURLs refuses listeners that would let anyone but clpd reach the store: plain http:// on
// a non-loopback address, or a scheme that does not match whether TLS is set (etcd itself would
// silently serve plain HTTP on an http:// URL even with certificates).
func (mc MemberConfig) checkURLs() ([]url.URL, error) {
	urls := []struct{ what, raw string }{{"client URL", mc.ClientURL}, {"peer URL", mc.PeerURL}}
	for _, m := range strings.Split(mc.InitialCluster, ",") {
		if name, u, ok := strings.Cut(strings.TrimSpace(m), "="); ok {
			urls = append(urls, struct{ what, raw string }{"initial cluster peer URL of " + name, u})
		}
	}
	var out []url.URL
	for _, l := range urls {
		u, err := url.Parse(l.raw)
		if err != nil || u.Host == "" || u.Hostname() == "" {
			return nil, fmt.Errorf("etcd member %s: %s %q is not a URL: use https://<address>:<port>", mc.Name, l.what, l.raw)
		}
		switch {
		case mc.tls() && u.Scheme != "https":
			return nil, fmt.Errorf("etcd member %s: %s %q is not https:// but the member serves only TLS (certificate %s): use https://%s", mc.Name, l.what, l.raw, mc.TLS.Cert, u.Host)
		case !mc.tls() && u.Scheme == "https":
			return nil, fmt.Errorf("etcd member %s: %s %q is https:// but the member has no certificates: give it the cluster PKI, or use http://127.0.0.1", mc.Name, l.what, l.raw)
		case !mc.tls() && u.Scheme != "http":
			return nil, fmt.Errorf("etcd member %s: %s %q is not http:// or https://: use http://127.0.0.1:<port>", mc.Name, l.what, l.raw)
		case !mc.tls() && !isLoopback(u.Hostname()):
			return nil, fmt.Errorf("etcd member %s: %s %q would serve the store without TLS to other hosts, letting them start and stop groups: give the member the cluster PKI and use https://, or listen on 127.0.0.1", mc.Name, l.what, l.raw)
		}
		out = append(out, *u)
	}
	return out[:2], nil
}

// ClusterToken derives a token from the initial cluster, the same for every member given the
// same members in whatever order. (A token per member name would give each member a cluster ID
// of its own, and the members would refuse each other's messages.)
func ClusterToken(initialCluster string) string {
	ms := strings.Split(initialCluster, ",")
	for i := range ms {
		ms[i] = strings.TrimSpace(ms[i])
	}
	slices.Sort(ms)
	sum := sha256.Sum256([]byte(strings.Join(ms, ",")))
	return "clpkit-" + hex.EncodeToString(sum[:8])
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Member is a running embedded etcd member.
type Member struct {
	e     *embed.Etcd
	close sync.Once
	// closing is set once Close begins: etcd's log then drops the errors of a clean stop.
	closing atomic.Bool
}

// StartMember starts the member and returns once it serves clients, or fails with why it could not.
func StartMember(ctx context.Context, mc MemberConfig) (*Member, error) {
	urls, err := mc.checkURLs()
	if err != nil {
		return nil, err
	}
	cu, pu := &urls[0], &urls[1]
	if mc.tls() {
		// pki's errors name the file and the fix; etcd's would not.
		if err := pki.Check(mc.TLS); err != nil {
			return nil, fmt.Errorf("etcd member %s: %w", mc.Name, err)
		}
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
	cfg.InitialClusterToken = mc.ClusterToken
	if cfg.InitialClusterToken == "" {
		cfg.InitialClusterToken = ClusterToken(cfg.InitialCluster)
	}
	if mc.tls() {
		// One certificate serves both ways: the member presents it to clients and peers, and
		// uses it as its client certificate towards peers (and towards itself, for the gRPC
		// gateway). ClientCertAuth makes a certificate from the CA mandatory on both listeners.
		ti := transport.TLSInfo{
			CertFile:       mc.TLS.Cert,
			KeyFile:        mc.TLS.Key,
			TrustedCAFile:  mc.TLS.CA,
			ClientCertAuth: true,
		}
		cfg.ClientTLSInfo = ti
		cfg.PeerTLSInfo = ti
	}
	if mc.TickMs != 0 {
		cfg.TickMs = mc.TickMs
	}
	if mc.ElectionMs != 0 {
		cfg.ElectionMs = mc.ElectionMs
	}
	// A member restarted on its own data dir rejoins what it was part of; "new" is only used
	// for the very first start.
	if _, err := os.Stat(filepath.Join(mc.Dir, "member")); err == nil || mc.Existing {
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	// Ownership data is tiny; keep history short so the backend never fills up.
	cfg.AutoCompactionMode = "revision"
	cfg.AutoCompactionRetention = "1000"
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	m := &Member{}
	if mc.LogFile != "" {
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(etcdLog(mc.LogFile, &m.closing))
	} else {
		cfg.LogOutputs = []string{"/dev/null"}
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		if mc.Existing {
			// etcd has written its member directory before it failed to join; a next start
			// would take it for this member's own data.
			_ = os.RemoveAll(filepath.Join(mc.Dir, "member"))
		}
		return nil, fmt.Errorf("starting embedded etcd member %s in %s: %w", mc.Name, mc.Dir, err)
	}
	if mc.NoWait {
		select {
		case err := <-e.Err():
			e.Close()
			return nil, fmt.Errorf("embedded etcd member %s: %w", mc.Name, err)
		default:
			m.e = e
			return m, nil
		}
	}
	select {
	case <-e.Server.ReadyNotify():
		m.e = e
		return m, nil
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

// Close stops the member; closing it again does nothing (etcd's Close panics).
func (m *Member) Close() {
	m.close.Do(func() {
		m.closing.Store(true)
		m.e.Close()
	})
}

// Stopped is closed when the member's server has stopped, for whatever reason: on its own, it
// was removed from the store (clpmember remove), and etcd.log says "the member has been
// permanently removed from the cluster".
func (m *Member) Stopped() <-chan struct{} { return m.e.Server.StopNotify() }
