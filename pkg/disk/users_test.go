package disk

import (
	"os"
	"path/filepath"
	"testing"

	"clpkit/internal/proctest"
)

// Users finds the processes with their current directory, an open file or their executable
// (and so a mapping) under a directory, and not an unrelated process or this one. It looks at
// paths only, so a plain directory will do; no root needed.
func TestUsers(t *testing.T) {
	dir := t.TempDir()
	elsewhere := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ownSleep := proctest.CopyProgram(t, "sleep", filepath.Join(dir, "sleep"))

	cwd := holder(t, dir, "sleep", "1000")
	fd := holder(t, elsewhere, "sh", "-c", `exec 3<"$1"; exec sleep 1000`, "sh", file)
	exe := holder(t, elsewhere, ownSleep, "1000")
	unrelated := holder(t, elsewhere, "sleep", "1000")
	for _, p := range []*proc{cwd, fd, exe} {
		waitUsing(t, p.pid, dir)
	}
	// This process holding the directory is not listed.
	own, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()

	pids, err := Users("", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*proc{cwd, fd, exe} {
		if !contains(pids, p.pid) {
			t.Errorf("pid %d missing from %v", p.pid, pids)
		}
	}
	if contains(pids, unrelated.pid) || contains(pids, os.Getpid()) {
		t.Errorf("%v lists the unrelated pid %d or this process", pids, unrelated.pid)
	}
	if !mapsUnder("/proc/"+itoa(exe.pid)+"/maps", dir) {
		t.Error("the copied executable's mapping was not found")
	}
	// A sibling whose name merely starts the same is not under dir.
	if pids, err := Users("", dir+"x"); err != nil || len(pids) != 0 {
		t.Errorf("Users(%sx) = %v, %v", dir, pids, err)
	}
	if _, err := Users(filepath.Join(dir, "no-proc"), dir); err == nil {
		t.Error("no error for a missing proc root")
	}
}

func TestMapsPath(t *testing.T) {
	for line, want := range map[string]string{
		"55d0c0a3c000-55d0c0a3e000 r--p 00000000 fe:01 1836 /usr/bin/sleep":                "/usr/bin/sleep",
		"7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 ":                                 "",
		"7ffd1e5f0000-7ffd1e611000 rw-p 00000000 00:00 0                          [stack]": "",
		"7f1c2a200000-7f1c2a222000 r--p 00000000 07:00 12   /mnt/data/my lib.so (deleted)": "/mnt/data/my lib.so (deleted)",
		"7f1c2a200000-7f1c2a222000 r--p 00000000 07:00 12":                                 "",
		"":        "",
		"garbage": "",
		"55d0c0a3c000-55d0c0a3e000\tr--p\t00000000\tfe:01\t1836\t/x": "/x",
	} {
		if got := mapsPath(line); got != want {
			t.Errorf("mapsPath(%q) = %q; want %q", line, got, want)
		}
	}
}

func TestUnder(t *testing.T) {
	for _, tt := range []struct {
		path, dir string
		want      bool
	}{
		{"/mnt/data", "/mnt/data", true},
		{"/mnt/data/x/y", "/mnt/data", true},
		{"/mnt/database", "/mnt/data", false},
		{"/mnt", "/mnt/data", false},
		{"/anything", "/", true},
		{"socket:[123]", "/", false},
		{"/mnt/data/f (deleted)", "/mnt/data", true},
	} {
		if got := under(tt.path, tt.dir); got != tt.want {
			t.Errorf("under(%q, %q) = %v", tt.path, tt.dir, got)
		}
	}
}

func itoa(i int) string { return pidList([]int{i}) }
