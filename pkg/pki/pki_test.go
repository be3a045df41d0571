package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newPKI makes a CA and the certificate of server1 (and server2) in a fresh directory.
func newPKI(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := EnsureCA(dir, "c1"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"server1", "server2"} {
		if err := EnsureServer(dir, s, []string{"10.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustWrite(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func leafOf(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := parseLeaf(path, mustRead(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEnsureCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := EnsureCA(dir, "c1"); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, filepath.Join(dir, "ca.key"): 0o600, filepath.Join(dir, "ca.crt"): 0o644} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, st.Mode(), want)
		}
	}
	ca := leafOf(t, filepath.Join(dir, "ca.crt"))
	if ca.Subject.CommonName != "clpkit c1 CA" || !ca.IsCA || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA certificate: CN %q, IsCA %v, key usage %v", ca.Subject.CommonName, ca.IsCA, ca.KeyUsage)
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life < caValidity {
		t.Errorf("CA valid for %v, want 10 years", life)
	}
	if left, _ := os.ReadDir(dir); len(left) != 2 {
		t.Errorf("PKI dir holds %d files, want ca.crt and ca.key only (no temporary files)", len(left))
	}

	// An existing CA is kept.
	crt, key := mustRead(t, filepath.Join(dir, "ca.crt")), mustRead(t, filepath.Join(dir, "ca.key"))
	if err := EnsureCA(dir, "c1"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(crt, mustRead(t, filepath.Join(dir, "ca.crt"))) || !bytes.Equal(key, mustRead(t, filepath.Join(dir, "ca.key"))) {
		t.Error("EnsureCA replaced an existing CA")
	}

	// ca.key without ca.crt (a crash between the two writes): the key is certified again, and
	// what it signed before still checks.
	if err := EnsureServer(dir, "server1", nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "ca.crt")); err != nil {
		t.Fatal(err)
	}
	if err := EnsureCA(dir, "c1"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, mustRead(t, filepath.Join(dir, "ca.key"))) {
		t.Error("EnsureCA replaced the CA key instead of certifying it again")
	}
	if err := Check(ServerFiles(dir, "server1")); err != nil {
		t.Errorf("a certificate of the CA key does not check against its new CA certificate: %v", err)
	}

	// Only ca.crt (a server that does not issue): fine.
	if err := os.Remove(filepath.Join(dir, "ca.key")); err != nil {
		t.Fatal(err)
	}
	if err := EnsureCA(dir, "c1"); err != nil {
		t.Errorf("EnsureCA on a server without ca.key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.key")); err == nil {
		t.Error("EnsureCA created a key for an existing CA certificate")
	}
}

func TestEnsureCAErrors(t *testing.T) {
	other := newPKI(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"key of another CA", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "ca.key"), mustRead(t, filepath.Join(other, "ca.key")), 0o600)
		}, "ca.key is not the key of "},
		{"loose CA key", func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "ca.key"), 0o640); err != nil {
				t.Fatal(err)
			}
		}, "ca.key is readable by other users (mode 0640): chmod 600 "},
		{"certificate that is not a CA", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "ca.crt"), mustRead(t, filepath.Join(other, "server1.crt")), 0o644)
		}, "ca.crt holds a certificate that is not a CA"},
		{"garbage certificate", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "ca.crt"), []byte("junk"), 0o644)
		}, "ca.crt holds no PEM certificate: copy ca.crt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newPKI(t)
			tc.setup(t, dir)
			err := EnsureCA(dir, "c1")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("EnsureCA: %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	if err := EnsureCA(t.TempDir(), ""); err == nil {
		t.Error("EnsureCA accepted an empty cluster name")
	}
}

