package fsmon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"clpkit/pkg/procwatch"
)

// The registry's files are read by every -disp, -stop, -pause and -del, and may hold anything: a
// watcher killed halfway through writing its record, a file an operator edited, another
// version's format. The ID comes from the command line. Whatever both hold, the registry must
// stay inside its directory, never take a record for a pid it does not name, and keep the lock
// protocol: one holder per ID.

// FuzzParseRecord checks the record parser alone: what it accepts names a real pid and is
// written back by Acquire's format to the same record.
func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"4242 812345\n", "1 0", " 4242\t812345 \n", "4242", "0 1\n", "-1 5\n",
		"4242 -5\n", "4242 18446744073709551615\n", "4242 18446744073709551616\n", "+12 3\n", "4242 812345 extra\n", "\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := parseRecord(s)
		if !ok {
			if r != (Record{}) {
				t.Fatalf("refused %q but returned %+v", s, r)
			}
			return
		}
		if r.PID <= 0 {
			t.Fatalf("%q gives pid %d", s, r.PID)
		}
		back, ok := parseRecord(fmt.Sprintf("%d %d\n", r.PID, r.Start))
		if !ok || back != r {
			t.Fatalf("%q: %+v written back reads as %+v (%v)", s, r, back, ok)
		}
	})
}

// FuzzRegistry runs one ID through the registry: a record file with arbitrary content, left by
// nobody alive, then a watcher of this process taking the ID, a second one refused, the release.
func FuzzRegistry(f *testing.F) {
	f.Add("w1", []byte("4242 812345\n"))
	f.Add("nfs-share_01", []byte("4242 812345"))
	f.Add("1", []byte(""))
	f.Add("id with blanks", []byte("garbage\x00\xff"))
	f.Add("..", []byte("1 1\n"))
	f.Add("a/b", []byte("1 1\n"))
	f.Add("...", []byte("99999999999999999999 1\n"))
	f.Add("x", []byte("                                                                                                                                4242 1\n"))
	self, err := procwatch.Identify("/proc", os.Getpid())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id string, content []byte) {
		root := t.TempDir()
		reg := Registry{Dir: filepath.Join(root, "sambamon")}
		path, err := reg.path(id)
		if err != nil {
			var se *SysError
			if !errors.As(err, &se) || se.Errno != syscall.EINVAL {
				t.Fatalf("id %q refused with %v, want a SysError EINVAL", id, err)
			}
			_, lerr := reg.Lookup(id)
			_, aerr := reg.Acquire(id)
			derr := reg.Delete(id)
			for op, err := range map[string]error{"Lookup": lerr, "Acquire": aerr, "Delete": derr} {
				if !errors.As(err, &se) || se.Errno != syscall.EINVAL {
					t.Fatalf("%s of refused id %q: %v", op, id, err)
				}
			}
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Fatalf("a refused id left %v", entries)
			}
			return
		}
		if filepath.Dir(path) != reg.Dir || filepath.Base(path) != id {
			t.Fatalf("id %q is file %s, not a file of %s", id, path, reg.Dir)
		}

		// A record left behind, holding anything.
		if err := os.MkdirAll(reg.Dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := reg.Lookup(id)
		if err != nil || !st.Found || st.Live {
			t.Fatalf("left record: %+v, %v; want found and not live", st, err)
		}
		head := content[:min(len(content), 128)]
		if want, _ := parseRecord(string(head)); st.Record != want {
			t.Fatalf("record %q read as %+v, want %+v", head, st.Record, want)
		}

		// A watcher takes the ID over the left record; a second is refused while it holds it.
		e, err := reg.Acquire(id)
		if err != nil {
			t.Fatalf("acquire over a left record: %v", err)
		}
		st, err = reg.Lookup(id)
		if err != nil || !st.Live || st.Record != (Record{PID: self.PID, Start: self.Start}) {
			t.Fatalf("held: %+v, %v; want live, pid %d start %d", st, err, self.PID, self.Start)
		}
		if e2, err := reg.Acquire(id); !errors.Is(err, ErrInUse) {
			if e2 != nil {
				e2.Release()
			}
			t.Fatalf("second acquire: %v, want ErrInUse", err)
		}
		if err := reg.Delete(id); !errors.Is(err, ErrInUse) {
			t.Fatalf("delete of a held id: %v, want ErrInUse", err)
		}
		if err := e.Release(); err != nil {
			t.Fatalf("release: %v", err)
		}
		if st, err := reg.Lookup(id); err != nil || st.Found {
			t.Fatalf("after release: %+v, %v", st, err)
		}
		if err := reg.Delete(id); err != nil {
			t.Fatalf("delete of nothing: %v", err)
		}

		// Nothing was written outside the registry's directory.
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != root && p != reg.Dir {
				t.Errorf("left behind: %s", p)
			}
			return nil
		})
	})
}
