package compat

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"clpkit/pkg/status"
)

func localStatusOf(c status.Cluster, long bool) render {
	return func(b *bytes.Buffer) error { return WriteStatus(b, c, StatusOptions{Long: long, Local: true}) }
}

func monitorGoldenCases() []goldenCase {
	return []goldenCase{
		generated("states.json", renderOf(WriteJSON, statesCluster())),
		// The status block with every monitor word, default, --long and --local.
		generated("monitors.txt", statusOf(monitorsCluster(), false)),
		generated("monitors-long.txt", statusOf(monitorsCluster(), true)),
		generated("monitors-local.txt", localStatusOf(monitorsCluster(), false)),
		generated("monitors-local-long.txt", localStatusOf(monitorsCluster(), true)),
		generated("states-local.txt", localStatusOf(statesCluster(), false)),
		generated("monitors.json", renderOf(WriteJSON, monitorsCluster())),
		// clpstat -m
		generated("monitors-m.txt", renderOf(WriteMonitorStatus, monitorsCluster())),
		generated("monstat-none-m.txt", renderOf(WriteMonitorStatus, monstatNone())),
		generated("monstat-two-m.txt", renderOf(WriteMonitorStatus, monstatTwo())),
		generated("monstat-suspend-m.txt", renderOf(WriteMonitorStatus, monstatSuspend())),
		generated("empty-m.txt", renderOf(WriteMonitorStatus, status.Cluster{})),
		generated("edge-m.txt", renderOf(WriteMonitorStatus, monitorEdgeCluster())),
		// clpstat --mon [name]
		generated("monitors-mon.txt", renderWith(WriteMonitorConfig, monitorsCluster(), "")),
		generated("monitors-mon-genw1.txt", renderWith(WriteMonitorConfig, monitorsCluster(), "genw1")),
		generated("empty-mon.txt", renderWith(WriteMonitorConfig, status.Cluster{}, "")),
		generated("edge-mon.txt", renderWith(WriteMonitorConfig, monitorEdgeCluster(), "")),
		generated("edge-mon-dup.txt", renderWith(WriteMonitorConfig, monitorEdgeCluster(), "dup")),
		generated("edge-local.txt", localStatusOf(monitorEdgeCluster(), false)),
	}
}

func TestMonitorFrameLengths(t *testing.T) {
	for s, want := range map[string]int{monitorHeader: 66, monitorFooter: 66, monitorRule: 67, configHeader: 70} {
		if len(s) != want {
			t.Errorf("%q is %d bytes, want %d", s, len(s), want)
		}
	}
	if !strings.HasPrefix(monitorHeader, " ===================  MONITOR RESOURCE STATUS  ") {
		t.Errorf("monitor header %q", monitorHeader)
	}
}

// The -m map stars this server and nothing else; the rows carry each server's own mark.
func TestMonitorStatusLines(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMonitorStatus(&b, monstatTwo()); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		"\n  *server0 : server1\n   server1 : server2\n\n  Monitor0 [userw : Normal]\n",
		"\n  Monitor1 [genw1 : Error]\n" + monitorRule + "\n    server0 [o] : Error\n    server1 [x] : Offline\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "*"); n != 1 {
		t.Errorf("%d stars, want 1:\n%s", n, text)
	}
	var s bytes.Buffer
	if err := WriteMonitorStatus(&s, monstatSuspend()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.String(), "    server1 [-] : Unknown\n") {
		t.Errorf("unknown server not marked [-]:\n%s", s.String())
	}
}

// monstat.sh (Igaigasuru/EXPRESSCLUSTER), unchanged but for `clpstat -m` read from "$1". Every
// line with "Monitor" must also have "Normal]", else it exits 1.
const monstatScript = `ulimit -s unlimited

cat "$1" | grep Monitor | while read line
do
  echo "$line" | grep "Normal\]"
  if [ $? -ne 0 ];
  then
    exit 1
  fi
done
if [ $? -eq 1 ];
then
  echo "Some monitor resource status are Not Normal."
  exit 1
fi

echo "All monitor resources status is Normal."
exit 0
`

