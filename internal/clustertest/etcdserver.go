package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"clpkit/pkg/pki"
	"clpkit/pkg/procwatch"
	"clpkit/pkg/store"
)

const (
	// etcdBinary is the distribution's etcd (Debian's etcd-server package).
	etcdBinary = "/usr/bin/etcd"
	// etcdReadyTimeout bounds how long StartEtcdServer and Start wait for the member to answer.
	etcdReadyTimeout = 20 * time.Second
	// etcdStopGrace is how long Stop waits after SIGTERM before SIGKILL.
	etcdStopGrace = 5 * time.Second
)

// EtcdServerOptions describe a real etcd process for StartEtcdServer. Only TLS is required.
type EtcdServerOptions struct {
	// Name is the member's name; default "etcd".
	Name string
	// Dir holds the member's data (Dir/data) and its log (Dir/etcd.log); default a new
	// directory of the test.
	Dir string
	// TLS is the member's certificate and key and the cluster CA: the member serves only
	// mutual TLS, on its client and on its peer URL.
	TLS pki.Files
	// ClientURL and PeerURL default to https:// on free loopback ports.
	ClientURL string
	PeerURL   string
	// InitialCluster is "name=peerURL,..."; default this member alone.
	InitialCluster string
	// TickMs and ElectionMs are etcd's --heartbeat-interval and --election-timeout; default 50
	// and 500, which let the member grant 1-second leases.
	TickMs     uint
	ElectionMs uint
	// Args are more etcd flags, appended last.
	Args []string
	// Command makes the command that runs etcd; default exec.Command. A network-namespace lab
	// passes one that runs it inside a namespace (ip netns exec ns etcd ...). Signals go to the
	// command's process group.
	Command func(name string, args ...string) *exec.Cmd
	// Dial, when set, is how the readiness check reaches ClientURL (say from inside a lab's
	// namespace, when the test's own namespace has no route to it); default a plain TCP dial.
	Dial func(ctx context.Context, addr string) (net.Conn, error)
}

// EtcdServer is a real etcd member (the /usr/bin/etcd binary, not the embedded one clpd
// links) serving mutual TLS: the external store of a test cluster, or an etcd of another
// version to check clpd's client against. Stop, Kill, Pause and Start cut it away and bring it
// back on the same data and URLs. No etcd process outlives the test.
type EtcdServer struct {
	o       EtcdServerOptions
	dataDir string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	started time.Time
}

// StartEtcdServer starts an etcd member and waits until it answers over TLS; it fails the test
// with the end of etcd's log if the member does not answer within 20 s, and skips the test when
// the etcd binary is not installed.
func StartEtcdServer(tb testing.TB, o EtcdServerOptions) *EtcdServer {
	tb.Helper()
	return StartEtcdCluster(tb, []EtcdServerOptions{o})[0]
}

// StartEtcdCluster starts the members of one etcd cluster and waits until each answers, as
// StartEtcdServer does for one. All start before any is waited for: a member answers only once
// a quorum runs. Members without InitialCluster get one of all of them; unnamed ones are named
// etcd1, etcd2, ...
func StartEtcdCluster(tb testing.TB, opts []EtcdServerOptions) []*EtcdServer {
	tb.Helper()
	if _, err := os.Stat(etcdBinary); err != nil {
		tb.Skipf("%s is not installed (apt-get install etcd-server): %v", etcdBinary, err)
	}
	servers := make([]*EtcdServer, len(opts))
	var initial []string
	for i, o := range opts {
		if o.TLS == (pki.Files{}) {
			tb.Fatal("StartEtcdServer: EtcdServerOptions.TLS is empty: make the member's certificates with pki.EnsureCA and pki.EnsureServer")
		}
		if o.Name == "" {
			o.Name = "etcd"
			if len(opts) > 1 {
				o.Name = fmt.Sprintf("etcd%d", i+1)
			}
		}
		if o.Dir == "" {
			o.Dir = tb.TempDir()
		}
		if o.ClientURL == "" {
			o.ClientURL = fmt.Sprintf("https://127.0.0.1:%d", FreePort(tb))
		}
		if o.PeerURL == "" {
			o.PeerURL = fmt.Sprintf("https://127.0.0.1:%d", FreePort(tb))
		}
		if o.TickMs == 0 {
			o.TickMs = 50
		}
		if o.ElectionMs == 0 {
			o.ElectionMs = 500
		}
		if o.Command == nil {
			o.Command = exec.Command
		}
		initial = append(initial, o.Name+"="+o.PeerURL)
		servers[i] = &EtcdServer{o: o, dataDir: filepath.Join(o.Dir, "data"), logPath: filepath.Join(o.Dir, "etcd.log")}
	}
	for _, s := range servers {
		if s.o.InitialCluster == "" {
			s.o.InitialCluster = strings.Join(initial, ",")
		}
		tb.Cleanup(s.Stop)
		s.launch(tb)
	}
	for _, s := range servers {
		s.ready(tb)
	}
	return servers
}

// URL is the member's client URL.
func (s *EtcdServer) URL() string { return s.o.ClientURL }

// PeerURL is the member's peer URL.
func (s *EtcdServer) PeerURL() string { return s.o.PeerURL }

// LogFile is the file etcd logs to (every run of the member appends to it).
func (s *EtcdServer) LogFile() string { return s.logPath }

// Start starts the member again, on the same data dir and URLs, and waits until it answers (a
// linearizable read, which needs a quorum of the cluster).
func (s *EtcdServer) Start(tb testing.TB) {
	tb.Helper()
	s.launch(tb)
	s.ready(tb)
}

