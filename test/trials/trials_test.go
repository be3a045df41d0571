package trials

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/pkg/pki"
	"clpkit/test/netlab"
)

var (
	trials = flag.Int("trials", 10, "trials per fault (make trials runs 100)")
	seed   = flag.Uint64("seed", 0, "random seed of the trials (0: from the clock; printed)")
)

var suite = netlab.NewSuite("trials")

func TestMain(m *testing.M) {
	flag.Parse()
	suite.Main(m)
}

func build(t *testing.T) string { return suite.Build(t) }

func trialSeed(t *testing.T) uint64 {
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -args -seed %d)", s, s)
	return s
}

func report(t *testing.T, c *Cluster, name string, ts []Trial) {
	t.Log(Summary(name, ts))
	t.Logf("  the sampler's longest gap between two looks: %s (an overlap shorter than that could go unseen)", c.Sampler.MaxGap().Round(time.Millisecond))
	for i, tr := range ts {
		t.Logf("  %2d %s -> %s  takeover %4d ms  margin %4d ms", i+1, tr.From, tr.To, tr.Takeover.Milliseconds(), tr.Margin.Milliseconds())
	}
}

func run(t *testing.T, f Fault) {
	c := New(t, build(t), Options{})
	ts := Run(t, c, f, *trials, trialSeed(t))
	report(t, c, f.Name, ts)
}

// The active server's cable is pulled: it loses the store, kills its group at the fencing
// deadline, and the standby starts the group once the lease has expired.
func TestTrialCableCut(t *testing.T) {
	run(t, Fault{
		Name:   "cable cut",
		Inject: func(c *Cluster, a *Server) { must(t, c.Lab.CutCable(a.Host)) },
		Repair: func(c *Cluster, a *Server) { must(t, c.Lab.RestoreCable(a.Host)) },
	})
}

// The active server keeps its carrier but every packet in or out is dropped.
func TestTrialPartition(t *testing.T) {
	run(t, Fault{
		Name:   "partition, carrier kept",
		Inject: func(c *Cluster, a *Server) { must(t, c.Lab.Partition(a.Host)) },
		Repair: func(c *Cluster, a *Server) { must(t, c.Lab.Heal(a.Host)) },
	})
}

// clpd is killed and stays down: the guard kills the group before the lease can expire.
func TestTrialClpdKilled(t *testing.T) {
	run(t, Fault{
		Name:   "clpd SIGKILL, left down",
		Inject: func(c *Cluster, a *Server) { a.Kill() },
		Repair: func(c *Cluster, a *Server) { a.Start() },
	})
}

// clpd is frozen beyond the lease: the guard kills the group; when clpd thaws it fences (nothing
// is left) and rejoins.
func TestTrialClpdFrozen(t *testing.T) {
	run(t, Fault{
		Name:   "clpd SIGSTOP",
		Inject: func(c *Cluster, a *Server) { must(t, a.Signal(syscall.SIGSTOP)) },
		Repair: func(c *Cluster, a *Server) { must(t, a.Signal(syscall.SIGCONT)) },
	})
}

// The cable is cut while both servers are under CPU and fsync load: the fence must still finish
// before the lease can expire.
func TestTrialCableCutUnderLoad(t *testing.T) {
	if _, err := exec.LookPath("stress-ng"); err != nil {
		t.Skip("stress-ng is not installed")
	}
	c := New(t, build(t), Options{})
	stressServers(t, c, 3600)
	ts := Run(t, c, Fault{
		Name:   "cable cut, both servers loaded",
		Inject: func(c *Cluster, a *Server) { must(t, c.Lab.CutCable(a.Host)) },
		Repair: func(c *Cluster, a *Server) { must(t, c.Lab.RestoreCable(a.Host)) },
	}, *trials, trialSeed(t))
	report(t, c, "cable cut, both servers loaded", ts)
}

// clpd told to stop (SIGTERM) while its server is cut off: it fences and exits at once, instead
// of waiting for a store that does not answer.
func TestTrialStopWhilePartitioned(t *testing.T) {
	run(t, Fault{
		Name: "SIGTERM while partitioned",
		Inject: func(c *Cluster, a *Server) {
			must(t, c.Lab.Partition(a.Host))
			t0 := time.Now()
			a.Stop()
			if d := time.Since(t0); d > 10*time.Second {
				t.Errorf("clpd on %s took %s to stop while partitioned", a.Name, d)
			}
		},
		Repair: func(c *Cluster, a *Server) {
			must(t, c.Lab.Heal(a.Host))
			a.Start()
		},
	})
}

