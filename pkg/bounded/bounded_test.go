package bounded

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	exact := filepath.Join(dir, "exact")
	over := filepath.Join(dir, "over")
	if err := os.WriteFile(exact, []byte(strings.Repeat("x", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(over, []byte(strings.Repeat("x", 101)), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(exact, 100); err != nil || len(b) != 100 {
		t.Errorf("ReadFile(100 bytes, limit 100) = %d bytes, %v; want the file", len(b), err)
	}
	for _, path := range []string{over, "/dev/zero"} {
		_, err := ReadFile(path, 100)
		var tl *TooLargeError
		if !errors.As(err, &tl) || tl.Path != path || tl.Limit != 100 {
			t.Errorf("ReadFile(%s, 100) = %v, want a *TooLargeError", path, err)
		}
		if want := path + " is larger than 100 bytes"; err == nil || err.Error() != want {
			t.Errorf("ReadFile(%s) says %v, want %q", path, err, want)
		}
	}
	_, err := ReadFile(filepath.Join(dir, "missing"), 100)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want not exist", err)
	}
	_, err = ReadFile(dir, 100)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "read" {
		t.Errorf("ReadFile(a directory) = %v, want a read *PathError", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{1 << 20: "1 MiB", 64 << 10: "64 KiB", 100: "100 bytes", 1<<20 + 1: "1048577 bytes", 1536: "1536 bytes", 3 << 20: "3 MiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
