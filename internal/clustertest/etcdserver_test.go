package clustertest

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"clpkit/pkg/pki"
)

// TestEtcdServer: clpd's etcd v3.6 client, with the cluster's certificates, works against the
// distribution's etcd (v3.4) serving mutual TLS, and a client without a certificate is refused.
func TestEtcdServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := pki.EnsureCA(dir, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := pki.EnsureServer(dir, "etcd1", nil); err != nil {
		t.Fatal(err)
	}
	f := pki.ServerFiles(dir, "etcd1")
	s := StartEtcdServer(t, EtcdServerOptions{Name: "etcd1", TLS: f})
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") || !s.Running() {
		t.Fatalf("URL %q, running %v", s.URL(), s.Running())
	}

	cli, cfg := tlsClient(t, s, f)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := cli.Status(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("etcd server version %s", st.Version)
	if !strings.HasPrefix(st.Version, "3.4.") {
		t.Logf("not the v3.4 this test means to check against")
	}
	if _, err := cli.Put(ctx, "/clpkit/c1/k", "v"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if r, err := cli.Get(ctx, "/clpkit/c1/k"); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Fatalf("Get: %v, %v", r, err)
	}
	g, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if g.TTL != 1 {
		t.Fatalf("a 1 s lease was granted as %d s (heartbeat 50 ms, election 500 ms)", g.TTL)
	}
	if ka, err := cli.KeepAliveOnce(ctx, g.ID); err != nil || ka.TTL != 1 {
		t.Fatalf("KeepAliveOnce: %v, %v", ka, err)
	}

	// No client certificate: nothing within the dial timeout.
	start := time.Now()
	bare, err := clientv3.New(clientv3.Config{Endpoints: []string{s.URL()}, TLS: &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err == nil {
		defer bare.Close()
		bctx, bcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = bare.Get(bctx, "/", clientv3.WithPrefix())
		bcancel()
	}
	if err == nil {
		t.Fatal("etcd answered a client without a certificate")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("refusal took %v", took)
	}

	// Frozen, it answers nothing; thawed, it does again.
	s.Pause()
	pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if _, err := cli.Get(pctx, "/clpkit/c1/k"); err == nil {
		t.Error("a paused etcd answered")
	}
	pcancel()
	s.Resume()
	if _, err := cli.Get(ctx, "/clpkit/c1/k"); err != nil {
		t.Fatalf("after Resume: %v", err)
	}

	// Killed, then started again on its data: the key is still there.
	s.Kill()
	if s.Running() {
		t.Fatal("running after Kill")
	}
	s.Start(t)
	if r, err := cli.Get(ctx, "/clpkit/c1/k"); err != nil || len(r.Kvs) != 1 {
		t.Fatalf("Get after a restart: %v, %v", r, err)
	}
	s.Stop()
	if s.Running() {
		t.Fatal("running after Stop")
	}
}

// TestEtcdCluster: three v3.4 members form one cluster over mutually authenticated peer TLS,
// keep serving with their leader killed, and take it back.
func TestEtcdCluster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := pki.EnsureCA(dir, "c1"); err != nil {
		t.Fatal(err)
	}
	var opts []EtcdServerOptions
	for _, name := range []string{"etcd1", "etcd2", "etcd3"} {
		if err := pki.EnsureServer(dir, name, nil); err != nil {
			t.Fatal(err)
		}
		opts = append(opts, EtcdServerOptions{Name: name, TLS: pki.ServerFiles(dir, name)})
	}
	servers := StartEtcdCluster(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var clis []*clientv3.Client
	for i, s := range servers {
		cli, _ := tlsClient(t, s, opts[i].TLS)
		clis = append(clis, cli)
	}
	if r, err := clis[2].MemberList(ctx); err != nil || len(r.Members) != 3 {
		t.Fatalf("member list: %v, %v", r, err)
	}
	if _, err := clis[0].Put(ctx, "/clpkit/c1/k", "1"); err != nil {
		t.Fatal(err)
	}
	// Kill the leader. A write in flight when the leader dies can time out on the server
	// (after 5 s + 2 × election timeout), so it is retried with short deadlines, as clpd does.
	leader := -1
	for i, s := range servers {
		st, err := clis[i].Status(ctx, s.URL())
		if err != nil {
			t.Fatal(err)
		}
		if st.Header.MemberId == st.Leader {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no member is the leader")
	}
	other := (leader + 1) % len(servers)
	servers[leader].Kill()
	killed := time.Now()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := clis[other].Put(pctx, "/clpkit/c1/k", "2")
		pcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Put with one member of three down: %v", err)
		}
	}
	t.Logf("writes went through again %v after the leader %s was killed", time.Since(killed).Round(time.Millisecond), opts[leader].Name)
	servers[leader].Start(t)
	if r, err := clis[leader].Get(ctx, "/clpkit/c1/k"); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "2" {
		t.Fatalf("Get on the restarted member: %v, %v", r, err)
	}
}

// tlsClient is a client of s with the certificates files, closed when the test ends, and the
// TLS configuration it has.
func tlsClient(t *testing.T, s *EtcdServer, files pki.Files) (*clientv3.Client, *tls.Config) {
	t.Helper()
	cfg, err := pki.ClientConfig(files)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.URL()}, TLS: cfg, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli, cfg
}
