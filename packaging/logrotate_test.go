// Package packaging holds what make install puts beside the commands (the systemd unit, the
// logrotate file); its tests run them with the real tools.
package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The logrotate file rotates the suite's logs in place (writers keep their descriptors) and leaves
// the store's own log, which clpd rotates itself, alone.
func TestLogrotate(t *testing.T) {
	bin, err := exec.LookPath("logrotate")
	if err != nil {
		t.Skip("logrotate is not installed (Debian: apt-get install logrotate)")
	}
	if os.Geteuid() != 0 {
		t.Skip("logrotate refuses a configuration not owned by root")
	}
	conf, err := os.ReadFile("clpkit.logrotate")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logs := filepath.Join(dir, "log")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(logs, "etcd"), 0o755))
	for _, f := range []string{"alert.log", "failover1.exec1.log", "etcd/etcd.log"} {
		must(os.WriteFile(filepath.Join(logs, f), []byte("a line of "+f+"\n"), 0o644))
	}
	// A writer that keeps its log open, as a running script does.
	w, err := os.OpenFile(filepath.Join(logs, "failover1.exec1.log"), os.O_WRONLY|os.O_APPEND, 0)
	must(err)
	defer w.Close()

	c := filepath.Join(dir, "clpkit")
	must(os.WriteFile(c, []byte(strings.ReplaceAll(string(conf), "/var/log/clpkit", logs)), 0o644))
	out, err := exec.Command(bin, "-f", "-s", filepath.Join(dir, "state"), c).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate: %v\n%s", err, out)
	}
	for _, f := range []string{"alert.log", "failover1.exec1.log"} {
		if b, err := os.ReadFile(filepath.Join(logs, f)); err != nil || len(b) != 0 {
			t.Errorf("%s after rotation: %q, %v (want it truncated in place)", f, b, err)
		}
		if b, err := os.ReadFile(filepath.Join(logs, f+".1")); err != nil || string(b) != "a line of "+f+"\n" {
			t.Errorf("%s.1: %q, %v", f, b, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(logs, "etcd", "etcd.log")); string(b) != "a line of etcd/etcd.log\n" {
		t.Errorf("the store's log was touched: %q", b)
	}
	// The open writer goes on writing to the live file.
	_, err = w.WriteString("after\n")
	must(err)
	if b, _ := os.ReadFile(filepath.Join(logs, "failover1.exec1.log")); !strings.Contains(string(b), "after\n") {
		t.Errorf("the writer's line is not in the live log: %q", b)
	}
}
