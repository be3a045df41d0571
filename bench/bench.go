// Package bench measures clpkit against real clusters: the benchmarks in bench_test.go start a
// real clpd with internal/clustertest and time the real commands. This file holds the pieces
// that are not benchmarks: sample statistics, /proc readers and the table printer that ends
// `make bench`.
//
// Run them with:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/
//
// Each benchmark runs once (-benchtime 1x) and takes its own number of samples; see the flags
// in bench_test.go (for example `-args -clpstat-runs 500`).
package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"clpkit/pkg/procwatch"
)

// Percentile returns the p-th percentile (0 < p <= 100) of samples by the nearest-rank method:
// the smallest sample that at least p percent of the samples do not exceed. It returns 0 for no
// samples and does not modify samples.
func Percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// Median is the 50th percentile by the nearest-rank method.
func Median(samples []time.Duration) time.Duration { return Percentile(samples, 50) }

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It is 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// CPUTime returns the user plus system CPU time that process pid has used so far, read from
// /proc/<pid>/stat.
func CPUTime(pid int) (time.Duration, error) {
	st, err := procwatch.Stat("/proc", pid)
	if err != nil {
		return 0, err
	}
	return time.Duration(st.UTime+st.STime) * time.Second / clockTicks, nil
}

// RSS returns the resident set size of process pid (VmRSS in /proc/<pid>/status) in bytes.
func RSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) != 2 || fs[1] != "kB" {
			return 0, fmt.Errorf("/proc/%d/status: unexpected VmRSS line %q", pid, sc.Text())
		}
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/status: %w", pid, err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS line (a zombie or kernel thread?)", pid)
}

// LockPID returns the pid that clpd wrote into <dataDir>/clpd.lock.
func LockPID(dataDir string) (int, error) {
	p := filepath.Join(dataDir, "clpd.lock")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: no pid: %w", p, err)
	}
	return pid, nil
}

// Row is one line of the results table.
type Row struct {
	Metric string
	Value  string
}

// WriteTable prints rows as a markdown table (metric | value), columns padded so that it also
// reads well as plain text.
func WriteTable(w io.Writer, rows []Row) error {
	mw, vw := len("metric"), len("value")
	for _, r := range rows {
		mw, vw = max(mw, len(r.Metric)), max(vw, len(r.Value))
	}
	var b strings.Builder
	line := func(m, v string) { fmt.Fprintf(&b, "| %-*s | %*s |\n", mw, m, vw, v) }
	line("metric", "value")
	fmt.Fprintf(&b, "|%s|%s:|\n", strings.Repeat("-", mw+2), strings.Repeat("-", vw+1))
	for _, r := range rows {
		line(r.Metric, r.Value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