func TestEnsureServer(t *testing.T) {
	dir := newPKI(t)
	f := ServerFiles(dir, "server1")
	if f != (Files{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "server1.crt"), Key: filepath.Join(dir, "server1.key")}) {
		t.Fatalf("ServerFiles = %+v", f)
	}
	if err := Check(f); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{f.Cert: 0o644, f.Key: 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", path, st.Mode(), err, want)
		}
	}
	c := leafOf(t, f.Cert)
	if c.Subject.CommonName != "server1" || !hasBothUsages(c) || c.IsCA {
		t.Errorf("server certificate: CN %q, ext key usage %v, IsCA %v", c.Subject.CommonName, c.ExtKeyUsage, c.IsCA)
	}
	if life := c.NotAfter.Sub(c.NotBefore); life < serverValidity {
		t.Errorf("server certificate valid for %v, want 5 years", life)
	}

	// The SANs: the hosts, deduplicated, plus loopback.
	if err := EnsureServer(dir, "server3", []string{"10.0.0.3", "10.0.0.3", "Node3.Example", "[::1]", "node3.example.", " ", "fe80::1"}); err != nil {
		t.Fatal(err)
	}
	c = leafOf(t, filepath.Join(dir, "server3.crt"))
	var ips []string
	for _, ip := range c.IPAddresses {
		ips = append(ips, ip.String())
	}
	if want := []string{"10.0.0.3", "::1", "fe80::1", "127.0.0.1"}; !sameSet(ips, want) {
		t.Errorf("IP SANs = %v, want %v", ips, want)
	}
	if want := []string{"node3.example", "localhost"}; !sameSet(c.DNSNames, want) {
		t.Errorf("DNS SANs = %v, want %v", c.DNSNames, want)
	}

	// Nothing to do: the same bytes stay, also for a subset of the hosts.
	crt := mustRead(t, f.Cert)
	for _, hosts := range [][]string{{"10.0.0.1"}, nil, {"127.0.0.1", "localhost"}} {
		if err := EnsureServer(dir, "server1", hosts); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(crt, mustRead(t, f.Cert)) {
			t.Fatalf("EnsureServer(%v) reissued a certificate that covers it", hosts)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestEnsureServerReissues: every reason to issue a certificate anew, and the reasons not to.
func TestEnsureServerReissues(t *testing.T) {
	now := time.Now()
	otherCA := newPKI(t)
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T, dir string)
		hosts   []string
		reissue bool
	}{
		{"valid", func(*testing.T, string) {}, []string{"10.0.0.1"}, false},
		{"new host", func(*testing.T, string) {}, []string{"10.0.0.1", "10.0.0.9"}, true},
		{"new DNS name", func(*testing.T, string) {}, []string{"server1.example"}, true},
		{"expires in 10 days", func(t *testing.T, dir string) {
			mustIssue(t, dir, "server1", []string{"10.0.0.1"}, now.Add(-time.Hour), now.Add(10*24*time.Hour))
		}, []string{"10.0.0.1"}, true},
		{"expires in 60 days", func(t *testing.T, dir string) {
			mustIssue(t, dir, "server1", []string{"10.0.0.1"}, now.Add(-time.Hour), now.Add(60*24*time.Hour))
		}, []string{"10.0.0.1"}, false},
		{"expired", func(t *testing.T, dir string) {
			mustIssue(t, dir, "server1", []string{"10.0.0.1"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		}, []string{"10.0.0.1"}, true},
		{"key of another server", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "server1.key"), mustRead(t, filepath.Join(dir, "server2.key")), 0o600)
		}, []string{"10.0.0.1"}, true},
		{"key missing", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "server1.key"))
		}, []string{"10.0.0.1"}, true},
		{"certificate missing", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "server1.crt"))
		}, []string{"10.0.0.1"}, true},
		{"certificate of another CA", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "server1.crt"), mustRead(t, filepath.Join(otherCA, "server1.crt")), 0o644)
			mustWrite(t, filepath.Join(dir, "server1.key"), mustRead(t, filepath.Join(otherCA, "server1.key")), 0o600)
		}, []string{"10.0.0.1"}, true},
		{"certificate of another server", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "server1.crt"), mustRead(t, filepath.Join(dir, "server2.crt")), 0o644)
			mustWrite(t, filepath.Join(dir, "server1.key"), mustRead(t, filepath.Join(dir, "server2.key")), 0o600)
		}, []string{"10.0.0.1"}, true},
		{"garbage certificate", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "server1.crt"), []byte("junk"), 0o644)
		}, []string{"10.0.0.1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newPKI(t)
			tc.setup(t, dir)
			f := ServerFiles(dir, "server1")
			before, _ := os.ReadFile(f.Cert)
			if err := EnsureServer(dir, "server1", tc.hosts); err != nil {
				t.Fatal(err)
			}
			if got := !bytes.Equal(before, mustRead(t, f.Cert)); got != tc.reissue {
				t.Fatalf("reissued = %v, want %v", got, tc.reissue)
			}
			if err := Check(f); err != nil {
				t.Fatalf("after EnsureServer: %v", err)
			}
			c := leafOf(t, f.Cert)
			for _, h := range tc.hosts {
				if err := c.VerifyHostname(h); err != nil {
					t.Errorf("certificate does not cover %s: %v", h, err)
				}
			}
			if time.Until(c.NotAfter) < renewBefore {
				t.Errorf("certificate expires %v", c.NotAfter)
			}

			// Without ca.key a certificate that is fine is accepted; one that needs reissuing is
			// an error saying what to copy.
			dir = newPKI(t)
			tc.setup(t, dir)
			f = ServerFiles(dir, "server1")
			if err := os.Remove(filepath.Join(dir, "ca.key")); err != nil {
				t.Fatal(err)
			}
			err := EnsureServer(dir, "server1", tc.hosts)
			if !tc.reissue {
				if err != nil {
					t.Fatalf("without ca.key, a valid certificate: %v", err)
				}
				return
			}
			want := f.Cert + " needs a new certificate"
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), filepath.Join(dir, "ca.key")+" is missing: copy ca.key (mode 0600) from the server that created the cluster CA") {
				t.Fatalf("without ca.key: %v, want %q and what to copy", err, want)
			}
			t.Log(err)
		})
	}
}

