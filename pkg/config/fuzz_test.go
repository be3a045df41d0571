package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "config"))
	if err != nil {
		f.Fatal(err)
	}
	seeds, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed files in %s: %v", dir, err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("server = [{name = \"s\", address = \"::1\"}]\n[cluster]\nname = \"c\"\n"))
	f.Add([]byte("[[group]]\n[[group.resource]]\ndepends = [\"a\"]\n[group.resource.x]\n"))
	f.Add([]byte("a = \"\"\"\n[[server]]\n\"\"\"\n"))

	// Parsing in the testdata directory lets mutations of the seeds keep finding their scripts and
	// so reach the checks that come after them.
	file := filepath.Join(dir, "fuzz.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		IndexLines(string(data))
		c, err := Parse(file, data)
		if err == nil {
			checkInvariants(t, c)
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v is not *Error", err, err)
		}
		if e.Msg == "" || e.File != file || e.Line < 0 {
			t.Fatalf("bad error %#v", e)
		}
	})
}

// checkInvariants holds for every config Parse accepts, whatever the input; later packages rely on
// them without checking again.
func checkInvariants(t *testing.T, c *Config) {
	t.Helper()
	if c == nil {
		t.Fatal("Parse returned neither a config nor an error")
	}
	if !filepath.IsAbs(c.File) || len(c.Servers) == 0 || nameProblem(c.Cluster.Name) != "" {
		t.Fatalf("bad config %+v", c)
	}
	for _, s := range c.Servers {
		if nameProblem(s.Name) != "" || s.Address == "" || s.EtcdClientURL == "" || s.EtcdPeerURL == "" {
			t.Fatalf("bad server %+v", s)
		}
	}
	seen := map[string]bool{}
	for _, g := range c.Groups {
		if nameProblem(g.Name) != "" || len(g.Servers) == 0 {
			t.Fatalf("bad group %+v", g)
		}
		for _, s := range g.Servers {
			if _, ok := c.Server(s); !ok {
				t.Fatalf("group %s names unknown server %s", g.Name, s)
			}
		}
		for _, r := range g.Resources {
			if nameProblem(r.Name) != "" || seen[r.Name] || !filepath.IsAbs(r.Start) || !filepath.IsAbs(r.Stop) || !filepath.IsAbs(r.Log) {
				t.Fatalf("bad resource %+v", r)
			}
			seen[r.Name] = true
		}
	}
}
