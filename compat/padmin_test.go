package compat

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/psaver"
)

var updatePadmin = flag.Bool("update-padmin", false, "rewrite testdata/golden/padmin files that are not from the seed")

const padminGolden = "../testdata/golden/padmin"

func seedState(pid, retry, restart int, rerun time.Time) psaver.EntryState {
	return psaver.EntryState{
		ID: 1, PName: "/usr/bin/java", PID: pid, RetryCount: retry, RestartCount: restart,
		ProcSts: psaver.StsAvail, RetryOverAct: psaver.Exit, RerunTime: rerun,
		Options: []psaver.Option{{Name: "include_strings", Value: "apache&tomcat"}}, Monitor: true,
	}
}

// TestPadminShowPent compares the rendering with golden files. The seed-* files are typed from
// seed 002 §7 (7.1.1.1, 7.1.1.2, 7.1.1.4) and are never rewritten; the others are ours and
// -update-padmin rewrites them.
func TestPadminShowPent(t *testing.T) {
	rerun := time.Date(2011, time.October, 12, 10, 40, 48, 0, time.UTC)
	tests := []struct {
		golden string
		seed   bool
		snap   psaver.Snapshot
	}{
		{"seed-7.1.1.1.txt", true, psaver.Snapshot{Entries: []psaver.EntryState{seedState(3679, 0, 0, time.Time{})}}},
		{"seed-7.1.1.2.txt", true, psaver.Snapshot{Entries: []psaver.EntryState{seedState(12742, 1, 1, rerun)}}},
		{"seed-7.1.1.4.txt", true, psaver.Snapshot{Entries: []psaver.EntryState{seedState(2573, 0, 0, time.Time{})}}},
		{"states.txt", false, psaver.Snapshot{Entries: []psaver.EntryState{
			seedState(12742, 3, 7, rerun),
			{ID: 2, PName: "/usr/sbin/httpd", PID: 0, RetryCount: 2, RestartCount: 2, ProcSts: psaver.StsRestart,
				RetryOverAct: psaver.Continue, RerunTime: time.Date(2026, time.March, 2, 9, 5, 7, 0, time.UTC),
				Options: []psaver.Option{{Name: "include_strings", Value: "-DFOREGROUND"}, {Name: "exclude_strings", Value: "grep&probe"}},
				Monitor: true},
			{ID: 3, PName: "/opt/app/bin/worker", PID: 0, RetryCount: 0, RestartCount: 0, ProcSts: psaver.StsDown,
				RetryOverAct: psaver.Exit, Monitor: false},
			{ID: 4, PName: "sleep", PID: 4194304, RetryCount: 1, RestartCount: 12, ProcSts: psaver.StsRetryOver,
				RetryOverAct: psaver.Continue, RerunTime: time.Date(2026, time.December, 31, 23, 59, 59, 0, time.UTC), Monitor: true},
		}}},
		{"empty.txt", false, psaver.Snapshot{}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got := PadminShowPent(tt.snap, time.UTC)
			path := filepath.Join(padminGolden, tt.golden)
			if *updatePadmin && !tt.seed {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, path, want)
			}
		})
	}
}

// TestPadminAwk runs the way scripts read the output: awk's third field is the value, and the
// seed's own grep for the four values it checks finds them.
func TestPadminAwk(t *testing.T) {
	awk, err := exec.LookPath("awk")
	if err != nil {
		t.Skip("no awk")
	}
	text := PadminShowPent(psaver.Snapshot{Entries: []psaver.EntryState{seedState(12742, 1, 1,
		time.Date(2011, time.October, 2, 10, 40, 48, 0, time.UTC))}}, time.UTC)
	cmd := exec.Command(awk, `{print $1 "|" $3}`)
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pname|/usr/bin/java", "pid|12742", "retry_count|1", "restart_count|1", "proc_sts|AVAIL",
		"retry_over_act|exit", "rerun_time|Sun", "include_strings|apache&tomcat", "pent_id|1", "monitor_sts|on"}
	if got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"); !slices.Equal(got, want) {
		t.Errorf("awk fields:\n%q\nwant\n%q", got, want)
	}
	// asctime pads a one-digit day with a blank.
	if !strings.Contains(text, "rerun_time = Sun Oct  2 10:40:48 2011\n") {
		t.Errorf("rerun_time line of a one-digit day:\n%s", text)
	}
}

