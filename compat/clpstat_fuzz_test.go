package compat

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"clpkit/pkg/status"
)

// fuzzSource turns fuzz bytes into a cluster deterministically; running out of bytes yields
// zeros, so every input decodes to some cluster.
type fuzzSource struct{ b []byte }

func (s *fuzzSource) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *fuzzSource) upTo(n int) int { return int(s.byte()) % (n + 1) }

func (s *fuzzSource) str() string {
	n := min(s.upTo(45), len(s.b))
	v := string(s.b[:n])
	s.b = s.b[n:]
	return v
}

// int is a counter or threshold: small, negative or at the ends of the range.
func (s *fuzzSource) int() int {
	switch c := s.byte(); c {
	case 255:
		return math.MaxInt
	case 254:
		return math.MinInt
	default:
		return int(int8(c))
	}
}

func (s *fuzzSource) state() status.State {
	known := []status.State{
		status.Online, status.Offline, status.OnlinePending, status.OfflinePending, status.OnlineFailure,
		status.OfflineFailure, status.Normal, status.Caution, status.Error, status.Suspend, status.Unknown, "",
	}
	if c := int(s.byte()); c < 240 {
		return known[c%len(known)]
	}
	return status.State(s.str())
}

// serverRef mostly names a configured server, so that stars and group-map rows get exercised,
// and sometimes anything at all.
func (s *fuzzSource) serverRef(servers []status.Server) string {
	if c := int(s.byte()); len(servers) > 0 && c%4 != 0 {
		return servers[c%len(servers)].Name
	}
	return s.str()
}

// heartbeatName is often the witness heartbeat's, so that -p has rows to mark.
func (s *fuzzSource) heartbeatName() string {
	if s.byte()%3 == 0 {
		return WitnessHeartbeat
	}
	return s.str()
}

// params are the settings of --cl --detail and --rsc: any names, long ones included.
func (s *fuzzSource) params() []status.Param {
	var ps []status.Param
	for range s.upTo(3) {
		ps = append(ps, status.Param{Name: s.str(), Value: s.str()})
	}
	return ps
}

func (s *fuzzSource) cluster() status.Cluster {
	c := status.Cluster{Name: s.str(), Suspended: s.byte()%2 == 1}
	if s.byte()%2 == 1 {
		c.Witness = s.str()
	}
	c.Settings = s.params()
	for range s.upTo(5) {
		srv := status.Server{Name: s.str(), Comment: s.str(), Address: s.str(), State: s.state()}
		for range s.upTo(3) {
			srv.Heartbeats = append(srv.Heartbeats, status.Heartbeat{Name: s.heartbeatName(), State: s.state(), Comment: s.str()})
		}
		c.Servers = append(c.Servers, srv)
	}
	c.LocalServer = s.serverRef(c.Servers)
	for range s.upTo(5) {
		g := status.Group{Name: s.str(), Comment: s.str(), State: s.state(), Current: s.serverRef(c.Servers)}
		for range s.upTo(3) {
			g.Servers = append(g.Servers, s.serverRef(c.Servers))
		}
		for range s.upTo(3) {
			g.Resources = append(g.Resources, status.Resource{
				Name: s.str(), Type: s.str(), State: s.state(), Comment: s.str(), PID: int(s.byte()), Params: s.params(),
			})
		}
		c.Groups = append(c.Groups, g)
	}
	for range s.upTo(5) {
		m := status.Monitor{Name: s.str(), Type: s.str(), State: s.state(), Comment: s.str(), Target: s.str(), RecoveryTarget: s.str()}
		for range s.upTo(4) {
			m.Servers = append(m.Servers, status.MonitorOnServer{
				Server: s.serverRef(c.Servers), State: s.state(), Detail: s.str(),
				Counters: status.Counters{
					Recovery: s.int(), Restart: s.int(), Failover: s.int(), FinalAction: s.int(),
					RecoveryMax: s.int(), RestartMax: s.int(), FailoverMax: s.int(), FinalActionIs: s.str(),
				},
			})
		}
		c.Monitors = append(c.Monitors, m)
	}
	var sec [8]byte
	for i := range sec {
		sec[i] = s.byte()
	}
	// Arbitrary seconds reach years JSON cannot encode, which must come back as an error.
	c.Taken = time.Unix(int64(binary.LittleEndian.Uint64(sec[:])), 0).UTC()
	return c
}