func mustIssue(t *testing.T, dir, server string, hosts []string, notBefore, notAfter time.Time) {
	t.Helper()
	hosts, err := normalizeHosts(server, hosts)
	if err != nil {
		t.Fatal(err)
	}
	if err := issue(dir, server, hosts, notBefore, notAfter); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureServerErrors(t *testing.T) {
	dir := newPKI(t)
	for _, tc := range []struct {
		dir, server string
		hosts       []string
		want        string
	}{
		{t.TempDir(), "server1", nil, "ca.crt is missing: copy ca.crt from the server that created the cluster CA"},
		{dir, "ca", nil, `server name "ca" would overwrite the cluster CA's files`},
		{dir, "../x", nil, `server name "../x" cannot name a file`},
		{dir, "", nil, `server name "" cannot name a file`},
		{dir, "server1", []string{"not a host"}, `host "not a host" is neither an IP address nor a DNS name`},
		{dir, "server1", []string{"10.0.0.1/24"}, `host "10.0.0.1/24" is neither`},
	} {
		err := EnsureServer(tc.dir, tc.server, tc.hosts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("EnsureServer(%q, %v): %v, want %q", tc.server, tc.hosts, err, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	now := time.Now()
	otherCA := newPKI(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		// want is the whole error with {dir} for the PKI directory, or a prefix ending in "…".
		want string
	}{
		{"valid", func(*testing.T, string) {}, ""},
		{"CA missing", func(t *testing.T, dir string) { _ = os.Remove(filepath.Join(dir, "ca.crt")) },
			"{dir}/ca.crt is missing: copy ca.crt from the server that created the cluster CA"},
		{"certificate missing", func(t *testing.T, dir string) { _ = os.Remove(filepath.Join(dir, "server1.crt")) },
			"{dir}/server1.crt is missing: issue a new server1.crt and server1.key from the cluster CA (on the server holding ca.key) and copy them here, the key with mode 0600"},
		{"key missing", func(t *testing.T, dir string) { _ = os.Remove(filepath.Join(dir, "server1.key")) },
			"{dir}/server1.key is missing: copy it (mode 0600) with its certificate from the server that issued it"},
		{"key readable by others", func(t *testing.T, dir string) { _ = os.Chmod(filepath.Join(dir, "server1.key"), 0o644) },
			"{dir}/server1.key is readable by other users (mode 0644): chmod 600 {dir}/server1.key"},
		{"key readable by the group", func(t *testing.T, dir string) { _ = os.Chmod(filepath.Join(dir, "server1.key"), 0o640) },
			"{dir}/server1.key is readable by other users (mode 0640): chmod 600 {dir}/server1.key"},
		{"key writable by others", func(t *testing.T, dir string) { _ = os.Chmod(filepath.Join(dir, "server1.key"), 0o602) },
			"{dir}/server1.key is writable by other users (mode 0602): chmod 600 {dir}/server1.key"},
		{"key owned by another user", func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			_ = os.Chown(filepath.Join(dir, "server1.key"), 65534, 65534)
		}, "{dir}/server1.key belongs to uid 65534, not to uid 0 that runs clpd: chown 0 {dir}/server1.key"},
		{"key is a directory", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "server1.key"))
			_ = os.Mkdir(filepath.Join(dir, "server1.key"), 0o700)
		}, "{dir}/server1.key is not a regular file (d---------): …"},
		{"key is a FIFO", func(t *testing.T, dir string) {
			_ = os.Remove(filepath.Join(dir, "server1.key"))
			if err := mkfifo(filepath.Join(dir, "server1.key")); err != nil {
				t.Fatal(err)
			}
		}, "{dir}/server1.key is not a regular file (p---------): …"},
		{"certificate from another CA", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "server1.crt"), mustRead(t, filepath.Join(otherCA, "server1.crt")), 0o644)
			mustWrite(t, filepath.Join(dir, "server1.key"), mustRead(t, filepath.Join(otherCA, "server1.key")), 0o600)
		}, "{dir}/server1.crt was not issued by the cluster CA in {dir}/ca.crt (x509: certificate signed by unknown authority…"},
		{"expired", func(t *testing.T, dir string) {
			mustIssue(t, dir, "server1", nil, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
		}, "{dir}/server1.crt expired on " + now.Add(-24*time.Hour).UTC().Format(time.RFC3339) + ": issue a new server1.crt and server1.key from the cluster CA (on the server holding ca.key) and copy them here, the key with mode 0600"},
		{"not yet valid", func(t *testing.T, dir string) {
			mustIssue(t, dir, "server1", nil, now.Add(24*time.Hour), now.Add(48*time.Hour))
		}, "{dir}/server1.crt is not valid before " + now.Add(24*time.Hour).UTC().Format(time.RFC3339) + ": check this server's clock"},
		{"key of another server", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "server1.key"), mustRead(t, filepath.Join(dir, "server2.key")), 0o600)
		}, "{dir}/server1.key is not the key of {dir}/server1.crt: issue a new …"},
		{"garbage certificate", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "server1.crt"), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
		}, "{dir}/server1.crt holds an unreadable certificate (x509: …"},
		{"empty key", func(t *testing.T, dir string) { mustWrite(t, filepath.Join(dir, "server1.key"), nil, 0o600) },
			"{dir}/server1.key holds no PEM private key: issue a new …"},
		{"certificate instead of key", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "server1.key"), mustRead(t, filepath.Join(dir, "server1.crt")), 0o600)
		}, "{dir}/server1.key holds no PEM private key: …"},
		{"CA is a server certificate", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "ca.crt"), mustRead(t, filepath.Join(dir, "server2.crt")), 0o644)
		}, `{dir}/ca.crt holds a certificate that is not a CA ("server2"): copy ca.crt from the server that created the cluster CA`},
		{"CA of another cluster", func(t *testing.T, dir string) {
			mustWrite(t, filepath.Join(dir, "ca.crt"), mustRead(t, filepath.Join(otherCA, "ca.crt")), 0o644)
		}, "{dir}/server1.crt was not issued by the cluster CA in {dir}/ca.crt (…"},
		{"server-only certificate", func(t *testing.T, dir string) {
			writeCert(t, dir, "server1", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
		}, "{dir}/server1.crt is not usable as both TLS server and client certificate (needs extended key usages serverAuth and clientAuth): …"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newPKI(t)
			tc.setup(t, dir)
			err := Check(ServerFiles(dir, "server1"))
			want := strings.ReplaceAll(tc.want, "{dir}", dir)
			switch {
			case want == "":
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			case err == nil:
				t.Fatalf("Check passed, want %q", want)
			case strings.HasSuffix(want, "…"):
				if !strings.HasPrefix(err.Error(), strings.TrimSuffix(want, "…")) {
					t.Fatalf("Check:\n got %q\nwant %q", err, want)
				}
			case err.Error() != want:
				t.Fatalf("Check:\n got %q\nwant %q", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if _, cerr := ClientConfig(ServerFiles(dir, "server1")); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("ClientConfig: %v, want Check's error", cerr)
			}
			if _, cerr := ServerConfig(ServerFiles(dir, "server1")); cerr == nil || cerr.Error() != err.Error() {
				t.Errorf("ServerConfig: %v, want Check's error", cerr)
			}
		})
	}
}

