package config

import (
	"reflect"
	"testing"
)

func TestIndexLines(t *testing.T) {
	src := `# [[server]] in a comment is not a header
[cluster]
name = "c"  # name = "x"
"quoted key" = 1
'literal' = 2
a . "b.c" = 3

[[server]]
comment = """
[[server]]
name = "not a key"
"""
name = 's1'
list = [
  "x", # ]
  [1, 2],
]
[server.sub]
x = 1

[[server]]
inline = { name = "y", nested = { z = 1 } }
lit = '''
[[group]]
'''
[[group]]
[[group.resource]]
start = "a"
[[group.resource]]
[[group]]
[[group.resource]]
stop = "b\"]"
[ "group" . resource . extra ]
`
	want := LineIndex{
		"cluster":                    2,
		"cluster.name":               3,
		"cluster.quoted key":         4,
		"cluster.literal":            5,
		"cluster.a":                  6,
		"cluster.a.b.c":              6,
		"server":                     8,
		"server[0]":                  8,
		"server[0].comment":          9,
		"server[0].name":             13,
		"server[0].list":             14,
		"server[0].sub":              18,
		"server[0].sub.x":            19,
		"server[1]":                  21,
		"server[1].inline":           22,
		"server[1].lit":              23,
		"group":                      26,
		"group[0]":                   26,
		"group[0].resource":          27,
		"group[0].resource[0]":       27,
		"group[0].resource[0].start": 28,
		"group[0].resource[1]":       29,
		"group[1]":                   30,
		"group[1].resource":          31,
		"group[1].resource[0]":       31,
		"group[1].resource[0].stop":  32,
		"group[1].resource[0].extra": 33,
	}
	if got := IndexLines(src); !reflect.DeepEqual(got, want) {
		t.Errorf("indexLines:\n got: %v\nwant: %v", got, want)
	}
}

// A header also locates the tables it defines implicitly.
func TestIndexLinesImplicit(t *testing.T) {
	want := LineIndex{"group": 2, "group.resource": 2, "group.resource[0]": 2, "group.resource[0].x": 3}
	if got := IndexLines("\n[[group.resource]]\nx = 1\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("indexLines:\n got: %v\nwant: %v", got, want)
	}
}

func TestLineIndexFind(t *testing.T) {
	ix := LineIndex{"server": 4, "server[0].name": 6, "cluster": 1}
	tests := []struct {
		path string
		want int
	}{
		{"server[0].name", 6},
		{"server[0].address", 4}, // inline element: falls back to the array's key
		{"server[1]", 4},
		{"cluster.name", 1},
		{"timing.api_timeout", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := ix.Find(tt.path); got != tt.want {
			t.Errorf("find(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
}

// The locator runs only on text the TOML parser accepted, but must not hang or panic on anything.
func TestIndexLinesMalformed(t *testing.T) {
	for _, src := range []string{"", "[", "[[", "a", "a.", "a = \"", "a = '''", `a = """\`, "[a\nb = [", "= = =", "]]", "\"a"} {
		IndexLines(src)
	}
}