// stressServers loads both servers with CPU hogs (four on the machine's two cores), a writer that
// fsyncs after every write, and a mix of I/O, for seconds.
func stressServers(t *testing.T, c *Cluster, seconds int) {
	var procs []*netlab.Proc
	for _, s := range c.Servers {
		dir := filepath.Join(s.Dir, "stress")
		must(t, os.MkdirAll(dir, 0o755))
		procs = append(procs, s.Host.Start(t, "stress-ng", "--cpu", "2", "--hdd", "1", "--hdd-opts", "wr-seq,fsync",
			"--iomix", "1", "--temp-path", dir, "--timeout", strconv.Itoa(seconds)+"s", "--quiet"))
	}
	time.Sleep(2 * time.Second)
	for _, p := range procs {
		select {
		case <-p.Done():
			t.Fatalf("stress-ng exited at once:\n%s", p.Output())
		default:
		}
	}
}

// A stop script slower than the fencing margin: the fence kills first, and the cleanup stop
// script is killed at the guard's deadline, before the lease can expire.
func TestTrialSlowStop(t *testing.T) {
	run(t, Fault{
		Name:   "slow stop.sh (3 s), partition",
		Before: func(c *Cluster, a *Server, _ *rand.Rand) { c.SetFlag("slowstop", 3) },
		Inject: func(c *Cluster, a *Server) { must(t, c.Lab.Partition(a.Host)) },
		After:  func(c *Cluster, a *Server) { c.SetFlag("slowstop", 0) },
		Repair: func(c *Cluster, a *Server) { must(t, c.Lab.Heal(a.Host)) },
	})
}

// The cable is cut while a 20 s start script runs: the start is killed with the group.
func TestTrialCutDuringStart(t *testing.T) {
	run(t, Fault{
		Name: "cable cut during a 20 s start.sh",
		Before: func(c *Cluster, a *Server, rng *rand.Rand) {
			if out, se, code := a.Run("clpgrp", "-t", Group); code != 0 {
				t.Fatalf("clpgrp -t on %s: %s%s\n%s", a.Name, out, se, c.dump())
			}
			c.SetFlag("slowstart", 20)
			began := time.Now()
			go a.Run("clpgrp", "-s", Group)
			if _, ok := waitSeen(c, a.Name, began, 10*time.Second); !ok {
				t.Fatalf("the slow start did not begin on %s", a.Name)
			}
			time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
		},
		Inject: func(c *Cluster, a *Server) {
			must(t, c.Lab.CutCable(a.Host))
			// The standby's own start is quick: the trial is about the one cut short.
			c.SetFlag("slowstart", 0)
		},
		Repair: func(c *Cluster, a *Server) { must(t, c.Lab.RestoreCable(a.Host)) },
	})
}

