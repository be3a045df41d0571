package compat

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"clpkit/pkg/status"
)

func TestHeartbeatFrameLengths(t *testing.T) {
	for _, s := range []string{heartbeatHeader, npHeader} {
		if len(s) != len(monitorFooter) {
			t.Errorf("%q is %d bytes, want %d like the -m frame", s, len(s), len(monitorFooter))
		}
	}
}

// The whole -n of the two-server example with a witness, and what -p makes of it.
func TestHeartbeatStatusExample(t *testing.T) {
	var n, p bytes.Buffer
	if err := WriteHeartbeatStatus(&n, witnessCluster()); err != nil {
		t.Fatal(err)
	}
	if err := WriteNPStatus(&p, partitioned(status.Normal)); err != nil {
		t.Fatal(err)
	}
	const wantN = ` ==================  HEARTBEAT RESOURCE STATUS  ==================
  Cluster : cluster1
  *server0 : node1
   server1 : node2

  HB0 : leasehb1
  HB1 : witnesshb1

 [on server0 : Online]
 [on server1 : Online]
  -----------------------------------------------------------------
  server0 : o o
  server1 : o o
 =================================================================
`
	const wantP = ` =============  NETWORK PARTITION RESOLUTION STATUS  =============
  Cluster : cluster1
  *server0 : node1
   server1 : node2

  NP0 : witnesshb1 (witness witness1)

 [on server0 : Online]
 [on server1 : Offline]
  -----------------------------------------------------------------
  server0 : o
  server1 : x
 =================================================================
`
	if n.String() != wantN {
		t.Errorf("-n:\n%s", lineDiff(wantN, n.String()))
	}
	if p.String() != wantP {
		t.Errorf("-p:\n%s", lineDiff(wantP, p.String()))
	}
}

