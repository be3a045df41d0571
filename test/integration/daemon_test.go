package integration

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/clustertest"
)

// TestSystemdNotify: clpd tells systemd READY once it serves, its STATUS, and STOPPING on SIGTERM;
// scripts do not inherit NOTIFY_SOCKET.
func TestSystemdNotify(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	dumpScript(t, dir, "scripts/exec1/start.sh", "exec1-start", "env | grep -c NOTIFY_SOCKET > "+dir+"/notify-seen; exit 0")
	clustertest.Script(t, dir, "scripts/exec1/stop.sh", "exit 0\n")
	c := clustertest.New(t, s.bin, dir, group("failover1")+execResource("exec1", "scripts/exec1"))
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(filepath.Join(c.Bin, "clpd"), "-c", c.Config, "--socket", c.Socket)
	cmd.Env = append(c.Env(), "NOTIFY_SOCKET="+sock)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []string
	read := func(until string) {
		t.Helper()
		buf := make([]byte, 4096)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("waiting for %s, got %q: %v", until, got, err)
			}
			got = append(got, string(buf[:n]))
			if string(buf[:n]) == until {
				return
			}
		}
	}
	read("READY=1")
	read("STATUS=running: server server1 of cluster cluster1")
	// Socket for root only.
	fi, err := os.Stat(c.Socket)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("API socket %s: %v, mode %v; want a socket with mode 0600", c.Socket, err, fi.Mode())
	}
	waitOnline(t, c, "failover1")
	if b, _ := os.ReadFile(filepath.Join(dir, "notify-seen")); strings.TrimSpace(string(b)) != "0" {
		t.Errorf("the start script saw NOTIFY_SOCKET (%q)", b)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	read("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("clpd after SIGTERM: %v", err)
	}
	want := []string{"STATUS=starting the coordination store", "STATUS=joining cluster cluster1", "READY=1", "STATUS=running: server server1 of cluster cluster1"}
	if strings.Join(got[:4], "|") != strings.Join(want, "|") {
		t.Errorf("notifications %q, want to begin with %q", got, want)
	}
}

// TestNotRoot: the commands refuse anyone but root with the legacy message.
func TestNotRoot(t *testing.T) {
	c := commandCluster(t)
	for _, args := range [][]string{{"clpstat"}, {"clpgrp", "-t", "failover1"}, {"clpcl", "-t"}} {
		cmd := exec.Command(filepath.Join(c.Bin, args[0]), args[1:]...)
		cmd.Env = c.Env()
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 1 || string(out) != "Log in as root.\n" {
			t.Errorf("%v as nobody: exit %d, %q", args, cmd.ProcessState.ExitCode(), out)
		}
	}
	// Nothing was stopped.
	waitOnline(t, c, "failover1")
}

// TestStoreOnlyForClpd: the embedded store takes no client but clpd. A user who is not root
// cannot read the cluster's keys, write one, or reach the certificates that would let them; root
// without the certificates is refused too. The cluster goes on unharmed.
func TestStoreOnlyForClpd(t *testing.T) {
	c := commandCluster(t)
	for _, tool := range []string{"curl", "etcdctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (.ci/run installs curl and etcd-client)", tool)
		}
	}
	// The test's own directories are opened up, so that only the modes clpd gives its files stand
	// between another user and the keys.
	for d := c.Dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(c.Dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	attempts := []struct {
		what string
		user *syscall.SysProcAttr
		argv []string
	}{
		{"read every key with curl", nobody, []string{"curl", "-sk", "--max-time", "5", "-X", "POST", c.EtcdURL + "/v3/kv/range", "-d", `{"key":"Lw==","range_end":"MA=="}`}},
		{"write a key with curl", nobody, []string{"curl", "-sk", "--max-time", "5", "-X", "POST", c.EtcdURL + "/v3/kv/put", "-d", `{"key":"L2NscGtpdC94","value":"eA=="}`}},
		{"revoke leases with curl", nobody, []string{"curl", "-sk", "--max-time", "5", "-X", "POST", c.EtcdURL + "/v3/lease/leases", "-d", `{}`}},
		{"enable auth with etcdctl", nobody, []string{"etcdctl", "--endpoints", c.EtcdURL, "--insecure-skip-tls-verify", "--dial-timeout", "3s", "auth", "enable"}},
		{"read every key with etcdctl", nobody, []string{"etcdctl", "--endpoints", c.EtcdURL, "--insecure-skip-tls-verify", "--dial-timeout", "3s", "get", "/", "--prefix"}},
		{"read every key as root without the certificates", nil, []string{"curl", "-sk", "--max-time", "5", "-X", "POST", c.EtcdURL + "/v3/kv/range", "-d", `{"key":"Lw==","range_end":"MA=="}`}},
	}
	// The same requests over plain HTTP fail too (they would work on a store without TLS).
	plain := strings.Replace(c.EtcdURL, "https://", "http://", 1)
	for _, a := range attempts[:3] {
		argv := append([]string(nil), a.argv...)
		for i := range argv {
			argv[i] = strings.Replace(argv[i], c.EtcdURL, plain, 1)
		}
		attempts = append(attempts, struct {
			what string
			user *syscall.SysProcAttr
			argv []string
		}{a.what + " over plain HTTP", a.user, argv})
	}
	for _, a := range attempts {
		cmd := exec.Command(a.argv[0], a.argv[1:]...)
		cmd.SysProcAttr = a.user
		cmd.Env = append(os.Environ(), "ETCDCTL_API=3", "HOME=/")
		out, err := cmd.CombinedOutput()
		if err == nil || strings.Contains(string(out), `"kvs"`) || strings.Contains(string(out), "/clpkit/") {
			t.Errorf("%s: succeeded (err %v):\n%s", a.what, err, out)
		}
	}
	pkiDir := filepath.Join(c.Dir, "data", "pki")
	// With the cluster's certificates the very same read works: the refusals above are the
	// certificates' doing, not a malformed request.
	read := exec.Command("curl", "-s", "--max-time", "5", "--cacert", filepath.Join(pkiDir, "ca.crt"),
		"--cert", filepath.Join(pkiDir, "server1.crt"), "--key", filepath.Join(pkiDir, "server1.key"),
		"-X", "POST", c.EtcdURL+"/v3/kv/range", "-d", `{"key":"Lw==","range_end":"MA=="}`)
	if out, err := read.CombinedOutput(); err != nil || !strings.Contains(string(out), `"kvs"`) {
		t.Errorf("reading the store with the cluster's certificates: %v\n%s", err, out)
	}
	for _, f := range []string{"ca.key", "server1.key"} {
		cmd := exec.Command("cat", filepath.Join(pkiDir, f))
		cmd.SysProcAttr = nobody
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Permission denied") {
			t.Errorf("user nobody read %s: %v %s", f, err, out)
		}
	}
	for _, f := range []string{"ca.key", "server1.key"} {
		fi, err := os.Stat(filepath.Join(pkiDir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(pkiDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s: %v, mode %v; want 0700", pkiDir, err, fi.Mode().Perm())
	}
	waitOnline(t, c, "failover1")
	c.MustRun(t, "clpgrp", "-t", "failover1")
}
