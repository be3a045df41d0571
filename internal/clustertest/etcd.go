package clustertest

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"clpkit/pkg/store"
)

// StartEtcd runs a real etcd member in this process, under dir, on free loopback ports, as the
// external store of a multi-server test cluster; it stops when the test ends. It returns the
// client URL.
func StartEtcd(tb testing.TB, dir string) string {
	tb.Helper()
	client := fmt.Sprintf("http://127.0.0.1:%d", FreePort(tb))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := store.StartMember(ctx, store.MemberConfig{
		Name: "external", Dir: filepath.Join(dir, "etcd"),
		ClientURL: client, PeerURL: fmt.Sprintf("http://127.0.0.1:%d", FreePort(tb)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	return client
}
