package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
)

// A member started and stopped as asked leaves no error in its log (etcd reports its listeners
// closing as errors), and the log rotates instead of growing without bound.
func TestEtcdLog(t *testing.T) {
	_, f := testPKI(t)
	dir := t.TempDir()
	mc := MemberConfig{
		Name: "server1", Dir: filepath.Join(dir, "etcd"),
		ClientURL: fmt.Sprintf("https://127.0.0.1:%d", memberPort(t)),
		PeerURL:   fmt.Sprintf("https://127.0.0.1:%d", memberPort(t)),
		LogFile:   filepath.Join(dir, "etcd.log"),
		TLS:       f, TickMs: 50, ElectionMs: 500,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := StartMember(ctx, mc)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	b, err := os.ReadFile(mc.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"level":"error"`) {
		t.Fatalf("a clean stop logged errors:\n%s", b)
	}

	var closing atomic.Bool
	path := filepath.Join(dir, "big.log")
	lg := etcdLog(path, &closing)
	line := strings.Repeat("x", 1000)
	for range 12 << 10 {
		lg.Warn(line)
	}
	_ = lg.Sync()
	fi, err := os.Stat(path)
	if err != nil || fi.Size() > 10<<20 {
		t.Fatalf("the current log: %v, %v", fi, err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "big-*.log"))
	if len(old) != 1 {
		t.Fatalf("rotated files: %v", old)
	}
}

// etcd's storage-version monitor reports as an error that a brand-new member has no term yet
// (etcd-io/etcd#18978); the log keeps it as a warning. Other errors stay errors, and the closed
// listeners of a clean stop are dropped only once the stop has begun.
func TestEtcdLogLevels(t *testing.T) {
	var closing atomic.Bool
	path := filepath.Join(t.TempDir(), "etcd.log")
	lg := etcdLog(path, &closing)
	lg.Error("failed to update storage version", zap.String("cluster-version", "3.6.0"), zap.Error(errors.New("cannot detect storage schema version: missing term information")))
	lg.Error("failed to update storage version", zap.Error(errors.New("cannot create migration plan")))
	lg.Error("serve", zap.Error(errors.New("http: Server closed")))
	closing.Store(true)
	lg.Error("serve", zap.Error(errors.New("http: Server closed")))
	_ = lg.Sync()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct{ Level, Msg, Error string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, e.Level+" "+e.Msg+": "+e.Error)
	}
	want := []string{
		"warn failed to update storage version: cannot detect storage schema version: missing term information",
		"error failed to update storage version: cannot create migration plan",
		"error serve: http: Server closed",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
