package fsprobe_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/fsprobe"
	"clpkit/test/fsservers"
)

func probeNFS(t fsprobe.NFSTarget, limit time.Duration) (fsprobe.NFSResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return fsprobe.ProbeNFS(ctx, t)
}

// nfsWant is the expected *NFSError, field by field (Err is not compared).
type nfsWant struct {
	step        fsprobe.Step
	transport   string
	stat, inner fsprobe.RPCStat
	errno       syscall.Errno
	mountStatus uint32
}

func wantNFSError(t *testing.T, err error, w nfsWant) {
	t.Helper()
	var ne *fsprobe.NFSError
	if !errors.As(err, &ne) {
		t.Fatalf("error %v (%T), want an *NFSError", err, err)
	}
	got := nfsWant{ne.Step, ne.Transport, ne.Stat, ne.Inner, ne.Errno, ne.MountStatus}
	if got != w {
		t.Fatalf("got %+v (%v), want %+v", got, ne, w)
	}
}

// TestNFSAgainstGanesha probes a real nfs-ganesha through a real rpcbind, then breaks each piece.
// The subtests run in order: the last ones stop the servers.
func TestNFSAgainstGanesha(t *testing.T) {
	n := fsservers.StartNFS(t, fsservers.NFSOptions{})
	base := fsprobe.NFSTarget{Host: "127.0.0.1", Dir: n.Export, MachineName: "clpkit-test", ReservedPort: true}
	at := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	closed := fsservers.ClosedPort(t)

	withPort := base
	withPort.Port = n.Port
	for _, c := range []struct {
		name string
		tg   fsprobe.NFSTarget
	}{
		{"export through the portmapper, over UDP", base},
		{"export with -n: NFS at the port, MOUNT through the portmapper", withPort},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := probeNFS(c.tg, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := fsprobe.NFSResult{Mount: "udp:" + at(n.MountPort), NFS: "udp:" + at(n.Port)}
			if res != want {
				t.Errorf("%+v, want %+v", res, want)
			}
		})
	}
	t.Run("export with -n of the MOUNT port", func(t *testing.T) {
		tg := base
		tg.Port = n.MountPort
		_, err := probeNFS(tg, 5*time.Second)
		// MOUNT answers there; NFS does not.
		wantNFSError(t, err, nfsWant{step: fsprobe.StepNull, transport: "udp", stat: fsprobe.RPCProgUnavail})
	})
	t.Run("unexported directory", func(t *testing.T) {
		tg := base
		tg.Dir = "/clpkit/nosuch"
		_, err := probeNFS(tg, 5*time.Second)
		wantNFSError(t, err, nfsWant{step: fsprobe.StepMount, transport: "udp", stat: fsprobe.RPCSuccess, mountStatus: 13})
	})
	t.Run("nothing at the -n port", func(t *testing.T) {
		tg := base
		tg.Port = closed
		_, err := probeNFS(tg, 5*time.Second)
		wantNFSError(t, err, nfsWant{step: fsprobe.StepMount, transport: "udp", stat: fsprobe.RPCCantRecv, errno: syscall.ECONNREFUSED})
	})
	testFrozen(t, n, 1500*time.Millisecond, func(ctx context.Context) error {
		_, err := fsprobe.ProbeNFS(ctx, base)
		return err
	}, func(t *testing.T, err error) {
		wantNFSError(t, err, nfsWant{step: fsprobe.StepMount, transport: "udp", stat: fsprobe.RPCTimedOut})
	})
	t.Run("ganesha stopped", func(t *testing.T) {
		n.Stop(t)
		_, err := probeNFS(base, 5*time.Second)
		wantNFSError(t, err, nfsWant{step: fsprobe.StepPortmap, transport: "udp", stat: fsprobe.RPCProgNotRegistered})
		tg := base
		tg.Port = n.Port
		_, err = probeNFS(tg, 5*time.Second)
		wantNFSError(t, err, nfsWant{step: fsprobe.StepMount, transport: "udp", stat: fsprobe.RPCCantRecv, errno: syscall.ECONNREFUSED})
	})
	t.Run("rpcbind stopped", func(t *testing.T) {
		n.Rpcbind.Stop(t)
		_, err := probeNFS(base, 5*time.Second)
		wantNFSError(t, err, nfsWant{step: fsprobe.StepPortmap, transport: "udp", stat: fsprobe.RPCPmapFailure,
			inner: fsprobe.RPCCantRecv, errno: syscall.ECONNREFUSED})
	})
}

// TestNFSOverTCP probes a server without UDP (as Linux's own NFS server is by default): the
// portmapper has no UDP port for it, so the probe goes over TCP; with -n, UDP is refused and
// TCP is used.
func TestNFSOverTCP(t *testing.T) {
	n := fsservers.StartNFS(t, fsservers.NFSOptions{TCPOnly: true})
	base := fsprobe.NFSTarget{Host: "127.0.0.1", Dir: n.Export, MachineName: "clpkit-test"}
	want := fsprobe.NFSResult{Mount: fmt.Sprintf("tcp:127.0.0.1:%d", n.MountPort), NFS: fmt.Sprintf("tcp:127.0.0.1:%d", n.Port)}
	for _, port := range []int{0, n.Port} {
		tg := base
		tg.Port = port
		res, err := probeNFS(tg, 5*time.Second)
		if err != nil || res != want {
			t.Errorf("-n %d: %+v %v, want %+v", port, res, err, want)
		}
	}
	n.Freeze()
	defer n.Thaw()
	_, err := probeNFS(base, time.Second)
	wantNFSError(t, err, nfsWant{step: fsprobe.StepMount, transport: "tcp", stat: fsprobe.RPCTimedOut})
	n.Thaw()
	n.Stop(t)
	tg := base
	tg.Port = n.Port
	_, err = probeNFS(tg, 5*time.Second)
	// Nothing on UDP, and TCP refused too: the UDP verdict, as the original reported it.
	wantNFSError(t, err, nfsWant{step: fsprobe.StepMount, transport: "udp", stat: fsprobe.RPCCantRecv, errno: syscall.ECONNREFUSED})
}