func FuzzRenderers(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x03\x05node1\x00\x01\x02\x02hb\x00\x00"))
	f.Add([]byte("\x10container-recovery\x00\x02\x1cabcdefghijklmnopqrstuvwxyz12\x00\x03\x03\x02\x0fthirty-four-characters-long-name"))
	f.Add([]byte("\x06\xe3\x82\xb5\xff\n*\x02\x04\x07\t\r\n:\xc3\x01\x05\x03abc"))
	f.Add(bytes.Repeat([]byte{0xf3, 0x11, 0x2a, 0x41, 0x0a, 0xe3, 0x81}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := (&fuzzSource{b: data}).cluster()
		for _, o := range []StatusOptions{{}, {Long: true}, {Local: true}, {Long: true, Local: true}} {
			var b bytes.Buffer
			if err := WriteStatus(&b, c, o); err != nil {
				t.Fatal(err)
			}
			checkStatusLayout(t, b.String(), c, layoutFor(o))
		}
		var ms bytes.Buffer
		if err := WriteMonitorStatus(&ms, c); err != nil {
			t.Fatal(err)
		}
		checkMonitorStatus(t, ms.String(), c)
		var mc bytes.Buffer
		if err := WriteMonitorConfig(&mc, c, ""); err != nil {
			t.Fatal(err)
		}
		checkMonitorConfig(t, mc.String(), len(c.Monitors))
		// By name: a configured name (the last monitor's, possibly shared or empty) shows every
		// monitor of that name; a name nobody has writes nothing and says so.
		for _, name := range monitorNames(c) {
			var b bytes.Buffer
			err := WriteMonitorConfig(&b, c, name)
			shown := 0
			for _, m := range c.Monitors {
				if m.Name == name {
					shown++
				}
			}
			switch {
			case name != "" && shown == 0:
				if !errors.Is(err, ErrUnknownMonitor) || b.Len() != 0 {
					t.Fatalf("unknown name %q: err %v, wrote %q", name, err, b.String())
				}
			case err != nil:
				t.Fatal(err)
			case name == "":
				checkMonitorConfig(t, b.String(), len(c.Monitors))
			default:
				checkMonitorConfig(t, b.String(), shown)
			}
		}
		checkHeartbeatDisplays(t, c)
		checkConfigDisplays(t, c)
		var m bytes.Buffer
		if err := WriteGroupMap(&m, c); err != nil {
			t.Fatal(err)
		}
		if want := 5 + 2*len(c.Servers); strings.Count(m.String(), "\n") != want {
			t.Fatalf("group map has %d lines, want %d:\n%s", strings.Count(m.String(), "\n"), want, m.String())
		}
		var j bytes.Buffer
		if err := WriteJSON(&j, c); err != nil {
			if y := c.Taken.Year(); y >= 0 && y <= 9999 {
				t.Fatalf("json: %v", err)
			}
		} else if !json.Valid(j.Bytes()) {
			t.Fatalf("invalid json:\n%s", j.String())
		}
	})
}

