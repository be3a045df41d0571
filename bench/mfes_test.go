package bench

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"clpkit/internal/clustertest"
)

var (
	mfesRuns     = flag.Int("mfes-runs", 10, "BenchmarkCasstart: casstart/casstop cycles measured per case")
	mfesDelay    = flag.Duration("mfes-delay", 2*time.Second, "BenchmarkCasstart: start-up time of the slow stand-in region")
	mfesSlowRuns = flag.Int("mfes-slow-runs", 5, "BenchmarkCasstart: casstart/casstop cycles measured for the slow region")
)

// seedSleep is what seed 000's start.sh waits, whatever the directory server does:
// `mfds &`, `sleep 15`, then `casstart /rESSERV1`, which may return before the region is up.
const seedSleep = 15 * time.Second

// mfesBench is one stand-in Enterprise Server: the directory server and the region ESSERV1, both
// testdata/mfes/standin, driven by the command backend.
type mfesBench struct {
	bin, dir, config string
	port             int
	env              []string
}

func newMFESBench(b *testing.B, delay time.Duration) *mfesBench {
	b.Helper()
	bin := bins(b)
	standin := filepath.Join(bin, "standin")
	if _, err := os.Stat(standin); err != nil {
		root, err := filepath.Abs("..")
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command("go", "build", "-o", standin, "./testdata/mfes/standin")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("building the stand-in region: %v\n%s", err, out)
		}
	}
	dir := b.TempDir()
	m := &mfesBench{bin: bin, dir: dir, config: filepath.Join(dir, "mfes.toml"), port: clustertest.FreePort(b)}
	mfdsPort := clustertest.FreePort(b)
	cfg := fmt.Sprintf(`state_dir = "state"
log_dir = "log"

[mfds]
address = "127.0.0.1:%d"
start = "exec %s -daemon -listen 127.0.0.1:%d -pidfile %s/mfds.pid -tag %s/mfds"
stop = "kill $(cat %s/mfds.pid)"
pidfile = "%s/mfds.pid"

[region.ESSERV1]
listener = "127.0.0.1:%d"
start = "exec %s -daemon -listen 127.0.0.1:%d -delay %s -children 2 -pidfile %s/esserv1.pid -tag %s/ESSERV1"
stop = "kill $(cat %s/esserv1.pid)"
pidfile = "%s/esserv1.pid"
processes = '-tag %s/ESSERV1( |$)'
`, mfdsPort, standin, mfdsPort, dir, dir, dir, dir,
		m.port, standin, m.port, delay, dir, dir, dir, dir, regexp.QuoteMeta(dir))
	if err := os.WriteFile(m.config, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	m.env = append(os.Environ(), "CLPKIT_MFES_CONFIG="+m.config, "CLPKIT_ALERT_LOG="+filepath.Join(dir, "alert.log"))
	b.Cleanup(func() { m.run(b, "mfds", "-s", "2") })
	return m
}

// run runs one of the commands to its end and returns its wall time.
func (m *mfesBench) run(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	cmd := exec.Command(filepath.Join(m.bin, name), args...)
	cmd.Env = m.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil || out.Len() > 0 {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.Bytes())
	}
	return d
}

// accepting fails the benchmark unless the region accepts a connection right now: casstart's
// time is the time to a region that accepts connections only if this holds when it returns.
func (m *mfesBench) accepting(b *testing.B) {
	b.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", m.port), time.Second)
	if err != nil {
		b.Fatalf("casstart returned but the region does not accept connections: %v", err)
	}
	c.Close()
}

// firstAccept dials addr every millisecond until a connection succeeds, and then sends the time
// of that connection: when the region started accepting connections, give or take a
// millisecond. Closing stop ends it early (it then sends the zero time).
func firstAccept(addr string, stop <-chan struct{}) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				at := time.Now()
				c.Close()
				ch <- at
				return
			}
			select {
			case <-stop:
				ch <- time.Time{}
				return
			case <-tick.C:
			}
		}
	}()
	return ch
}

// BenchmarkCasstart times casstart from the call until the region accepts connections (it
// returns only then), with the directory server down (casstart starts it too) and up, and
// for a region that takes -mfes-delay to listen (and then also how late casstart notices that
// it listens); and casstop until nothing of the region runs.
// The seed's start.sh spends a fixed 15 s sleeping instead, and its casstart may still return
// before the region is ready.
func BenchmarkCasstart(b *testing.B) {
	quiet(b)
	fast := newMFESBench(b, 0)
	var cold, warm, stop []time.Duration
	for range *mfesRuns {
		cold = append(cold, fast.run(b, "casstart", "/rESSERV1"))
		fast.accepting(b)
		fast.run(b, "mfds", "-s", "2")
	}
	fast.run(b, "mfds")
	for range *mfesRuns {
		warm = append(warm, fast.run(b, "casstart", "/rESSERV1"))
		fast.accepting(b)
		stop = append(stop, fast.run(b, "casstop", "/rESSERV1"))
	}
	slow := newMFESBench(b, *mfesDelay)
	slow.run(b, "mfds")
	// For the slow region, also how long after the region started accepting connections (as a
	// prober that tries every millisecond sees it) casstart returned: the time casstart takes
	// to notice.
	var slowStart, slowLate []time.Duration
	for range *mfesSlowRuns {
		stop := make(chan struct{})
		accepted := firstAccept(fmt.Sprintf("127.0.0.1:%d", slow.port), stop)
		slowStart = append(slowStart, slow.run(b, "casstart", "/rESSERV1"))
		returned := time.Now()
		slow.accepting(b)
		close(stop)
		at := <-accepted
		if at.IsZero() {
			b.Fatal("casstart returned, but the prober saw no connection accepted")
		}
		slowLate = append(slowLate, returned.Sub(at))
		slow.run(b, "casstop", "/rESSERV1")
	}
	b.ReportMetric(Ms(Median(cold)), "cold-median-ms")
	b.ReportMetric(Ms(Median(warm)), "warm-median-ms")
	n := fmt.Sprint(*mfesRuns)
	record("seed 000 start.sh: mfds & + sleep 15 before casstart (ms, fixed)", fmt.Sprintf("%.0f", Ms(seedSleep)))
	record("casstart -> region accepting, mfds down, median (ms; "+n+" runs)", fmt.Sprintf("%.1f", Ms(Median(cold))))
	record("casstart -> region accepting, mfds down, max (ms)", fmt.Sprintf("%.1f", Ms(Percentile(cold, 100))))
	record("casstart -> region accepting, mfds up, median (ms; "+n+" runs)", fmt.Sprintf("%.1f", Ms(Median(warm))))
	slowN := fmt.Sprint(*mfesSlowRuns)
	record(fmt.Sprintf("casstart -> region accepting, region listens after %s, median (ms; %s runs)", *mfesDelay, slowN), fmt.Sprintf("%.1f", Ms(Median(slowStart))))
	record("casstart returns after that region accepts its first connection, median (ms; "+slowN+" runs)", fmt.Sprintf("%.1f", Ms(Median(slowLate))))
	record("casstart returns after that region accepts its first connection, max (ms)", fmt.Sprintf("%.1f", Ms(Percentile(slowLate, 100))))
	record("casstop -> no region process left, median (ms; "+n+" runs)", fmt.Sprintf("%.1f", Ms(Median(stop))))
}