// writeCert replaces server's certificate with one of the same key, changed by edit.
func writeCert(t *testing.T, dir, server string, edit func(*x509.Certificate)) {
	t.Helper()
	f := ServerFiles(dir, server)
	old := leafOf(t, f.Cert)
	ca := leafOf(t, f.CA)
	caKey, err := readCAKey(ca, f.CA, filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := *old
	edit(&tmpl)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, old.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// TestHandshake: ServerConfig and ClientConfig authenticate each other over a real loopback
// connection, and the server refuses a client without a certificate or with one of another CA.
func TestHandshake(t *testing.T) {
	dir := newPKI(t)
	other := newPKI(t)
	srvCfg, err := ServerConfig(ServerFiles(dir, "server1"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := ClientConfig(ServerFiles(dir, "server2"))
	if err != nil {
		t.Fatal(err)
	}
	if good.MinVersion != tls.VersionTLS12 || srvCfg.MinVersion != tls.VersionTLS12 || srvCfg.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Fatalf("configs: client MinVersion %x, server MinVersion %x ClientAuth %v", good.MinVersion, srvCfg.MinVersion, srvCfg.ClientAuth)
	}
	// A client of another CA, which still trusts our CA so the refusal is the server's.
	foreign, err := ClientConfig(ServerFiles(other, "server2"))
	if err != nil {
		t.Fatal(err)
	}
	foreign.RootCAs = good.RootCAs
	for _, tc := range []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"cluster certificate", good, true},
		{"no certificate", &tls.Config{RootCAs: good.RootCAs, MinVersion: tls.VersionTLS12}, false},
		{"certificate of another CA", foreign, false},
		{"TLS 1.2 cluster certificate", tls12(good), true},
		{"TLS 1.2 no certificate", &tls.Config{RootCAs: good.RootCAs, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer, serverErr, clientErr := handshake(t, srvCfg, tc.client)
			if tc.ok {
				if serverErr != nil || clientErr != nil {
					t.Fatalf("handshake failed: server %v, client %v", serverErr, clientErr)
				}
				if peer != "server2" {
					t.Fatalf("server saw client %q, want server2", peer)
				}
				return
			}
			if serverErr == nil {
				t.Error("the server accepted the client")
			}
			if clientErr == nil {
				t.Error("the client got an answer")
			}
		})
	}
}

func tls12(c *tls.Config) *tls.Config {
	c = c.Clone()
	c.MaxVersion = tls.VersionTLS12
	return c
}

// handshake connects client to a server of srvCfg on loopback; the server answers "ok" after a
// successful handshake. With TLS 1.3 a client learns that the server refused its certificate
// only on its first read, so the client's error is that of handshake and read together.
func handshake(t *testing.T, srvCfg, client *tls.Config) (peer string, serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		err  error
		peer string
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Server(c, srvCfg)
		if err := tc.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		_, err = tc.Write([]byte("ok"))
		done <- result{err: err, peer: tc.ConnectionState().PeerCertificates[0].Subject.CommonName}
	}()
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	cfg := client.Clone()
	cfg.ServerName = "127.0.0.1"
	tc := tls.Client(c, cfg)
	clientErr = tc.Handshake()
	if clientErr == nil {
		var buf [2]byte
		if _, clientErr = io.ReadFull(tc, buf[:]); clientErr == nil && string(buf[:]) != "ok" {
			clientErr = errors.New("unexpected answer " + string(buf[:]))
		}
	}
	r := <-done
	return r.peer, r.err, clientErr
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }
