package pki

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzCheck: whatever bytes lie in the PEM files, Check and the TLS configurations refuse them
// or accept them, never panic.
func FuzzCheck(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "pki")
	if err := EnsureCA(dir, "c1"); err != nil {
		f.Fatal(err)
	}
	if err := EnsureServer(dir, "server1", []string{"10.0.0.1"}); err != nil {
		f.Fatal(err)
	}
	sf := ServerFiles(dir, "server1")
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	ca, crt, key := read(sf.CA), read(sf.Cert), read(sf.Key)
	f.Add(ca, crt, key)
	f.Add(ca, ca, key)
	f.Add(crt, crt, crt)
	f.Add([]byte{}, []byte{}, []byte{})
	f.Add(append(ca, crt...), append(crt, ca...), append(key, key...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), crt, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, ca, crt, key []byte) {
		d := t.TempDir()
		files := Files{CA: filepath.Join(d, "ca.crt"), Cert: filepath.Join(d, "s.crt"), Key: filepath.Join(d, "s.key")}
		for p, b := range map[string][]byte{files.CA: ca, files.Cert: crt, files.Key: key} {
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		err := Check(files)
		if _, cerr := ClientConfig(files); (cerr == nil) != (err == nil) {
			t.Fatalf("Check: %v but ClientConfig: %v", err, cerr)
		}
		if _, serr := ServerConfig(files); (serr == nil) != (err == nil) {
			t.Fatalf("Check: %v but ServerConfig: %v", err, serr)
		}
		_ = reissueReason(files, nil, "s", []string{"127.0.0.1"}, time.Now())
	})
}
