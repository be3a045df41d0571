package compat

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"clpkit/pkg/status"
)

func configGoldenCases() []goldenCase {
	return []goldenCase{
		// clpstat -n and -p
		generated("witness-n.txt", renderOf(WriteHeartbeatStatus, witnessCluster())),
		generated("witness-p.txt", renderOf(WriteNPStatus, witnessCluster())),
		generated("partitioned-n.txt", renderOf(WriteHeartbeatStatus, partitioned(status.Error))),
		generated("partitioned-p.txt", renderOf(WriteNPStatus, partitioned(status.Error))),
		generated("nowitness-n.txt", renderOf(WriteHeartbeatStatus, noWitness())),
		generated("nowitness-p.txt", renderOf(WriteNPStatus, noWitness())),
		generated("states-n.txt", renderOf(WriteHeartbeatStatus, statesWitness())),
		generated("states-p.txt", renderOf(WriteNPStatus, statesWitness())),
		generated("odd-n.txt", renderOf(WriteHeartbeatStatus, oddHeartbeats())),
		generated("odd-p.txt", renderOf(WriteNPStatus, oddHeartbeats())),
		generated("empty-n.txt", renderOf(WriteHeartbeatStatus, status.Cluster{})),
		generated("empty-p.txt", renderOf(WriteNPStatus, status.Cluster{})),
		generated("edge-n.txt", renderOf(WriteHeartbeatStatus, edgeCluster())),
		// The configuration displays
		generated("witness-cl.txt", renderWith(WriteClusterConfig, witnessCluster(), false)),
		generated("witness-cl-detail.txt", renderWith(WriteClusterConfig, witnessCluster(), true)),
		generated("witness-sv.txt", renderWith(WriteServerConfig, witnessCluster(), "")),
		generated("witness-sv-node2.txt", renderWith(WriteServerConfig, witnessCluster(), "node2")),
		generated("witness-hb.txt", renderWith(WriteHeartbeatConfig, witnessCluster(), "")),
		generated("witness-grp.txt", renderWith(WriteGroupConfig, witnessCluster(), "")),
		generated("witness-rsc.txt", renderWith(WriteResourceConfig, witnessCluster(), "")),
		generated("witness-rsc-fip1.txt", renderWith(WriteResourceConfig, witnessCluster(), "fip1")),
		generated("witness-i.txt", renderWith(WriteConfig, witnessCluster(), false)),
		generated("witness-i-detail.txt", renderWith(WriteConfig, witnessCluster(), true)),
		generated("empty-i.txt", renderWith(WriteConfig, status.Cluster{}, true)),
		generated("edge-i.txt", renderWith(WriteConfig, edgeCluster(), true)),
		generated("monitor-edge-i.txt", renderWith(WriteConfig, monitorEdgeCluster(), true)),
		// -o json with a witness, settings and resource parameters
		generated("witness.json", renderOf(WriteJSON, witnessCluster())),
		// --local with a group on the other server
		generated("witness-local.txt", localStatusOf(witnessCluster(), false)),
		generated("witness-local-long.txt", localStatusOf(witnessCluster(), true)),
	}
}

