package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