func TestScriptMonstat(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "wc")
	// The pipeline of monstat.sh, and the count the man page suggests.
	const pipeline = `cat "$1" | grep Monitor | grep "Normal\]"`
	const count = `cat "$1" | grep Monitor | grep -c "Normal\]"`
	allNormal := monitorsCluster()
	for i := range allNormal.Monitors {
		allNormal.Monitors[i].State = status.Normal
	}
	for _, tc := range []struct {
		name   string
		c      status.Cluster
		lines  string
		count  string
		script int // exit status of monstat.sh
	}{
		{"none", monstatNone(), "", "0", 0},
		{"two", monstatTwo(), "  Monitor0 [userw : Normal]", "1", 1},
		{"suspend", monstatSuspend(), "", "0", 1},
		{"monitors", monitorsCluster(), "  Monitor0 [pidw1 : Normal]", "1", 1},
		{"all normal", allNormal, "", "6", 0},
		// clean() keeps a name from forging a line of its own, but a name holding "Normal]" still
		// matches on its own line: the idiom greps text, not columns. pkg/config accepts only
		// letters, digits, '-', '_' and '.', so no configured name can do this.
		{"edge", monitorEdgeCluster(), "", "2", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := renderTo(t, renderOf(WriteMonitorStatus, tc.c))
			if got := pipe(t, f, pipeline); tc.lines != "" && got != tc.lines {
				t.Errorf("pipeline: got %q, want %q", got, tc.lines)
			}
			if got := pipe(t, f, count); got != tc.count {
				t.Errorf("grep -c: got %q, want %q", got, tc.count)
			}
			cmd := exec.Command("/bin/sh", "-c", monstatScript, "sh", f)
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.script {
				t.Errorf("monstat.sh exited %d, want %d:\n%s", code, tc.script, out)
			}
		})
	}
}

// The per-server index idiom of exec_checkNP_stat.sh works on the -m map as well.
func TestScriptMonitorMapIndex(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "awk", "cut")
	c := monitorsCluster()
	f := renderTo(t, renderOf(WriteMonitorStatus, c))
	if got := pipe(t, f, `cat "$1" | grep "$2" | awk '{print $1}' | cut -c 2-`, ": server2"); got != "server1" {
		t.Errorf("local index: got %q, want server1", got)
	}
}

func TestLocalMonitorState(t *testing.T) {
	m := status.Monitor{Servers: []status.MonitorOnServer{
		{Server: "a", State: status.Online}, {Server: "b", State: status.Error}, {Server: "c", State: status.Suspend},
		{Server: "d", State: status.Offline}, {Server: "e", State: status.Unknown}, {Server: "f", State: ""},
		{Server: "g", State: "Odd"}, {Server: "", State: status.Online},
	}}
	for local, want := range map[string]status.State{
		"a": status.Normal, "b": status.Error, "c": status.Suspend, "d": status.Offline, "e": status.Unknown,
		"f": "", "g": "Odd", "none": status.Unknown, "": status.Unknown,
	} {
		if got := localMonitorState(m, local); got != want {
			t.Errorf("%q: got %q, want %q", local, got, want)
		}
	}
}

// --local changes the monitor lines only, and keeps their columns, when every running group
// runs on this server (monitorsCluster's failover1 runs on server2, this server).
func TestLocalOnlyChangesMonitorLines(t *testing.T) {
	for _, long := range []bool{false, true} {
		var def, loc bytes.Buffer
		c := monitorsCluster()
		if err := WriteStatus(&def, c, StatusOptions{Long: long}); err != nil {
			t.Fatal(err)
		}
		if err := WriteStatus(&loc, c, StatusOptions{Long: long, Local: true}); err != nil {
			t.Fatal(err)
		}
		d, l := strings.Split(def.String(), "\n"), strings.Split(loc.String(), "\n")
		if len(d) != len(l) {
			t.Fatalf("line counts %d and %d", len(d), len(l))
		}
		inMonitors := false
		for i := range d {
			if !inMonitors && d[i] != l[i] {
				t.Errorf("line %d changed outside <monitor>: %q -> %q", i+1, d[i], l[i])
			}
			inMonitors = inMonitors || d[i] == "  <monitor>"
		}
		checkStatusLayout(t, loc.String(), c, layoutFor(StatusOptions{Long: long}))
	}
}

