package fsservers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NFS is an nfs-ganesha serving one export (FSAL MEM: in memory, so it needs no capability beyond
// root) over NFSv3 on 127.0.0.1, registered with rpcbind.
//
// rpcbind is one per machine, and so is the registration of NFS and MOUNT in it: while an NFS
// server runs, its test holds a machine-wide lock, so NFS tests of different packages (go test
// runs packages in parallel) take turns.
type NFS struct {
	*server
	// Port is where NFS answers, MountPort where MOUNT does.
	Port, MountPort int
	// Export is the exported path to give clp_nfsmon -d.
	Export  string
	Dir     string
	Rpcbind *Rpcbind
	argv    []string
}

// NFSOptions adjust the server.
type NFSOptions struct {
	// TCPOnly disables UDP, as Linux's kernel server does by default, so that the probe's
	// TCP path is used.
	TCPOnly bool
}

// StartNFS starts rpcbind (unless one runs already) and ganesha.nfsd, and waits until NFS and
// MOUNT version 3 are registered. Both are stopped when the test ends.
func StartNFS(tb testing.TB, o NFSOptions) *NFS {
	tb.Helper()
	RequireRoot(tb)
	ganesha := Binary(tb, "ganesha.nfsd", "nfs-ganesha nfs-ganesha-mem")
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/ganesha/libfsalmem.so"); err != nil {
		if matches, _ := filepath.Glob("/usr/lib/*/ganesha/libfsalmem.so"); len(matches) == 0 {
			tb.Skip("nfs-ganesha's in-memory FSAL is not installed (apt-get install nfs-ganesha-mem)")
		}
	}
	lockMachine(tb)
	rb := EnsureRpcbind(tb)
	rb.dropStale(tb)
	if port, ok := rb.Registered(tb, 100003, 3, "tcp"); ok {
		tb.Skipf("an NFS server the tests did not start is registered with rpcbind (program 100003 on port %d); "+
			"the NFS tests would take its registration over", port)
	}

	dir := tb.TempDir()
	n := &NFS{Port: FreePort(tb), MountPort: FreePort(tb), Export: "/clpkit/export", Dir: dir, Rpcbind: rb}
	udp, transports := "true", "TCP, UDP"
	if o.TCPOnly {
		udp, transports = "false", "TCP"
	}
	conf := fmt.Sprintf(`NFS_CORE_PARAM {
    Bind_Addr = 127.0.0.1;
    NFS_Port = %d;
    MNT_Port = %d;
    Protocols = 3;
    Enable_NLM = false;
    Enable_RQUOTA = false;
    Enable_UDP = %s;
}
NFSV4 { Graceless = true; RecoveryRoot = %s; }
EXPORT {
    Export_Id = 1;
    Path = %s;
    Pseudo = %s;
    Access_Type = RW;
    Squash = No_Root_Squash;
    SecType = sys;
    Protocols = 3;
    Transports = %s;
    FSAL { Name = MEM; }
}
LOG { Default_Log_Level = EVENT; }
`, n.Port, n.MountPort, udp, filepath.Join(dir, "recovery"), n.Export, n.Export, transports)
	confPath := filepath.Join(dir, "ganesha.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	n.argv = []string{ganesha, "-F", "-L", filepath.Join(dir, "ganesha.log"), "-f", confPath, "-p", filepath.Join(dir, "ganesha.pid")}
	n.Restart(tb)
	return n
}

// Restart starts ganesha again, with the same configuration and ports, after Stop.
func (n *NFS) Restart(tb testing.TB) {
	tb.Helper()
	if n.server != nil && n.Running() {
		tb.Fatal("ganesha is running already")
	}
	srv := startServer(tb, "ganesha.nfsd", n.argv, os.Environ())
	n.server = srv
	tb.Cleanup(func() {
		if err := srv.stop(30 * time.Second); err != nil {
			tb.Error(err)
		}
	})
	srv.waitUntil(tb, 30*time.Second, "NFS and MOUNT to be registered with rpcbind", func() bool {
		p1, ok1 := n.Rpcbind.Registered(tb, 100003, 3, "tcp")
		p2, ok2 := n.Rpcbind.Registered(tb, 100005, 3, "tcp")
		return ok1 && ok2 && p1 == n.Port && p2 == n.MountPort
	})
}

// Stop stops ganesha with SIGTERM, which also removes its registrations from rpcbind.
func (n *NFS) Stop(tb testing.TB) {
	tb.Helper()
	if err := n.stop(30 * time.Second); err != nil {
		tb.Error(err)
	}
}

// Log is ganesha's log file.
func (n *NFS) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.Dir, "ganesha.log"))
	return string(b)
}

