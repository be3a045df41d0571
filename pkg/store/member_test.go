package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"clpkit/pkg/pki"
)

// memberPort returns a loopback port that was free a moment ago.
func memberPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testPKI makes a cluster CA and server1's certificate under a fresh directory.
func testPKI(t *testing.T) (dir string, f pki.Files) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "pki")
	if err := pki.EnsureCA(dir, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := pki.EnsureServer(dir, "server1", nil); err != nil {
		t.Fatal(err)
	}
	return dir, pki.ServerFiles(dir, "server1")
}

// startTLSMember runs a real embedded member serving mutual TLS with f on loopback.
func startTLSMember(t *testing.T, f pki.Files, tickMs, electionMs uint) MemberConfig {
	t.Helper()
	mc := MemberConfig{
		Name: "server1", Dir: filepath.Join(t.TempDir(), "etcd"),
		ClientURL: fmt.Sprintf("https://127.0.0.1:%d", memberPort(t)),
		PeerURL:   fmt.Sprintf("https://127.0.0.1:%d", memberPort(t)),
		LogFile:   filepath.Join(t.TempDir(), "etcd.log"),
		TLS:       f, TickMs: tickMs, ElectionMs: electionMs,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	m, err := StartMember(ctx, mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TLS member (tick %d ms, election %d ms) ready in %v", tickMs, electionMs, time.Since(start).Round(time.Millisecond))
	t.Cleanup(m.Close)
	return mc
}

// client opens a clientv3 client on url; it is closed when the test ends.
func client(t *testing.T, url string, cfg *tls.Config, dialTimeout time.Duration) (*clientv3.Client, error) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{url}, TLS: cfg, DialTimeout: dialTimeout, Logger: zap.NewNop(),
	})
	if err == nil {
		t.Cleanup(func() { _ = cli.Close() })
	}
	return cli, err
}

// TestMemberTLS: a client with the cluster's certificates uses the member, and the lease TTL it
// is granted follows etcd's minimum-TTL rule: ceil(1.5 × election timeout) seconds.
func TestMemberTLS(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		tickMs, electionMs   uint
		askedTTL, grantedTTL int64
	}{
		{"50/500 ms grants 1 s", 50, 500, 1, 1},
		{"etcd defaults raise 1 s to 2 s", 0, 0, 1, 2},
		{"etcd defaults grant 3 s", 0, 0, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, f := testPKI(t)
			mc := startTLSMember(t, f, tc.tickMs, tc.electionMs)
			cfg, err := pki.ClientConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			cli, err := client(t, mc.ClientURL, cfg, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := cli.Put(ctx, "/clpkit/c1/k", "v"); err != nil {
				t.Fatalf("Put over TLS: %v", err)
			}
			r, err := cli.Get(ctx, "/clpkit/c1/k")
			if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
				t.Fatalf("Get over TLS: %v, %v", r, err)
			}
			g, err := cli.Grant(ctx, tc.askedTTL)
			if err != nil {
				t.Fatal(err)
			}
			if g.TTL != tc.grantedTTL {
				t.Fatalf("asked for a %d s lease with tick %d ms, election %d ms: granted %d s, want %d s",
					tc.askedTTL, tc.tickMs, tc.electionMs, g.TTL, tc.grantedTTL)
			}
			if ka, err := cli.KeepAliveOnce(ctx, g.ID); err != nil || ka.TTL != tc.grantedTTL {
				t.Fatalf("KeepAliveOnce: %v, %v", ka, err)
			}
		})
	}
}

// TestMemberRefusesClientsWithoutCertificate: clients without a certificate of the cluster CA
// get nothing, within their dial timeout.
func TestMemberRefusesClientsWithoutCertificate(t *testing.T) {
	_, f := testPKI(t)
	mc := startTLSMember(t, f, 50, 500)
	good, err := pki.ClientConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	otherDir := filepath.Join(t.TempDir(), "other")
	if err := pki.EnsureCA(otherDir, "other"); err != nil {
		t.Fatal(err)
	}
	if err := pki.EnsureServer(otherDir, "server1", nil); err != nil {
		t.Fatal(err)
	}
	foreign, err := pki.ClientConfig(pki.ServerFiles(otherDir, "server1"))
	if err != nil {
		t.Fatal(err)
	}
	// It trusts our CA, so the refusal is the member's.
	foreign.RootCAs = good.RootCAs
	const dialTimeout = 2 * time.Second
	for _, tc := range []struct {
		name string
		url  string
		cfg  *tls.Config
	}{
		{"no certificate", mc.ClientURL, &tls.Config{RootCAs: good.RootCAs, MinVersion: tls.VersionTLS12}},
		{"certificate of another CA", mc.ClientURL, foreign},
		{"plain HTTP/2", strings.Replace(mc.ClientURL, "https", "http", 1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			cli, err := client(t, tc.url, tc.cfg, dialTimeout)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
				defer cancel()
				_, err = cli.Get(ctx, "/", clientv3.WithPrefix())
			}
			took := time.Since(start)
			if err == nil {
				t.Fatal("the member answered a client without a certificate of the cluster CA")
			}
			t.Logf("refused after %v: %v", took.Round(time.Millisecond), err)
			if took > dialTimeout+time.Second {
				t.Errorf("refusal took %v, more than the dial timeout %v", took, dialTimeout)
			}
		})
	}
}