// Every item line of --mon has its colon in column 61, the frame is 70 wide, and the values are
// what `awk -F': '` gives back.
func TestMonitorConfigColumns(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMonitorConfig(&b, monitorsCluster(), ""); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if lines[0] != configHeader || lines[len(lines)-1] != frameFooter {
		t.Errorf("frame: %q ... %q", lines[0], lines[len(lines)-1])
	}
	items := 0
	for _, l := range lines[1 : len(lines)-1] {
		if strings.HasPrefix(l, "  [Monitor") {
			continue
		}
		items++
		if !strings.HasPrefix(l, "    ") || len(l) < configColonCol+2 || l[configColonCol:configColonCol+2] != ": " {
			t.Errorf("%q: no \": \" at column %d", l, configColonCol)
		}
	}
	if items != 8*len(monitorsCluster().Monitors) {
		t.Errorf("%d item lines, want 8 per monitor", items)
	}
	if !strings.Contains(b.String(), "\n  [Monitor1 : genw1]\n    Type                                                     : genw\n") {
		t.Errorf("genw1 block not as in the §2.5 sample:\n%s", b.String())
	}
}

func TestScriptMonitorConfigValue(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "awk")
	f := renderTo(t, renderWith(WriteMonitorConfig, monitorsCluster(), "genw1"))
	for label, want := range map[string]string{
		"Type": "genw", "Recovery Target": "failover1", "Reactivation Threshold": "3", "Final Action": "Stop group",
	} {
		if got := pipe(t, f, `cat "$1" | grep "$2" | awk -F': ' '{print $2}'`, label); got != want {
			t.Errorf("%s: got %q, want %q", label, got, want)
		}
	}
}

// Thresholds come from this server's entry, else the first entry, else stay blank.
func TestMonitorConfigThresholds(t *testing.T) {
	c := monitorsCluster()
	c.Monitors = []status.Monitor{{Name: "m", Servers: []status.MonitorOnServer{
		monOn("server1", status.Online, status.Counters{RecoveryMax: 1, RestartMax: 2, FailoverMax: 3, FinalActionIs: "first"}),
		monOn("server2", status.Online, status.Counters{RecoveryMax: 4, RestartMax: 5, FailoverMax: 6, FinalActionIs: "local"}),
	}}}
	get := func(c status.Cluster) string {
		var b bytes.Buffer
		if err := WriteMonitorConfig(&b, c, "m"); err != nil {
			t.Fatal(err)
		}
		var vals []string
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.Contains(l, "Threshold") || strings.Contains(l, "Final Action") {
				vals = append(vals, l[configColonCol+2:])
			}
		}
		return strings.Join(vals, ",")
	}
	if got := get(c); got != "4,5,6,local" {
		t.Errorf("local entry: %q", got)
	}
	c.LocalServer = "elsewhere"
	if got := get(c); got != "1,2,3,first" {
		t.Errorf("first entry: %q", got)
	}
	c.Monitors[0].Servers = nil
	if got := get(c); got != ",,," {
		t.Errorf("no entry: %q", got)
	}
}

func TestMonitorConfigUnknownName(t *testing.T) {
	for _, c := range []status.Cluster{monitorsCluster(), {}} {
		var b bytes.Buffer
		err := WriteMonitorConfig(&b, c, "nosuch")
		if !errors.Is(err, ErrUnknownMonitor) || !strings.Contains(err.Error(), `"nosuch"`) {
			t.Errorf("got %v, want ErrUnknownMonitor naming the monitor", err)
		}
		if b.Len() != 0 {
			t.Errorf("wrote %q for an unknown monitor", b.String())
		}
	}
}