func TestJSONWitnessFields(t *testing.T) {
	want := witnessCluster()
	var b bytes.Buffer
	if err := WriteJSON(&b, want); err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{
		`"witness": "witness1"`, `"settings": [`, `"name": "Shutdown Monitoring Method",`,
		`"params": [`, `"name": "IP Address",` + "\n" + `                "value": "10.0.0.100"`,
	} {
		if !strings.Contains(b.String(), frag) {
			t.Errorf("no %q in:\n%s", frag, b.String())
		}
	}
	_, got := decodeJSON(t, &b)
	got.Taken = want.Taken
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the cluster:\n got %+v\nwant %+v", got, want)
	}
	// Without them, the fields are absent.
	var none bytes.Buffer
	if err := WriteJSON(&none, noWitness()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(none.String(), `"witness"`) {
		t.Errorf("witness shown without one")
	}
	var empty bytes.Buffer
	if err := WriteJSON(&empty, status.Cluster{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(empty.String(), `"settings"`) || strings.Contains(empty.String(), `"params"`) {
		t.Errorf("empty lists shown:\n%s", empty.String())
	}
}

func TestResourceConfigFip(t *testing.T) {
	var b bytes.Buffer
	if err := WriteResourceConfig(&b, witnessCluster(), "fip1"); err != nil {
		t.Fatal(err)
	}
	const want = ` =======================  CLUSTER INFORMATION  =======================
  [Resource0 : fip1]
    Type                                                     : fip
    Comment                                                  : service address
    IP Address                                               : 10.0.0.100
 =====================================================================
`
	if b.String() != want {
		t.Errorf("--rsc fip1:\n%s", lineDiff(want, b.String()))
	}
}

// The §2.5 idioms of genw-arpTable.sh and the --cl --detail grep, through sh.
func TestScriptConfigIdioms(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "awk", "sed")
	c := witnessCluster()
	sv := renderTo(t, renderWith(WriteServerConfig, c, ""))
	if got := pipe(t, sv, `cat "$1" | grep "Server" | awk '{print $3}' | sed 's/]//g'`); got != "node1\nnode2" {
		t.Errorf("--sv server names: %q", got)
	}
	// awk -F: splits at the colon, so the value keeps the blank that follows it.
	rsc := renderTo(t, renderWith(WriteResourceConfig, c, "fip1"))
	if got := pipe(t, rsc, `cat "$1" | grep IP | awk -F: '{print $2}'`); got != " 10.0.0.100" {
		t.Errorf("--rsc fip1 IP: %q", got)
	}
	// Over every resource too: only fip1 has an IP line.
	all := renderTo(t, renderWith(WriteResourceConfig, c, ""))
	if got := pipe(t, all, `cat "$1" | grep IP | awk -F: '{print $2}'`); got != " 10.0.0.100" {
		t.Errorf("--rsc IP: %q", got)
	}
	cl := renderTo(t, renderWith(WriteClusterConfig, c, true))
	if got := pipe(t, cl, `cat "$1" | grep "Shutdown Monitoring Method"`); got != "    Shutdown Monitoring Method                               : softdog" {
		t.Errorf("--cl --detail: %q", got)
	}
	grp := renderTo(t, renderWith(WriteGroupConfig, c, "failover2"))
	if got := pipe(t, grp, `cat "$1" | grep "Startup Server" | awk -F': ' '{print $2}'`); got != "node2 node1" {
		t.Errorf("--grp failover2 startup servers: %q", got)
	}
	hb := renderTo(t, renderWith(WriteHeartbeatConfig, c, "witnesshb1"))
	if got := pipe(t, hb, `cat "$1" | grep "HB" | awk '{print $3}' | sed 's/]//g'`); got != "witnesshb1" {
		t.Errorf("--hb witnesshb1: %q", got)
	}
}

// --local: failover2 runs on node2, so on node1 it and its resources are Offline, and its
// current line still names node2; failover1, here, is as it is.
func TestScriptLocalElsewhere(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "sed", "awk")
	c := witnessCluster()
	const state = `cat "$1" | grep "$2" | sed 's/ //g' | awk -F ':' '{print $2}'`
	for _, long := range []bool{false, true} {
		def := renderTo(t, statusOf(c, long))
		loc := renderTo(t, localStatusOf(c, long))
		for name, want := range map[string][2]string{
			"exec2": {"Online", "Offline"}, "failover2": {"Online", "Offline"},
			"exec1": {"Online", "Online"},
		} {
			if got := pipe(t, def, state, name); got != want[0] {
				t.Errorf("long=%v %s: %q, want %q", long, name, got, want[0])
			}
			if got := pipe(t, loc, state, name); got != want[1] {
				t.Errorf("long=%v --local %s: %q, want %q", long, name, got, want[1])
			}
		}
		if got := pipe(t, loc, `cat "$1" | grep failover2 -A1 | grep current | awk '{print $3}'`); got != "node2" {
			t.Errorf("long=%v --local current of failover2: %q", long, got)
		}
		// genw-arpTable.sh: is a group active here? failover1's current line only.
		if got := pipe(t, loc, `cat "$1" | grep current | grep "$2" | wc -l`, "node1"); strings.TrimSpace(got) != "1" {
			t.Errorf("long=%v --local current lines naming node1: %q", long, got)
		}
	}
	// On node2 it is the other way round.
	c.LocalServer = "node2"
	loc := renderTo(t, localStatusOf(c, false))
	for name, want := range map[string]string{"exec2": "Online", "exec1": "Offline"} {
		if got := pipe(t, loc, state, name); got != want {
			t.Errorf("node2 --local %s: %q, want %q", name, got, want)
		}
	}
}

