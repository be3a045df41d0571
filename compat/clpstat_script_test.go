package compat

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// These tests run the real pipelines of research note §2.3 and §2.6 over our output, with the
// system's sh, grep, sed and awk, because a Go re-implementation of a pipeline would only test our
// reading of it. `clpstat` in each pipeline is replaced by `cat "$1"`.

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not available: %v", tool, err)
		}
	}
}

// renderTo writes the rendering to a temporary file for the pipeline to read.
func renderTo(t *testing.T, out render) string {
	t.Helper()
	var b bytes.Buffer
	if err := out(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "clpstat.out")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pipe runs script with $1 = the rendered file and $2.. = args, returning trimmed stdout. A
// pipeline whose last grep matches nothing exits 1; that is an answer ("no match"), not an error.
func pipe(t *testing.T, file, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh", file}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || stderr.Len() > 0 {
			t.Fatalf("%s: %v: %s", script, err, stderr.String())
		}
	}
	return strings.TrimRight(string(out), "\n")
}

// scriptCase is a rendering and what a pipeline must print for it.
type scriptCase struct {
	name string
	out  render
	want string
}

// checkPipeline runs script over the rendering of each case and checks what it prints; with
// trim, the blanks around it do not count (the pipeline ends in wc -l, which some systems pad).
func checkPipeline(t *testing.T, script string, trim bool, cases []scriptCase) {
	t.Helper()
	for _, tc := range cases {
		got := pipe(t, renderTo(t, tc.out), script)
		if trim {
			got = strings.TrimSpace(got)
		}
		if got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestScriptResourceState(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "sed", "awk")
	// SQLServer AlwaysOn genw.sh: clpstat | grep ${rsc} | sed 's/ //g' | awk -F ':' '{print $2}'
	const script = `cat "$1" | grep "$2" | sed 's/ //g' | awk -F ':' '{print $2}'`
	for _, tc := range []struct {
		name string
		out  render
		rsc  string
		want string
	}{
		{"B", statusOf(sampleB(), false), "exec1", "Offline"},
		{"A", statusOf(sampleA(), false), "md ", "Online"},
		{"states", statusOf(statesCluster(), false), "exec-web", "Online"},
		// The legacy pipeline deletes every blank, so two-word states come out glued.
		{"states", statusOf(statesCluster(), false), "fip1", "OnlineFailure"},
		{"states-long", statusOf(statesCluster(), true), "exec-bad", "OfflineFailure"},
	} {
		if got := pipe(t, renderTo(t, tc.out), script, tc.rsc); got != tc.want {
			t.Errorf("%s %s: got %q, want %q", tc.name, tc.rsc, got, tc.want)
		}
	}
}

func TestScriptLocalServerName(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "sed")
	// clparping genw.sh: it depends on '*' appearing on the local server line only.
	const script = `cat "$1" | grep "*" | sed -E 's/[\t ]+\*//g' | sed -E 's/[\t ].*//g'`
	checkPipeline(t, script, false, []scriptCase{
		{"A", statusOf(sampleA(), false), "server1"},
		{"B", statusOf(sampleB(), false), "116rhel94"},
		{"D", statusOf(sampleD(), false), "postgres-sss-0"},
		{"F-long", statusOf(sampleF(), true), "node1"},
		{"states", statusOf(statesCluster(), false), "srv-c"},
		{"states-long", statusOf(statesCluster(), true), "srv-c"},
	})
}

func TestScriptLocalServerIndex(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "sed", "wc")
	// SCSI-PR attacker.sh / defender.sh: 1-based index of the local server. `0,/re/` is GNU sed.
	if out, err := exec.Command("sed", "--version").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("GNU")) {
		t.Skip("attacker.sh needs GNU sed for the 0,/re/ address")
	}
	const script = `cat "$1" | sed -n '/<server>/,/<group>/p' | grep '^   [\* ][^ ]' | sed -n '0,/^   [\*]/p' | wc -l`
	checkPipeline(t, script, true, []scriptCase{
		{"A", statusOf(sampleA(), false), "1"},
		{"F-long", statusOf(sampleF(), true), "1"},
		{"states", statusOf(statesCluster(), false), "3"},
		{"states-long", statusOf(statesCluster(), true), "3"},
	})
}

func TestScriptArpTable(t *testing.T) {
	needTools(t, "/bin/sh", "grep")
	// VMware genw-arpTable.sh: `clpstat | grep $other | grep Online` and
	// `clpstat --local | grep current | grep $me`.
	a := renderTo(t, statusOf(sampleA(), false))
	if got := pipe(t, a, `cat "$1" | grep "$2" | grep Online`, "server2"); got != "    server2 .........: Online           " {
		t.Errorf("other server line: %q", got)
	}
	if got := pipe(t, a, `cat "$1" | grep current | grep "$2"`, "server1"); got != "      current        : server1" {
		t.Errorf("current on me: %q", got)
	}
	b := renderTo(t, statusOf(sampleB(), false))
	if got := pipe(t, b, `cat "$1" | grep "$2" | grep Online`, "117rhel94"); got != "" {
		t.Errorf("offline server reported online: %q", got)
	}
}

func TestScriptCurrentServer(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "awk")
	// clpstat |grep failover -A1 | grep current | awk '{print $3}'
	const script = `cat "$1" | grep failover -A1 | grep current | awk '{print $3}'`
	checkPipeline(t, script, false, []scriptCase{
		{"A", statusOf(sampleA(), false), "server1"},
		{"B", statusOf(sampleB(), false), "None\nNone"},
		{"F-long", statusOf(sampleF(), true), "node1"},
	})
}

