package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/pkg/resource"
)

// The seed templates and the service line each prints between its branch lines and EXIT.
var templateService = map[string]string{
	"mfes":          "",
	"samba":         "SAMBA",
	"samba-monitor": "clp_sambamon",
	"nfs":           "NFS",
	"nfs-monitor":   "clp_nfsmon",
}

// TestTemplatesUnderClpd runs every seed template as an exec resource of a two-server cluster:
// started on its home server (NORMAL1 NORMAL2 ... EXIT), then, after that server's clpd is killed,
// taken over by the other one (FAILOVER1 ON_OTHER2 ... EXIT), then moved back (stop on server2,
// start on server1). Outside the cluster the templates print NO_CLP (templates/templates_test.go).
func TestTemplatesUnderClpd(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	// samba-monitor and nfs-monitor run the real clp_sambamon and clp_nfsmon, whose watcher stays
	// in the foreground until it finds the server failed (seed 001 starts that start.sh
	// asynchronously; TestMonitorTemplates runs it so). Here the resources are synchronous, so
	// the commands on PATH send the watcher to a port where nothing listens: it logs the failure
	// to the cluster's alert log and exits at once, and -stop finds nothing to stop.
	closed, fsmonBin := clustertest.FreePort(t), filepath.Join(dir, "fsmon-bin")
	for cmd, extra := range map[string]string{
		"clp_sambamon": fmt.Sprintf("-a 127.0.0.1:%d -c 1 -r 1", closed),
		"clp_nfsmon":   fmt.Sprintf("-a 127.0.0.1 -n %d -c 1 -r 1", closed),
	} {
		real := filepath.Join(s.bin, cmd)
		clustertest.Script(t, fsmonBin, cmd, fmt.Sprintf("case \"$2\" in -s|-d) exec %s \"$@\" %s;; esac\nexec %s \"$@\"\n", real, extra, real))
	}
	// The Samba and NFS templates start and stop their system service: stubs record the calls
	// instead of starting this host's smbd or NFS server.
	calls := filepath.Join(dir, "service.calls")
	for _, cmd := range []string{"service", "systemctl"} {
		clustertest.Script(t, fsmonBin, cmd, fmt.Sprintf("echo \"%s $*\" >> %s\nexit 0\n", cmd, calls))
	}
	t.Setenv("PATH", fsmonBin+":"+os.Getenv("PATH"))
	t.Setenv("CLPKIT_FSMON_DIR", filepath.Join(dir, "fsmon"))
	root := repoPath(t, "templates")
	groups := group("failover1", `servers = ["server1", "server2"]`, "auto_start = false")
	names := []string{"mfes", "samba", "samba-monitor", "nfs", "nfs-monitor"}
	for _, n := range names {
		groups += execResource(n, filepath.Join(root, n))
	}
	etcd := clustertest.StartEtcd(t, dir)
	// mfes/start.sh and stop.sh run casstart, casstop and mfds (and start.sh sleeps 15 s, as the
	// seed does): both clpd get the built commands on PATH and a stand-in region (mfes_test.go).
	useMFESRegion(t, s.bin)
	cs := clustertest.NewMulti(t, s.bin, dir, etcd.URL, []string{"server1", "server2"}, groups)
	s1, s2 := cs[0], cs[1]
	s1.Start(t)
	s2.Start(t)

	logOf := func(c *clustertest.Cluster, name string) string {
		b, _ := os.ReadFile(filepath.Join(c.LogDir, "failover1."+name+".log"))
		return resource.ScriptOutput(string(b))
	}
	expect := func(c *clustertest.Cluster, lines ...string) {
		t.Helper()
		for _, n := range names {
			var want strings.Builder
			for _, block := range lines {
				// Each block is one script run: its branch lines, the service line, EXIT.
				want.WriteString(block)
				if svc := templateService[n]; svc != "" {
					want.WriteString(svc + " " + strings.Split(block, "|")[0] + "\n")
				}
				want.WriteString("EXIT\n")
			}
			got := logOf(c, n)
			if w := strings.NewReplacer("start|", "", "stop|", "").Replace(want.String()); got != w {
				t.Errorf("%s on %s: log\n%s\nwant\n%s", n, c.Server, got, w)
			}
		}
	}

	if out := s1.MustRun(t, "clpgrp", "-s", "failover1"); out != "Command succeeded.\n" {
		t.Fatalf("clpgrp -s: %q", out)
	}
	expect(s1, "start|NORMAL1\nNORMAL2\n")

	// Server1's daemon dies; its lease expires and server2 takes the group over.
	s1.Kill(t)
	clustertest.WaitFor(t, 45*time.Second, "failover to server2", func() bool {
		so, _, _ := s2.Run(t, "clpstat")
		return strings.Contains(so, "    failover1 .......: Online           \n      current        : server2\n")
	})
	expect(s2, "start|FAILOVER1\nON_OTHER2\n")

	// Server1 comes back: what it had is fenced (another server owns the group), nothing runs twice.
	s1.Start(t)
	if cur := s1.MustRun(t, "clpgrp", "-n", "failover1"); cur != "server2\n" {
		t.Fatalf("clpgrp -n on server1 after its return: %q", cur)
	}
	expect(s1, "start|NORMAL1\nNORMAL2\n")
	// Starting it here while server2 holds it is refused, -f or not.
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"-s", "failover1"}, "The group has already been started on the other server. To start/stop the group on the local server, use -f option.\n"},
		{[]string{"-s", "failover1", "-f"}, "The group is running on server server2; -f cannot start it here while that server holds it. Stop it there, or move it with clpgrp -m.\n"},
	} {
		if _, se, code := s1.Run(t, "clpgrp", tt.args...); code != 1 || se != tt.stderr {
			t.Errorf("clpgrp %v on server1: exit %d, %q", tt.args, code, se)
		}
	}

	// Move it home: stop.sh on server2 with CLP_FACTOR=GROUPMOVE, start.sh on server1 with START.
	if out := s2.MustRun(t, "clpgrp", "-m", "failover1"); out != "Command succeeded.\n" {
		t.Fatalf("clpgrp -m: %q", out)
	}
	expect(s2, "start|FAILOVER1\nON_OTHER2\n", "stop|FAILOVER1\nON_OTHER2\n")
	expect(s1, "start|NORMAL1\nNORMAL2\n", "start|NORMAL1\nNORMAL2\n")
	// Three starts (on server1, the failover to server2, the move home) and the move's stop,
	// for each of the two services: a killed clpd runs no stop script.
	got, _ := os.ReadFile(calls)
	for _, svc := range []string{"smbd", "nfs-server"} {
		if n := strings.Count(string(got), "service "+svc+" start\n"); n != 3 {
			t.Errorf("service %s start ran %d times, want 3:\n%s", svc, n, got)
		}
		if n := strings.Count(string(got), "service "+svc+" stop\n"); n != 1 {
			t.Errorf("service %s stop ran %d times, want 1:\n%s", svc, n, got)
		}
	}
	want := ` ========================  CLUSTER STATUS  ===========================
  Cluster : cluster1
  <server>
    server1 .........: Online           
      leasehb1       : Normal           etcd Lease Heartbeat
   *server2 .........: Online           
      leasehb1       : Normal           etcd Lease Heartbeat
  <group>
    failover1 .......: Online           
      current        : server1
      mfes           : Online           
      samba          : Online           
      samba-monitor  : Online           
      nfs            : Online           
      nfs-monitor    : Online           
  <monitor>
 =====================================================================
`
	if got := s2.MustRun(t, "clpstat"); got != want {
		t.Errorf("clpstat on server2:\n%s\nwant:\n%s", got, want)
	}
	// clpcl -a names every server, and says which it could not reach: this cluster's store needs
	// no certificates, and without them the servers cannot reach each other.
	so, _, code := s1.Run(t, "clpcl", "--suspend", "-a")
	if code != 1 || so != "Suspend server1 : Command succeeded.\nSuspend server2 : Could not connect to server server2: this server has no cluster certificates in "+filepath.Join(dir, "server1", "data", "pki")+"; create them with clpd --make-certs and copy them to every server.\n" {
		t.Errorf("clpcl --suspend -a: exit %d\n%s", code, so)
	}
	s1.MustRun(t, "clpcl", "--resume")
}