func TestMonitorJSONRoundTrip(t *testing.T) {
	want := monitorsCluster()
	var b bytes.Buffer
	if err := WriteJSON(&b, want); err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"target": "exec1"`, `"recovery_target": "LocalServer"`, `"detail": "script exited with status 1"`, `"final_action_is": "Stop group"`, `"restart_max": 3`} {
		if !strings.Contains(b.String(), frag) {
			t.Errorf("no %s in the JSON", frag)
		}
	}
	_, got := decodeJSON(t, &b)
	got.Taken = want.Taken
	if !reflect.DeepEqual(got.Monitors, want.Monitors) {
		t.Errorf("monitors changed:\n got %+v\nwant %+v", got.Monitors, want.Monitors)
	}
}

// checkMonitorStatus checks the shape of a -m rendering against its model: the frame, one map
// line per server with at most one star, and per monitor a blank line, its MonitorN line, the
// rule and one row per server.
func checkMonitorStatus(t *testing.T, text string, c status.Cluster) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if want := 3 + len(c.Servers) + len(c.Monitors)*(3+len(c.Servers)); len(lines) != want || !strings.HasSuffix(text, "\n") {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), want, text)
	}
	if lines[0] != monitorHeader || lines[len(lines)-1] != monitorFooter {
		t.Fatalf("frame %q ... %q", lines[0], lines[len(lines)-1])
	}
	stars := 0
	for _, l := range lines[2 : 2+len(c.Servers)] {
		if strings.HasPrefix(l, "  *server") {
			stars++
		} else if !strings.HasPrefix(l, "   server") {
			t.Fatalf("map line %q", l)
		}
	}
	if want := min(1, max(0, localIndex(c)+1)); stars != want {
		t.Fatalf("%d stars, want %d", stars, want)
	}
	i := 2 + len(c.Servers)
	for n := range c.Monitors {
		head := "  Monitor" + strconv.Itoa(n) + " ["
		if lines[i] != "" || !strings.HasPrefix(lines[i+1], head) || !strings.HasSuffix(lines[i+1], "]") || lines[i+2] != monitorRule {
			t.Fatalf("monitor %d block starts %q %q %q", n, lines[i], lines[i+1], lines[i+2])
		}
		for j := range c.Servers {
			if l := lines[i+3+j]; !strings.HasPrefix(l, "    server"+strconv.Itoa(j)+" [") {
				t.Fatalf("row %q", l)
			}
		}
		i += 3 + len(c.Servers)
	}
	// Only the MonitorN lines may start like one: nothing a name holds can forge another.
	if got := strings.Count("\n"+text, "\n  Monitor"); got != len(c.Monitors) {
		t.Fatalf("%d lines start with \"  Monitor\", want %d", got, len(c.Monitors))
	}
}

// checkMonitorConfig checks a --mon rendering: the frame, and per shown monitor a bracket line
// and eight item lines with the colon at column 61.
func checkMonitorConfig(t *testing.T, text string, shown int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 2+9*shown || lines[0] != configHeader || lines[len(lines)-1] != frameFooter {
		t.Fatalf("%d lines for %d monitors:\n%s", len(lines), shown, text)
	}
	for k, l := range lines[1 : len(lines)-1] {
		if k%9 == 0 {
			if !strings.HasPrefix(l, "  [Monitor") {
				t.Fatalf("bracket line %q", l)
			}
			continue
		}
		// The labels are ASCII, so the colon is at the same byte and rune column.
		if len(l) < configColonCol+2 || l[configColonCol:configColonCol+2] != ": " {
			t.Fatalf("item line %q: no \": \" at column %d", l, configColonCol)
		}
	}
}

func TestMonitorShapes(t *testing.T) {
	for _, c := range []status.Cluster{{}, monstatNone(), monstatTwo(), monstatSuspend(), monitorsCluster(), monitorEdgeCluster()} {
		var m, all bytes.Buffer
		if err := WriteMonitorStatus(&m, c); err != nil {
			t.Fatal(err)
		}
		checkMonitorStatus(t, m.String(), c)
		if err := WriteMonitorConfig(&all, c, ""); err != nil {
			t.Fatal(err)
		}
		checkMonitorConfig(t, all.String(), len(c.Monitors))
	}
}
