package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"clpkit/internal/clustertest"
)

var commandGroups = group("failover1", `comment = "Group for tests"`, "auto_start = true") +
	execResource("exec1", "scripts/exec1") +
	group("container-recovery", "auto_start = false") +
	execResource("exec-with-a-long-name", "scripts/exec1")

func commandCluster(t *testing.T) *clustertest.Cluster {
	s := setup(t)
	dir := t.TempDir()
	clustertest.Script(t, dir, "scripts/exec1/start.sh", "exit 0\n")
	clustertest.Script(t, dir, "scripts/exec1/stop.sh", "exit 0\n")
	c := clustertest.New(t, s.bin, dir, commandGroups)
	c.Start(t)
	// failover1 starts by itself (auto_start).
	waitOnline(t, c, "failover1")
	return c
}

// commandStatus is clpstat's default block for commandCluster: server1 and its heartbeat, the
// group failover1 with where it runs (current) and its resource exec1, each in the given state;
// container-recovery is Offline.
func commandStatus(server, heartbeat, group, current, exec1 string) string {
	return fmt.Sprintf(` ========================  CLUSTER STATUS  ===========================
  Cluster : cluster1
  <server>
   *server1 .........: %-17sPrimary server
      leasehb1       : %-17setcd Lease Heartbeat
  <group>
    failover1 .......: %-17sGroup for tests
      current        : %s
      exec1          : %-17s
    container-recove : Offline          
      current        : None
      exec-with-a-lo : Offline          
  <monitor>
 =====================================================================
`, server, heartbeat, group, current, exec1)
}

// TestClpstatLayout checks the live default block byte for byte.
func TestClpstatLayout(t *testing.T) {
	c := commandCluster(t)
	want := commandStatus("Online", "Normal", "Online", "server1", "Online")
	if got := c.MustRun(t, "clpstat"); got != want {
		t.Errorf("clpstat:\n%s\nwant:\n%s", got, want)
	}
	if got := c.MustRun(t, "clpstat", "--local"); got != want {
		t.Errorf("clpstat --local:\n%s\nwant:\n%s", got, want)
	}
	wantG := ` ======================  GROUPMAP INFORMATION  =======================
  Cluster : cluster1
   *server0 : server1

  --------------------------------------------------------------------
    server0 [o] : failover1[o] 
 =====================================================================
`
	if got := c.MustRun(t, "clpstat", "-g"); got != wantG {
		t.Errorf("clpstat -g:\n%s\nwant:\n%s", got, wantG)
	}
	long := c.MustRun(t, "clpstat", "--long")
	if !strings.Contains(long, "    failover1 ........................: Online           Group for tests\n") {
		t.Errorf("clpstat --long:\n%s", long)
	}
	js := c.MustRun(t, "clpstat", "-o", "json")
	for _, frag := range []string{`"schema": "clpkit.status/v1"`, `"name": "failover1"`, `"current": "server1"`, `"state": "Online"`} {
		if !strings.Contains(js, frag) {
			t.Errorf("clpstat -o json lacks %s:\n%s", frag, js)
		}
	}
	// The local server's name, the way clparping's genw.sh gets it.
	pipe := exec.Command("/bin/sh", "-c", `"$0" --local | grep "*" | sed -E 's/[\t ]+\*//g' | sed -E 's/[\t ].*//g'`, filepath.Join(c.Bin, "clpstat"))
	pipe.Env = c.Env()
	out, err := pipe.Output()
	if err != nil || string(out) != "server1\n" {
		t.Errorf("clparping's local-server pipeline gave %q (%v), want server1", out, err)
	}
}

