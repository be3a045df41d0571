package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/test/netlab"
	"clpkit/test/trials"
)

var (
	clpstatRuns = flag.Int("clpstat-runs", 300, "BenchmarkClpstat: clpstat runs measured")
	cycles      = flag.Int("cycles", 100, "BenchmarkClpgrpCycle: clpgrp -s / clpgrp -t cycles measured")
	idleGroups  = flag.Int("idle-groups", 50, "BenchmarkIdle: started groups")
	idleSettle  = flag.Duration("idle-settle", 5*time.Second, "BenchmarkIdle: wait after every group is Online")
	idleSample  = flag.Duration("idle-sample", 10*time.Second, "BenchmarkIdle: CPU sampling window")
)

// The commands are built once per run, on first use, into binDir; results collects the table
// that TestMain prints after the benchmarks.
var (
	binDir    string
	buildOnce sync.Once
	buildOK   bool
	resultsMu sync.Mutex
	results   []Row
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clpkit-bench-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	// The lab's helper programs, built once by the benchmarks that use the lab.
	if err := netlab.RemoveTools(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	if len(results) > 0 {
		fmt.Println()
		fmt.Println("clpkit benchmark results (real clpd; one server on its embedded etcd, or the two-server")
		fmt.Println("network-namespace lab with an external etcd host; figures from the same run):")
		fmt.Println()
		if err := WriteTable(os.Stdout, results); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// bins returns the directory holding the freshly built commands.
func bins(b *testing.B) string {
	b.Helper()
	buildOnce.Do(func() {
		clustertest.Build(b, binDir)
		buildOK = true
	})
	if !buildOK {
		b.Fatal("building the commands failed in an earlier benchmark")
	}
	return binDir
}

func record(metric, value string) {
	resultsMu.Lock()
	defer resultsMu.Unlock()
	results = append(results, Row{metric, value})
}

// recordP99 records the median and p99 of samples in ms with two decimals; count, unless empty,
// says in the median's row how many were taken ("300 runs").
func recordP99(metric, count string, samples []time.Duration) {
	if count != "" {
		count = "; " + count
	}
	record(metric+", median (ms"+count+")", fmt.Sprintf("%.2f", Ms(Median(samples))))
	record(metric+", p99 (ms)", fmt.Sprintf("%.2f", Ms(Percentile(samples, 99))))
}

// reportP99 is recordP99 that also gives both figures to the benchmark's output, as the units
// unit+"median-ms" and unit+"p99-ms".
func reportP99(b *testing.B, unit, metric, count string, samples []time.Duration) {
	b.ReportMetric(Ms(Median(samples)), unit+"median-ms")
	b.ReportMetric(Ms(Percentile(samples, 99)), unit+"p99-ms")
	recordP99(metric, count, samples)
}

// timed runs one of the kit's commands against c, checks that it exits 0, and returns its wall
// time: fork, exec, the API round trip and rendering, as a calling script sees it.
func timed(b *testing.B, c *clustertest.Cluster, env []string, name string, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(filepath.Join(c.Bin, name), args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.Bytes())
	}
	return d
}

// groupStates returns every group's state from clpstat -o json.
func groupStates(b *testing.B, c *clustertest.Cluster) map[string]string {
	b.Helper()
	var doc struct {
		Schema  string `json:"schema"`
		Cluster struct {
			Groups []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"groups"`
		} `json:"cluster"`
	}
	out := c.MustRun(b, "clpstat", "-o", "json")
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		b.Fatalf("clpstat -o json: %v\n%s", err, out)
	}
	if doc.Schema != "clpkit.status/v1" {
		b.Fatalf("clpstat -o json: schema %q, want clpkit.status/v1", doc.Schema)
	}
	m := map[string]string{}
	for _, g := range doc.Cluster.Groups {
		m[g.Name] = g.State
	}
	return m
}

// waitOnline waits until all n groups of c are Online.
func waitOnline(b *testing.B, c *clustertest.Cluster, n int, d time.Duration) {
	b.Helper()
	clustertest.WaitFor(b, d, fmt.Sprintf("%d groups Online", n), func() bool {
		st := groupStates(b, c)
		online := 0
		for _, s := range st {
			if s == "Online" {
				online++
			}
		}
		return len(st) == n && online == n
	})
}

// execGroups is the configuration of n groups g01, g02, ... each with one exec resource r01, r02,
// ... running scripts/start.sh and scripts/stop.sh; more are further keys of each resource.
func execGroups(n int, more string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "[[group]]\nname = \"g%02d\"\n%s\n", i, trials.ExecResource(fmt.Sprintf("r%02d", i), "scripts", more))
	}
	return b.String()
}

// quiet stops the testing framework's own ns/op column: each benchmark runs once and reports
// its own sample statistics instead.
func quiet(b *testing.B) { b.ReportMetric(0, "ns/op") }

// BenchmarkClpstat times the real clpstat binary against a running cluster with one Online group.
func BenchmarkClpstat(b *testing.B) {
	bin := bins(b)
	dir := b.TempDir()
	clustertest.Script(b, dir, "scripts/exec1/start.sh", "exit 0\n")
	clustertest.Script(b, dir, "scripts/exec1/stop.sh", "exit 0\n")
	c := clustertest.New(b, bin, dir, `[[group]]
name = "failover1"
comment = "bench group"
`+trials.ExecResource("exec1", "scripts/exec1", ""))
	c.Start(b)
	waitOnline(b, c, 1, 30*time.Second)
	env := c.Env()
	for range 10 { // warm the page cache and the daemon
		timed(b, c, env, "clpstat")
	}
	b.ResetTimer()
	samples := make([]time.Duration, *clpstatRuns)
	for i := range samples {
		samples[i] = timed(b, c, env, "clpstat")
	}
	b.StopTimer()
	quiet(b)
	reportP99(b, "", "clpstat wall time", strconv.Itoa(len(samples))+" runs, 1 group", samples)
}

// scriptSpan reads the two nanosecond timestamps that a bench script appended to path (the
// first and the last thing it did) and returns the time between them.
func scriptSpan(b *testing.B, path string) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw))
	if len(f) != 2 {
		b.Fatalf("%s: want 2 timestamps, got %q", path, raw)
	}
	var ns [2]int64
	for i, s := range f {
		if ns[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			b.Fatalf("%s: %v", path, err)
		}
	}
	return time.Duration(ns[1] - ns[0])
}

// BenchmarkClpgrpCycle times `clpgrp -s g` and `clpgrp -t g` on a group with one synchronous exec
// resource whose scripts only record their own start and end time, and reports the overhead:
// each command's wall time minus the time its script measured for itself. The overhead holds the
// clpgrp process, the API round trip, the etcd ownership and state writes, the alert log, and
// spawning /bin/sh (reported on its own as the direct-run median).
func BenchmarkClpgrpCycle(b *testing.B) {
	bin := bins(b)
	dir := b.TempDir()
	startTimes, stopTimes := filepath.Join(dir, "start.times"), filepath.Join(dir, "stop.times")
	startSh := clustertest.Script(b, dir, "scripts/r/start.sh", "date +%s%N >> "+startTimes+"\ndate +%s%N >> "+startTimes+"\n")
	clustertest.Script(b, dir, "scripts/r/stop.sh", "date +%s%N >> "+stopTimes+"\ndate +%s%N >> "+stopTimes+"\n")
	c := clustertest.New(b, bin, dir, `[[group]]
name = "g"
auto_start = false
`+trials.ExecResource("r", "scripts/r", ""))
	c.Start(b)
	env := c.Env()
	cycle := func() (start, stop time.Duration) {
		for _, p := range []string{startTimes, stopTimes} {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		ws := timed(b, c, env, "clpgrp", "-s", "g")
		start = ws - scriptSpan(b, startTimes)
		wt := timed(b, c, env, "clpgrp", "-t", "g")
		stop = wt - scriptSpan(b, stopTimes)
		return start, stop
	}
	for range 5 {
		cycle()
	}
	b.ResetTimer()
	starts := make([]time.Duration, *cycles)
	stops := make([]time.Duration, *cycles)
	for i := range starts {
		starts[i], stops[i] = cycle()
	}
	b.StopTimer()

	// What spawning the same script costs without clpkit, for reading the overhead.
	direct := make([]time.Duration, 50)
	for i := range direct {
		cmd := exec.Command(startSh)
		cmd.Dir = filepath.Dir(startSh)
		t0 := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", startSh, err, out)
		}
		direct[i] = time.Since(t0)
	}

	quiet(b)
	reportP99(b, "start-", "clpgrp -s overhead beyond start.sh", strconv.Itoa(len(starts))+" cycles", starts)
	reportP99(b, "stop-", "clpgrp -t overhead beyond stop.sh", "", stops)
	record("start.sh alone, spawned directly, median (ms)", fmt.Sprintf("%.2f", Ms(Median(direct))))
}

// BenchmarkIdle measures clpd's CPU use and resident memory while it runs many started groups
// and nothing happens, at the default timings: lease renewals every 100 ms and the embedded etcd
// member are all that work.
func BenchmarkIdle(b *testing.B) {
	bin := bins(b)
	dir := b.TempDir()
	clustertest.Script(b, dir, "scripts/start.sh", "exit 0\n")
	clustertest.Script(b, dir, "scripts/stop.sh", "exit 0\n")
	c := clustertest.NewTimed(b, bin, dir, execGroups(*idleGroups, ""), "")
	c.Start(b)
	waitOnline(b, c, *idleGroups, 60*time.Second)
	pid, err := LockPID(filepath.Join(dir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(*idleSettle)

	u := sampleIdle(b, pid, "", *idleSample)
	if st := groupStates(b, c); len(st) != *idleGroups {
		b.Fatalf("clpstat shows %d groups after the sample, want %d", len(st), *idleGroups)
	}
	u.report(b, "clpd", strconv.Itoa(*idleGroups)+" groups Online", *idleSample, 2)
}
