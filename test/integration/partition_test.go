package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"clpkit/internal/clustertest"
)

// TestStoreLostSelfFence: both servers lose the store (the interconnect cable is pulled, in the
// seed's words). The server running the group stops it before its lease can expire elsewhere;
// when the store comes back both rejoin and the group runs again on exactly one server, taken
// over with CLP_EVENT=FAILOVER.
func TestStoreLostSelfFence(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	clustertest.Script(t, dir, "scripts/exec1/start.sh", `echo "$CLP_SERVER start $CLP_EVENT" >> `+events+"\n")
	clustertest.Script(t, dir, "scripts/exec1/stop.sh", `echo "$CLP_SERVER stop $CLP_FACTOR" >> `+events+"\n")
	etcd := clustertest.StartEtcd(t, dir)
	cs := clustertest.NewMulti(t, s.bin, dir, etcd.URL, []string{"server1", "server2"},
		group("failover1", `servers = ["server1", "server2"]`, "auto_start = false")+execResource("exec1", "scripts/exec1"))
	s1, s2 := cs[0], cs[1]
	s1.Start(t)
	s2.Start(t)
	s1.MustRun(t, "clpgrp", "-s", "failover1")
	read := func() string { b, _ := os.ReadFile(events); return string(b) }

	etcd.Stop()
	// The group's processes are killed at the fencing deadline (half the 1 s lease after the last
	// renewal); its stop script then cleans up while the guard's budget lasts.
	clustertest.WaitFor(t, 15*time.Second, "server1 to stop its group", func() bool {
		st, _, _ := s1.Run(t, "clpstat")
		return strings.Contains(st, "   *server1 .........: Offline          \n")
	})
	if got := read(); got != "HOME start START\n" && got != "HOME start START\nHOME stop SERVERSHUTDOWN\n" {
		t.Fatalf("script runs after the fence:\n%s", got)
	}
	// Without its store a server still answers clpstat, with what it knows: nothing runs here, and
	// where the group and the other server are now is unknown.
	st, se, code := s1.Run(t, "clpstat")
	for _, want := range []string{
		"    server2 .........: Unknown          \n      leasehb1       : Unknown          etcd Lease Heartbeat\n",
		"    failover1 .......: Unknown          \n      current        : None\n      exec1          : Offline          \n",
	} {
		if code != 0 || !strings.Contains(st, want) {
			t.Fatalf("clpstat on server1 without a store: exit %d, lacks %q\n%s%s", code, want, st, se)
		}
	}
	fenced := read()

	etcd.Start(t)
	// Whichever server rejoins first takes the group: server2 when it is back in time, else
	// server1 again, since no other server of the policy is Online then. Either way, once.
	var owner string
	clustertest.WaitFor(t, 40*time.Second, "the group to run again on one server", func() bool {
		a, _, _ := s1.Run(t, "clpstat")
		b, _, _ := s2.Run(t, "clpstat")
		for _, o := range []string{"server1", "server2"} {
			line := "    failover1 .......: Online           \n      current        : " + o + "\n"
			if strings.Contains(a, line) && strings.Contains(b, line) {
				owner = o
				return true
			}
		}
		return false
	})
	role := map[string]string{"server1": "HOME", "server2": "OTHER"}[owner]
	if got := read(); got != fenced+role+" start FAILOVER\n" {
		t.Fatalf("script runs (the group is on %s):\n%s", owner, got)
	}
	alerts, _ := os.ReadFile(s1.AlertLog)
	for _, want := range []string{
		" rc 5 ERR Server server1 could not renew its lease in time: stopping its groups to keep them from running twice.\n",
		" rc 8 WARN Group failover1 was stopped on server server1 by fencing: every process of it was killed.\n",
		" rc 6 INFO The coordination store answers again: server server1 rejoined the cluster.\n",
	} {
		if !strings.Contains(string(alerts), want) {
			t.Errorf("server1's alert log lacks %q:\n%s", want, alerts)
		}
	}
}