// TestClpgrpFailures checks that every refusal is one line on stderr and exit 1.
func TestClpgrpFailures(t *testing.T) {
	c := commandCluster(t)
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"-s", "nosuch"}, "Invalid group name. Specify a valid group name in the cluster. (nosuch)\n"},
		{[]string{"-s", "failover1"}, "The group has already been started on the local server.\n"},
		{[]string{"-t", "container-recovery"}, "The group has already been stopped.\n"},
		{[]string{"-m", "failover1"}, "No server to move group failover1 to: no other server of its failover policy is Online.\n"},
		{[]string{"-m", "failover1", "-a", "server9"}, "Invalid server. Specify a server that can run and stop the group, or a server that can be a target when you move the group. (server9)\n"},
		{[]string{"-s", "failover1", "-h", "server9"}, "Invalid server. Specify a server that can run and stop the group, or a server that can be a target when you move the group. (server9)\n"},
		{[]string{"-s", "-t"}, "Invalid option. Give exactly one of -s, -t, -m or -n (see clpgrp --help).\n"},
		{[]string{}, "Invalid option. Give exactly one of -s, -t, -m or -n (see clpgrp --help).\n"},
		{[]string{"-x"}, "clpgrp: option -x is not supported yet\n"},
		{[]string{"-s", "a", "b"}, "Invalid option. Give at most one group name, not [\"a\" \"b\"].\n"},
		{[]string{"-n", "nosuch"}, "Invalid group name. Specify a valid group name in the cluster. (nosuch)\n"},
	}
	for _, tt := range tests {
		so, se, code := c.Run(t, "clpgrp", tt.args...)
		if code != 1 || so != "" || se != tt.stderr {
			t.Errorf("clpgrp %s: exit %d, stdout %q, stderr %q; want exit 1, stderr %q", strings.Join(tt.args, " "), code, so, se, tt.stderr)
		}
	}
	// A group that runs nowhere: -n prints nothing and succeeds (scripts test for "").
	if so, se, code := c.Run(t, "clpgrp", "-n", "container-recovery"); code != 0 || so != "" || se != "" {
		t.Errorf("clpgrp -n of a stopped group: exit %d, %q, %q", code, so, se)
	}
	// Legacy order: the group name between flags.
	if out := c.MustRun(t, "clpgrp", "-s", "container-recovery", "-h", "server1", "--apito", "60"); out != "Command succeeded.\n" {
		t.Errorf("clpgrp -s container-recovery -h server1: %q", out)
	}
	// No group: every group; those already stopped are not an error.
	if out := c.MustRun(t, "clpgrp", "-t"); out != "Command succeeded.\n" {
		t.Errorf("clpgrp -t: %q", out)
	}
	if st := c.MustRun(t, "clpstat"); strings.Contains(st, ": Online    ") && strings.Contains(st, "<group>\n    failover1 .......: Online") {
		t.Errorf("groups still online after clpgrp -t:\n%s", st)
	}
}

// TestClpcl stops and starts the cluster service on this server.
func TestClpcl(t *testing.T) {
	c := commandCluster(t)
	if out := c.MustRun(t, "clpcl", "-t"); out != "Stop server1 : Command succeeded.\n" {
		t.Fatalf("clpcl -t: %q", out)
	}
	// A stopped cluster is still shown, all Offline (like CLUSTERPRO's Sample B), exit 0.
	want := commandStatus("Offline", "Offline", "Offline", "None", "Offline")
	if got := c.MustRun(t, "clpstat"); got != want {
		t.Errorf("clpstat of a stopped cluster:\n%s\nwant:\n%s", got, want)
	}
	if _, se, code := c.Run(t, "clpgrp", "-s", "failover1"); code != 1 || se != "The cluster service is not started on server server1. Start it with: clpcl -s\n" {
		t.Errorf("clpgrp -s on a stopped cluster: exit %d, %q", code, se)
	}
	if out := c.MustRun(t, "clpcl", "-s", "-a"); out != "Start server1 : Command succeeded.\n" {
		t.Fatalf("clpcl -s -a: %q", out)
	}
	waitOnline(t, c, "failover1")
	if out := c.MustRun(t, "clpcl", "--suspend"); out != "Suspend server1 : Command succeeded.\n" {
		t.Fatalf("clpcl --suspend: %q", out)
	}
	if _, se, code := c.Run(t, "clpgrp", "-t", "failover1"); code != 1 || se != "The cluster is suspended. Resume it with: clpcl --resume\n" {
		t.Errorf("clpgrp -t while suspended: exit %d, %q", code, se)
	}
	suspendedLine := "   *server1 .........: Online           Primary server (cluster suspended)\n"
	if st := c.MustRun(t, "clpstat"); !strings.Contains(st, suspendedLine) {
		t.Errorf("clpstat while suspended:\n%s", st)
	}
	// Suspension outlives the daemon: clpd stopping (SIGTERM) still stops its groups, and the
	// restarted clpd is suspended and auto-starts nothing.
	c.Stop(t)
	c.Start(t)
	// clpstat answers as soon as clpd serves, before the join: wait for the server to be Online.
	clustertest.WaitFor(t, 10*time.Second, "server1 Online again", func() bool {
		st, _, _ := c.Run(t, "clpstat")
		return strings.Contains(st, "   *server1 .........: Online ")
	})
	if st := c.MustRun(t, "clpstat"); !strings.Contains(st, suspendedLine) || !strings.Contains(st, "    failover1 .......: Offline") {
		t.Errorf("clpstat after a restart while suspended:\n%s", st)
	}
	if out := c.MustRun(t, "clpcl", "--resume"); out != "Resume server1 : Command succeeded.\n" {
		t.Fatalf("clpcl --resume: %q", out)
	}
	if st := c.MustRun(t, "clpstat"); strings.Contains(st, "suspended") {
		t.Errorf("clpstat after resume:\n%s", st)
	}
	alerts, _ := os.ReadFile(c.AlertLog)
	for _, want := range []string{
		" pm 35 INFO Received a request to suspend the cluster daemon from server1.\n",
		" pm 34 INFO Received a request to resume the cluster daemon from server1.\n",
		" pm 1 INFO Starting the cluster daemon...\n",
		" pm 2 INFO Shutting down the cluster daemon...\n",
	} {
		if !strings.Contains(string(alerts), want) {
			t.Errorf("alert log lacks %q:\n%s", want, alerts)
		}
	}
	if out := c.MustRun(t, "clpcl", "-r"); out != "Restart server1 : Command succeeded.\n" {
		t.Fatalf("clpcl -r: %q", out)
	}
	if _, se, code := c.Run(t, "clpcl", "-s", "-t"); code != 1 || se != "Invalid option. Give exactly one of -s, -t, -r, --suspend or --resume (see clpcl --help).\n" {
		t.Errorf("clpcl -s -t: exit %d, %q", code, se)
	}
	// clpd told to stop while its cluster service is already stopped exits at once, with 0.
	c.MustRun(t, "clpcl", "-t")
	began := time.Now()
	c.Stop(t)
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("clpd took %s to exit on SIGTERM with its service stopped", d)
	}
}

