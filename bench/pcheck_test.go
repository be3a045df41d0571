package bench

// Benchmarks of pcheck against real processes: how soon after a process dies its restart script
// runs (ProcessSaver's own default polls every 10 s), and what an idle pcheck costs with 1 and
// 100 entries.

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/proctest"
	"clpkit/internal/syslogtest"
)

var (
	pcheckKills      = flag.Int("pcheck-kills", 200, "BenchmarkPcheckRestart: deaths measured")
	pcheckIdleSettle = flag.Duration("pcheck-idle-settle", 2*time.Second, "BenchmarkPcheckIdle: wait after every entry is Up")
	pcheckIdleSample = flag.Duration("pcheck-idle-sample", 10*time.Second, "BenchmarkPcheckIdle: CPU sampling window")
)

// pcheckRig is one pcheck under test: victims are hard links to a copy of sleep, one name per
// entry, so that each entry's process is told apart by argv[0] alone.
type pcheckRig struct {
	b      *testing.B
	dir    string
	bin    string
	ups    chan int // pids of Up lines, in order
	cmd    *exec.Cmd
	done   chan struct{}
	victim string // the copy of sleep
}

var upRE = regexp.MustCompile(`pcheck\[\d+\]: \(.*,pid=(\d+)\) Up\n$`)

func newPcheckRig(b *testing.B) *pcheckRig {
	b.Helper()
	r := &pcheckRig{b: b, dir: b.TempDir(), bin: bins(b), ups: make(chan int, 10000)}
	r.victim = proctest.CopyProgram(b, "sleep", filepath.Join(r.dir, "bin", "victim"))
	// A syslog daemon of our own: pcheck's Up lines tell when a new process is watched.
	_, msgs := syslogtest.Listen(b, filepath.Join(r.dir, "log"))
	go func() {
		for m := range msgs {
			if m := upRE.FindStringSubmatch(m); m != nil {
				pid, _ := strconv.Atoi(m[1])
				r.ups <- pid
			}
		}
	}()
	b.Cleanup(r.killVictims)
	return r
}

// name is the program of entry i: a hard link to the victim.
func (r *pcheckRig) name(i int) string {
	r.b.Helper()
	p := filepath.Join(r.dir, "bin", fmt.Sprintf("victim-%03d", i))
	if _, err := os.Stat(p); err != nil {
		if err := os.Link(r.victim, p); err != nil {
			r.b.Fatal(err)
		}
	}
	return p
}

// startVictim starts entry i's process outside pcheck.
func (r *pcheckRig) startVictim(i int) {
	r.b.Helper()
	cmd := exec.Command(r.name(i), "1000000")
	if err := cmd.Start(); err != nil {
		r.b.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
}

func (r *pcheckRig) killVictims() {
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	}
	names, _ := filepath.Glob(filepath.Join("/proc", "[0-9]*", "cmdline"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err == nil && strings.HasPrefix(string(b), filepath.Join(r.dir, "bin")) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(n)))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// startPcheck writes a pfile with the given restart script for n entries and starts pcheck.
func (r *pcheckRig) startPcheck(n int, script string) {
	r.b.Helper()
	var pf strings.Builder
	fmt.Fprintf(&pf, "IPCKEY 0x0000b%03x\nMONITOR_INTERVAL 10\n", n)
	for i := 0; i < n; i++ {
		// retry at the maximum: the restart benchmark kills the same entry hundreds of times.
		fmt.Fprintf(&pf, "%s:%s:86400:1000000:exit\n", r.name(i), script)
	}
	pfile := filepath.Join(r.dir, "pfile")
	if err := os.WriteFile(pfile, []byte(pf.String()), 0o644); err != nil {
		r.b.Fatal(err)
	}
	r.cmd = exec.Command(filepath.Join(r.bin, "pcheck"), "-f", pfile)
	r.cmd.Env = append(os.Environ(), "CLPKIT_PCHECK_DIR="+filepath.Join(r.dir, "run"), "CLPKIT_SYSLOG_SOCKET="+filepath.Join(r.dir, "log"))
	errf, err := os.Create(filepath.Join(r.dir, "pcheck.stderr"))
	if err != nil {
		r.b.Fatal(err)
	}
	defer errf.Close()
	r.cmd.Stdout, r.cmd.Stderr = errf, errf
	if err := r.cmd.Start(); err != nil {
		r.b.Fatal(err)
	}
	r.done = make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(r.done) }()
}

// up waits for the next Up line and returns its pid.
func (r *pcheckRig) up() int {
	r.b.Helper()
	select {
	case pid := <-r.ups:
		return pid
	case <-r.done:
		out, _ := os.ReadFile(filepath.Join(r.dir, "pcheck.stderr"))
		r.b.Fatalf("pcheck exited: %s\n%s", r.cmd.ProcessState, out)
	case <-time.After(30 * time.Second):
		r.b.Fatal("no Up line within 30s")
	}
	return 0
}

// BenchmarkPcheckRestart kills the watched process with SIGKILL and times how long until its
// restart script runs its first command (it writes to a FIFO the benchmark reads), and until
// pcheck watches the new process (its Up line).
func BenchmarkPcheckRestart(b *testing.B) {
	r := newPcheckRig(b)
	fifo := filepath.Join(r.dir, "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		b.Fatal(err)
	}
	// Opened read-write, so that the script's open for writing never waits and reads wait for
	// data.
	ff, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer ff.Close()
	starts := make(chan time.Time, 16)
	go func() {
		rd := bufio.NewReader(ff)
		for {
			if _, err := rd.ReadString('\n'); err != nil {
				return
			}
			starts <- time.Now()
		}
	}()
	script := filepath.Join(r.dir, "restart.sh")
	text := fmt.Sprintf("#!/bin/sh\necho started > %s\n%s 1000000 </dev/null >/dev/null 2>&1 &\nexit 0\n", fifo, r.name(0))
	if err := os.WriteFile(script, []byte(text), 0o755); err != nil {
		b.Fatal(err)
	}
	r.startVictim(0)
	r.startPcheck(1, script)
	pid := r.up()

	b.ResetTimer()
	toScript := make([]time.Duration, 0, *pcheckKills)
	toUp := make([]time.Duration, 0, *pcheckKills)
	for i := 0; i < *pcheckKills; i++ {
		t0 := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		select {
		case t1 := <-starts:
			toScript = append(toScript, t1.Sub(t0))
		case <-time.After(30 * time.Second):
			b.Fatal("the restart script did not run within 30s")
		}
		pid = r.up()
		toUp = append(toUp, time.Since(t0))
	}
	b.StopTimer()
	quiet(b)
	reportP99(b, "script-", "pcheck: process death to restart script start", strconv.Itoa(len(toScript))+" SIGKILLs", toScript)
	recordP99("pcheck: process death to new process watched (Up)", "", toUp)
}

// BenchmarkPcheckIdle measures pcheck's CPU use and resident memory while every entry's process
// runs and nothing happens.
func BenchmarkPcheckIdle(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			r := newPcheckRig(b)
			script := filepath.Join(r.dir, "restart.sh")
			if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < n; i++ {
				r.startVictim(i)
			}
			r.startPcheck(n, script)
			for i := 0; i < n; i++ {
				r.up()
			}
			time.Sleep(*pcheckIdleSettle)
			pid := r.cmd.Process.Pid
			u := sampleIdle(b, pid, "", *pcheckIdleSample)
			what := "1 entry"
			if n != 1 {
				what = strconv.Itoa(n) + " entries"
			}
			u.report(b, "pcheck", what, *pcheckIdleSample, 3)
		})
	}
}
