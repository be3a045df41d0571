package clustertest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"clpkit/pkg/store"
)

// Etcd is a real etcd member run in the test process as the external store of a multi-server
// test cluster. Stop and Start cut it away and bring it back on the same data and ports, the way
// a network partition isolates servers from their store.
type Etcd struct {
	URL string
	cfg store.MemberConfig
	m   *store.Member
}

// StartEtcd starts a member under dir on free loopback ports; it stops when the test ends.
func StartEtcd(tb testing.TB, dir string) *Etcd {
	tb.Helper()
	e := &Etcd{cfg: store.MemberConfig{
		Name: "external", Dir: filepath.Join(dir, "etcd"),
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", FreePort(tb)),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", FreePort(tb)),
	}}
	e.URL = e.cfg.ClientURL
	e.Start(tb)
	tb.Cleanup(e.Stop)
	return e
}

// Start (re)starts the member.
func (e *Etcd) Start(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := store.StartMember(ctx, e.cfg)
	if err != nil {
		tb.Fatal(err)
	}
	e.m = m
}

// Stop stops the member; a no-op when it is stopped.
func (e *Etcd) Stop() {
	if e.m != nil {
		e.m.Close()
		e.m = nil
	}
}