// TestDaemonNotRunning: every client says so in one line and exits 1.
func TestDaemonNotRunning(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	c := clustertest.New(t, s.bin, dir, "")
	for _, args := range [][]string{{"clpstat"}, {"clpgrp", "-s", "g"}, {"clpgrp", "-n", "g"}, {"clpcl", "-s"}} {
		so, se, code := c.Run(t, args[0], args[1:]...)
		want := "Could not connect to the server. Check if the cluster service is active. (clpd does not answer on " + c.Socket + ")\n"
		if code != 1 || so != "" || se != want {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, so, se)
		}
	}
}

// TestSecondDaemonRefused: a second clpd on the same configuration refuses with exit 3.
func TestSecondDaemonRefused(t *testing.T) {
	c := commandCluster(t)
	cmd := exec.Command(filepath.Join(c.Bin, "clpd"), "-c", c.Config, "--socket", c.Socket)
	cmd.Env = c.Env()
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 3 || !strings.HasPrefix(string(out), "clpd: another clpd is already running (pid ") {
		t.Fatalf("second clpd: %v, %q", err, out)
	}
	// The first one is untouched.
	c.MustRun(t, "clpstat")
}

// TestCheckConfig: clpd --check validates without starting, and names file:line on errors.
func TestCheckConfig(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	c := clustertest.New(t, s.bin, dir, "[[group]]\nname = \"g\"\nbogus = 1\n")
	cmd := exec.Command(filepath.Join(c.Bin, "clpd"), "--check", "-c", c.Config)
	out, _ := cmd.CombinedOutput()
	want := c.Config + ":23: unknown key \"bogus\" in [[group]]: accepted keys are name, comment, servers, auto_start, failback, exclusion, resource\n"
	if cmd.ProcessState.ExitCode() != 2 || string(out) != want {
		t.Fatalf("clpd --check of a bad config: exit %d, %q", cmd.ProcessState.ExitCode(), out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("clpd --check created the data dir")
	}
	// A store that anyone on the network, or any local user, could reach is refused.
	for _, tt := range []struct{ url, msg string }{
		{"http://10.0.0.1:2379", `would expose the cluster's store to the network without TLS: use https:// (the store takes only clients with the cluster's certificates)`},
		{"http://127.0.0.1:2379", `would open the cluster's store to every local user: use https:// (the store takes only clients with the cluster's certificates)`},
	} {
		cfg := filepath.Join(dir, "exposed.toml")
		body := "[cluster]\nname = \"c\"\n[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\netcd_client_url = \"" + tt.url + "\"\n"
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(c.Bin, "clpd"), "--check", "-c", cfg)
		out, _ := cmd.CombinedOutput()
		want := cfg + `:6: server.etcd_client_url "` + tt.url + `" ` + tt.msg + "\n"
		if cmd.ProcessState.ExitCode() != 2 || string(out) != want {
			t.Errorf("clpd --check of a store on %s: exit %d, %q", tt.url, cmd.ProcessState.ExitCode(), out)
		}
	}
	ext := filepath.Join(dir, "external.toml")
	body := "[cluster]\nname = \"c\"\n[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\n[store]\nmode = \"external\"\nendpoints = [\"http://10.0.0.9:2379\"]\n"
	if err := os.WriteFile(ext, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(filepath.Join(c.Bin, "clpd"), "--check", "-c", ext)
	out, _ = cmd.CombinedOutput()
	if want := ext + `:8: store.endpoints "http://10.0.0.9:2379" would expose the cluster's store to the network without TLS: use https:// and name the certificates in [tls] dir` + "\n"; cmd.ProcessState.ExitCode() != 2 || string(out) != want {
		t.Errorf("clpd --check of an external store over http: exit %d, %q", cmd.ProcessState.ExitCode(), out)
	}
}

// waitOnline waits until clpstat shows group Online (clpgrp -n names the server as soon as a
// start begins, before the group is Online).
func waitOnline(t *testing.T, c *clustertest.Cluster, group string) {
	t.Helper()
	line := "    " + group + " " + strings.Repeat(".", 16-len(group)) + ": Online           "
	clustertest.WaitFor(t, 10*time.Second, group+" Online", func() bool {
		so, _, _ := c.Run(t, "clpstat")
		return strings.Contains(so, line)
	})
}
