package bench

// Benchmarks of the monitors against a real clpd: how soon a pid monitor notices its process's
// death, how soon a failing custom monitor has its resource restarted, how soon a monitor's error
// has the service answering from the other server of the two-server lab, and what 100 idle
// monitors cost. Where keepalived has the same mechanism (following a process), it is measured in
// the same run, the same way, as the yardstick.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/internal/proctest"
	"clpkit/pkg/alert"
	"clpkit/pkg/cgroup"
	"clpkit/test/netlab"
	"clpkit/test/trials"
)

var (
	pidmonSamples  = flag.Int("pidmon-samples", 20, "BenchmarkPidMonitorNotice: process kills measured per system (at most 99)")
	genwSamples    = flag.Int("genw-samples", 20, "BenchmarkGenwRestart: custom monitor failures measured (at most 99)")
	monfailSamples = flag.Int("monfail-samples", 10, "BenchmarkMonitorFailover: process kills on the active server measured per system (at most 99)")
	idleMonGroups  = flag.Int("idle-mon-groups", 50, "BenchmarkIdleMonitors: groups, each with an async exec resource, a pid monitor and a custom monitor")
)

// maxSamples is the recovery thresholds' upper limit (restart_threshold, failover_threshold): a
// benchmark whose every sample climbs one step of the ladder on one server takes at most that
// many.
const maxSamples = 99

func checkSamples(b *testing.B, name string, n int) {
	b.Helper()
	if n < 1 || n > maxSamples {
		b.Fatalf("-%s=%d: give 1 to %d (every sample is one step of a recovery ladder whose thresholds stop at %d)", name, n, maxSamples, maxSamples)
	}
}

// uniqueMark is a number of seconds to sleep that no other process on the machine sleeps: a
// process found by its argument is this benchmark's.
func uniqueMark() string {
	return fmt.Sprintf("7%07d%05d", os.Getpid(), time.Now().UnixNano()%100000)
}

// recordDist records the median, p90 and max of samples in ms with prec decimals; the median's
// row says how many samples of what were taken.
func recordDist(metric, what string, samples []time.Duration, prec int) {
	f := func(d time.Duration) string { return strconv.FormatFloat(Ms(d), 'f', prec, 64) }
	record(fmt.Sprintf("%s, median (ms; %d %s)", metric, len(samples), what), f(Median(samples)))
	record(metric+", p90 (ms)", f(Percentile(samples, 90)))
	record(metric+", max (ms)", f(Percentile(samples, 100)))
}

// recordRatio records peer/clpkit of the medians.
func recordRatio(metric string, peer, clp []time.Duration) {
	p, c := Median(peer), Median(clp)
	if c <= 0 { // clpkit's median was below the resolution
		record(metric, fmt.Sprintf("> %.0f", Ms(p)))
		return
	}
	r := float64(p) / float64(c)
	prec := 2
	if r >= 10 {
		prec = 1
	}
	record(metric, strconv.FormatFloat(r, 'f', prec, 64))
}