// With no known local server, or a group running nowhere, --local leaves the groups alone.
func TestLocalGroupsUnchanged(t *testing.T) {
	for _, c := range []status.Cluster{
		func() status.Cluster { c := witnessCluster(); c.LocalServer = ""; return c }(),
		statesCluster(), // groups on srv-a and srv-c, and g-offline nowhere
	} {
		var def, loc bytes.Buffer
		if err := WriteStatus(&def, c, StatusOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := WriteStatus(&loc, c, StatusOptions{Local: true}); err != nil {
			t.Fatal(err)
		}
		d, l := strings.Split(def.String(), "\n"), strings.Split(loc.String(), "\n")
		inGroups := false
		for i := range d {
			if d[i] == "  <monitor>" {
				break
			}
			inGroups = inGroups || d[i] == "  <group>"
			if d[i] == l[i] {
				continue
			}
			if c.LocalServer == "" || !inGroups || !strings.Contains(l[i], ": Offline ") {
				t.Errorf("%s: line %d changed: %q -> %q", c.Name, i+1, d[i], l[i])
			}
		}
	}
}

func TestConfigUnknownNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, status.Cluster, string) error
		err   error
	}{
		{"--sv", func(b *bytes.Buffer, c status.Cluster, n string) error { return WriteServerConfig(b, c, n) }, ErrUnknownServer},
		{"--hb", func(b *bytes.Buffer, c status.Cluster, n string) error { return WriteHeartbeatConfig(b, c, n) }, ErrUnknownHeartbeat},
		{"--grp", func(b *bytes.Buffer, c status.Cluster, n string) error { return WriteGroupConfig(b, c, n) }, ErrUnknownGroup},
		{"--rsc", func(b *bytes.Buffer, c status.Cluster, n string) error { return WriteResourceConfig(b, c, n) }, ErrUnknownResource},
		{"--mon", func(b *bytes.Buffer, c status.Cluster, n string) error { return WriteMonitorConfig(b, c, n) }, ErrUnknownMonitor},
	} {
		for _, c := range []status.Cluster{witnessCluster(), {}} {
			var b bytes.Buffer
			err := tc.write(&b, c, "nosuch")
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), `"nosuch"`) {
				t.Errorf("%s: got %v, want %v naming it", tc.name, err, tc.err)
			}
			if b.Len() != 0 {
				t.Errorf("%s: wrote %q for an unknown name", tc.name, b.String())
			}
			// Empty lists are not an error without a name.
			b.Reset()
			if err := tc.write(&b, c, ""); err != nil {
				t.Errorf("%s: all of them: %v", tc.name, err)
			}
		}
	}
}

// checkConfig checks a configuration display: the frame, and between, bracket lines
// `  [KindN : name]` and setting lines with ": " at rune column 61 (byte column too when ASCII).
// It returns the bracket lines' kinds with their numbers ("Server0", "HB1", ...), in order.
func checkConfig(t *testing.T, text string) []string {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("no trailing newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 2 || lines[0] != configHeader || lines[len(lines)-1] != frameFooter {
		t.Fatalf("frame:\n%s", text)
	}
	var kinds []string
	for _, l := range lines[1 : len(lines)-1] {
		if strings.HasPrefix(l, "  [") {
			if !strings.HasSuffix(l, "]") || !strings.Contains(l, " : ") {
				t.Fatalf("bracket line %q", l)
			}
			kind, _, _ := strings.Cut(l[3:], " : ")
			kinds = append(kinds, kind)
			continue
		}
		r := []rune(l)
		if !strings.HasPrefix(l, configIndent) || len(r) < configColonCol+2 || string(r[configColonCol:configColonCol+2]) != ": " {
			t.Fatalf("setting line %q: no \": \" at rune column %d", l, configColonCol)
		}
		if isASCII(l) && l[configColonCol:configColonCol+2] != ": " {
			t.Fatalf("setting line %q: no \": \" at byte column %d", l, configColonCol)
		}
	}
	return kinds
}

// wantKinds lists the bracket kinds -i must print for c, in order.
func wantKinds(c status.Cluster) []string {
	k := []string{"Cluster"}
	num := func(kind string, n int) string { return kind + strconv.Itoa(n) }
	for i := range c.Servers {
		k = append(k, num("Server", i))
	}
	for i := range heartbeatList(c) {
		k = append(k, num("HB", i))
	}
	for i := range c.Groups {
		k = append(k, num("Group", i))
	}
	n := 0
	for _, g := range c.Groups {
		for range g.Resources {
			k = append(k, num("Resource", n))
			n++
		}
	}
	for i := range c.Monitors {
		k = append(k, num("Monitor", i))
	}
	return k
}

func TestConfigShapes(t *testing.T) {
	for _, c := range []status.Cluster{{}, witnessCluster(), statesCluster(), oddHeartbeats(), edgeCluster(), monitorEdgeCluster()} {
		var b bytes.Buffer
		if err := WriteConfig(&b, c, true); err != nil {
			t.Fatal(err)
		}
		got := checkConfig(t, b.String())
		if want := wantKinds(c); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("-i items %v, want %v", got, want)
		}
	}
}
