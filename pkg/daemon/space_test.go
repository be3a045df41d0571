package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A data directory with no room for the store stops clpd at once with one plain line, in the
// error it exits with and in the alert log, instead of a panic deep inside etcd (exit status 2,
// which the shipped unit never restarts on).
func TestDataDirFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", data, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("mounting a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(data, syscall.MNT_DETACH) })
	cfg := filepath.Join(root, "cluster.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[cluster]
name = "c1"

[paths]
data_dir = %q
log_dir = %q
run_dir = %q

[[server]]
name = "server1"
address = "127.0.0.1"
etcd_client_url = "https://127.0.0.1:1"
etcd_peer_url = "https://127.0.0.1:2"
`, data, filepath.Join(root, "log"), filepath.Join(root, "run"))), 0o644); err != nil {
		t.Fatal(err)
	}
	alerts := filepath.Join(root, "alert.log")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Run(ctx, Options{
		ConfigPath: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Env: func(k string) string {
			if k == "CLPKIT_ALERT_LOG" {
				return alerts
			}
			return ""
		},
		Hostname: os.Hostname,
	})
	re := regexp.MustCompile(`^data dir ` + regexp.QuoteMeta(data) + ` is full \([0-8] MiB free; the store needs 96 MiB\): free some space there, or move \[paths\] data_dir$`)
	if !errors.Is(err, ErrDataDirFull) || !re.MatchString(err.Error()) {
		t.Fatalf("Run on a full data dir: %v\nwant %s", err, re)
	}
	b, _ := os.ReadFile(alerts)
	if !strings.Contains(string(b), err.Error()) {
		t.Fatalf("the alert log does not say it:\n%s", b)
	}
}