// TestMemberRefusesOtherUsers: the listeners refuse curl and etcdctl without a client
// certificate, and a user other than root cannot borrow clpd's: the key files are root's alone.
func TestMemberRefusesOtherUsers(t *testing.T) {
	for _, tool := range []string{"curl", "etcdctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: apt-get install curl etcd-client", tool)
		}
	}
	dir, f := testPKI(t)
	mc := startTLSMember(t, f, 50, 500)
	version, members := mc.ClientURL+"/version", mc.PeerURL+"/members"

	// curl speaks HTTP/1.1 here: offered h2 by ALPN, the peer listener hands the connection to
	// its gRPC server, which answers curl's GET with an empty reply.
	curl := func(attr *syscall.SysProcAttr, args ...string) (string, int) {
		return run(t, attr, "curl", append([]string{"-sS", "--http1.1", "--max-time", "5"}, args...)...)
	}
	certs := []string{"--cacert", f.CA, "--cert", f.Cert, "--key", f.Key}

	// As root, with the cluster's certificates: both listeners answer.
	if out, code := curl(nil, append(certs, version)...); code != 0 || !strings.Contains(out, "etcdserver") {
		t.Fatalf("curl %s with the cluster certificate: exit %d: %s", version, code, out)
	}
	if out, code := curl(nil, append(certs, members)...); code != 0 || !strings.Contains(out, mc.PeerURL) {
		t.Fatalf("curl %s with the cluster certificate: exit %d: %s", members, code, out)
	}
	// The JSON gateway dials the member's own gRPC with the same certificate, as a client.
	if out, code := curl(nil, append(certs, "-d", `{"key":"Lw==","range_end":"MA=="}`, mc.ClientURL+"/v3/kv/range")...); code != 0 || !strings.Contains(out, `"header"`) {
		t.Fatalf("curl %s/v3/kv/range with the cluster certificate: exit %d: %s", mc.ClientURL, code, out)
	}
	// Without a client certificate: refused. Plain curl does not even trust the member; with
	// the CA, or not checking the server at all (-k), the member refuses the TLS handshake.
	for _, u := range []string{version, members} {
		if out, code := run(t, nil, "curl", "-s", "--max-time", "5", u); code == 0 {
			t.Errorf("curl -s %s succeeded: %s", u, out)
		}
		for _, args := range [][]string{{"--cacert", f.CA}, {"-k"}} {
			out, code := curl(nil, append(args, u)...)
			if code == 0 || !strings.Contains(out, "alert certificate required") {
				t.Errorf("curl %s %s without a client certificate: exit %d: %s; want the member's TLS alert", strings.Join(args, " "), u, code, out)
			}
		}
	}

	if os.Geteuid() != 0 {
		t.Skip("the rest runs commands as nobody: needs root")
	}
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	// Open every directory on the way to the key files, so that only the files' own modes stand
	// between nobody and the keys (EnsureCA made the PKI directory 0700; take that help away).
	for d := dir; strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := run(t, nobody, "cat", f.CA); code != 0 {
		t.Fatalf("nobody cannot read %s, so this test would not show that the keys' modes protect them: %s", f.CA, out)
	}
	for _, key := range []string{f.Key, filepath.Join(dir, "ca.key")} {
		if out, code := run(t, nobody, "cat", key); code == 0 || !strings.Contains(out, "Permission denied") {
			t.Errorf("nobody reading %s: exit %d: %s; want permission denied", key, code, out)
		}
	}
	for _, u := range []string{version, members} {
		if out, code := curl(nobody, "--cacert", f.CA, u); code == 0 || !strings.Contains(out, "alert certificate required") {
			t.Errorf("nobody: curl --cacert %s %s: exit %d: %s; want the member's TLS alert", f.CA, u, code, out)
		}
		if out, code := curl(nobody, append(certs, u)...); code == 0 || !strings.Contains(out, "could not load PEM client certificate") && !strings.Contains(out, "unable to set private key file") {
			t.Errorf("nobody: curl %s with root's key files: exit %d: %s; want a failure to read the key", u, code, out)
		}
	}
	etcdctl := func(args ...string) (string, int) {
		return run(t, nobody, "etcdctl", append([]string{"--endpoints", mc.ClientURL, "--dial-timeout", "2s", "--command-timeout", "3s"}, args...)...)
	}
	for _, args := range [][]string{
		{"--cacert", f.CA, "get", "/", "--prefix"},
		{"--insecure-skip-tls-verify", "get", "/", "--prefix"},
		{"--cacert", f.CA, "put", "/clpkit/c1/groups/g/owner", "nobody"},
	} {
		out, code := etcdctl(args...)
		if code == 0 {
			t.Errorf("nobody: etcdctl %s succeeded: %s", strings.Join(args, " "), out)
		}
		t.Logf("nobody: etcdctl %s: exit %d", strings.Join(args, " "), code)
	}
	if out, code := etcdctl(append(certs, "get", "/", "--prefix")...); code == 0 || !strings.Contains(out, "permission denied") {
		t.Errorf("nobody: etcdctl with root's key files: exit %d: %s; want permission denied", code, out)
	}
}

