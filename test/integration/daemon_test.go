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
	c := clustertest.New(t, s.bin, dir, `
[[group]]
name = "failover1"

[[group.resource]]
name = "exec1"
type = "exec"
start = "scripts/exec1/start.sh"
stop = "scripts/exec1/stop.sh"
`)
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
