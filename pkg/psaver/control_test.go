package psaver

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func touch(t *testing.T, path string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte("IPCKEY 0x1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestClaim: one pcheck per pfile and per IPCKEY; the messages name the other pcheck; a killed
// pcheck's socket does not block the next one.
func TestClaim(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	tmp := t.TempDir()
	pfA := touch(t, filepath.Join(tmp, "pfile_a"))
	pfB := touch(t, filepath.Join(tmp, "pfile_b"))

	a, err := Claim(dir, pfA, 0x10, 111)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, SocketPath(dir, 0x10)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	if b, _ := os.ReadFile(lockPath(dir, 0x10)); string(b) != "111\n"+pfA+"\n" {
		t.Errorf("lock file holds %q", b)
	}

	tests := []struct {
		name, pfile string
		key         uint32
		want        string
	}{
		{"same pfile", pfA, 0x10, pfA + " is already watched by pcheck (pid 111)"},
		{"same pfile, IPCKEY edited", pfA, 0x11, pfA + " is already watched by pcheck (pid 111)"},
		{"same IPCKEY", pfB, 0x10, "IPCKEY 0x00000010 of " + pfB + " is already used by pcheck (pid 111) for " + pfA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := Claim(dir, tt.pfile, tt.key, 222)
			if err == nil {
				in.Close()
				t.Fatal("claimed twice")
			}
			var be *BusyError
			if !errors.As(err, &be) || err.Error() != tt.want {
				t.Errorf("error %v (%T), want %q", err, err, tt.want)
			}
		})
	}
	if h := Holder(dir, pfA); h != (Running{PID: 111, Pfile: pfA, Key: 0x10}) {
		t.Errorf("Holder = %+v", h)
	}
	if h := Holder(dir, pfB); h != (Running{}) {
		t.Errorf("Holder of a pfile nobody runs = %+v", h)
	}

	// A pcheck killed with SIGKILL leaves its socket file behind; the lock is gone with it.
	a.keyLock.Close()
	a.pfileLock.Close()
	a.Listener.SetUnlinkOnClose(false)
	a.Listener.Close()
	if _, err := os.Stat(SocketPath(dir, 0x10)); err != nil {
		t.Fatalf("the stale socket is not there: %v", err)
	}
	if h := Holder(dir, pfA); h.PID != 0 {
		t.Errorf("Holder after the holder died = %+v", h)
	}
	b, err := Claim(dir, pfB, 0x10, 333)
	if err != nil {
		t.Fatalf("claim after a killed holder: %v", err)
	}
	b.Close()
	if _, err := os.Stat(SocketPath(dir, 0x10)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Close: %v", err)
	}
}

// pfileProblem is a Load error that is a pfile problem.
type pfileProblem struct{ msg string }

func (p pfileProblem) Error() string { return p.msg }
func (p pfileProblem) PfileProblem() {}

// TestServer runs padmin's four commands against a real engine through a real socket.
func TestServer(t *testing.T) {
	h := newHarness(t)
	h.startJava("=srv=")
	cfg := h.config(time.Second, h.entry(h.script("s.sh", h.starter("=srv=")), 3, Exit, "=srv="))
	pf := touch(t, cfg.Pfile)
	e, _, _ := h.run(cfg, nil)
	h.expect(Up)
	dir := t.TempDir()
	in, err := Claim(dir, pf, cfg.IPCKey, 4242)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// The server's goroutines read these while the test changes them.
	var mu sync.Mutex
	var loadErr error
	var refuse atomic.Bool
	setLoadErr := func(err error) { mu.Lock(); loadErr = err; mu.Unlock() }
	srv := &Server{Engine: e, Pfile: pf, PID: 4242,
		Load:    func() (Config, error) { mu.Lock(); defer mu.Unlock(); return cfg, loadErr },
		Allowed: func(uid uint32) bool { return !refuse.Load() && (uid == 0 || int(uid) == os.Geteuid()) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, in.Listener) }()
	sock := SocketPath(dir, cfg.IPCKey)
	call := func(cmd, pfile string) Response {
		t.Helper()
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := Call(c, sock, Request{Command: cmd, Pfile: pfile})
		if err != nil {
			t.Fatal(err)
		}
		if r.PID != 4242 || r.Pfile != pf {
			t.Errorf("answer from %d %s", r.PID, r.Pfile)
		}
		return r
	}

	r := call(CmdShow, pf)
	if r.Error != "" || r.State == nil || len(r.State.Entries) != 1 || !r.State.Entries[0].Monitor {
		t.Fatalf("show: %+v", r)
	}
	if r := call(CmdStop, pf); r.Error != "" || r.State.Entries[0].Monitor {
		t.Errorf("stop: %+v", r)
	}
	if r := call(CmdStart, pf); r.Error != "" || !r.State.Entries[0].Monitor {
		t.Errorf("start: %+v", r)
	}
	if r := call(CmdReload, pf); r.Error != "" || r.State.Entries[0].PID == 0 {
		t.Errorf("reload: %+v", r)
	}
	setLoadErr(pfileProblem{"pf:3: grace: bad"})
	if r := call(CmdReload, pf); r.Error != "pf:3: grace: bad" || !r.PfileError || r.State != nil {
		t.Errorf("reload of a bad pfile: %+v", r)
	}
	setLoadErr(errors.New("other"))
	if r := call(CmdReload, pf); r.Error != "other" || r.PfileError {
		t.Errorf("reload failing otherwise: %+v", r)
	}
	if r := call("frobnicate", pf); r.Error != `unknown command "frobnicate"` {
		t.Errorf("unknown command: %+v", r)
	}
	other := touch(t, filepath.Join(t.TempDir(), "other_pfile"))
	if r := call(CmdShow, other); r.Error != "this IPCKEY belongs to pcheck (pid 4242) for "+pf+", not "+other {
		t.Errorf("request for another pfile: %+v", r)
	}
	// The same file through another path is the same pfile.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(pf, link); err != nil {
		t.Fatal(err)
	}
	if r := call(CmdShow, link); r.Error != "" {
		t.Errorf("request through a link: %+v", r)
	}
	refuse.Store(true)
	if r := call(CmdShow, pf); r.Error != "permission denied: only root may control pcheck" {
		t.Errorf("refused peer: %+v", r)
	}

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestCallNotRunning(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, err := Call(ctx, filepath.Join(dir, "none.sock"), Request{Command: CmdShow})
	if !errors.Is(err, ErrNotRunning) {
		t.Errorf("missing socket: %v", err)
	}
	// A socket file nobody listens on (a killed pcheck).
	p := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, err = Call(ctx, p, Request{Command: CmdShow})
	if !errors.Is(err, ErrNotRunning) || !strings.Contains(err.Error(), "nothing listens on "+p) {
		t.Errorf("stale socket: %v", err)
	}
	// A listener that never answers: the context bounds the wait.
	q := filepath.Join(dir, "mute.sock")
	mute, err := net.ListenUnix("unix", &net.UnixAddr{Name: q, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := Call(c, q, Request{Command: CmdShow}); err == nil || !strings.HasPrefix(err.Error(), "pcheck did not answer") {
		t.Errorf("mute pcheck: %v", err)
	}
}

func TestKeyName(t *testing.T) {
	if got := KeyName(0xabcd); got != "0x0000abcd" {
		t.Errorf("KeyName = %q", got)
	}
	if got := SocketPath("/run/x", 0xffffffff); got != "/run/x/0xffffffff.sock" {
		t.Errorf("SocketPath = %q", got)
	}
	if got := RunDir(func(string) string { return "" }); got != DefaultRunDir {
		t.Errorf("RunDir = %q", got)
	}
	if got := RunDir(func(k string) string { return map[string]string{EnvRunDir: "/x"}[k] }); got != "/x" {
		t.Errorf("RunDir = %q", got)
	}
}
