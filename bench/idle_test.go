package bench

import (
	"fmt"
	"testing"
	"time"
)

// idleUse is what a process used while nothing happened: its CPU and, when asked for, that of a
// cgroup (both in % of one core), and its resident memory at the end.
type idleUse struct {
	cpuPct, cgPct, rssMiB float64
}

// sampleIdle makes a sample of length d the benchmark's whole timed part: it reads pid's CPU
// time (and, unless cg is "", that of the cgroup v2 directory cg) before and after it, and
// pid's RSS once the timer has stopped. The percentages are of the wall time actually slept.
func sampleIdle(b *testing.B, pid int, cg string, d time.Duration) idleUse {
	b.Helper()
	cpu := func() (proc, group time.Duration) {
		proc, err := CPUTime(pid)
		if err != nil {
			b.Fatal(err)
		}
		if cg != "" {
			if group, err = cgroupCPU(cg); err != nil {
				b.Fatal(err)
			}
		}
		return proc, group
	}
	b.ResetTimer()
	cpu0, cg0 := cpu()
	t0 := time.Now()
	time.Sleep(d)
	cpu1, cg1 := cpu()
	wall := time.Since(t0)
	b.StopTimer()
	rss, err := RSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	return idleUse{
		cpuPct: 100 * float64(cpu1-cpu0) / float64(wall),
		cgPct:  100 * float64(cg1-cg0) / float64(wall),
		rssMiB: float64(rss) / (1 << 20),
	}
}

// report gives u to the benchmark's output and to the results table, as prog's idle CPU (prec
// decimals) and RSS with what, the setup, in both rows' names; d is the sample's length.
func (u idleUse) report(b *testing.B, prog, what string, d time.Duration, prec int) {
	quiet(b)
	b.ReportMetric(u.cpuPct, "cpu-%")
	b.ReportMetric(u.rssMiB, "rss-MiB")
	record(fmt.Sprintf("%s idle CPU, %s (%% of one core over %s)", prog, what, d.Round(time.Second)), fmt.Sprintf("%.*f", prec, u.cpuPct))
	record(prog+" RSS, "+what+" (MiB, VmRSS)", fmt.Sprintf("%.1f", u.rssMiB))
}