// run runs name with args (as the user of attr, if any) and returns its output and exit status.
func run(t *testing.T, attr *syscall.SysProcAttr, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = attr
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent", "ETCDCTL_API=3"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %s: %v", name, err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// TestMemberPeersTLS: two embedded members with their own certificates of one CA form a cluster
// over mutually authenticated peer TLS (etcd also checks that a peer's certificate covers the
// address it connects from), and a write on one is read on the other.
func TestMemberPeersTLS(t *testing.T) {
	dir, _ := testPKI(t)
	if err := pki.EnsureServer(dir, "server2", nil); err != nil {
		t.Fatal(err)
	}
	var mcs []MemberConfig
	var initial []string
	for _, name := range []string{"server1", "server2"} {
		mc := MemberConfig{
			Name: name, Dir: filepath.Join(t.TempDir(), "etcd"),
			ClientURL: fmt.Sprintf("https://127.0.0.1:%d", memberPort(t)),
			PeerURL:   fmt.Sprintf("https://127.0.0.1:%d", memberPort(t)),
			LogFile:   filepath.Join(t.TempDir(), "etcd.log"),
			TLS:       pki.ServerFiles(dir, name), TickMs: 50, ElectionMs: 500,
		}
		mcs = append(mcs, mc)
		initial = append(initial, name+"="+mc.PeerURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A member is ready only with a quorum: start both at once.
	errs := make(chan error, len(mcs))
	for i := range mcs {
		mcs[i].InitialCluster = strings.Join(initial, ",")
		go func(mc MemberConfig) {
			m, err := StartMember(ctx, mc)
			if err == nil {
				t.Cleanup(m.Close)
			}
			errs <- err
		}(mcs[i])
	}
	for range mcs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var clis []*clientv3.Client
	for _, mc := range mcs {
		cfg, err := pki.ClientConfig(mc.TLS)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := client(t, mc.ClientURL, cfg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		clis = append(clis, cli)
		r, err := cli.MemberList(ctx)
		if err != nil || len(r.Members) != 2 {
			t.Fatalf("member list on %s: %v, %v", mc.Name, r, err)
		}
	}
	if _, err := clis[0].Put(ctx, "/clpkit/c1/k", "from server1"); err != nil {
		t.Fatal(err)
	}
	if r, err := clis[1].Get(ctx, "/clpkit/c1/k"); err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "from server1" {
		t.Fatalf("Get on server2: %v, %v", r, err)
	}
}

// TestStartMemberRefuses: listeners that would let anyone but clpd reach the store, or whose
// scheme contradicts the TLS setting, are refused before etcd starts.
func TestStartMemberRefuses(t *testing.T) {
	_, f := testPKI(t)
	loose := func() pki.Files {
		_, lf := testPKI(t)
		if err := os.Chmod(lf.Key, 0o644); err != nil {
			t.Fatal(err)
		}
		return lf
	}()
	h, hs := "http://127.0.0.1:2380", "https://127.0.0.1:2380"
	for _, tc := range []struct {
		name string
		mc   MemberConfig
		want string
	}{
		{"http client URL with TLS", MemberConfig{ClientURL: "http://127.0.0.1:2379", PeerURL: hs, TLS: f},
			`etcd member s1: client URL "http://127.0.0.1:2379" is not https:// but the member serves only TLS (certificate ` + f.Cert + `): use https://127.0.0.1:2379`},
		{"http peer URL with TLS", MemberConfig{ClientURL: "https://127.0.0.1:2379", PeerURL: h, TLS: f},
			`etcd member s1: peer URL "http://127.0.0.1:2380" is not https://`},
		{"http initial cluster with TLS", MemberConfig{ClientURL: "https://127.0.0.1:2379", PeerURL: hs, TLS: f, InitialCluster: "s1=" + hs + ",s2=http://10.0.0.2:2380"},
			`etcd member s1: initial cluster peer URL of s2 "http://10.0.0.2:2380" is not https://`},
		{"https client URL without TLS", MemberConfig{ClientURL: "https://127.0.0.1:2379", PeerURL: h},
			`etcd member s1: client URL "https://127.0.0.1:2379" is https:// but the member has no certificates: give it the cluster PKI, or use http://127.0.0.1`},
		{"no TLS on another address", MemberConfig{ClientURL: "http://10.0.0.1:2379", PeerURL: h},
			`etcd member s1: client URL "http://10.0.0.1:2379" would serve the store without TLS to other hosts, letting them start and stop groups: give the member the cluster PKI and use https://, or listen on 127.0.0.1`},
		{"no TLS on every address", MemberConfig{ClientURL: "http://127.0.0.1:2379", PeerURL: "http://0.0.0.0:2380"},
			`etcd member s1: peer URL "http://0.0.0.0:2380" would serve the store without TLS`},
		{"no TLS on a host name", MemberConfig{ClientURL: "http://server1:2379", PeerURL: h},
			`etcd member s1: client URL "http://server1:2379" would serve the store without TLS`},
		{"not a URL", MemberConfig{ClientURL: "127.0.0.1:2379", PeerURL: h},
			`etcd member s1: client URL "127.0.0.1:2379" is not a URL`},
		{"unix socket", MemberConfig{ClientURL: "unix:///run/x.sock", PeerURL: h},
			`etcd member s1: client URL "unix:///run/x.sock" is not a URL`},
		{"loose key", MemberConfig{ClientURL: "https://127.0.0.1:2379", PeerURL: hs, TLS: loose},
			"etcd member s1: " + loose.Key + " is readable by other users (mode 0644): chmod 600 " + loose.Key},
		{"missing certificate", MemberConfig{ClientURL: "https://127.0.0.1:2379", PeerURL: hs, TLS: pki.Files{CA: f.CA, Cert: f.Cert + ".gone", Key: f.Key}},
			"etcd member s1: " + f.Cert + ".gone is missing: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.mc.Name = "s1"
			tc.mc.Dir = filepath.Join(t.TempDir(), "etcd")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, err := StartMember(ctx, tc.mc)
			if err == nil {
				m.Close()
				t.Fatalf("StartMember accepted %+v", tc.mc)
			}
			if !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("StartMember:\n got %q\nwant %q…", err, tc.want)
			}
			if _, serr := os.Stat(tc.mc.Dir); serr == nil {
				t.Error("StartMember created the data dir before refusing")
			}
		})
	}
	// Plain http:// on loopback is still the single-machine default.
	for _, u := range []string{"http://127.0.0.1:2379", "http://localhost:2379", "http://[::1]:2379", "http://127.0.0.2:2379"} {
		if _, err := (MemberConfig{Name: "s1", ClientURL: u, PeerURL: h}).checkURLs(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	// Members given one initial cluster, in any order, share a token; other clusters do not.
	a := ClusterToken("s1=https://10.0.0.1:2380,s2=https://10.0.0.2:2380")
	if b := ClusterToken("s2=https://10.0.0.2:2380, s1=https://10.0.0.1:2380"); a != b {
		t.Errorf("tokens %s and %s of one cluster differ", a, b)
	}
	if b := ClusterToken("s1=https://10.0.0.1:2380"); a == b {
		t.Errorf("two clusters share token %s", a)
	}
}