// remoteNodePerl is IsRemoteClpOffline from genw-remote-node.pl, unchanged apart from reading
// stdin and printing its two variables.
const remoteNodePerl = `while (<STDIN>) {
	chomp;
	if (/^\s{4}(\S+?)\s.*: (.+?)\s/) { $n = $1; $s = $2; }
	elsif (/<group>/) { last; }
}
print "$n $s\n";`

var remoteNodeRE = regexp.MustCompile(`^\s{4}(\S+?)\s.*: (.+?)\s`)

// remoteNodeGo is the same loop in Go, so the idiom is covered where perl is missing.
func remoteNodeGo(text string) string {
	var n, s string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if m := remoteNodeRE.FindStringSubmatch(sc.Text()); m != nil {
			n, s = m[1], m[2]
		} else if strings.Contains(sc.Text(), "<group>") {
			break
		}
	}
	return n + " " + s
}

func TestScriptRemoteNodePerl(t *testing.T) {
	_, perlErr := exec.LookPath("perl")
	for _, tc := range []scriptCase{
		{"A", statusOf(sampleA(), false), "server2 Online"},
		// The case the script exists for: the remote node is Offline with no comment, and only the
		// ljust(17) padding gives `(.+?)\s` its terminating blank.
		{"B", statusOf(sampleB(), false), "117rhel94 Offline"},
		{"C", statusOf(sampleC(), false), "server2 Online"},
		{"F-long", statusOf(sampleF(), true), "node2 Online"},
		{"states", statusOf(statesCluster(), false), "srv-b Offline"},
	} {
		var b bytes.Buffer
		if err := tc.out(&b); err != nil {
			t.Fatal(err)
		}
		if got := remoteNodeGo(b.String()); got != tc.want {
			t.Errorf("%s (Go regexp): got %q, want %q", tc.name, got, tc.want)
		}
		if perlErr != nil {
			continue
		}
		cmd := exec.Command("perl", "-e", remoteNodePerl)
		cmd.Stdin = &b
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("perl: %v", err)
		}
		if got := strings.TrimRight(string(out), "\n"); got != tc.want {
			t.Errorf("%s (perl): got %q, want %q", tc.name, got, tc.want)
		}
	}
	if perlErr != nil {
		t.Logf("perl not available, checked with Go regexp only: %v", perlErr)
	}
}

// PowerShell, UM8700 scripts: clpstat | Select-String X | % { ($_ -split ":")[1] } then .Trim().
// There is no PowerShell to run, so this is the same split and trim in Go.
func TestScriptPowerShellSplit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteStatus(&b, sampleA(), StatusOptions{}); err != nil {
		t.Fatal(err)
	}
	for pattern, want := range map[string]string{"current": "server1", "mdw": "Normal", "server2": "Online"} {
		var got []string
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.Contains(l, pattern) {
				got = append(got, strings.TrimSpace(strings.Split(l, ":")[1]))
			}
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %q, want [%q]", pattern, got, want)
		}
	}
}

// groupMapIndex is grpstat.sh's own index from the group map: the row of the server named $2.
const groupMapIndex = `cat "$1" | grep "$2" | awk -F: '{print $1}' | sed "s/ //g" | cut -c 2-`

func TestScriptGroupMap(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "sed", "awk", "cut")
	// grpstat.sh: own index from the map, then "is my group online on me".
	const onMe = `cat "$1" | grep "$2\[o\]" | grep "$3"`
	clpaic := renderTo(t, renderOf(WriteGroupMap, clpaicGroupMap()))
	if got := pipe(t, clpaic, groupMapIndex, "116rhel94"); got != "server0" {
		t.Fatalf("local index: got %q, want server0", got)
	}
	if got := pipe(t, clpaic, onMe, "failover1", "server0"); got != "    server0 [o] : failover1[o] " {
		t.Errorf("failover1 on server0: %q", got)
	}
	if got := pipe(t, clpaic, onMe, "failover2", "server0"); got != "" {
		t.Errorf("failover2 reported on server0: %q", got)
	}

	// Local server not first, and groups in pending or failure states must not read as online.
	states := renderTo(t, renderOf(WriteGroupMap, statesCluster()))
	if got := pipe(t, states, groupMapIndex, "srv-c"); got != "server2" {
		t.Fatalf("local index: got %q, want server2", got)
	}
	for grp, want := range map[string]bool{"g-onpend": false, "g-onfail": false, "g-online": false} {
		if got := pipe(t, states, onMe, grp, "server2") != ""; got != want {
			t.Errorf("%s online on server2: got %v, want %v", grp, got, want)
		}
	}
	if got := pipe(t, states, onMe, "g-online", "server0"); got == "" {
		t.Errorf("g-online not found online on server0")
	}
}

// The §2.3 note: the index idiom only works on the local row, because `cut -c 2-` removes the
// '*'. On another server's row it would eat the first letter, which is why the map must star
// exactly the local server.
func TestGroupMapIndexIdiomNeedsStar(t *testing.T) {
	needTools(t, "/bin/sh", "grep", "sed", "awk", "cut")
	c := clpaicGroupMap()
	c.LocalServer = "117rhel94"
	f := renderTo(t, renderOf(WriteGroupMap, c))
	if got := pipe(t, f, groupMapIndex, "117rhel94"); got != "server1" {
		t.Errorf("got %q, want server1", got)
	}
	if got := pipe(t, f, groupMapIndex, "116rhel94"); got != "erver0" {
		t.Errorf("non-local row: got %q, want the legacy-broken erver0", got)
	}
}
