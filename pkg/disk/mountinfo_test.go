package disk

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"clpkit/pkg/mountinfo"
)

const sampleMountinfo = `22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw
27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
40 27 8:17 / /mnt/my\040data rw,noatime shared:20 master:3 - ext4 /dev/sdb1 rw,commit=7
41 40 0:50 / /mnt/my\040data rw,relatime - tmpfs over\134it rw,size=1024k
42 27 8:33 /sub /srv/tab\011bed rw - xfs /dev/sdc1 rw
43 41 0:51 / /mnt/my\040data/inner rw - tmpfs tmpfs rw
`

// The tmpfs on the ext4 mount, the inner one beneath them: what Check and Unmount go by.
func TestTopMount(t *testing.T) {
	entries, err := mountinfo.Parse(strings.NewReader(sampleMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 6 {
		t.Fatalf("%d entries", len(entries))
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

// FuzzParseMountinfo: no input makes the parser panic, and what it accepts has the fields it
// promises.
func FuzzParseMountinfo(f *testing.F) {
	f.Add(sampleMountinfo)
	f.Add("1 2 3:4 / / rw - - - -\n")
	f.Add("1 2 3:4 / /a rw a b c d e f g - x y z\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := mountinfo.Parse(strings.NewReader(s))
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
