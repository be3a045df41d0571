package mountinfo

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	entries, err := Parse(strings.NewReader(`22 27 0:21 / /proc rw,relatime shared:5 - proc proc rw

40 27 8:17 / /mnt/my\040data rw,noatime shared:20 master:3 - ext4 /dev/sdb1 rw,commit=7
41 40 0:50 / /mnt/my\040data rw,relatime - tmpfs over\134it rw,size=1024k
42 27 8:33 /sub /srv/tab\011bed rw - xfs /dev/sdc1
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Fatalf("%d entries, want 4 (a blank line is no entry)", len(entries))
	}
	e := entries[1]
	want := Entry{ID: 40, Parent: 27, Major: 8, Minor: 17, Root: "/", Point: "/mnt/my data", Opts: "rw,noatime", FSType: "ext4", Source: "/dev/sdb1", SuperOpts: "rw,commit=7"}
	if e != want {
		t.Errorf("entry %+v\nwant  %+v", e, want)
	}
	if entries[2].Source != `over\it` || entries[3].Point != "/srv/tab\tbed" || entries[3].Root != "/sub" || entries[3].SuperOpts != "" {
		t.Errorf("escapes: %+v, %+v", entries[2], entries[3])
	}

	for _, bad := range []string{"1 2 3", "x 27 8:1 / /a rw - ext4 /dev/a rw", "40 27 81 / /a rw - ext4 /dev/a rw", "40 27 8:1 / /a rw shared:1 ext4 /dev/a rw"} {
		if _, err := Parse(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// escape escapes as the kernel's seq_path does for mountinfo (" \t\n\\").
func escape(s string) string {
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

func TestUnescape(t *testing.T) {
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
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q; want %q", in, got, want)
		}
	}
}

// FuzzUnescape: unescaping never panics, never lengthens, and undoes the kernel's
// escaping.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"/mnt/my\\040data", `\`, `\0`, `\07`, `\777`, `\\\\`, "/a b\tc\nd\\e", "\xff\\377"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u := Unescape(s)
		if len(u) > len(s) {
			t.Errorf("Unescape(%q) = %q is longer", s, u)
		}
		if !strings.Contains(s, `\`) && u != s {
			t.Errorf("Unescape(%q) = %q changed a string without escapes", s, u)
		}
		if e := escape(s); Unescape(e) != s {
			t.Errorf("round trip of %q through %q gives %q", s, e, Unescape(e))
		}
		if utf8.ValidString(s) && !strings.Contains(s, `\`) && !utf8.ValidString(u) {
			t.Errorf("invalid UTF-8 from %q", s)
		}
	})
}

// FuzzParse: no input makes the parser panic, and what it accepts has the fields it promises.
func FuzzParse(f *testing.F) {
	f.Add("1 2 3:4 / / rw - - - -\n")
	f.Add("1 2 3:4 / /a rw a b c d e f g - x y z\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.FSType == "" && e.Source == "" || e.Point == "" {
				t.Errorf("entry %+v from %q", e, s)
			}
		}
	})
}
