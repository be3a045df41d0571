package bench

// Benchmarks of the file-server monitors against real servers (test/fsservers: smbd, and
// nfs-ganesha with rpcbind, on loopback): one probe's latency, what a watcher costs, and how soon
// after a server stops or hangs its watcher exits, which is when the cluster fails over.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/fsprobe"
	"clpkit/test/fsservers"
)

var (
	fsmonProbes      = flag.Int("fsmon-probes", 200, "BenchmarkFsmonProbe: probes measured per kind")
	fsmonIdleSettle  = flag.Duration("fsmon-idle-settle", 2*time.Second, "BenchmarkFsmonWatcher: wait after the watchers' first probe")
	fsmonIdleSample  = flag.Duration("fsmon-idle-sample", 8*time.Second, "BenchmarkFsmonWatcher: CPU sampling window")
	fsmonExitRepeats = flag.Int("fsmon-exit-repeats", 3, "BenchmarkFsmonExit: server failures measured per kind")
)

// BenchmarkFsmonProbe times single probes, in process, as the watcher makes them: an SMB2/3
// guest tree connect, one with an NTLMv2 logon (signed), and the NFS sequence (GETPORT x2, MNT,
// UMNT, NULL over UDP).
func BenchmarkFsmonProbe(b *testing.B) {
	smb := fsservers.StartSamba(b, fsservers.SambaOptions{})
	nfs := fsservers.StartNFS(b, fsservers.NFSOptions{})
	kinds := []struct {
		metric string
		probe  func(context.Context) error
	}{
		{"clp_sambamon probe, guest share", func(ctx context.Context) error {
			_, err := fsprobe.ProbeSMB(ctx, fsprobe.SMBTarget{Addr: smb.Addr(), Share: "share"})
			return err
		}},
		{"clp_sambamon probe, user logon (NTLMv2, signed)", func(ctx context.Context) error {
			_, err := fsprobe.ProbeSMB(ctx, fsprobe.SMBTarget{Addr: smb.Addr(), Share: "authonly", User: smb.User, Password: smb.Password})
			return err
		}},
		{"clp_nfsmon probe (portmapper, MNT/UMNT, NULL; UDP)", func(ctx context.Context) error {
			_, err := fsprobe.ProbeNFS(ctx, fsprobe.NFSTarget{Host: "127.0.0.1", Dir: nfs.Export, MachineName: "bench", ReservedPort: true})
			return err
		}},
	}
	quiet(b)
	for _, k := range kinds {
		samples := make([]time.Duration, *fsmonProbes)
		for i := -10; i < len(samples); i++ { // ten to warm up
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			t0 := time.Now()
			err := k.probe(ctx)
			d := time.Since(t0)
			cancel()
			if err != nil {
				b.Fatalf("%s: %v", k.metric, err)
			}
			if i >= 0 {
				samples[i] = d
			}
		}
		recordP99(k.metric, strconv.Itoa(len(samples))+" probes", samples)
	}
}

// fsmonWatcher runs a real watcher with its own alert log and registry.
type fsmonWatcher struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func startWatcher(b *testing.B, name string, args ...string) *fsmonWatcher {
	b.Helper()
	dir := b.TempDir()
	w := &fsmonWatcher{done: make(chan struct{}), log: filepath.Join(dir, "alert.log")}
	w.cmd = exec.Command(filepath.Join(bins(b), name), args...)
	w.cmd.Env = append(os.Environ(), "CLPKIT_ALERT_LOG="+w.log, "CLPKIT_SERVER=bench", "CLPKIT_FSMON_DIR="+filepath.Join(dir, "fsmon"))
	if err := w.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = w.cmd.Wait(); close(w.done) }()
	b.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.done
	})
	return w
}

// waitWatching waits for the watcher's message 2 (its first probe succeeded).
func (w *fsmonWatcher) waitWatching(b *testing.B) {
	b.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if raw, _ := os.ReadFile(w.log); strings.Contains(string(raw), " 2 INFO ") {
			return
		}
		select {
		case <-w.done:
			raw, _ := os.ReadFile(w.log)
			b.Fatalf("the watcher exited: %s\n%s", w.cmd.ProcessState, raw)
		case <-time.After(10 * time.Millisecond):
		}
	}
	b.Fatal("the watcher did not report message 2 within 20s")
}