// status runs clpstat -o json against a one-server cluster.
func status(b *testing.B, c *clustertest.Cluster) *clusterStatus {
	b.Helper()
	st, err := parseStatus([]byte(c.MustRun(b, "clpstat", "-o", "json")))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkPidMonitorNotice kills the process of an asynchronous exec resource that a pid
// monitor watches and measures the time to the monitor's error in the alert log (rm 9), whose
// stamp has millisecond resolution; the monitor restarts the group each time. keepalived is
// measured following a process of its own in a one-host lab: the time from the kill to its notify
// script being told FAULT.
func BenchmarkPidMonitorNotice(b *testing.B) {
	n := *pidmonSamples
	checkSamples(b, "pidmon-samples", n)
	bin := bins(b)
	dir := b.TempDir()
	mark := uniqueMark()
	pidFile := filepath.Join(dir, "app.pid")
	clustertest.Script(b, dir, "scripts/app/start.sh", fmt.Sprintf("echo $$ > %q\nexec sleep %s\n", pidFile, mark))
	clustertest.Script(b, dir, "scripts/app/stop.sh", "exit 0\n")
	c := clustertest.NewTimed(b, bin, dir, `[[group]]
name = "failover1"
`+trials.ExecResource("app", "scripts/app", `start_mode = "async"`)+`

[[monitor]]
name = "pidw1"
type = "pidw"
target = "app"
restart_threshold = 99
`, "")
	c.Start(b)
	const errText = "Detected an error in monitoring pidw1."
	var clp []time.Duration
	pid := 0
	for i := range n {
		old := pid
		clustertest.WaitFor(b, 30*time.Second, "the service's process running again and pidw1 Online", func() bool {
			pid = readPid(pidFile)
			if pid == old || !runsWith(pid, mark) {
				return false
			}
			st := status(b, c)
			return st.groupState("failover1") == "Online" && st.monitorOn("pidw1", "server1") == "Online"
		})
		before, err := alertsMatching(c.AlertLog, "rm", 9, errText)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		var rec alert.Record
		clustertest.WaitFor(b, 10*time.Second, "pidw1's error in the alert log", func() bool {
			rs, err := alertsMatching(c.AlertLog, "rm", 9, errText)
			if err != nil {
				b.Fatal(err)
			}
			if len(rs) > len(before) {
				rec = rs[len(before)]
				return true
			}
			return false
		})
		// Both instants cut to the millisecond, as the alert stamp is: never negative, ±1 ms.
		d := rec.Time.Sub(t0.Truncate(time.Millisecond))
		clp = append(clp, d)
		fmt.Printf("clpkit pidw kill %2d: noticed after %3.0f ms\n", i+1, Ms(d))
	}
	// Nothing of clpkit competes with keepalived for the CPU.
	c.Stop(b)
	recordDist("process death -> pid monitor notices, clpkit pidw (error alert; stamps in whole ms, +-1)", "kills", clp, 0)
	quiet(b)
	b.ReportMetric(Ms(Median(clp)), "clpkit-median-ms")
	if !haveKeepalived(b) {
		return
	}

	lab := netlab.New(b, "h1")
	h := lab.Host("h1")
	track := kaTrackProcessWorks(b, h)
	k := startKaNode(b, h, "kn", "10.77.0.100/24", 51, 100, track)
	var ka []time.Duration
	for i := range n {
		k.waitReady(30 * time.Second)
		if !track {
			time.Sleep(spread(i, time.Second))
		}
		t0 := k.kill()
		ev, ok := k.waitEvent(t0, "FAULT", 10*time.Second)
		if !ok {
			b.Fatalf("keepalived did not go to FAULT within 10 s of its process's death:\n%s", k.ka.Output())
		}
		ka = append(ka, ev.At.Sub(t0))
		fmt.Printf("keepalived %s kill %2d: FAULT notified after %4.0f ms\n", k.mech(), i+1, Ms(ev.At.Sub(t0)))
		k.restart()
	}

	b.ReportMetric(Ms(Median(ka)), "keepalived-median-ms")
	recordDist("process death -> pid monitor notices, keepalived "+k.mech()+" (FAULT notify)", "kills", ka, 0)
	recordRatio("keepalived / clpkit, process death -> notice, medians (ratio; clpkit's in whole ms)", ka, clp)
}

// BenchmarkGenwRestart makes a custom monitor's script fail (a flag file appears) and measures
// the time until its recovery target, a synchronous exec resource, has been restarted: the
// moment its start.sh (which also removes the flag) runs. Detection is bounded by the monitor's
// interval, named in the rows; the flag appears at phases spread across it.
func BenchmarkGenwRestart(b *testing.B) {
	const interval = time.Second
	n := *genwSamples
	checkSamples(b, "genw-samples", n)
	bin := bins(b)
	dir := b.TempDir()
	marker, failFlag := filepath.Join(dir, "started"), filepath.Join(dir, "fail")
	clustertest.Script(b, dir, "scripts/r/start.sh", fmt.Sprintf("rm -f %q\ndate +%%s%%N > %q.tmp && mv %q.tmp %q\n", failFlag, marker, marker, marker))
	clustertest.Script(b, dir, "scripts/r/stop.sh", fmt.Sprintf("rm -f %q\n", marker))
	clustertest.Script(b, dir, "scripts/genw.sh", fmt.Sprintf("[ -e %q ] && exit 1\nexit 0\n", failFlag))
	c := clustertest.NewTimed(b, bin, dir, `[[group]]
name = "failover1"
`+trials.ExecResource("r", "scripts/r", "")+fmt.Sprintf(`
[[monitor]]
name = "genw1"
type = "genw"
script = "scripts/genw.sh"
interval = %q
timeout = "5s"
retry = 0
recovery_target = "r"
restart_threshold = 99
`, interval), "")
	c.Start(b)
	var samples []time.Duration
	var prev int64
	for i := range n {
		var m int64
		clustertest.WaitFor(b, 30*time.Second, "r started again and genw1 Online", func() bool {
			if m = readInt(marker); m == 0 || m == prev {
				return false
			}
			st := status(b, c)
			return st.groupState("failover1") == "Online" && st.monitorOn("genw1", "server1") == "Online"
		})
		prev = m
		time.Sleep(spread(i, interval))
		t0 := time.Now()
		if err := os.WriteFile(failFlag, nil, 0o644); err != nil {
			b.Fatal(err)
		}
		clustertest.WaitFor(b, 30*time.Second, "r restarted", func() bool {
			m = readInt(marker)
			return m != 0 && m != prev
		})
		d := time.Unix(0, m).Sub(t0)
		samples = append(samples, d)
		fmt.Printf("clpkit genw failure %2d: restarted after %4.0f ms\n", i+1, Ms(d))
	}
	quiet(b)
	b.ReportMetric(Ms(Median(samples)), "median-ms")
	b.ReportMetric(Ms(Percentile(samples, 100)), "max-ms")
	recordDist(fmt.Sprintf("genw failure -> restart done (start.sh ran), clpkit genw interval %g s, retry 0", interval.Seconds()), "failures", samples, 0)
}

// BenchmarkMonitorFailover kills, on the active server of the two-server lab, the process of an
// asynchronous exec resource that a pid monitor watches (restart_threshold 0, so its group fails
// over each time) and measures from the kill to the first answer of the other server through the
// floating address, as the client's prober sees it. keepalived is then measured in the same lab:
// its tracked process killed on the master, until the backup answers on its address.
func BenchmarkMonitorFailover(b *testing.B) {
	n := *monfailSamples
	checkSamples(b, "monfail-samples", n)
	bin := bins(b)
	mark := uniqueMark()
	c := trials.New(b, bin, trials.Options{
		Resources: trials.AsyncExec("app"),
		Monitors: fmt.Sprintf(`
[[monitor]]
name = "pidw1"
type = "pidw"
target = "app"
restart_threshold = 0
failover_threshold = %d
final_action = "none"
`, maxSamples),
		Scripts: map[string]string{
			"scripts/app/start.sh": "echo $$ > \"$LAB_RUN/app.pid\"\nexec sleep " + mark + "\n",
			"scripts/app/stop.sh":  "rm -f \"$LAB_RUN/app.pid\"\nexit 0\n",
		},
	})
	probe := c.Lab.StartProber(b, c.Client, "http://"+trials.VIP+":"+trials.VIPPort+"/", 10*time.Millisecond)
	var clp []time.Duration
	for i := range n {
		active := c.WaitSteady(60 * time.Second)
		standby := c.Other(active)
		pidFile := filepath.Join(active.Dir, "run", "app.pid")
		var pid int
		clustertest.WaitFor(b, 30*time.Second, "app running and pidw1 Online on "+active.Name, func() bool {
			if pid = readPid(pidFile); !runsWith(pid, mark) {
				return false
			}
			out, _, code := active.Run("clpstat", "-o", "json")
			if code != 0 {
				return false
			}
			st, err := parseStatus([]byte(out))
			return err == nil && st.monitorOn("pidw1", active.Name) == "Online"
		})
		time.Sleep(time.Duration(37*i%100) * time.Millisecond)
		t0 := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		at, err := probe.WaitAnswer(ctx, standby.Name, t0)
		cancel()
		if err != nil {
			b.Fatalf("clpkit: %s never answered after the app on %s was killed: %v\n--- %s alerts:\n%s\n--- %s alerts:\n%s",
				standby.Name, active.Name, err, active.Name, active.Alerts(), standby.Name, standby.Alerts())
		}
		clp = append(clp, at.Sub(t0))
		fmt.Printf("clpkit pidw failover %2d: %s -> %s answered after %4.0f ms\n", i+1, active.Name, standby.Name, Ms(at.Sub(t0)))
		for _, iv := range c.Sampler.Overlaps(trials.Group) {
			b.Errorf("the group ran on two hosts at once: %v", iv)
		}
	}
	probe.Stop()
	// Stop clpkit before keepalived takes the lab: nothing of it must compete for the CPU.
	for _, s := range c.Servers {
		s.Stop()
	}
	recordDist("monitor failure -> service answering on the other server, clpkit pidw", "kills", clp, 0)
	quiet(b)
	b.ReportMetric(Ms(Median(clp)), "clpkit-median-ms")
	if !haveKeepalived(b) {
		return
	}

	ka, mech := kaFailoverTrials(b, c, n)

	b.ReportMetric(Ms(Median(ka)), "keepalived-median-ms")
	recordDist("monitor failure -> service answering on the other server, keepalived advert 1 s, "+mech, "kills", ka, 0)
	recordRatio("keepalived / clpkit, monitor failure -> other server answering, medians (ratio)", ka, clp)
}

// kaFailoverTrials runs keepalived on both lab servers (priorities 150 and 100, advert 1 s,
// nopreempt), each following a process of its own, with a responder on both; it kills the
// master's process n times and returns the times until the backup answered the client.
func kaFailoverTrials(b *testing.B, c *trials.Cluster, n int) ([]time.Duration, string) {
	const vip, port = "10.77.0.101", "8081"
	s1, s2 := c.Lab.Host("server1"), c.Lab.Host("server2")
	for _, h := range []*netlab.Host{s1, s2} {
		h.Start(b, filepath.Join(c.Tools(), "labhttp"), "-listen", "0.0.0.0:"+port, "-name", h.Name)
	}
	track := kaTrackProcessWorks(b, s1)
	nodes := map[string]*kaNode{
		s1.Name: startKaNode(b, s1, "kf", vip+"/24", 52, 150, track),
		s2.Name: startKaNode(b, s2, "kf", vip+"/24", 52, 100, track),
	}
	logs := func() string {
		return "--- server1:\n" + nodes[s1.Name].ka.Output() + "\n--- server2:\n" + nodes[s2.Name].ka.Output()
	}
	probe := c.Lab.StartProber(b, c.Client, "http://"+vip+":"+port+"/", 10*time.Millisecond)
	defer probe.Stop()
	var out []time.Duration
	for i := range n {
		var master, backup *kaNode
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("keepalived: no single master with a backup ready after 30 s (%q)\n%s", netlab.Master(vip, s1, s2), logs())
			}
			m := netlab.Master(vip, s1, s2)
			if nodes[m] == nil {
				continue
			}
			master, backup = nodes[m], nodes[s1.Name]
			if backup == master {
				backup = nodes[s2.Name]
			}
			if master.state() != "MASTER" || backup.state() != "BACKUP" {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := probe.WaitAnswer(ctx, m, time.Now())
			cancel()
			if err == nil {
				break
			}
		}
		if track {
			time.Sleep(time.Duration(37*i%100) * time.Millisecond)
		} else {
			time.Sleep(spread(i, time.Second))
		}
		t0 := master.kill()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		at, err := probe.WaitAnswer(ctx, backup.host.Name, t0)
		cancel()
		if err != nil {
			b.Fatalf("keepalived: %s never answered after the process on %s was killed: %v\n%s", backup.host.Name, master.host.Name, err, logs())
		}
		out = append(out, at.Sub(t0))
		fmt.Printf("keepalived %s failover %2d: %s -> %s answered after %4.0f ms\n", master.mech(), i+1, master.host.Name, backup.host.Name, Ms(at.Sub(t0)))
		master.restart()
	}
	return out, nodes[s1.Name].mech()
}