// checkConfigDisplays renders every configuration display of c: -i and --cl with and without
// detail, and --sv, --hb, --grp and --rsc for all items, for a configured name (every item of
// that name, possibly several) and for names nobody has, which must write nothing and say so.
func checkConfigDisplays(t *testing.T, c status.Cluster) {
	t.Helper()
	for _, detail := range []bool{false, true} {
		var i, cl bytes.Buffer
		if err := WriteConfig(&i, c, detail); err != nil {
			t.Fatal(err)
		}
		if got, want := checkConfig(t, i.String()), wantKinds(c); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("-i items %q, want %q", got, want)
		}
		if err := WriteClusterConfig(&cl, c, detail); err != nil {
			t.Fatal(err)
		}
		want := 4
		if detail {
			want += len(c.Settings)
		}
		if got := len(checkConfig(t, cl.String())); got != 1 || strings.Count(cl.String(), "\n") != want {
			t.Fatalf("--cl (detail %v):\n%s", detail, cl.String())
		}
	}
	var servers, hbs, groups, resources []string
	for _, s := range c.Servers {
		servers = append(servers, s.Name)
	}
	for _, h := range heartbeatList(c) {
		hbs = append(hbs, h.Name)
	}
	for _, g := range c.Groups {
		groups = append(groups, g.Name)
		for _, r := range g.Resources {
			resources = append(resources, r.Name)
		}
	}
	for _, d := range []struct {
		kind  string
		names []string
		write func(io.Writer, status.Cluster, string) error
		err   error
	}{
		{"Server", servers, WriteServerConfig, ErrUnknownServer},
		{"HB", hbs, WriteHeartbeatConfig, ErrUnknownHeartbeat},
		{"Group", groups, WriteGroupConfig, ErrUnknownGroup},
		{"Resource", resources, WriteResourceConfig, ErrUnknownResource},
	} {
		asked := []string{"", "no-such-name"}
		if n := len(d.names); n > 0 {
			asked = append(asked, d.names[n-1], clean(d.names[n-1])+"?")
		}
		for _, name := range asked {
			want := 0
			for _, n := range d.names {
				if name == "" || n == name {
					want++
				}
			}
			var b bytes.Buffer
			err := d.write(&b, c, name)
			if name != "" && want == 0 {
				if !errors.Is(err, d.err) || b.Len() != 0 {
					t.Fatalf("%s %q: err %v, wrote %q", d.kind, name, err, b.String())
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			kinds := checkConfig(t, b.String())
			if len(kinds) != want {
				t.Fatalf("%s %q: %d items, want %d:\n%s", d.kind, name, len(kinds), want, b.String())
			}
			for _, k := range kinds {
				if !strings.HasPrefix(k, d.kind) {
					t.Fatalf("%s %q: item %q", d.kind, name, k)
				}
			}
		}
	}
}

// monitorNames gives WriteMonitorConfig a name of the cluster, when it has monitors, and names
// that are not there, including one that differs from a configured name only after clean().
func monitorNames(c status.Cluster) []string {
	names := []string{"", "no-such-monitor"}
	if n := len(c.Monitors); n > 0 {
		last := c.Monitors[n-1].Name
		names = append(names, last, clean(last)+"?")
	}
	return names
}

// checkStatusLayout walks the block in the order the model dictates and checks that every item
// line has its colon at l.colonCol: in runes always, and in bytes when the line is ASCII, which is
// what `cut -c` and fixed-offset parsers see.
func checkStatusLayout(t *testing.T, text string, c status.Cluster, l layout) {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("no trailing newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	i := 0
	next := func() string {
		t.Helper()
		if i >= len(lines) {
			t.Fatalf("output ended early:\n%s", text)
		}
		i++
		return lines[i-1]
	}
	exact := func(want string) {
		t.Helper()
		if got := next(); got != want {
			t.Fatalf("line %d: got %q, want %q", i, got, want)
		}
	}
	item := func(prefix string) {
		t.Helper()
		line := next()
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("line %d %q does not start with %q", i, line, prefix)
		}
		if r := []rune(line); len(r) < l.colonCol+2 || string(r[l.colonCol:l.colonCol+2]) != ": " {
			t.Fatalf("line %d %q: no \": \" at rune column %d", i, line, l.colonCol)
		}
		if isASCII(line) && line[l.colonCol:l.colonCol+2] != ": " {
			t.Fatalf("line %d %q: no \": \" at byte column %d", i, line, l.colonCol)
		}
	}

	exact(statusHeader)
	if line := next(); !strings.HasPrefix(line, "  Cluster : ") {
		t.Fatalf("cluster line %q", line)
	}
	exact("  <server>")
	stars := 0
	for _, s := range c.Servers {
		if strings.HasPrefix(lines[i], "   *") {
			stars++
		}
		item("   ")
		for range s.Heartbeats {
			item("      ")
		}
	}
	if want := min(1, max(0, localIndex(c)+1)); stars != want {
		t.Fatalf("%d starred server lines, want %d", stars, want)
	}
	exact("  <group>")
	for _, g := range c.Groups {
		item("    ")
		item("      ")
		for range g.Resources {
			item("      ")
		}
	}
	exact("  <monitor>")
	for range c.Monitors {
		item("    ")
	}
	exact(frameFooter)
	if i != len(lines) {
		t.Fatalf("%d extra lines after the footer", len(lines)-i)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