// launch starts the member's process.
func (s *EtcdServer) launch(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		tb.Fatalf("etcd member %s is already running", s.o.Name)
	}
	if err := os.MkdirAll(s.o.Dir, 0o700); err != nil {
		tb.Fatalf("creating the directory of etcd member %s: %v", s.o.Name, err)
	}
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatalf("opening the log of etcd member %s: %v", s.o.Name, err)
	}
	defer logf.Close()
	f := s.o.TLS
	args := []string{
		"--name", s.o.Name,
		"--data-dir", s.dataDir,
		"--listen-client-urls", s.o.ClientURL,
		"--advertise-client-urls", s.o.ClientURL,
		"--listen-peer-urls", s.o.PeerURL,
		"--initial-advertise-peer-urls", s.o.PeerURL,
		// Ignored once the data dir exists: a restarted member rejoins what it was part of.
		"--initial-cluster", s.o.InitialCluster,
		"--initial-cluster-state", "new",
		// One token for all members of one initial cluster, whatever the order they are given.
		"--initial-cluster-token", store.ClusterToken(s.o.InitialCluster),
		"--cert-file", f.Cert, "--key-file", f.Key, "--trusted-ca-file", f.CA, "--client-cert-auth",
		"--peer-cert-file", f.Cert, "--peer-key-file", f.Key, "--peer-trusted-ca-file", f.CA, "--peer-client-cert-auth",
		"--heartbeat-interval", fmt.Sprint(s.o.TickMs),
		"--election-timeout", fmt.Sprint(s.o.ElectionMs),
		"--logger", "zap", "--log-outputs", "stderr",
	}
	cmd := s.o.Command(etcdBinary, append(args, s.o.Args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// Its own process group, so that signals reach etcd behind any wrapper; and SIGKILL should
	// the test binary die without running its cleanups.
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	fmt.Fprintf(logf, "--- %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting etcd member %s: %v", s.o.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.started = time.Now()
}

// ready waits until the launched member answers, or fails the test with the end of its log.
func (s *EtcdServer) ready(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		tb.Fatalf("etcd member %s is not running", s.o.Name)
	}
	if err := s.waitReady(s.done); err != nil {
		s.stopLocked()
		tb.Fatalf("etcd member %s (%s) %v; end of %s:\n%s", s.o.Name, s.o.ClientURL, err, s.logPath, s.logTail())
	}
	tb.Logf("etcd member %s answers at %s after %v", s.o.Name, s.o.ClientURL, time.Since(s.started).Round(time.Millisecond))
}

// waitReady waits until the member answers a linearizable read over TLS.
func (s *EtcdServer) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), etcdReadyTimeout)
	defer cancel()
	tc, err := pki.ClientConfig(s.o.TLS)
	if err != nil {
		return fmt.Errorf("cannot be reached: %w", err)
	}
	opts := []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
		// Retry fast while etcd starts: gRPC's default backoff would add seconds.
		Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
		MinConnectTimeout: time.Second,
	})}
	if s.o.Dial != nil {
		opts = append(opts, grpc.WithContextDialer(s.o.Dial))
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: []string{s.o.ClientURL}, TLS: tc, Logger: zap.NewNop(), DialOptions: opts, Context: ctx,
	})
	if err != nil {
		return fmt.Errorf("cannot be reached: %w", err)
	}
	defer cli.Close()
	var last error
	for {
		actx, acancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, last = cli.Get(actx, "clpkit-ready-probe")
		acancel()
		if last == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited at start-up (%s)", s.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("did not answer within %v (last error: %v)", etcdReadyTimeout, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// logTail is the end of etcd's log, for a test failure.
func (s *EtcdServer) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// Stop stops the member: SIGTERM, then SIGKILL after 5 s. A no-op when it is not running.
func (s *EtcdServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *EtcdServer) stopLocked() {
	if s.cmd == nil {
		return
	}
	s.signal(syscall.SIGTERM)
	// A paused member takes SIGTERM only once it runs again.
	s.signal(syscall.SIGCONT)
	select {
	case <-s.done:
	case <-time.After(etcdStopGrace):
		s.signal(syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
}

// Kill kills the member with SIGKILL, the way a crash or power loss stops it. A no-op when it
// is not running.
func (s *EtcdServer) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// Pause freezes the member (SIGSTOP): its sockets stay open but nothing answers, the way a
// hung store looks to its clients.
func (s *EtcdServer) Pause() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.signal(syscall.SIGSTOP)
		// SIGSTOP is delivered asynchronously: a request sent right after kill(2) returns can
		// still be served by a thread not yet stopped. Wait until every thread is.
		waitStopped(s.cmd.Process.Pid, 5*time.Second)
	}
}

// waitStopped waits until every thread of pid is in the stopped state, or the process is gone,
// or d has passed.
func waitStopped(pid int, d time.Duration) {
	taskDir := fmt.Sprintf("/proc/%d/task", pid)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		tasks, err := os.ReadDir(taskDir)
		if err != nil || len(tasks) == 0 {
			return
		}
		stopped := true
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			if st, err := procwatch.Stat(taskDir, tid); err == nil && st.State != 'T' && st.State != 't' && !st.Exited() {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
	}
}

// Resume lets a paused member run again (SIGCONT).
func (s *EtcdServer) Resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.signal(syscall.SIGCONT)
	}
}

// Running reports whether the member's process runs (paused or not).
func (s *EtcdServer) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// signal sends sig to the member's process group.
func (s *EtcdServer) signal(sig syscall.Signal) {
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = s.cmd.Process.Signal(sig)
	}
}