// threadCPU is the CPU time of every thread of process pid, from /proc/PID/task/*/schedstat
// (nanoseconds, where /proc/PID/stat counts 10 ms ticks: an idle watcher uses less than one tick
// in a sampling window). Go programs keep their threads, so none is lost to an exit.
func threadCPU(pid int) (time.Duration, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue // the thread ended meanwhile
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("/proc/%d/task/%s/schedstat: %q", pid, t.Name(), b)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// BenchmarkFsmonWatcher measures what running watchers cost: resident memory, and CPU over a
// sampling window, with the seed's default interval (30 s: the window holds no probe, so this
// is the idle cost) and with a probe every second.
func BenchmarkFsmonWatcher(b *testing.B) {
	smb := fsservers.StartSamba(b, fsservers.SambaOptions{})
	nfs := fsservers.StartNFS(b, fsservers.NFSOptions{})
	watchers := []struct {
		label string
		w     *fsmonWatcher
	}{
		{"clp_sambamon -i 30", startWatcher(b, "clp_sambamon", "bench", "-s", "share", "-a", smb.Addr())},
		{"clp_sambamon -i 1", startWatcher(b, "clp_sambamon", "bench", "-s", "share", "-a", smb.Addr(), "-i", "1")},
		{"clp_nfsmon -i 30", startWatcher(b, "clp_nfsmon", "bench", "-d", nfs.Export, "-a", "127.0.0.1")},
		{"clp_nfsmon -i 1", startWatcher(b, "clp_nfsmon", "bench", "-d", nfs.Export, "-a", "127.0.0.1", "-i", "1")},
	}
	for _, w := range watchers {
		w.w.waitWatching(b)
	}
	time.Sleep(*fsmonIdleSettle)
	cpu0 := make([]time.Duration, len(watchers))
	for i, w := range watchers {
		c, err := threadCPU(w.w.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		cpu0[i] = c
	}
	time.Sleep(*fsmonIdleSample)
	quiet(b)
	for i, w := range watchers {
		c, err := threadCPU(w.w.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		rss, err := RSS(w.w.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		pct := 100 * float64(c-cpu0[i]) / float64(*fsmonIdleSample)
		record(w.label+" watcher RSS (MiB)", fmt.Sprintf("%.1f", float64(rss)/(1<<20)))
		record(w.label+" watcher CPU (% of one core over "+fsmonIdleSample.String()+")", fmt.Sprintf("%.3f", pct))
	}
}

// BenchmarkFsmonExit measures the time from a server failing to its watcher exiting, with
// -i 1 -c 2 -r 1: after a stop, the next probe (within one interval) fails and one interval
// later the second, so 1-2 s; after a freeze, two probes wait out their 1 s timeout around one
// interval, so 3-4 s.
func BenchmarkFsmonExit(b *testing.B) {
	timing := []string{"-i", "1", "-c", "2", "-r", "1"}
	measure := func(metric string, start func() (*fsmonWatcher, func())) {
		samples := make([]time.Duration, *fsmonExitRepeats)
		for i := range samples {
			w, fail := start()
			w.waitWatching(b)
			time.Sleep(time.Duration(i) * 300 * time.Millisecond) // vary the phase against the interval
			fail()
			t0 := time.Now()
			select {
			case <-w.done:
			case <-time.After(30 * time.Second):
				b.Fatalf("%s: the watcher did not exit within 30s", metric)
			}
			samples[i] = time.Since(t0)
			if code := w.cmd.ProcessState.ExitCode(); code != 1 {
				b.Fatalf("%s: the watcher exited with %d, want 1", metric, code)
			}
		}
		record(metric+" -> watcher exit (-i 1 -c 2 -r 1), median of "+strconv.Itoa(len(samples))+" (s)", fmt.Sprintf("%.2f", Median(samples).Seconds()))
		record(metric+" -> watcher exit, max (s)", fmt.Sprintf("%.2f", Percentile(samples, 100).Seconds()))
	}
	quiet(b)
	measure("smbd stopped", func() (*fsmonWatcher, func()) {
		smb := fsservers.StartSamba(b, fsservers.SambaOptions{})
		w := startWatcher(b, "clp_sambamon", append([]string{"bench", "-s", "share", "-a", smb.Addr()}, timing...)...)
		return w, func() { smb.Stop(b) }
	})
	measure("smbd frozen (SIGSTOP)", func() (*fsmonWatcher, func()) {
		smb := fsservers.StartSamba(b, fsservers.SambaOptions{})
		w := startWatcher(b, "clp_sambamon", append([]string{"bench", "-s", "share", "-a", smb.Addr()}, timing...)...)
		return w, smb.Freeze
	})
	nfs := fsservers.StartNFS(b, fsservers.NFSOptions{})
	measure("nfs-ganesha frozen (SIGSTOP)", func() (*fsmonWatcher, func()) {
		nfs.Thaw()
		w := startWatcher(b, "clp_nfsmon", append([]string{"bench", "-d", nfs.Export, "-a", "127.0.0.1"}, timing...)...)
		return w, nfs.Freeze
	})
	nfs.Thaw()
	measure("nfs-ganesha stopped", func() (*fsmonWatcher, func()) {
		if !nfs.Running() {
			nfs.Restart(b)
		}
		w := startWatcher(b, "clp_nfsmon", append([]string{"bench", "-d", nfs.Export, "-a", "127.0.0.1"}, timing...)...)
		return w, func() { nfs.Stop(b) }
	})
}
