// Package fsservers starts real file servers on loopback for tests and benchmarks: Samba's smbd
// with a configuration, state directories and port of its own (StartSamba), and nfs-ganesha
// registered with rpcbind (StartNFS). Nothing is faked: the probes of clp_sambamon and clp_nfsmon
// are tested against the servers operators run.
//
// Both need root (smbd refuses to run otherwise, ganesha binds privileged ports and registers with
// rpcbind). A test skips with a one-line reason when a server binary is not installed; .ci/run
// installs them (samba, nfs-ganesha, nfs-ganesha-mem, rpcbind).
package fsservers

import (
	"bytes"
	"context"
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

	"clpkit/internal/clustertest"
)

// Binary returns the path of a server program, looking in the sbin directories too (a test's PATH
// may lack them). The test is skipped when the program is not installed.
func Binary(tb testing.TB, name, pkg string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	tb.Skipf("%s is not installed (apt-get install %s)", name, pkg)
	return ""
}

// RequireRoot fails the test when not run as root: the servers cannot run otherwise, and CI
// runs as root.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("the file-server tests run smbd and nfs-ganesha, which need root")
	}
}

// FreePort returns a loopback port that was free for both TCP and UDP a moment ago.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	tb.Fatal("no port free for both TCP and UDP")
	return 0
}

// ClosedPort returns a loopback port on which nothing listens, over TCP or UDP, a moment ago.
func ClosedPort(tb testing.TB) int { return FreePort(tb) }

// server is a server process started by a test, in a process group of its own so that it, its
// children and only they can be signalled together.
type server struct {
	name string
	proc *clustertest.Proc
	out  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startServer(tb testing.TB, name string, argv []string, env []string) *server {
	tb.Helper()
	s := &server{name: name, out: &lockedBuffer{}}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.Env = env
	// Its own process group: smbd signals its whole group when it exits, which must not be the
	// test binary's, and Freeze stops every process of the server at once.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s.proc = clustertest.StartProc(tb, cmd)
	return s
}

// PID is the server's main process.
func (s *server) PID() int { return s.proc.Cmd.Process.Pid }

// Running reports whether the server process has not exited.
func (s *server) Running() bool { return s.proc.Running() }

func (s *server) signalGroup(sig syscall.Signal) {
	if s.Running() {
		_ = syscall.Kill(-s.proc.Cmd.Process.Pid, sig)
	}
}

// Freeze stops every process of the server with SIGSTOP: connections are still accepted by the
// kernel, but nothing answers, which is what a hung server looks like to a client. It returns
// once every thread has stopped: a signal is delivered asynchronously, and a thread busy on
// another CPU could otherwise still answer the next request.
func (s *server) Freeze() {
	s.signalGroup(syscall.SIGSTOP)
	deadline := time.Now().Add(5 * time.Second)
	for !s.groupStopped() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// groupStopped reports whether every thread of every process in the server's process group is
// in the stopped state.
func (s *server) groupStopped() bool {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	pgid := strconv.Itoa(s.proc.Cmd.Process.Pid)
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		f := statFields(filepath.Join("/proc", p.Name(), "stat"))
		if len(f) < 3 || f[2] != pgid || f[0] == "Z" {
			continue // fields after the name: state, ppid, pgrp
		}
		tasks, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "task"))
		for _, task := range tasks {
			tf := statFields(filepath.Join("/proc", p.Name(), "task", task.Name(), "stat"))
			if len(tf) > 0 && tf[0] != "T" && tf[0] != "t" && tf[0] != "Z" && tf[0] != "X" {
				return false
			}
		}
	}
	return true
}

// statFields returns the fields of a /proc stat file after the command name.
func statFields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b)[i+1:])
}

// Thaw resumes a frozen server.
func (s *server) Thaw() { s.signalGroup(syscall.SIGCONT) }

// stop ends the server with SIGTERM (after SIGCONT, in case it is frozen) and waits for it;
// after timeout it kills the whole group. It returns an error when the server had to be killed.
func (s *server) stop(timeout time.Duration) error {
	if !s.Running() {
		return nil
	}
	s.signalGroup(syscall.SIGCONT)
	_ = s.proc.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.proc.Done():
		// The main process is gone; make sure no child of it lingers in the group.
		_ = syscall.Kill(-s.proc.Cmd.Process.Pid, syscall.SIGKILL)
		return nil
	case <-time.After(timeout):
		_ = syscall.Kill(-s.proc.Cmd.Process.Pid, syscall.SIGKILL)
		<-s.proc.Done()
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", s.name, timeout)
	}
}

// Output is what the server printed.
func (s *server) Output() string { return s.out.String() }

// waitUntil polls cond until it holds, the server exits, or d passes.
func (s *server) waitUntil(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		if !s.Running() {
			tb.Fatalf("%s exited before %s:\n%s", s.name, what, tail(s.Output(), 40))
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("%s: timed out after %s waiting for %s:\n%s", s.name, d, what, tail(s.Output(), 40))
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// openDirs makes dir and its parent traversable by everyone: t.TempDir creates them 0700, and
// smbd serves a guest as "nobody", who must be able to enter the share's path.
func openDirs(tb testing.TB, dir string) {
	tb.Helper()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
}

// tcpUp reports whether something accepts TCP connections at addr.
func tcpUp(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// run runs a helper program to its end, with a time limit.
func run(ctx context.Context, argv []string, stdin string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out), nil
}
