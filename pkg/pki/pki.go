// Package pki holds a cluster's certificate authority and its servers' certificates: the files
// that let only clpd talk to the store and to the other servers, over mutually authenticated TLS.
//
// A PKI directory holds
//
//	ca.crt, ca.key            the cluster CA (ca.key only on the server that issues certificates)
//	<server>.crt, <server>.key  one certificate per server
//
// A server's one certificate is both the TLS server certificate of its etcd member and the client
// certificate with which its clpd talks to the store and to other servers. Keys are written 0600,
// certificates 0644, the directory is created 0700; every file is replaced atomically, so a crash
// never leaves half a key.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

const (
	caCertName = "ca.crt"
	caKeyName  = "ca.key"

	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 5 * 365 * 24 * time.Hour
	// renewBefore is how close to its expiry EnsureServer reissues a server certificate.
	renewBefore = 30 * 24 * time.Hour
	// backdate starts a certificate's validity a little in the past, so a server whose clock is
	// behind the issuer's accepts it at once.
	backdate = time.Hour
	// maxFileSize bounds what is read from a PKI file; real ones are a few hundred bytes.
	maxFileSize = 1 << 20
)

// Files are the paths of one server's TLS material.
type Files struct {
	// CA is the cluster CA certificate (ca.crt), trusted for peers and clients.
	CA string
	// Cert is the server's certificate (<server>.crt), served and presented as client certificate.
	Cert string
	// Key is Cert's private key (<server>.key).
	Key string
}

// ServerFiles returns the files of server in the PKI directory dir.
func ServerFiles(dir, server string) Files {
	return Files{
		CA:   filepath.Join(dir, caCertName),
		Cert: filepath.Join(dir, server+".crt"),
		Key:  filepath.Join(dir, server+".key"),
	}
}

// EnsureCA creates dir (mode 0700) and the cluster CA in it, unless a CA is already there. An
// existing CA is never replaced: that would orphan every certificate it issued.
func EnsureCA(dir, cluster string) error { return ensureCA(dir, cluster, time.Now()) }

func ensureCA(dir, cluster string, now time.Time) error {
	if cluster == "" {
		return errors.New("creating the cluster CA: the cluster name is empty: set [cluster] name")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating PKI directory %s: %w", dir, err)
	}
	crtPath, keyPath := filepath.Join(dir, caCertName), filepath.Join(dir, caKeyName)
	switch _, err := os.Stat(crtPath); {
	case err == nil:
		// A CA exists; make sure it is usable (and, where its key is, that the key is its own).
		cas, err := readCACerts(crtPath, now)
		if err != nil {
			return err
		}
		if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
			return nil // a server that does not issue certificates holds only ca.crt
		}
		_, err = readCAKey(cas[0], crtPath, keyPath)
		return err
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading the cluster CA certificate %s: %w", crtPath, err)
	}
	// ca.key without ca.crt is what a crash between the two writes leaves (the key is written
	// first). Certifying the same key again keeps whatever it signed valid.
	var key crypto.Signer
	switch _, err := os.Stat(keyPath); {
	case err == nil:
		b, err := readKeyFile(keyPath)
		if err != nil {
			return err
		}
		if key, err = parseKey(keyPath, b); err != nil {
			return fmt.Errorf("%w: remove %s to create a new cluster CA", err, keyPath)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading the cluster CA key %s: %w", keyPath, err)
	default:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("generating the cluster CA key: %w", err)
		}
		key = k
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return fmt.Errorf("encoding the cluster CA key: %w", err)
		}
		if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return err
		}
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "clpkit " + cluster + " CA"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		// The CA signs server certificates only, never another CA.
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("creating the cluster CA certificate: %w", err)
	}
	return writeFileAtomic(crtPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// EnsureServer issues server's certificate in dir, signed by the cluster CA, unless a valid one
// already covers every host (IP address or DNS name) and does not expire within 30 days. Issuing
// needs ca.key; a server without it must be given its certificate by the one that has it.
func EnsureServer(dir, server string, hosts []string) error {
	return ensureServer(dir, server, hosts, time.Now())
}

func ensureServer(dir, server string, hosts []string, now time.Time) error {
	if err := checkServerName(dir, server); err != nil {
		return err
	}
	want, err := normalizeHosts(server, hosts)
	if err != nil {
		return err
	}
	f := ServerFiles(dir, server)
	cas, err := readCACerts(f.CA, now)
	if err != nil {
		return err
	}
	why := reissueReason(f, cas, server, want, now)
	if why == "" {
		return nil
	}
	keyPath := filepath.Join(dir, caKeyName)
	if _, err := os.Stat(keyPath); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s needs a new certificate (%s) but %s is missing: copy ca.key (mode 0600) from the server that created the cluster CA, or copy %s.crt and %s.key issued there into %s",
			f.Cert, why, keyPath, server, server, dir)
	}
	return issue(dir, server, want, now.Add(-backdate), now.Add(serverValidity))
}

// issue signs a new key and certificate for server with the CA in dir, valid from notBefore to
// notAfter (tests pass past dates to make expired certificates).
func issue(dir, server string, hosts []string, notBefore, notAfter time.Time) error {
	f := ServerFiles(dir, server)
	caCerts, err := readCACerts(f.CA, notBefore)
	if err != nil {
		return err
	}
	ca := caCerts[0]
	caKey, err := readCAKey(ca, f.CA, filepath.Join(dir, caKeyName))
	if err != nil {
		return err
	}
	// A certificate cannot outlive the CA it chains to.
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the key of server %s: %w", server, err)
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: server},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("signing the certificate of server %s: %w", server, err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding the key of server %s: %w", server, err)
	}
	// Key first: a crash between the two leaves a key that does not match the old certificate,
	// which the next EnsureServer sees and reissues.
	if err := writeFileAtomic(f.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// reissueReason says why server's certificate must be issued anew, or "" when it is fine. Loose
// key permissions are not a reason: Check refuses them with the chmod that fixes them.
func reissueReason(f Files, cas []*x509.Certificate, server string, hosts []string, now time.Time) string {
	certPEM, err := readFile(f.Cert)
	if err != nil {
		return "no usable certificate"
	}
	leaf, err := parseLeaf(f.Cert, certPEM)
	if err != nil {
		return "certificate unreadable"
	}
	keyPEM, err := readFile(f.Key)
	if err != nil {
		return "no usable key"
	}
	key, err := parseKey(f.Key, keyPEM)
	if err != nil || !keyMatches(leaf, key) {
		return "key does not match"
	}
	switch {
	case now.After(leaf.NotAfter):
		return "expired on " + leaf.NotAfter.UTC().Format(time.DateOnly)
	case now.Add(renewBefore).After(leaf.NotAfter):
		return "expires on " + leaf.NotAfter.UTC().Format(time.DateOnly)
	case now.Before(leaf.NotBefore):
		return "not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339)
	case chainErr(leaf, cas, now) != nil:
		return "not issued by the cluster CA"
	}
	if leaf.Subject.CommonName != server {
		return fmt.Sprintf("issued to %q", leaf.Subject.CommonName)
	}
	if !hasBothUsages(leaf) {
		return "not usable as both server and client certificate"
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return "does not cover " + h
		}
	}
	return ""
}

// Check verifies f before a listener or client uses it: every file exists and parses, the
// certificate chains to the CA, is valid now and serves as both server and client certificate,
// the key matches it, and the key is readable by its owner (this process's user) only.
func Check(f Files) error {
	_, err := load(f, time.Now())
	return err
}

// ClientConfig is the TLS configuration with which clpd talks to the store and other servers:
// it trusts the cluster CA only and presents the server's certificate.
func ClientConfig(f Files) (*tls.Config, error) {
	m, err := load(f, time.Now())
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: m.pool, Certificates: []tls.Certificate{m.pair}, MinVersion: tls.VersionTLS12}, nil
}

// ServerConfig is the TLS configuration of a listener that serves only holders of a certificate
// from the cluster CA.
func ServerConfig(f Files) (*tls.Config, error) {
	m, err := load(f, time.Now())
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{m.pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    m.pool,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

type material struct {
	pool *x509.CertPool
	pair tls.Certificate
}

func load(f Files, now time.Time) (material, error) {
	cas, err := readCACerts(f.CA, now)
	if err != nil {
		return material{}, err
	}
	certPEM, err := readFile(f.Cert)
	if err != nil {
		return material{}, missingOr(err, f.Cert, reissue(f))
	}
	// The key's permissions are checked before its contents are looked at.
	keyPEM, err := readKeyFile(f.Key)
	if err != nil {
		return material{}, err
	}
	leaf, err := parseLeaf(f.Cert, certPEM)
	if err != nil {
		return material{}, fmt.Errorf("%w: %s", err, reissue(f))
	}
	key, err := parseKey(f.Key, keyPEM)
	if err != nil {
		return material{}, fmt.Errorf("%w: %s", err, reissue(f))
	}
	if !keyMatches(leaf, key) {
		return material{}, fmt.Errorf("%s is not the key of %s: %s", f.Key, f.Cert, reissue(f))
	}
	if now.Before(leaf.NotBefore) {
		return material{}, fmt.Errorf("%s is not valid before %s: check this server's clock", f.Cert, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(leaf.NotAfter) {
		return material{}, fmt.Errorf("%s expired on %s: %s", f.Cert, leaf.NotAfter.UTC().Format(time.RFC3339), reissue(f))
	}
	if err := chainErr(leaf, cas, now); err != nil {
		return material{}, fmt.Errorf("%s was not issued by the cluster CA in %s (%v): %s", f.Cert, f.CA, err, reissue(f))
	}
	if !hasBothUsages(leaf) {
		return material{}, fmt.Errorf("%s is not usable as both TLS server and client certificate (needs extended key usages serverAuth and clientAuth): %s", f.Cert, reissue(f))
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return material{}, fmt.Errorf("loading %s and %s: %w: %s", f.Cert, f.Key, err, reissue(f))
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	return material{pool: pool, pair: pair}, nil
}

// reissue is the fix for a bad server certificate or key.
func reissue(f Files) string {
	return fmt.Sprintf("issue a new %s and %s from the cluster CA (on the server holding ca.key) and copy them here, the key with mode 0600",
		filepath.Base(f.Cert), filepath.Base(f.Key))
}

func missingOr(err error, path, fix string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: %s", path, fix)
	}
	return fmt.Errorf("%w: %s", err, fix)
}

// readCACerts reads the CA certificates in path (usually one; more while a CA is replaced).
func readCACerts(path string, now time.Time) ([]*x509.Certificate, error) {
	const fix = "copy ca.crt from the server that created the cluster CA"
	b, err := readFile(path)
	if err != nil {
		return nil, missingOr(err, path, fix)
	}
	certs, err := parseCerts(path, b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, fix)
	}
	for _, c := range certs {
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, fmt.Errorf("%s holds a certificate that is not a CA (%q): %s", path, c.Subject.CommonName, fix)
		}
		if now.After(c.NotAfter) {
			return nil, fmt.Errorf("the cluster CA in %s expired on %s: create a new cluster CA and issue every server's certificate again", path, c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return certs, nil
}

// readCAKey reads the CA's key at keyPath and checks it is the key of ca.
func readCAKey(ca *x509.Certificate, crtPath, keyPath string) (crypto.Signer, error) {
	b, err := readKeyFile(keyPath)
	if err != nil {
		return nil, err
	}
	k, err := parseKey(keyPath, b)
	if err != nil {
		return nil, fmt.Errorf("%w: restore ca.key from a backup, or remove ca.crt and ca.key to create a new cluster CA", err)
	}
	if !keyMatches(ca, k) {
		return nil, fmt.Errorf("%s is not the key of %s: restore the matching pair from a backup, or remove both to create a new cluster CA", keyPath, crtPath)
	}
	return k, nil
}

// readFile reads a PKI file. It opens without blocking (a FIFO planted there must not hang clpd)
// and refuses anything but a regular file.
func readFile(path string) ([]byte, error) {
	b, _, err := readRegular(path)
	return b, err
}

// readKeyFile reads a private key file, refusing it unless only its owner, this process's user,
// can read or write it.
func readKeyFile(path string) ([]byte, error) {
	b, st, err := readRegular(path)
	if err != nil {
		return nil, missingOr(err, path, "copy it (mode 0600) with its certificate from the server that issued it")
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		how := "readable"
		if m&0o044 == 0 {
			how = "writable"
		}
		return nil, fmt.Errorf("%s is %s by other users (mode %#o): chmod 600 %s", path, how, m, path)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("%s belongs to uid %d, not to uid %d that runs clpd: chown %d %s", path, sys.Uid, os.Geteuid(), os.Geteuid(), path)
	}
	return b, nil
}

func readRegular(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file (%s)", path, st.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return nil, nil, fmt.Errorf("%s is larger than %d bytes, too large for a PEM file", path, maxFileSize)
	}
	return b, st, nil
}

func parseCerts(path string, b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s holds an unreadable certificate (%v)", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return out, nil
}

// parseLeaf returns the first certificate in b, the one a TLS peer is shown.
func parseLeaf(path string, b []byte) (*x509.Certificate, error) {
	certs, err := parseCerts(path, b)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

func parseKey(path string, b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM private key", path)
		}
		var k any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s holds an unreadable private key (%v)", path, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s holds an unsupported kind of private key (%T)", path, k)
		}
		return s, nil
	}
}

func keyMatches(c *x509.Certificate, k crypto.Signer) bool {
	pub, ok := c.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(k.Public())
}

func chainErr(leaf *x509.Certificate, cas []*x509.Certificate, now time.Time) error {
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err
}

func hasBothUsages(c *x509.Certificate) bool {
	return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) && slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
}

// checkServerName refuses a server name that would not make a file of its own in dir.
func checkServerName(dir, server string) error {
	switch {
	case server == "" || server == "." || server == ".." || strings.ContainsAny(server, "/\x00"):
		return fmt.Errorf("issuing a certificate in %s: server name %q cannot name a file: use letters, digits, '-', '_' or '.'", dir, server)
	case server == "ca":
		return fmt.Errorf("issuing a certificate in %s: server name %q would overwrite the cluster CA's files: rename the server", dir, server)
	}
	return nil
}

// normalizeHosts returns hosts plus the loopback names, each once: IP addresses in canonical
// form (brackets dropped), DNS names in lower case.
func normalizeHosts(server string, hosts []string) ([]string, error) {
	var out []string
	// Every server certificate covers loopback: clpd reaches its own member there.
	for _, h := range append(slices.Clone(hosts), "127.0.0.1", "::1", "localhost") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); ip != nil {
			h = ip.String()
		} else if !validDNSName(h) {
			return nil, fmt.Errorf("issuing a certificate for server %s: host %q is neither an IP address nor a DNS name: give the server's address", server, h)
		} else {
			h = strings.ToLower(strings.TrimSuffix(h, "."))
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

func validDNSName(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("drawing a certificate serial number: %w", err)
	}
	return n, nil
}

// writeFileAtomic replaces path with data: a temporary file of the final mode in the same
// directory, synced, renamed over path, and the directory synced, so a crash leaves either the
// old file or the new one.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	// CreateTemp made it 0600 already; Chmod sets the final mode whatever the umask.
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = io.Copy(tmp, bytes.NewReader(data)); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