// TestPcheckLines pins every syslog line against the seed's examples (seed 002 §6.1.2, §7) and
// the 2.2 syslog guide's wording.
func TestPcheckLines(t *testing.T) {
	java := "/usr/bin/java"
	tests := []struct {
		ev   psaver.Event
		want string
	}{
		{psaver.Event{Kind: psaver.Up, PName: java, PID: 3679}, "(/usr/bin/java    ,pid=3679) Up"},           // §7.1.1.1
		{psaver.Event{Kind: psaver.Up, PName: java, PID: 12742}, "(/usr/bin/java   ,pid=12742) Up"},          // §7.1.1.2
		{psaver.Event{Kind: psaver.Up, PName: java, PID: 2573}, "(/usr/bin/java    ,pid=2573) Up"},           // §7.1.1.4
		{psaver.Event{Kind: psaver.Up, PName: java, PID: 4194304}, "(/usr/bin/java ,pid=4194304) Up"},        // at least one blank
		{psaver.Event{Kind: psaver.Down, PName: java, PID: 312}, "Process [/usr/bin/java ,   pid=312] Down"}, // §7.1.1.2
		{psaver.Event{Kind: psaver.Down, PName: java, PID: 12742}, "Process [/usr/bin/java , pid=12742] Down"},
		{psaver.Event{Kind: psaver.TryRestart, PName: java}, "Try to restart ('/usr/bin/java')"},
		{psaver.Event{Kind: psaver.SetPidFail, PName: java}, "Set pid fail ('/usr/bin/java')"},
		{psaver.Event{Kind: psaver.RetryOver, PName: java, Action: psaver.Exit}, "(/usr/bin/java) RETRY_OVER:EXIT"}, // §7.1.1.2
		{psaver.Event{Kind: psaver.RetryOver, PName: java, Action: psaver.Continue}, "(/usr/bin/java) RETRY_OVER:CONTINUE"},
		{psaver.Event{Kind: psaver.Fatal, PName: java, Action: psaver.Exit}, "(/usr/bin/java) FATAL"}, // §7.1.1.2
	}
	for _, tt := range tests {
		l, ok := PcheckLine(tt.ev)
		if !ok || l.Text != tt.want {
			t.Errorf("%v pid %d: %q, %v; want %q", tt.ev.Kind, tt.ev.PID, l.Text, ok, tt.want)
		}
	}
	if _, ok := PcheckLine(psaver.Event{Kind: psaver.Problem}); ok {
		t.Error("a Problem has a syslog line")
	}
	if got := PcheckSignalLine(syscall.SIGTERM).Text; got != "SIGTERM Catch (15)!!" {
		t.Errorf("SIGTERM line %q", got)
	}
	if got := PcheckSignalLine(syscall.SIGINT).Text; got != "SIGINT Catch (2)!!" {
		t.Errorf("SIGINT line %q", got)
	}
	if got := PcheckStopLine().Text; got != "Stop pcheck!!" {
		t.Errorf("stop line %q", got)
	}
	if got := PadminCommandLine("reload", "/var/opt/HA/PS/conf/bin/pfile_tomcat").Text; got != "Command execute. [reload] pfile='/var/opt/HA/PS/conf/bin/pfile_tomcat'" {
		t.Errorf("padmin line %q", got)
	}
}

func TestFixDashes(t *testing.T) {
	got := FixDashes([]string{"\u2013f", "/a\u2013b", "\u2014c", "show", "-x"})
	want := []string{"-f", "/a\u2013b", "-c", "show", "-x"}
	if !slices.Equal(got, want) {
		t.Errorf("FixDashes = %q, want %q", got, want)
	}
}
