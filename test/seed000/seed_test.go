// Package seed000 runs seed 000's test patterns (a two-server CLUSTERPRO cluster serving a COBOL
// service on a floating address, its data on a shared disk, and a client that keeps calling it and
// prints the running count it gets back) on the network-namespace lab of test/trials, with the
// store embedded in the servers and a witness: ① a manual move, ② a pulled cable and a partition,
// ④ a server's shutdown, ⑤ a standby whose service is already running, ⑦ mutual standby. Across
// every one the client's count must go on without a value written twice or lost, and no floating
// address, shared disk or group process may ever be on both servers at once.
package seed000

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/test/netlab"
	"clpkit/test/trials"
)

var suite = netlab.NewSuite("seed000")

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperMain(mode, os.Args[1:]))
	}
	flag.Parse()
	suite.Main(m)
}

func build(t *testing.T) string { return suite.Build(t) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSeed000 runs the seed's test patterns on one lab, in order, each from a steady cluster:
// two servers on the embedded store with the witness, three failover groups each with a floating
// address, a shared disk and a counting service whose counter lives on that disk, and a client
// per service that calls it every 20 ms and must see the count go on across every failover.
func TestSeed000(t *testing.T) {
	l := newSeedLab(t)
	run := func(name string, f func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			prev := l.t
			l.t = t
			defer func() { l.t = prev }()
			f(t)
			l.check()
		})
	}
	svc := map[string]service{}
	for _, s := range services {
		svc[s.group] = s
	}
	other := func(name string) string {
		if name == "server1" {
			return "server2"
		}
		return "server1"
	}
	// waitMoved waits until every group that ran on from answers its client from to, and
	// returns those groups.
	waitMoved := func(t *testing.T, owners map[string]string, from, to string, t0 time.Time) []string {
		t.Helper()
		var moved []string
		for g, o := range owners {
			if o != from {
				continue
			}
			if _, ok := l.clients[g].Wait(to, t0, 30*time.Second); !ok {
				t.Fatalf("%s: %s never answered from %s after the fault on %s\n%s", g, svc[g].url(), to, from, l.dump())
			}
			t.Logf("%s: %s", g, l.clients[g].Gap(t0, to))
			moved = append(moved, g)
		}
		slices.Sort(moved)
		return moved
	}
	// expectFailover: the new server started the exec resource with CLP_EVENT=FAILOVER; the old
	// one, if its fence's cleanup got to it, stopped it with CLP_FACTOR=SERVERSHUTDOWN.
	expectFailover := func(t *testing.T, s service, t0 time.Time, from, to string) {
		t.Helper()
		got := l.scriptRuns(s, t0)
		if !slices.Equal(got, []string{to + " start FAILOVER"}) && !slices.Equal(got, []string{from + " stop SERVERSHUTDOWN", to + " start FAILOVER"}) {
			t.Errorf("the scripts of %s/%s since the fault: %q, want [%s start FAILOVER], after [%s stop SERVERSHUTDOWN] or not", s.group, s.exec, got, to, from)
		}
	}
	fences := func(server string) int { return strings.Count(l.c.Servers[server].Alerts(), " rc 5 ERR ") }

	// ① 手動切り替え: clpgrp -m failover1. The group stops on its server (CLP_FACTOR=GROUPMOVE)
	// and starts on the other (CLP_EVENT=START); the client's count goes on.
	run("1_manual_move", func(t *testing.T) {
		owners := l.steady()
		from := owners[trials.Group]
		to := other(from)
		t0 := time.Now()
		took := l.clpgrpMove(trials.Group, from)
		waitMoved(t, map[string]string{trials.Group: from}, from, to, t0)
		t.Logf("clpgrp -m returned after %s", took.Round(time.Millisecond))
		if o := l.owner(trials.Group); o != to {
			t.Errorf("clpgrp -n %s: %q, want %s", trials.Group, o, to)
		}
		l.expectRuns(svc[trials.Group], t0, from+" stop GROUPMOVE", to+" start START")
		if n := len(l.scriptRuns(svc["failover2"], t0)); n != 0 {
			t.Errorf("failover2's scripts ran %d times during the move of %s", n, trials.Group)
		}
	})

	// ② インタコネクト障害: the active server's cable is pulled. It loses the store's quorum and
	// fences (its address first, then its processes, then its disk); the standby and the witness
	// expire its lease and the standby takes the group over; the count goes on.
	cut := func(name string, inject, repair func(h *netlab.Host) error) {
		run(name, func(t *testing.T) {
			owners := l.steady()
			from := owners[trials.Group]
			to := other(from)
			before := fences(from)
			t0 := time.Now()
			must(t, inject(l.c.Servers[from].Host))
			repaired := false
			defer func() {
				if !repaired {
					must(t, repair(l.c.Servers[from].Host))
				}
			}()
			moved := waitMoved(t, owners, from, to, t0)
			time.Sleep(time.Second)
			repaired = true
			must(t, repair(l.c.Servers[from].Host))
			l.steady()
			t.Logf("%s", l.h.History("vip", t0))
			if fences(from) == before {
				t.Errorf("%s wrote no fence alert (rc 5) after it was cut off:\n%s", from, l.c.Servers[from].Alerts())
			}
			for _, g := range moved {
				expectFailover(t, svc[g], t0, from, to)
			}
		})
	}
	cut("2_cable_cut", l.c.Lab.CutCable, l.c.Lab.RestoreCable)
	cut("2_partition", l.c.Lab.Partition, l.c.Lab.Heal)

	// ④ server stop: clpd on the active server gets SIGTERM (a shutdown). It stops its groups
	// (CLP_FACTOR=SERVERSHUTDOWN) and hands them over at once: the other server starts them with
	// CLP_EVENT=FAILOVER, without waiting for the lease to expire.
	run("4_server_stop", func(t *testing.T) {
		owners := l.steady()
		from := owners[trials.Group]
		to := other(from)
		s := l.c.Servers[from]
		t0 := time.Now()
		s.Stop()
		defer func() {
			if !s.Running() {
				s.Start()
			}
		}()
		stopped := time.Since(t0)
		moved := waitMoved(t, owners, from, to, t0)
		t.Logf("clpd on %s exited %s after SIGTERM", from, stopped.Round(time.Millisecond))
		s.Start()
		l.steady()
		for _, g := range moved {
			l.expectRuns(svc[g], t0, from+" stop SERVERSHUTDOWN", to+" start FAILOVER")
		}
	})

	// ⑤ MFDS 起動で待機: the service is already running on both servers, started outside the
	// cluster; failover3's start.sh only activates it. After a cable pull and a manual move back,
	// each server still runs its one pre-started instance (the same process), at most one of
	// them is active at any moment, and the count goes on.
	run("5_standby_prestarted", func(t *testing.T) {
		s3 := svc["failover3"]
		daemons := map[string]int{}
		for _, name := range []string{"server1", "server2"} {
			s := l.c.Servers[name]
			sock := filepath.Join(s.Dir, "run", "seedd.sock")
			cmd := exec.Command("nsenter", "--net=/run/netns/"+s.Host.NS, "--", l.exe,
				"-sock", sock, "-name", name, "-state", l.stateFile(name))
			cmd.Env = append(os.Environ(), helperEnv+"=daemon")
			cmd.Dir = "/"
			p := s.Host.StartCmd(t, cmd)
			daemons[name] = p.Pid()
			clustertest.WaitFor(t, 10*time.Second, "the pre-started service's socket on "+name, func() bool {
				_, err := os.Stat(sock)
				return err == nil
			})
		}
		checkDaemons := func(when string) {
			t.Helper()
			got := helperProcs(l.c, "daemon")
			for name, pid := range daemons {
				if !slices.Equal(got[name], []int{pid}) {
					t.Errorf("%s: the pre-started service on %s is %v, want the one started at boot, %d", when, name, got[name], pid)
				}
			}
			if n := len(helperProcs(l.c, "serve")["server1"]) + len(helperProcs(l.c, "serve")["server2"]); n != 2 {
				t.Errorf("%s: %d instances of the other groups' services run, want 2", when, n)
			}
		}
		checkDaemons("before")
		cl := startClient(t, l.c.Lab, l.c.Client, l.exe, s3.exec, s3.url())
		l.clients[s3.group] = cl
		defer func() {
			if o := l.owner(s3.group); o != "" {
				if so, se, code := l.c.Servers[o].Run("clpgrp", "-t", s3.group); code != 0 {
					t.Errorf("clpgrp -t %s on %s: exit %d %s%s", s3.group, o, code, so, se)
				}
			}
			cl.Stop()
			delete(l.clients, s3.group)
		}()
		if so, se, code := l.c.Servers["server1"].Run("clpgrp", "-s", s3.group); code != 0 {
			t.Fatalf("clpgrp -s %s on server1: exit %d %s%s\n%s", s3.group, code, so, se, l.dump())
		}
		owners := l.steady()
		from := owners[s3.group]
		to := other(from)
		t0 := time.Now()
		must(t, l.c.Lab.CutCable(l.c.Servers[from].Host))
		defer func() { must(t, l.c.Lab.RestoreCable(l.c.Servers[from].Host)) }()
		waitMoved(t, owners, from, to, t0)
		time.Sleep(time.Second)
		must(t, l.c.Lab.RestoreCable(l.c.Servers[from].Host))
		l.steady()
		expectFailover(t, s3, t0, from, to)
		t.Logf("%s", l.h.History(s3.exec+"-active", t0))
		checkDaemons("after the cable pull")

		t1 := time.Now()
		l.move(s3.group, from)
		waitMoved(t, map[string]string{s3.group: to}, to, from, t1)
		l.expectRuns(s3, t1, to+" stop GROUPMOVE", from+" start START")
		checkDaemons("after the move back")
		l.check()
	})

	// ⑦ 相互スタンバイ: failover1 prefers server1, failover2 server2, so each server is active for
	// one group and stands by for the other. Pulling one server's cable moves its group to the
	// other, which keeps serving its own without a pause; both counts go on. Both directions.
	run("7_mutual_standby", func(t *testing.T) {
		for _, down := range []string{"server1", "server2"} {
			up := other(down)
			l.steady()
			l.move(trials.Group, "server1")
			l.move("failover2", "server2")
			owners := l.steady()
			if owners[trials.Group] != "server1" || owners["failover2"] != "server2" {
				t.Fatalf("the groups do not cross: %v", owners)
			}
			var stays string
			for g, o := range owners {
				if o == up {
					stays = g
				}
			}
			t0 := time.Now()
			must(t, l.c.Lab.CutCable(l.c.Servers[down].Host))
			defer func() { must(t, l.c.Lab.RestoreCable(l.c.Servers[down].Host)) }()
			moved := waitMoved(t, owners, down, up, t0)
			time.Sleep(time.Second)
			must(t, l.c.Lab.RestoreCable(l.c.Servers[down].Host))
			after := l.steady()
			for _, g := range []string{trials.Group, "failover2"} {
				if after[g] != up {
					t.Errorf("%s runs on %s after %s's cable was pulled, want %s", g, after[g], down, up)
				}
			}
			for _, g := range moved {
				expectFailover(t, svc[g], t0, down, up)
			}
			// The group that ran on the other server was not touched.
			if runs := l.scriptRuns(svc[stays], t0); len(runs) != 0 {
				t.Errorf("%s, on %s, ran scripts while %s's cable was out: %q", stays, up, down, runs)
			}
			if _, ok := l.c.Sampler.FirstSeen(stays, down, t0); ok {
				t.Errorf("%s ran on %s after its cable was pulled", stays, down)
			}
			fails := 0
			for _, a := range l.clients[stays].Answers() {
				if !a.start.Before(t0) && !a.ok() {
					fails++
				}
			}
			t.Logf("cut %s: %v moved to %s; %s stayed on %s, its client saw %d failed requests meanwhile", down, moved, up, stays, up, fails)
		}
	})
	l.shutdown()
}