// BenchmarkIdleMonitors is BenchmarkIdle with monitors: many started groups, each with an
// asynchronous exec resource (a sleep), a pid monitor on it and a custom monitor whose script
// exits 0 every 5 s. It reports clpd's own CPU and RSS, and the CPU of the cluster's cgroup, where
// the groups' processes and the custom monitors' scripts run.
func BenchmarkIdleMonitors(b *testing.B) {
	const genwInterval = 5 * time.Second
	groups := *idleMonGroups
	bin := bins(b)
	dir := b.TempDir()
	mark := uniqueMark()
	clustertest.Script(b, dir, "scripts/start.sh", "exec sleep "+mark+"\n")
	clustertest.Script(b, dir, "scripts/stop.sh", "exit 0\n")
	clustertest.Script(b, dir, "scripts/genw.sh", "exit 0\n")
	var cfg strings.Builder
	cfg.WriteString(execGroups(groups, `start_mode = "async"`+"\n"))
	for i := 1; i <= groups; i++ {
		fmt.Fprintf(&cfg, `[[monitor]]
name = "pidw%02d"
type = "pidw"
target = "r%02d"

[[monitor]]
name = "genw%02d"
type = "genw"
script = "scripts/genw.sh"
interval = %q

`, i, i, i, genwInterval)
	}
	c := clustertest.NewTimed(b, bin, dir, cfg.String(), "")
	c.Start(b)
	clustertest.WaitFor(b, 90*time.Second, fmt.Sprintf("%d groups and %d monitors Online", groups, 2*groups), func() bool {
		st := status(b, c)
		for _, g := range st.Groups {
			if g.State != "Online" {
				return false
			}
		}
		return len(st.Groups) == groups && st.monitorsOnline("server1") == 2*groups
	})
	pid, err := LockPID(filepath.Join(dir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	mount, err := cgroup.FindV2("/proc")
	if err != nil {
		b.Fatal(err)
	}
	cg := filepath.Join(mount, c.Cgroup)
	time.Sleep(*idleSettle)

	u := sampleIdle(b, pid, cg, *idleSample)
	if st := status(b, c); len(st.Groups) != groups || st.monitorsOnline("server1") != 2*groups {
		b.Fatalf("after the sample clpstat shows %d groups and %d monitors Online, want %d and %d", len(st.Groups), st.monitorsOnline("server1"), groups, 2*groups)
	}
	u.report(b, "clpd", fmt.Sprintf("%d groups, %d pidw + %d genw (every %g s)", groups, groups, groups, genwInterval.Seconds()), *idleSample, 2)
	b.ReportMetric(u.cgPct, "cgroup-cpu-%")
	record("groups' processes and genw scripts, same run (% of one core, cgroup cpu.stat)", fmt.Sprintf("%.2f", u.cgPct))
}

// haveKeepalived reports whether keepalived is installed; without it the clpkit figures stand
// alone.
func haveKeepalived(b *testing.B) bool {
	if _, err := exec.LookPath("keepalived"); err != nil {
		b.Log("keepalived is not installed: no yardstick measured")
		return false
	}
	return true
}

// kaTrack remembers whether keepalived's vrrp_track_process works here: it needs the kernel's
// proc connector, which answers only in the machine's own network namespace, so in a lab host it
// normally does not.
var kaTrack struct {
	checked, ok bool
}

// kaTrackProcessWorks finds out, once per run, whether keepalived in a lab host notices a
// tracked process's death through vrrp_track_process: it runs one following a process, checks
// that the proc connector subscription did not fail, and kills the process.
func kaTrackProcessWorks(b *testing.B, h *netlab.Host) bool {
	b.Helper()
	if kaTrack.checked {
		return kaTrack.ok
	}
	k := startKaNode(b, h, "kt", "10.77.0.199/24", 99, 100, true)
	ok := func() bool {
		for end := time.Now().Add(10 * time.Second); !strings.Contains(k.ka.Output(), "Startup complete"); time.Sleep(20 * time.Millisecond) {
			select {
			case <-k.ka.Done():
				return false
			default:
			}
			if time.Now().After(end) {
				return false
			}
		}
		if strings.Contains(k.ka.Output(), "Failed to set/clear process event listen") {
			return false
		}
		if _, ok := k.waitReadyOK(10 * time.Second); !ok {
			return false
		}
		t0 := k.kill()
		_, ok := k.waitEvent(t0, "FAULT", 3*time.Second)
		return ok
	}()
	k.stop()
	k.proc.Kill()
	kaTrack.checked, kaTrack.ok = true, ok
	if !ok {
		b.Logf("keepalived's vrrp_track_process does not work in a lab host (no proc connector there); measuring vrrp_script with pidof instead")
	}
	return ok
}

// kaNode is keepalived in a lab host, following a process of its own there (a copy of sleep with
// a name unique to the host: the hosts share the machine's process table).
type kaNode struct {
	b       *testing.B
	host    *netlab.Host
	name    string
	exe     string
	notify  string
	track   bool
	proc    *netlab.Proc
	started time.Time
	ka      *netlab.Proc
}

// startKaNode starts the followed process, then keepalived (see kaTrackConfig), in host h; tag
// starts the process's name. Both are stopped at b's cleanup.
func startKaNode(b *testing.B, h *netlab.Host, tag, vip string, routerID, priority int, track bool) *kaNode {
	b.Helper()
	kaBin, err := exec.LookPath("keepalived")
	if err != nil {
		b.Skip("keepalived is not installed")
	}
	dir := filepath.Join(b.TempDir(), "keepalived-"+h.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	// The last octet of the host's address tells the hosts' processes apart; a comm is 15 bytes.
	k := &kaNode{b: b, host: h, track: track, name: fmt.Sprintf("%s%dx%s", tag, os.Getpid(), h.Addr[strings.LastIndexByte(h.Addr, '.')+1:])}
	if len(k.name) > 15 {
		b.Fatalf("tracked process name %q is longer than a comm (15 bytes)", k.name)
	}
	k.exe = proctest.CopyProgram(b, "sleep", filepath.Join(dir, k.name))
	k.notify = filepath.Join(dir, "notify.log")
	notify := clustertest.Script(b, dir, "notify.sh", kaNotifyScript(k.notify))
	check := clustertest.Script(b, dir, "check.sh", "pidof "+k.name+" >/dev/null\n")
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(kaTrackConfig(h.Name, vip, routerID, priority, k.name, check, notify, track)), 0o644); err != nil {
		b.Fatal(err)
	}
	k.startProc()
	// As netlab.StartKeepalived: in the foreground, VRRP only, private pid files.
	k.ka = h.Start(b, kaBin, "--dont-fork", "--log-console", "--no-syslog", "-P", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", filepath.Join(dir, "vrrp.pid"), "-c", filepath.Join(dir, "checkers.pid"))
	b.Cleanup(k.stop)
	return k
}

// mech names how keepalived follows the process.
func (k *kaNode) mech() string {
	if k.track {
		return "vrrp_track_process (proc connector)"
	}
	return "vrrp_script pidof interval 1 s fall 1"
}

func (k *kaNode) startProc() {
	k.started = time.Now()
	k.proc = k.host.Start(k.b, k.exe, "100000")
}

// kill SIGKILLs the followed process and returns when it did.
func (k *kaNode) kill() time.Time {
	t0 := time.Now()
	if err := k.proc.Signal(syscall.SIGKILL); err != nil {
		k.b.Fatal(err)
	}
	return t0
}

// restart reaps the killed process and starts a new one.
func (k *kaNode) restart() {
	k.proc.Kill()
	k.startProc()
}

// stop stops keepalived with SIGTERM, then SIGKILL after 10 s.
func (k *kaNode) stop() { k.ka.Terminate(10 * time.Second) }

func (k *kaNode) events() []kaEvent {
	ev, err := readNotify(k.notify)
	if err != nil {
		k.b.Fatal(err)
	}
	return ev
}

// state is the last state keepalived told its notify script of ("" before the first).
func (k *kaNode) state() string {
	ev := k.events()
	if len(ev) == 0 {
		return ""
	}
	return ev[len(ev)-1].State
}

// waitEvent waits up to d for keepalived to tell of state at or after t.
func (k *kaNode) waitEvent(t time.Time, state string, d time.Duration) (kaEvent, bool) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		for _, e := range k.events() {
			if e.State == state && !e.At.Before(t) {
				return e, true
			}
		}
	}
	return kaEvent{}, false
}

// waitReadyOK waits up to d until the last state keepalived told of since the current process
// started is BACKUP or MASTER: the process is followed, not in FAULT.
func (k *kaNode) waitReadyOK(d time.Duration) (kaEvent, bool) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		ev := k.events()
		if len(ev) > 0 {
			last := ev[len(ev)-1]
			if !last.At.Before(k.started) && (last.State == "BACKUP" || last.State == "MASTER") {
				return last, true
			}
		}
	}
	return kaEvent{}, false
}

func (k *kaNode) waitReady(d time.Duration) {
	k.b.Helper()
	if _, ok := k.waitReadyOK(d); !ok {
		k.b.Fatalf("keepalived on %s did not leave FAULT within %s of its process (re)starting:\n%s", k.host.Name, d, k.ka.Output())
	}
}