func TestHeartbeatMarks(t *testing.T) {
	s := status.Server{Heartbeats: []status.Heartbeat{
		hb("n", status.Normal, ""), hb("on", status.Online, ""), hb("u", status.Unknown, ""), hb("e", "", ""),
		hb("off", status.Offline, ""), hb("err", status.Error, ""), hb("c", status.Caution, ""), hb("odd", "Odd", ""),
		hb("dup", status.Error, ""), hb("dup", status.Normal, ""),
	}}
	for name, want := range map[string]string{
		"n": "o", "on": "o", "u": "-", "e": "-", "off": "x", "err": "x", "c": "x", "odd": "x", "absent": "-", "dup": "x",
	} {
		if got := heartbeatMark(s, name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
	for st, want := range map[status.State]string{
		status.Online: "Online", status.Offline: "Offline", status.Unknown: "Unknown", "": "Unknown", "Isolated": "Offline",
	} {
		if got := serverWord(st); got != want {
			t.Errorf("serverWord(%q) = %q, want %q", st, got, want)
		}
	}
}

// This server's list comes first, then what the others have in addition, each name once.
func TestHeartbeatList(t *testing.T) {
	names := func(c status.Cluster) string {
		var n []string
		for _, h := range heartbeatList(c) {
			n = append(n, h.Name+"/"+h.Comment)
		}
		return strings.Join(n, ",")
	}
	if got, want := names(oddHeartbeats()), "leasehb1/"+leaseHB+",lankhb1/"+kernelHB+",witnesshb1/"+witnessHB; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	c := statesCluster()
	c.Servers[2].Heartbeats = []status.Heartbeat{hb("witnesshb1", status.Normal, "local first")}
	if got, want := names(c), "witnesshb1/local first,lankhb1/"+kernelHB; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := names(status.Cluster{}); got != "" {
		t.Errorf("empty cluster: %q", got)
	}
}

// checkServerMatrix checks -n and -p against the model from line i: a blank line, one
// `[on serverN` line per server, the rule and one row per server with marks marks wide.
func checkServerMatrix(t *testing.T, lines []string, i int, c status.Cluster, marks int) int {
	t.Helper()
	if lines[i] != "" {
		t.Fatalf("line %d %q, want a blank line", i+1, lines[i])
	}
	i++
	for j, s := range c.Servers {
		if want := " [on server" + strconv.Itoa(j) + " : " + serverWord(s.State) + "]"; lines[i] != want {
			t.Fatalf("line %d %q, want %q", i+1, lines[i], want)
		}
		i++
	}
	if lines[i] != monitorRule {
		t.Fatalf("line %d %q, want the rule", i+1, lines[i])
	}
	i++
	for j := range c.Servers {
		row := "  server" + strconv.Itoa(j) + " :"
		if !strings.HasPrefix(lines[i], row) || len(lines[i]) != len(row)+2*marks || strings.Trim(lines[i][len(row):], " ox-") != "" {
			t.Fatalf("line %d %q, want %q and %d marks", i+1, lines[i], row, marks)
		}
		i++
	}
	return i
}

// checkHeader checks the frame head of -n and -p and the server map, and returns the index of
// the line after the blank line that follows the map.
func checkHeader(t *testing.T, lines []string, header string, c status.Cluster) int {
	t.Helper()
	if lines[0] != header || lines[len(lines)-1] != monitorFooter || !strings.HasPrefix(lines[1], "  Cluster : ") {
		t.Fatalf("frame %q %q ... %q", lines[0], lines[1], lines[len(lines)-1])
	}
	stars := 0
	for j := range c.Servers {
		l := lines[2+j]
		idx := "server" + strconv.Itoa(j) + " : "
		if strings.HasPrefix(l, "  *"+idx) {
			stars++
		} else if !strings.HasPrefix(l, "   "+idx) {
			t.Fatalf("map line %q", l)
		}
	}
	if want := min(1, max(0, localIndex(c)+1)); stars != want {
		t.Fatalf("%d stars, want %d", stars, want)
	}
	if lines[2+len(c.Servers)] != "" {
		t.Fatalf("no blank line after the map: %q", lines[2+len(c.Servers)])
	}
	return 3 + len(c.Servers)
}

// checkHeartbeatStatus checks the shape of a -n rendering against its model.
func checkHeartbeatStatus(t *testing.T, text string, c status.Cluster) {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("no trailing newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	hbs := heartbeatList(c)
	if want := 3 + len(c.Servers) + max(1, len(hbs)) + 2 + 2*len(c.Servers) + 1; len(lines) != want {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), want, text)
	}
	i := checkHeader(t, lines, heartbeatHeader, c)
	if len(hbs) == 0 {
		if lines[i] != noHeartbeatLine {
			t.Fatalf("line %q, want %q", lines[i], noHeartbeatLine)
		}
		i++
	}
	for k, h := range hbs {
		if want := "  HB" + strconv.Itoa(k) + " : " + clean(h.Name); lines[i] != want {
			t.Fatalf("line %q, want %q", lines[i], want)
		}
		i++
	}
	if i = checkServerMatrix(t, lines, i, c, len(hbs)); i != len(lines)-1 {
		t.Fatalf("%d lines before the footer, want %d", i, len(lines)-1)
	}
	// srvstat.sh counts on one `[on server` line per server; nothing a name holds can add one.
	if got := strings.Count("\n"+text, "\n [on server"); got != len(c.Servers) {
		t.Fatalf("%d `[on server` lines, want %d", got, len(c.Servers))
	}
}

// checkNPStatus checks the shape of a -p rendering against its model.
func checkNPStatus(t *testing.T, text string, c status.Cluster) {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatalf("no trailing newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	i := checkHeader(t, lines, npHeader, c)
	if c.Witness == "" {
		if len(lines) != i+2 || lines[i] != noNPLine {
			t.Fatalf("without a witness:\n%s", text)
		}
		return
	}
	if want := "  NP0 : " + WitnessHeartbeat + " (witness " + clean(c.Witness) + ")"; lines[i] != want {
		t.Fatalf("line %q, want %q", lines[i], want)
	}
	if i = checkServerMatrix(t, lines, i+1, c, 1); i != len(lines)-1 {
		t.Fatalf("%d lines before the footer, want %d:\n%s", i, len(lines)-1, text)
	}
}

func TestHeartbeatShapes(t *testing.T) {
	for _, c := range []status.Cluster{
		{}, witnessCluster(), partitioned(status.Error), noWitness(), statesCluster(), statesWitness(),
		oddHeartbeats(), edgeCluster(), monitorEdgeCluster(), sampleB(),
	} {
		checkHeartbeatDisplays(t, c)
	}
}

// checkHeartbeatDisplays renders -n and -p of c and checks their shapes against it.
func checkHeartbeatDisplays(t *testing.T, c status.Cluster) {
	t.Helper()
	var n, p bytes.Buffer
	if err := WriteHeartbeatStatus(&n, c); err != nil {
		t.Fatal(err)
	}
	checkHeartbeatStatus(t, n.String(), c)
	if err := WriteNPStatus(&p, c); err != nil {
		t.Fatal(err)
	}
	checkNPStatus(t, p.String(), c)
}

// The pipelines of exec_checkNP_stat.sh and srvstat.sh, one by one.
func TestScriptHeartbeatIdioms(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "awk", "cut", "wc")
	const ownnode = "cat \"$1\" | grep \"$2\" | awk '{print $1}' | cut -c 2-"
	for _, tc := range []struct {
		name string
		c    status.Cluster
		host string
		want string
	}{
		{"witness", witnessCluster(), "node1", "server0"},
		{"states", statesCluster(), "srv-c", "server2"},
		{"sample B", sampleB(), "116rhel94", "server0"},
	} {
		if got := pipe(t, renderTo(t, renderOf(WriteHeartbeatStatus, tc.c)), ownnode, tc.host); got != tc.want {
			t.Errorf("%s: ownnode %q, want %q", tc.name, got, tc.want)
		}
	}

	const online = `cat "$1" | grep '\[on server' | grep Online | wc -l`
	for _, tc := range []struct {
		name string
		c    status.Cluster
		want string
	}{
		{"witness", witnessCluster(), "2"},
		{"partitioned", partitioned(status.Normal), "1"},
		{"states", statesCluster(), "2"},
		{"odd", oddHeartbeats(), "1"},
		{"sample B", sampleB(), "0"},
	} {
		if got := strings.TrimSpace(pipe(t, renderTo(t, renderOf(WriteHeartbeatStatus, tc.c)), online)); got != tc.want {
			t.Errorf("%s: %s online servers, want %s", tc.name, got, tc.want)
		}
	}

	const others = `cat "$1" | grep "on server" | grep -v "$2" | grep -v Offline`
	if got := pipe(t, renderTo(t, renderOf(WriteHeartbeatStatus, witnessCluster())), others, "server0"); got != " [on server1 : Online]" {
		t.Errorf("other servers up: %q", got)
	}
	if got := pipe(t, renderTo(t, renderOf(WriteHeartbeatStatus, partitioned(status.Normal))), others, "server0"); got != "" {
		t.Errorf("other servers up after the partition: %q", got)
	}

	const np = `cat "$1" | grep "$2" | grep -v "on server" | grep -v "\*" | grep o`
	for _, tc := range []struct {
		name    string
		c       status.Cluster
		ownnode string
		want    string
	}{
		{"witness answers", partitioned(status.Normal), "server0", "  server0 : o"},
		{"witness lost", partitioned(status.Error), "server0", ""},
		{"witness unknown", partitioned(status.Unknown), "server0", ""},
		{"no witness", noWitness(), "server0", ""},
		{"states, local third", statesWitness(), "server2", "  server2 : o"},
	} {
		if got := pipe(t, renderTo(t, renderOf(WriteNPStatus, tc.c)), np, tc.ownnode); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// exec_checkNP_stat.sh (Igaigasuru/EXPRESSCLUSTER tool/), unchanged; clpstat and hostname are
// shell functions that stand in for the commands.
const checkNPScript = `#! /bin/sh
#***************************************
#*              start.sh               *
#***************************************

#ulimit -s unlimited

ownnode=` + "`clpstat -n | grep \\`hostname\\` | awk '{print $1}' | cut -c 2-`" + `

echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  Start."

echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  Checking HBs."
clpstat -n | grep "on server" | grep -v $ownnode | grep -v "Offline"
if [ $? -eq 0 ]
then
echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  HB is valid."
echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  Finish."
exit 0
fi
echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  HB is invalid."

# Check NP status
echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  Checking NPs."
clpstat -p | grep "$ownnode" | grep -v "on server" | grep -v "\*" | grep o

if [ $? -eq 0 ]
then
echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  PingNP is valid."
echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  Finish."
exit 0
fi

echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  ERRPR. All HBs and PingNPs are invalid."
echo ` + "`date \"+%y/%m/%d %H:%M:%S.%3N\"`" + `"  Exit."
exit 1
`

// srvstat.sh (Igaigasuru/EXPRESSCLUSTER memo/script/), unchanged but for the first line.
const srvstatScript = `#!/ bin/sh
ulimit -s unlimited

clpstat -n | grep "\[on server" | while read line
do
  echo $line | grep "Online"
  if [ $? -ne 0 ]
  then
    exit 1
  fi
done
if [ $? -eq 1 ]
then
  echo "Error! Server status is not normal."
  exit 1
fi

echo "Success! Server status is normal."
exit 0
`

// runWithClpstat runs script with clpstat -n and -p answering from the renderings of c, and
// hostname answering host; it returns the exit status and the output.
func runWithClpstat(t *testing.T, script string, c status.Cluster, host string) (int, string) {
	t.Helper()
	n := renderTo(t, renderOf(WriteHeartbeatStatus, c))
	p := renderTo(t, renderOf(WriteNPStatus, c))
	stub := `clpstat() { case "$1" in -n) cat "$N";; -p) cat "$P";; *) exit 99;; esac; }
hostname() { echo "$HOST"; }
`
	cmd := exec.Command("/bin/sh", "-c", stub+script)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "N="+n, "P="+p, "HOST="+host)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func TestScriptCheckNP(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "awk", "cut", "date")
	for _, tc := range []struct {
		name string
		c    status.Cluster
		code int
		says string
	}{
		{"both up", witnessCluster(), 0, "HB is valid."},
		{"partner down, witness answers", partitioned(status.Normal), 0, "PingNP is valid."},
		{"partner down, witness lost", partitioned(status.Error), 1, "All HBs and PingNPs are invalid."},
		{"partner down, no witness", func() status.Cluster {
			c := noWitness()
			c.Servers[1].State = status.Offline
			return c
		}(), 1, "All HBs and PingNPs are invalid."},
	} {
		code, out := runWithClpstat(t, checkNPScript, tc.c, "node1")
		if code != tc.code || !strings.Contains(out, tc.says) {
			t.Errorf("%s: exit %d, want %d saying %q:\n%s", tc.name, code, tc.code, tc.says, out)
		}
	}
}

func TestScriptSrvstat(t *testing.T) {
	needTools(t, "/bin/sh", "grep")
	for _, tc := range []struct {
		name string
		c    status.Cluster
		code int
	}{
		{"both up", witnessCluster(), 0},
		{"partner down", partitioned(status.Normal), 1},
		{"unknown server", oddHeartbeats(), 1},
	} {
		if code, out := runWithClpstat(t, srvstatScript, tc.c, "node1"); code != tc.code {
			t.Errorf("%s: exit %d, want %d:\n%s", tc.name, code, tc.code, out)
		}
	}
}
