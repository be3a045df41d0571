package psaver

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadPfileBounded: a pfile that never ends (/dev/zero), one a byte over the limit, and a
// sparse file of a gigabyte are refused with one line that says so, quickly and without reading
// them whole; a pfile of exactly the limit is read.
func TestReadPfileBounded(t *testing.T) {
	dir := t.TempDir()
	over := filepath.Join(dir, "over")
	if err := os.WriteFile(over, bytes.Repeat([]byte{'#'}, MaxPfileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "sparse")
	if f, err := os.Create(sparse); err != nil {
		t.Fatal(err)
	} else if err := f.Truncate(1 << 30); err != nil {
		t.Fatal(err)
	} else {
		f.Close()
	}
	for _, path := range []string{"/dev/zero", over, sparse} {
		start := time.Now()
		b, err := ReadPfile(path)
		if want := "pfile " + path + " is larger than 1 MiB"; err == nil || err.Error() != want {
			t.Errorf("ReadPfile(%s) = %d bytes, %v; want %q", path, len(b), err, want)
		}
		var tl *TooLargeError
		var pe PfileError
		if !errors.As(err, &tl) || !errors.As(err, &pe) {
			t.Errorf("ReadPfile(%s): %T is not a *TooLargeError and a PfileError", path, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("ReadPfile(%s) took %v", path, d)
		}
	}

	exact := filepath.Join(dir, "exact")
	if err := os.WriteFile(exact, bytes.Repeat([]byte{'#'}, MaxPfileSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadPfile(exact); err != nil || len(b) != MaxPfileSize {
		t.Errorf("ReadPfile of exactly %d bytes: %d bytes, %v", MaxPfileSize, len(b), err)
	}
	if _, err := ReadPfile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadPfile of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestTooLargeErrorOneLine: a path with a newline still gives one line.
func TestTooLargeErrorOneLine(t *testing.T) {
	err := &TooLargeError{Path: "/tmp/a\nb", Limit: MaxPfileSize}
	if got, want := err.Error(), "pfile /tmp/a?b is larger than 1 MiB"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestHolderLockFileBounded: a lock file far larger than a pid and a path names no holder;
// before, its whole content was read and its tail taken for the pfile.
func TestHolderLockFileBounded(t *testing.T) {
	dir := t.TempDir()
	lock := lockPath(dir, 0x1)
	junk := append([]byte("123\n/etc/pfile\n"), bytes.Repeat([]byte{'x'}, maxLockFile)...)
	if err := os.WriteFile(lock, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	if pid, pf := readHolder(lock); pid != 0 || pf != "" {
		t.Errorf("readHolder of a %d-byte lock file = %d, %d bytes of pfile; want nothing", len(junk), pid, len(pf))
	}
	// A lock file as pcheck writes it is still read.
	if err := os.WriteFile(lock, []byte("123\n/etc/pfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pid, pf := readHolder(lock); pid != 123 || pf != "/etc/pfile" {
		t.Errorf("readHolder = %d, %q; want 123, /etc/pfile", pid, pf)
	}
}

// TestCallAnswerBounded: a peer on the control socket that sends more than maxResponse bytes
// without a newline gets a one-line error once the limit is read, not unbounded memory.
func TestCallAnswerBounded(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		chunk := bytes.Repeat([]byte{'{'}, 1<<20)
		for sent := 0; sent <= maxResponse; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = Call(ctx, sock, Request{Command: "show", Pfile: "/p"})
	if err == nil || err.Error() != "pcheck's answer is larger than 64 MiB" {
		t.Errorf("Call: %v; want pcheck's answer is larger than 64 MiB", err)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	ln.Close()
	<-done
}
