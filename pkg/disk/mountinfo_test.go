package disk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

const sampleMountinfo = `22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw
27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 27 8:17 / /mnt/my\040data rw,noatime shared:20 master:3 - ext4 /dev/sdb1 rw,commit=7
41 40 0:50 / /mnt/my\040data rw,relatime - tmpfs over\134it rw,size=1024k
42 27 8:33 /sub /srv/tab\011bed rw - xfs /dev/sdc1 rw
43 41 0:51 / /mnt/my\040data/inner rw - tmpfs tmpfs rw
`

func TestParseMountinfo(t *testing.T) {
	entries, err := parseMountinfo(strings.NewReader(sampleMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 {
		t.Fatalf("%d entries", len(entries))
	}
	e := entries[2]
	want := mountEntry{ID: 40, Parent: 27, Major: 8, Minor: 17, Root: "/", Point: "/mnt/my data", Opts: "rw,noatime", FSType: "ext4", Source: "/dev/sdb1", SuperOpts: "rw,commit=7"}
	if e != want {
		t.Errorf("entry %+v\nwant  %+v", e, want)
	}
	if entries[3].Source != `over\it` || entries[4].Point != "/srv/tab\tbed" || entries[4].Root != "/sub" {
		t.Errorf("escapes: %+v, %+v", entries[3], entries[4])
	}
	// The tmpfs is stacked on the ext4 mount: it is what is visible there.
	top, ok := topMount(entries, "/mnt/my data")
	if !ok || top.ID != 41 {
		t.Errorf("top mount %+v, %v; want id 41", top, ok)
	}
	if _, ok := topMount(entries, "/mnt"); ok {
		t.Error("found a mount at /mnt")
	}
	if subs := submounts(entries, "/mnt/my data"); len(subs) != 1 || subs[0] != "/mnt/my data/inner" {
		t.Errorf("submounts %q", subs)
	}

	for _, bad := range []string{"1 2 3", "x 27 8:1 / /a rw - ext4 /dev/a rw", "40 27 81 / /a rw - ext4 /dev/a rw", "40 27 8:1 / /a rw shared:1 ext4 /dev/a rw"} {
		if _, err := parseMountinfo(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// Mounted reads <procRoot>/self/mountinfo, so a made-up proc root shows it at work.
func TestMountedProcRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "self", "mountinfo"), []byte(sampleMountinfo), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		mp, dev string
		ok      bool
	}{
		{"/mnt/my data", `over\it`, true},
		{"/mnt/my data/", `over\it`, true},
		{"/srv/tab\tbed", "/dev/sdc1", true},
		{"/mnt/my\\040data", "", false},
		{"/mnt", "", false},
	} {
		dev, ok, err := Mounted(root, tt.mp)
		if err != nil || dev != tt.dev || ok != tt.ok {
			t.Errorf("Mounted(%q) = %q, %v, %v; want %q, %v", tt.mp, dev, ok, err, tt.dev, tt.ok)
		}
	}
	if _, _, err := Mounted(filepath.Join(root, "none"), "/mnt"); err == nil {
		t.Error("no error without a mount table")
	}
}

// escapeMountinfo escapes as the kernel's seq_path does for mountinfo (" \t\n\\").
func escapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			b.WriteByte('\\')
			b.WriteByte('0' + c>>6)
			b.WriteByte('0' + c>>3&7)
			b.WriteByte('0' + c&7)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/plain`:          "/plain",
		`/a\040b`:         "/a b",
		`/a\011\012\134`:  "/a\t\n\\",
		`\`:               `\`,
		`/x\04`:           `/x\04`,
		`/x\0400`:         "/x 0",
		`/x\400`:          `/x\400`,
		`/x\08a`:          `/x\08a`,
		`/\\040`:          `/\ `,
		`/\377\000`:       "/\xff\x00",
		"":                "",
		`/trailing\`:      `/trailing\`,
		`/a\040b\040c\\d`: `/a b c\\d`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q; want %q", in, got, want)
		}
	}
}

// FuzzUnescapeMountinfo: unescaping never panics, never lengthens, and undoes the kernel's
// escaping.
func FuzzUnescapeMountinfo(f *testing.F) {
	for _, s := range []string{"/mnt/my\\040data", `\`, `\0`, `\07`, `\777`, `\\\\`, "/a b\tc\nd\\e", "\xff\\377"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u := unescapeMountinfo(s)
		if len(u) > len(s) {
			t.Errorf("unescapeMountinfo(%q) = %q is longer", s, u)
		}
		if !strings.Contains(s, `\`) && u != s {
			t.Errorf("unescapeMountinfo(%q) = %q changed a string without escapes", s, u)
		}
		if e := escapeMountinfo(s); unescapeMountinfo(e) != s {
			t.Errorf("round trip of %q through %q gives %q", s, e, unescapeMountinfo(e))
		}
		if utf8.ValidString(s) && !strings.Contains(s, `\`) && !utf8.ValidString(u) {
			t.Errorf("invalid UTF-8 from %q", s)
		}
	})
}

// FuzzParseMountinfo: no input makes the parser panic, and what it accepts has the fields it
// promises.
func FuzzParseMountinfo(f *testing.F) {
	f.Add(sampleMountinfo)
	f.Add("1 2 3:4 / / rw - - - -\n")
	f.Add("1 2 3:4 / /a rw a b c d e f g - x y z\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := parseMountinfo(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.FSType == "" && e.Source == "" {
				t.Errorf("entry without type and source from %q", s)
			}
		}
		topMount(entries, "/")
		submounts(entries, "/")
	})
}
