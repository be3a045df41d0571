package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each directory of testdata is a /proc root with a self/mountinfo and a self/cgroup taken from
// one kind of machine.
func TestFindV2(t *testing.T) {
	testProcReader(t, "FindV2", FindV2, []procCase{
		// systemd's hybrid layout: v1 controllers, v2 (no controllers) at unified.
		{root: "hybrid", want: "/sys/fs/cgroup/unified"},
		{root: "v2", want: "/sys/fs/cgroup"},
		{root: "v1", err: ErrNoV2},
		// The mount of the hierarchy's root wins over an earlier bind mount of a subtree, and
		// the kernel's octal escapes are undone.
		{root: "escaped", want: `/mnt/my cgroup\v2`},
		// A container that sees only its own subtree still finds it.
		{root: "nested", want: "/sys/fs/cgroup"},
		{root: "missing", err: fs.ErrNotExist},
	})
}

func TestSelf(t *testing.T) {
	testProcReader(t, "Self", Self, []procCase{
		{root: "hybrid", want: "/system.slice/clpd.service"},
		{root: "v2", want: "/system.slice/clpd.service"},
		{root: "v1", err: ErrNoV2},
		{root: "escaped", want: "/"},
		{root: "nested", want: "/"},
		{root: "missing", err: fs.ErrNotExist},
	})
}

// procCase is what a reader of one testdata /proc root returns: want, or an error wrapping err.
type procCase struct {
	root, want string
	err        error
}

// testProcReader runs read, named name in messages, on the testdata /proc root of each case.
func testProcReader(t *testing.T, name string, read func(procRoot string) (string, error), cases []procCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.root, func(t *testing.T) {
			got, err := read(filepath.Join("testdata", tc.root))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("%s = %q, %v; want an error wrapping %v", name, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%s = %q, %v; want %q", name, got, err, tc.want)
			}
		})
	}
}

func TestParseSelfMalformed(t *testing.T) {
	_, err := parseSelf("0::relative/path\n")
	if err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("parseSelf of a relative path: %v, want a malformed-line error", err)
	}
}

func TestParseMountinfoShortLines(t *testing.T) {
	// Lines cut short, a "-" among the first six fields, a separator with nothing after it:
	// none is a cgroup2 mount, and none may be read as one.
	in := "1 2 3\n" +
		"1 2 0:1 / /x - cgroup2 cgroup2 rw\n" +
		"1 2 0:1 / /y rw -\n"
	if got, err := parseMountinfo(strings.NewReader(in)); !errors.Is(err, ErrNoV2) {
		t.Fatalf("parseMountinfo = %q, %v; want ErrNoV2", got, err)
	}
}

// The real machine's files parse, whatever they hold.
func TestFindV2Here(t *testing.T) {
	if _, err := os.Stat("/proc/self/mountinfo"); err != nil {
		t.Skip("no /proc/self/mountinfo: ", err)
	}
	mount, err := FindV2("/proc")
	if errors.Is(err, ErrNoV2) {
		t.Skip("no cgroup v2 mounted here")
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mount + "/cgroup.procs"); err != nil {
		t.Errorf("FindV2 = %q, which has no cgroup.procs: %v", mount, err)
	}
	self, err := Self("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mount, self)); err != nil {
		t.Errorf("Self = %q, which is not a directory under %s: %v", self, mount, err)
	}
}
