package cgroup

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func seed(f *testing.F, name string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*", "self", name))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// Whatever the kernel (or a broken /proc) writes, the parsers return a mount point or an error,
// never panic; a mount point found is one of the line's fields, unescaped.
func FuzzParseMountinfo(f *testing.F) {
	seed(f, "mountinfo")
	f.Add([]byte(`1 2 0:1 / /a\04 - cgroup2 x rw`))
	f.Add([]byte("1 2 0:1 / /a\\134 - cgroup2 x rw\n1 2 0:1 / / - cgroup2"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseMountinfo(bytes.NewReader(b))
		if err == nil && got == "" {
			t.Fatalf("parseMountinfo(%q) returned no mount point and no error", b)
		}
	})
}

func FuzzParseSelf(f *testing.F) {
	seed(f, "cgroup")
	f.Add([]byte("0::"))
	f.Add([]byte("0::/a (deleted)\n0::/b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseSelf(string(b))
		if err == nil && !strings.HasPrefix(got, "/") {
			t.Fatalf("parseSelf(%q) = %q, not an absolute cgroup path", b, got)
		}
	})
}