// Rpcbind is the machine's portmapper: one the tests started (and may stop), or a system one.
type Rpcbind struct {
	*server // nil for a system rpcbind
	bin     string
	rpcinfo string
}

// EnsureRpcbind returns the running rpcbind, starting one when none answers on port 111.
func EnsureRpcbind(tb testing.TB) *Rpcbind {
	tb.Helper()
	rb := &Rpcbind{bin: Binary(tb, "rpcbind", "rpcbind"), rpcinfo: Binary(tb, "rpcinfo", "rpcbind")}
	if tcpUp("127.0.0.1:111") {
		return rb
	}
	rb.Start(tb)
	return rb
}

// Ours reports whether the tests started this rpcbind.
func (r *Rpcbind) Ours() bool { return r.server != nil }

// Start starts rpcbind in the foreground, without the warm start of a previous run's state.
func (r *Rpcbind) Start(tb testing.TB) {
	tb.Helper()
	if err := os.MkdirAll("/run/rpcbind", 0o755); err != nil {
		tb.Fatal(err)
	}
	r.server = startServer(tb, "rpcbind", []string{r.bin, "-f"}, os.Environ())
	srv := r.server
	tb.Cleanup(func() {
		if err := srv.stop(10 * time.Second); err != nil {
			tb.Error(err)
		}
	})
	srv.waitUntil(tb, 10*time.Second, "rpcbind to answer on port 111", func() bool { return tcpUp("127.0.0.1:111") })
}

// Stop stops an rpcbind the tests started. A system rpcbind is not the tests' to stop: the test
// is skipped, with the reason.
func (r *Rpcbind) Stop(tb testing.TB) {
	tb.Helper()
	if !r.Ours() {
		tb.Skip("rpcbind is a system service here, not started by the tests; they do not stop it " +
			"(.ci/run leaves it to the tests)")
	}
	if err := r.stop(10 * time.Second); err != nil {
		tb.Error(err)
	}
	r.waitGone(tb)
}

func (r *Rpcbind) waitGone(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for tcpUp("127.0.0.1:111") {
		if time.Now().After(deadline) {
			tb.Fatal("port 111 still answers after rpcbind stopped (socket activation by systemd?)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var rpcinfoLine = regexp.MustCompile(`^\s*(\d+)\s+(\d+)\s+(tcp|udp)\s+(\d+)`)

// Registered returns the port rpcbind has for prog version vers over proto.
func (r *Rpcbind) Registered(tb testing.TB, prog, vers int, proto string) (int, bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := run(ctx, []string{r.rpcinfo, "-p", "127.0.0.1"}, "")
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(out, "\n") {
		m := rpcinfoLine.FindStringSubmatch(l)
		if m == nil || m[1] != fmt.Sprint(prog) || m[2] != fmt.Sprint(vers) || m[3] != proto {
			continue
		}
		var port int
		fmt.Sscan(m[4], &port)
		return port, true
	}
	return 0, false
}

// dropStale removes NFS and MOUNT registrations whose port no longer answers: what a ganesha
// killed with SIGKILL leaves in a system rpcbind.
func (r *Rpcbind) dropStale(tb testing.TB) {
	tb.Helper()
	for _, p := range []struct{ prog, vers int }{{100003, 3}, {100003, 4}, {100005, 1}, {100005, 3}} {
		port, ok := r.Registered(tb, p.prog, p.vers, "tcp")
		if !ok || tcpUp(fmt.Sprintf("127.0.0.1:%d", port)) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := run(ctx, []string{r.rpcinfo, "-d", fmt.Sprint(p.prog), fmt.Sprint(p.vers)}, "")
		cancel()
		if err != nil {
			tb.Logf("removing the stale registration of %d version %d: %v", p.prog, p.vers, err)
		}
	}
}

// lockMachine takes the machine-wide lock of the NFS tests for the rest of the test: one NFS
// server registered with the one rpcbind at a time.
func lockMachine(tb testing.TB) {
	tb.Helper()
	path := filepath.Join(os.TempDir(), "clpkit-fsservers-nfs.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			tb.Fatalf("locking %s: %v", path, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Cleanup(func() { f.Close() })
}
