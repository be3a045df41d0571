package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"clpkit/pkg/status"
)

var update = flag.Bool("update", false, "rewrite the generated clpstat golden files (never the research samples)")

// goldenDir holds the research samples and the goldens of every clpstat rendering.
const goldenDir = "../testdata/golden/clpstat"

type render func(*bytes.Buffer) error

// renderOf renders write of c: a display of the whole cluster.
func renderOf(write func(io.Writer, status.Cluster) error, c status.Cluster) render {
	return func(b *bytes.Buffer) error { return write(b, c) }
}

// renderWith renders write of c with arg: a display that takes a name, or --detail.
func renderWith[A any](write func(io.Writer, status.Cluster, A) error, c status.Cluster, arg A) render {
	return func(b *bytes.Buffer) error { return write(b, c, arg) }
}

func statusOf(c status.Cluster, long bool) render {
	return func(b *bytes.Buffer) error { return WriteStatus(b, c, StatusOptions{Long: long}) }
}

// decodeJSON reads a clpstat -o json document strictly, refusing any field the model does not
// have, and returns its schema and cluster.
func decodeJSON(t *testing.T, r io.Reader) (string, status.Cluster) {
	t.Helper()
	var doc struct {
		Schema  string         `json:"schema"`
		Cluster status.Cluster `json:"cluster"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Schema, doc.Cluster
}

type goldenCase struct {
	file string
	out  render
	// research marks files copied verbatim from the research note: they are the specification,
	// so -update must never overwrite them with whatever the code happens to print.
	research bool
	// dir is the directory of file; "" means goldenDir.
	dir string
}

// generated is the golden case of a file in goldenDir that the code wrote (-update rewrites it).
func generated(file string, out render) goldenCase {
	return goldenCase{file: file, out: out}
}

func goldenCases() []goldenCase {
	cases := []goldenCase{
		{"sample-a.txt", statusOf(sampleA(), false), true, ""},
		{"sample-b.txt", statusOf(sampleB(), false), true, ""},
		{"sample-d.txt", statusOf(sampleD(), false), true, ""},
		{"groupmap-clpaic.txt", renderOf(WriteGroupMap, clpaicGroupMap()), true, ""},
		{"sample-c.txt", statusOf(sampleC(), false), false, ""},
		{"sample-f-long.txt", statusOf(sampleF(), true), false, ""},
		{"states.txt", statusOf(statesCluster(), false), false, ""},
		{"states-long.txt", statusOf(statesCluster(), true), false, ""},
		{"states-groupmap.txt", renderOf(WriteGroupMap, statesCluster()), false, ""},
		{"edge.txt", statusOf(edgeCluster(), false), false, ""},
		{"edge-long.txt", statusOf(edgeCluster(), true), false, ""},
		{"edge-groupmap.txt", renderOf(WriteGroupMap, edgeCluster()), false, ""},
		{"empty.txt", statusOf(status.Cluster{}, false), false, ""},
		{"empty-long.txt", statusOf(status.Cluster{}, true), false, ""},
		{"empty-groupmap.txt", renderOf(WriteGroupMap, status.Cluster{}), false, ""},
		{"empty.json", renderOf(WriteJSON, status.Cluster{}), false, ""},
	}
	cases = append(cases, monitorGoldenCases()...)
	return append(cases, configGoldenCases()...)
}

func TestGolden(t *testing.T) {
	for _, gc := range goldenCases() {
		t.Run(gc.file, func(t *testing.T) {
			var got bytes.Buffer
			if err := gc.out(&got); err != nil {
				t.Fatalf("render: %v", err)
			}
			dir := gc.dir
			if dir == "" {
				dir = goldenDir
			}
			path := filepath.Join(dir, gc.file)
			if *update && !gc.research {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./compat -update to create generated goldens)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs (- want, + got; lines quoted so trailing blanks show):\n%s", path, lineDiff(string(want), got.String()))
			}
		})
	}
}

// TestResearchSamplesStripped checks the samples whose authors stripped trailing blanks: our
// output must equal them once the same stripping is applied, and must itself keep the blanks.
func TestResearchSamplesStripped(t *testing.T) {
	for _, tc := range []struct {
		verbatim string
		out      render
	}{
		{"sample-c-verbatim.txt", statusOf(sampleC(), false)},
		{"sample-f-verbatim.txt", statusOf(sampleF(), true)},
	} {
		t.Run(tc.verbatim, func(t *testing.T) {
			var got bytes.Buffer
			if err := tc.out(&got); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(goldenDir, tc.verbatim))
			if err != nil {
				t.Fatal(err)
			}
			if s := stripTrailingBlanks(got.String()); s != string(want) {
				t.Errorf("differs after stripping trailing blanks:\n%s", lineDiff(string(want), s))
			}
			if !strings.Contains(got.String(), ": Online           \n") {
				t.Errorf("status column lost its ljust(17) padding")
			}
		})
	}
}

// Sample E is only a one-line excerpt, so it is checked as a line of a rendering.
func TestSampleEWitnessLine(t *testing.T) {
	var b bytes.Buffer
	if err := WriteStatus(&b, statesCluster(), StatusOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n      witnesshb1     : Normal           Witness Heartbeat\n") {
		t.Errorf("no Sample E witness line in:\n%s", b.String())
	}
}

func TestFrameLengths(t *testing.T) {
	for _, s := range []string{statusHeader, groupMapHeader, frameFooter} {
		if len(s) != 70 {
			t.Errorf("%q is %d bytes, want 70", s, len(s))
		}
	}
	if len(groupMapRule) != 2+68 {
		t.Errorf("rule is %d bytes", len(groupMapRule))
	}
}

// The verbatim map row is 31 bytes: the group entry keeps its trailing space.
func TestGroupMapRowLength(t *testing.T) {
	var b bytes.Buffer
	if err := WriteGroupMap(&b, clpaicGroupMap()); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "    server0 [o] :") && len(l) != 31 {
			t.Errorf("%q is %d bytes, want 31", l, len(l))
		}
	}
}

func TestLocalServerMarking(t *testing.T) {
	stars := func(c status.Cluster) int {
		var b bytes.Buffer
		if err := WriteStatus(&b, c, StatusOptions{}); err != nil {
			t.Fatal(err)
		}
		return strings.Count(b.String(), "\n   *")
	}
	if n := stars(edgeCluster()); n != 1 {
		t.Errorf("duplicated local name: %d starred lines, want 1", n)
	}
	unnamed := status.Cluster{Servers: []status.Server{{Name: ""}, {Name: "x"}}}
	if n := stars(unnamed); n != 0 {
		t.Errorf("empty LocalServer starred %d lines (it must not match an empty server name)", n)
	}
	absent := sampleA()
	absent.LocalServer = "elsewhere"
	if n := stars(absent); n != 0 {
		t.Errorf("unknown LocalServer starred %d lines", n)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	want := statesCluster()
	var b bytes.Buffer
	if err := WriteJSON(&b, want); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "}\n") || !strings.HasPrefix(b.String(), "{\n  \"schema\": \""+JSONSchema+"\",\n  \"cluster\": {\n") {
		t.Fatalf("unexpected framing:\n%s", b.String())
	}
	schema, got := decodeJSON(t, &b)
	if schema != JSONSchema {
		t.Errorf("schema %q", schema)
	}
	if !got.Taken.Equal(want.Taken) {
		t.Errorf("taken %v, want %v", got.Taken, want.Taken)
	}
	got.Taken = want.Taken
	for i := range want.Groups {
		if want.Groups[i].Servers == nil {
			want.Groups[i].Servers = []string{}
		}
	}
	for i := range want.Monitors {
		if want.Monitors[i].Servers == nil {
			want.Monitors[i].Servers = []status.MonitorOnServer{}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the cluster:\n got %+v\nwant %+v", got, want)
	}
}

// WriteJSON fills nil lists with empty ones on a copy; the caller's value must stay as it was.
func TestJSONDoesNotMutate(t *testing.T) {
	c := status.Cluster{Servers: []status.Server{{Name: "a"}}, Groups: []status.Group{{Name: "g"}}, Monitors: []status.Monitor{{Name: "m"}}}
	if err := WriteJSON(&bytes.Buffer{}, c); err != nil {
		t.Fatal(err)
	}
	if c.Servers[0].Heartbeats != nil || c.Groups[0].Resources != nil || c.Groups[0].Servers != nil || c.Monitors[0].Servers != nil {
		t.Errorf("caller's cluster was modified: %+v", c)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

func TestWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	c := sampleA()
	calls := map[string]func(w io.Writer) error{
		"status":      func(w io.Writer) error { return WriteStatus(w, c, StatusOptions{}) },
		"long":        func(w io.Writer) error { return WriteStatus(w, c, StatusOptions{Long: true}) },
		"local":       func(w io.Writer) error { return WriteStatus(w, c, StatusOptions{Local: true}) },
		"groupmap":    func(w io.Writer) error { return WriteGroupMap(w, c) },
		"json":        func(w io.Writer) error { return WriteJSON(w, c) },
		"monitors":    func(w io.Writer) error { return WriteMonitorStatus(w, c) },
		"mon":         func(w io.Writer) error { return WriteMonitorConfig(w, c, "") },
		"mon by name": func(w io.Writer) error { return WriteMonitorConfig(w, c, "userw") },
		"heartbeats":  func(w io.Writer) error { return WriteHeartbeatStatus(w, c) },
		"np":          func(w io.Writer) error { return WriteNPStatus(w, c) },
		"cl":          func(w io.Writer) error { return WriteClusterConfig(w, c, true) },
		"sv":          func(w io.Writer) error { return WriteServerConfig(w, c, "server2") },
		"hb":          func(w io.Writer) error { return WriteHeartbeatConfig(w, c, "") },
		"grp":         func(w io.Writer) error { return WriteGroupConfig(w, c, "failover") },
		"rsc":         func(w io.Writer) error { return WriteResourceConfig(w, c, "fip") },
		"i":           func(w io.Writer) error { return WriteConfig(w, c, false) },
	}
	for name, call := range calls {
		if err := call(failWriter{boom}); !errors.Is(err, boom) {
			t.Errorf("%s: got %v, want the writer's error", name, err)
		}
		if err := call(shortWriter{}); err == nil {
			t.Errorf("%s: short write not reported", name)
		}
	}
}

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 2, "ab"},
		{"abc", 3, "abc"},
		{"abc", 0, ""},
		{"abc", -1, ""},
		{"", 5, ""},
		{"héllo", 2, "hé"},
		{"日本語", 2, "日本"},
		{"a\xffb", 2, "a\xff"},
	} {
		if got := cut(tc.in, tc.n); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		"a\nb":         "a?b",
		"tab\there":    "tab?here",
		"\x7f\u0085x":  "??x",
		"bad\xffbyte":  "bad\xffbyte",
		"日本\r\n語":      "日本??語",
		"":             "",
		"keep * and :": "keep * and :",
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func stripTrailingBlanks(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// lineDiff lists both texts line by line, marking the lines that differ. Quoting is what makes a
// missing trailing blank visible, which is the usual failure here.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		wok, gok := i < len(w), i < len(g)
		if wok {
			wl = w[i]
		}
		if gok {
			gl = g[i]
		}
		switch {
		case wok && gok && wl == gl:
			fmt.Fprintf(&b, "  %3d %q\n", i+1, wl)
		default:
			if wok {
				fmt.Fprintf(&b, "- %3d %q\n", i+1, wl)
			}
			if gok {
				fmt.Fprintf(&b, "+ %3d %q\n", i+1, gl)
			}
		}
	}
	return b.String()
}

// A published SNMP agent script parses resource lines with ^\s{6}(\S.*?)\s.*:\s(.*?)\s*$: a
// name that fills its column must still leave a blank before the colon.
func TestLongResourceNameKeepsBlank(t *testing.T) {
	c := status.Cluster{Name: "c", LocalServer: "s1",
		Servers: []status.Server{{Name: "s1", State: status.Online}},
		Groups: []status.Group{{Name: "g", State: status.Offline, Resources: []status.Resource{
			{Name: "exec-ascs-SAP-instance", State: status.Offline}, {Name: "exec-ascs-SAP-i", State: status.Online}}}}}
	re := regexp.MustCompile(`^\s{6}(\S.*?)\s.*:\s(.*?)\s*$`)
	for _, long := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteStatus(&b, c, StatusOptions{Long: long}); err != nil {
			t.Fatal(err)
		}
		var states []string
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(l, "      exec-") {
				m := re.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("long=%v: the SNMP agent's pattern does not match %q", long, l)
				}
				states = append(states, m[2])
			}
		}
		if strings.Join(states, ",") != "Offline,Online" {
			t.Fatalf("long=%v: states %v, want Offline,Online", long, states)
		}
	}
}