// clpgrp -s while clpcl -t stops the server's groups is refused: nothing is started on a server
// that is leaving, so nothing runs there once its lease is revoked.
func TestTrialStartDuringShutdown(t *testing.T) {
	c := New(t, build(t), Options{})
	rng := rand.New(rand.NewPCG(trialSeed(t), 1))
	var ts []Trial
	for i := range *trials {
		active := c.WaitSteady(60 * time.Second)
		standby := c.Other(active)
		c.SetFlag("slowstop", 1+rng.Float64())
		t0 := time.Now()
		done := make(chan string, 1)
		go func() {
			so, se, _ := active.Run("clpcl", "-t")
			done <- so + se
		}()
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		_, se, code := active.Run("clpgrp", "-s", Group2)
		if code != 1 || se != "The cluster service is stopping on server "+active.Name+".\n" {
			t.Errorf("trial %d: clpgrp -s %s during clpcl -t on %s: exit %d, %q", i+1, Group2, active.Name, code, se)
		}
		if got := <-done; got != "Stop "+active.Name+" : Command succeeded.\n" {
			t.Errorf("trial %d: clpcl -t: %q", i+1, got)
		}
		c.SetFlag("slowstop", 0)
		first, ok := waitSeen(c, standby.Name, t0, 30*time.Second)
		if !ok {
			t.Fatalf("trial %d: %s never took %s over\n%s", i+1, standby.Name, Group, c.dump())
		}
		if hosts := c.Sampler.Final(Group2); len(hosts) != 0 {
			t.Errorf("trial %d: %s runs on %v although its start was refused", i+1, Group2, hosts)
		}
		if out, se, code := active.Run("clpcl", "-s"); code != 0 {
			t.Fatalf("clpcl -s: %s%s", out, se)
		}
		c.WaitSteady(60 * time.Second)
		tr := Trial{From: active.Name, To: standby.Name, Injected: t0, Takeover: first.Sub(t0)}
		if last, ok := c.Sampler.LastSeen(Group, active.Name, first); ok {
			tr.Margin = first.Sub(last)
		}
		for _, g := range []string{Group, Group2} {
			for _, iv := range c.Sampler.Overlaps(g) {
				if iv.End.After(t0) {
					tr.Overlaps = append(tr.Overlaps, iv)
					t.Errorf("trial %d: %s ran on two hosts at once: %v", i+1, g, iv)
				}
			}
		}
		ts = append(ts, tr)
	}
	report(t, c, "clpgrp -s during clpcl -t", ts)
	if !strings.Contains(c.Servers["server1"].Alerts()+c.Servers["server2"].Alerts(), " pm 2 INFO Shutting down the cluster daemon...") {
		t.Error("no server wrote the cluster-stop alert")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var soak = flag.Duration("soak", 0, "run TestSoak for this long (make soak: 10m)")

// TestSoak runs the cluster with both servers under CPU and fsync load and counts false
// failovers: any time the group left the server it ran on, and any fence, while nothing failed.
func TestSoak(t *testing.T) {
	if *soak == 0 {
		t.Skip("soak: run with -args -soak 10m (make soak)")
	}
	if _, err := exec.LookPath("stress-ng"); err != nil {
		t.Skip("soak: stress-ng is not installed")
	}
	c := New(t, build(t), Options{})
	active := c.WaitSteady(60 * time.Second)
	stressServers(t, c, int(soak.Seconds())+5)
	began := time.Now()
	time.Sleep(*soak)
	standby := c.Other(active)
	moves := 0
	if _, ok := c.Sampler.FirstSeen(Group, standby.Name, began); ok {
		moves++
	}
	if hosts := c.Sampler.HostsAt(Group, time.Now()); len(hosts) != 1 || hosts[0] != active.Name {
		moves++
	}
	for _, iv := range c.Sampler.Overlaps(Group) {
		t.Errorf("the group ran on two hosts at once: %v", iv)
	}
	fences := 0
	for _, s := range c.Servers {
		fences += strings.Count(s.Alerts(), " rc 5 ERR ")
	}
	stats := c.Sampler.Stats()
	t.Logf("soak %s: false failovers %d, fences %d; sampler scans %d, longest gap %s", time.Since(began).Round(time.Second), moves, fences, stats.Scans, stats.MaxGap)
	if moves+fences > 0 {
		t.Errorf("false failovers under load: %d moves, %d fences\n%s", moves, fences, c.dump())
	}
}

// The store runs on the servers themselves with the store host as the witness: a cable cut
// leaves the active server without a quorum, so it fences, and the standby and the witness
// (a majority) expire its lease and take the group over.
func TestTrialEmbeddedCableCut(t *testing.T) {
	c := New(t, build(t), Options{Embedded: true})
	f := Fault{
		Name:   "cable cut, embedded store with a witness",
		Inject: func(c *Cluster, a *Server) { must(t, c.Lab.CutCable(a.Host)) },
		Repair: func(c *Cluster, a *Server) { must(t, c.Lab.RestoreCable(a.Host)) },
	}
	ts := Run(t, c, f, *trials, trialSeed(t))
	report(t, c, f.Name, ts)
}

// The witness is a vote, not a server: losing it moves nothing; losing it and the standby leaves
// the active server without a quorum, and it stops its group; mended, everything rejoins and the
// group runs once.
func TestEmbeddedWitnessLoss(t *testing.T) {
	c := New(t, build(t), Options{Embedded: true})
	active := c.WaitSteady(60 * time.Second)
	standby := c.Other(active)
	t0 := time.Now()
	must(t, c.Lab.CutCable(c.Store))
	time.Sleep(3 * time.Second)
	if owner := c.Owner(Group); owner != active.Name {
		t.Fatalf("with the witness cut off, the group runs on %q, want it to stay on %s\n%s", owner, active.Name, c.dump())
	}
	if _, moved := c.Sampler.FirstSeen(Group, standby.Name, t0); moved {
		t.Fatalf("the group started on %s although only the witness was lost\n%s", standby.Name, c.dump())
	}
	// Now the standby goes too: the active server is alone, one vote of three.
	t1 := time.Now()
	must(t, c.Lab.CutCable(standby.Host))
	clustertest.WaitFor(t, 10*time.Second, "the lone server stopping its group", func() bool {
		f := c.Sampler.Final(Group)
		return len(f) == 0
	})
	if last, ok := c.Sampler.LastSeen(Group, active.Name, time.Now()); ok {
		t.Logf("the lone server stopped its group %s after the second cut", last.Sub(t1).Round(time.Millisecond))
	}
	must(t, c.Lab.RestoreCable(c.Store))
	must(t, c.Lab.RestoreCable(standby.Host))
	c.WaitSteady(60 * time.Second)
	if ov := c.Sampler.Overlaps(Group); len(ov) > 0 {
		t.Fatalf("group %s ran on two hosts at once: %v\n%s", Group, ov, c.dump())
	}
}

// -h reaches the other server over the cluster's TLS link: its view, its answers; clpcl -a acts
// on both; and a client without a certificate from the cluster CA is refused.
func TestRemoteCommands(t *testing.T) {
	c := New(t, build(t), Options{Embedded: true})
	active := c.WaitSteady(60 * time.Second)
	other := c.Other(active)

	st, se, code := active.Run("clpstat", "-h", other.Name)
	if code != 0 || !strings.Contains(st, "   *"+other.Name+" ") || strings.Contains(st, "   *"+active.Name+" ") {
		t.Fatalf("clpstat -h %s on %s: exit %d, stderr %q:\n%s", other.Name, active.Name, code, se, st)
	}
	if _, se, code := active.Run("clpstat", "-h", "nosuch"); code != 1 || !strings.Contains(se, "(nosuch)") {
		t.Fatalf("clpstat -h nosuch: exit %d, stderr %q", code, se)
	}
	// Stop the group on its server and start it on the other, both from the active server.
	if so, se, code := active.Run("clpgrp", "-t", Group, "-h", active.Name); code != 0 || so != "Command succeeded.\n" {
		t.Fatalf("clpgrp -t -h %s: exit %d %q %q", active.Name, code, so, se)
	}
	if so, se, code := active.Run("clpgrp", "-s", Group, "-h", other.Name); code != 0 || so != "Command succeeded.\n" {
		t.Fatalf("clpgrp -s -h %s: exit %d %q %q", other.Name, code, so, se)
	}
	if s := c.WaitSteady(30 * time.Second); s != other {
		t.Fatalf("the group runs on %s, want %s", s.Name, other.Name)
	}
	so, se, code := active.Run("clpcl", "--suspend", "-a")
	want := "Suspend " + active.Name + " : Command succeeded.\nSuspend " + other.Name + " : Command succeeded.\n"
	if code != 0 || so != want {
		t.Fatalf("clpcl --suspend -a: exit %d\n%s%s\nwant:\n%s", code, so, se, want)
	}
	for _, s := range []*Server{active, other} {
		st, _, _ := s.Run("clpstat")
		if !strings.Contains(st, "(cluster suspended)") {
			t.Fatalf("%s is not suspended:\n%s", s.Name, st)
		}
	}
	if so, se, code := other.Run("clpcl", "--resume", "-a"); code != 0 || strings.Count(so, "Command succeeded.") != 2 {
		t.Fatalf("clpcl --resume -a: exit %d %q %q", code, so, se)
	}
	// Without a certificate of the cluster CA the API does not answer, and neither does it to
	// one that presents a certificate from another CA.
	url := "https://" + other.Host.Addr + ":29001/v1/status"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, _, code, _ := c.Client.Run(ctx, "curl", "-sS", "-k", "--max-time", "3", url); code == 0 {
		t.Fatalf("curl without a certificate got an answer from %s:\n%s", url, out)
	}
	foreign := filepath.Join(t.TempDir(), "pki")
	must(t, pki.EnsureCA(foreign, "other"))
	must(t, pki.EnsureServer(foreign, "intruder", []string{c.Client.Addr}))
	ff := pki.ServerFiles(foreign, "intruder")
	if out, _, code, _ := c.Client.Run(ctx, "curl", "-sS", "-k", "--max-time", "3", "--cert", ff.Cert, "--key", ff.Key, url); code == 0 {
		t.Fatalf("curl with a foreign certificate got an answer from %s:\n%s", url, out)
	}
}

// The built-in resources on two servers: a floating address and a shared disk (one loop device,
// which both lab servers see, as two machines see a shared disk). Each is only ever on the server
// that runs the group; a cable cut moves both, the fenced server dropping them first.
func TestBuiltinResourcesMove(t *testing.T) {
	for _, tool := range []string{"losetup", "mkfs.ext4"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	img := filepath.Join(t.TempDir(), "shared.img")
	must(t, os.WriteFile(img, make([]byte, 32<<20), 0o600))
	out, err := exec.Command("losetup", "-f", "--show", img).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	if out, err := exec.Command("mkfs.ext4", "-q", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	const vip = "10.77.0.101"
	c := New(t, build(t), Options{Embedded: true, Resources: fmt.Sprintf(`
[[group.resource]]
name = "fip1"
type = "fip"
address = "%s/24"
interface = "eth0"

[[group.resource]]
name = "disk1"
type = "disk"
device = %q
mount_point = "{{dir}}/{{server}}/mnt"
fstype = "ext4"
`, vip, dev)})
	// The lab kills clpd at its end; stopped first, each server unmounts what it holds. Whatever
	// is still mounted then is detached, so the host keeps no mount of the test's.
	t.Cleanup(func() {
		for _, s := range c.Servers {
			if s.Running() {
				s.Stop()
			}
		}
		for _, name := range []string{"server1", "server2"} {
			_ = syscall.Unmount(filepath.Join(c.Dir(), name, "mnt"), syscall.MNT_DETACH)
		}
	})
	// Where the address and the disk are, as the machines show them.
	holders := func() (addr, mounts []string) {
		for _, name := range []string{"server1", "server2"} {
			s := c.Servers[name]
			o, _ := exec.Command("ip", "-n", s.Host.NS, "-o", "addr", "show", "dev", "eth0").Output()
			if strings.Contains(string(o), " "+vip+"/24 ") {
				addr = append(addr, name)
			}
			mi, _ := os.ReadFile("/proc/self/mountinfo")
			if strings.Contains(string(mi), " "+filepath.Join(c.Dir(), name, "mnt")+" ") {
				mounts = append(mounts, name)
			}
		}
		return addr, mounts
	}
	check := func(owner string) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if a, m := holders(); len(a) == 1 && a[0] == owner && len(m) == 1 && m[0] == owner {
				return
			}
		}
		a, m := holders()
		t.Fatalf("the address (on %v) and the disk (mounted by %v) are not on %s only after 10 s\n%s", a, m, owner, c.dump())
	}
	active := c.WaitSteady(60 * time.Second)
	check(active.Name)
	// The service writes on the disk where it runs.
	must(t, os.WriteFile(filepath.Join(c.Dir(), active.Name, "mnt", "counter"), []byte("1\n"), 0o644))

	stop := make(chan struct{})
	done := make(chan []string)
	go func() {
		// Every 10 ms: never two holders of either.
		var bad []string
		for {
			select {
			case <-stop:
				done <- bad
				return
			default:
			}
			if a, m := holders(); len(a) > 1 || len(m) > 1 {
				bad = append(bad, fmt.Sprintf("%s address %v disk %v", time.Now().Format("15:04:05.000"), a, m))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	must(t, c.Lab.CutCable(active.Host))
	other := c.Other(active)
	check(other.Name)
	b, err := os.ReadFile(filepath.Join(c.Dir(), other.Name, "mnt", "counter"))
	if err != nil || string(b) != "1\n" {
		t.Fatalf("the counter on the disk as %s mounted it: %q, %v", other.Name, b, err)
	}
	must(t, c.Lab.RestoreCable(active.Host))
	c.WaitSteady(60 * time.Second)
	check(other.Name)
	// clpd on the owner is killed: its guard removes the address, kills the group and unmounts
	// the disk at the fencing deadline, before the lease can expire and the first server mount it.
	other.Kill()
	check(active.Name)
	if b, err := os.ReadFile(filepath.Join(c.Dir(), active.Name, "mnt", "counter")); err != nil || string(b) != "1\n" {
		t.Fatalf("the counter on the disk as %s mounted it again: %q, %v", active.Name, b, err)
	}
	other.Start()
	c.WaitSteady(60 * time.Second)
	check(active.Name)
	close(stop)
	if bad := <-done; len(bad) > 0 {
		t.Fatalf("the address or the disk was on two servers at once:\n%s", strings.Join(bad, "\n"))
	}
	if so, _, _ := active.Run("clpstat"); !strings.Contains(so, "      fip1           : Online") || !strings.Contains(so, "      disk1          : Online") {
		t.Fatalf("clpstat on %s:\n%s", active.Name, so)
	}
}
