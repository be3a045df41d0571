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
	cs := clustertest.NewMulti(t, s.bin, dir, etcd.URL, []string{"server1", "server2"}, `
[[group]]
name = "failover1"
servers = ["server1", "server2"]
auto_start = false

[[group.resource]]
name = "exec1"
type = "exec"
start = "scripts/exec1/start.sh"
stop = "scripts/exec1/stop.sh"
`)
	s1, s2 := cs[0], cs[1]
	s1.Start(t)
	s2.Start(t)
	s1.MustRun(t, "clpgrp", "-s", "failover1")
	read := func() string { b, _ := os.ReadFile(events); return string(b) }

	etcd.Stop()
	// heartbeat_timeout is 4s: the group must be stopped within it, not left running.
	clustertest.WaitFor(t, 15*time.Second, "server1 to stop its group", func() bool {
		return read() == "HOME start START\nHOME stop SERVERSHUTDOWN\n"
	})
	// Without its store a server still answers clpstat, with what it knows: nothing runs here.
	st, se, code := s1.Run(t, "clpstat")
	if code != 0 || !strings.Contains(st, "    failover1 .......: Offline          \n      current        : None\n") {
		t.Fatalf("clpstat on server1 without a store: exit %d\n%s%s", code, st, se)
	}

	etcd.Start(t)
	clustertest.WaitFor(t, 40*time.Second, "the group to run again on one server", func() bool {
		a, _, _ := s1.Run(t, "clpstat")
		b, _, _ := s2.Run(t, "clpstat")
		line := "    failover1 .......: Online           \n      current        : server2\n"
		return strings.Contains(a, line) && strings.Contains(b, line)
	})
	if got := read(); got != "HOME start START\nHOME stop SERVERSHUTDOWN\nOTHER start FAILOVER\n" {
		t.Fatalf("script runs:\n%s", got)
	}
	alerts, _ := os.ReadFile(s1.AlertLog)
	for _, want := range []string{
		" rc 5 ERR Heartbeat lease could not be renewed; stopping the groups of this server to keep them from running twice.\n",
		" rc 6 INFO The coordination store answers again: server server1 rejoined the cluster.\n",
	} {
		if !strings.Contains(string(alerts), want) {
			t.Errorf("server1's alert log lacks %q:\n%s", want, alerts)
		}
	}
}
