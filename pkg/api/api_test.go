package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"clpkit/pkg/status"
)

// refusing is a Service whose group operations all fail with one OpError: enough to show that a
// code and its message cross the wire unchanged.
type refusing struct{ err error }

func (r refusing) Status(context.Context) (status.Cluster, error) {
	return status.Cluster{Name: "c1", LocalServer: "s1"}, nil
}
func (r refusing) StartGroup(context.Context, GroupRequest) error  { return r.err }
func (r refusing) StopGroup(context.Context, GroupRequest) error   { return r.err }
func (r refusing) MoveGroup(context.Context, GroupRequest) error   { return r.err }
func (r refusing) Current(context.Context, string) (string, error) { return "", r.err }
func (r refusing) Cluster(context.Context, ClusterRequest) ([]ServerResult, error) {
	return nil, r.err
}

func (r refusing) Monitors(context.Context, MonitorRequest) ([]status.Monitor, error) {
	return nil, r.err
}
func (r refusing) Resource(context.Context, ResourceRequest) (string, error) { return "", r.err }
func (r refusing) Members(context.Context, MemberRequest) ([]Member, error)  { return nil, r.err }
func (r refusing) Rexec(context.Context, RexecRequest) (RexecResult, error) {
	return RexecResult{}, r.err
}

func TestWireCarriesErrorsAndStatus(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "clpd.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(refusing{err: status.ErrAlreadyStopped()}, nil)}
	go srv.Serve(l)
	defer srv.Close()

	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v (%v), want 0600", fi.Mode(), err)
	}
	if _, err := Listen(sock); !errors.Is(err, ErrInUse) {
		t.Fatalf("a second Listen on a live socket: %v, want ErrInUse", err)
	}

	c := NewClient(sock)
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || st.Name != "c1" || st.LocalServer != "s1" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	err = c.StopGroup(ctx, GroupRequest{Group: "g"})
	var oe *status.OpError
	if !errors.As(err, &oe) || oe.Code != status.CodeAlreadyStopped || oe.Msg != "The group has already been stopped." {
		t.Fatalf("StopGroup error = %#v", err)
	}
	// A plain error becomes an internal one, its text kept.
	sock2 := filepath.Join(t.TempDir(), "clpd.sock")
	l2, err := Listen(sock2)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := &http.Server{Handler: Handler(refusing{err: errors.New("disk on fire")}, nil)}
	go srv2.Serve(l2)
	defer srv2.Close()
	if err := NewClient(sock2).StartGroup(ctx, GroupRequest{}); Code(err) != status.CodeInternal || err.Error() != "disk on fire" {
		t.Fatalf("StartGroup error = %v (%s)", err, Code(err))
	}
}

func TestStaleSocketIsReplacedAndNoDaemonIsSaid(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "clpd.sock")
	// A socket file nobody listens on, as a killed clpd leaves behind.
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	err = NewClient(sock).StartGroup(context.Background(), GroupRequest{Group: "g"})
	if Code(err) != CodeNoDaemon || err.Error() != "Could not connect to the server. Check if the cluster service is active. (clpd does not answer on "+sock+")" {
		t.Fatalf("no daemon: %v", err)
	}
	l2, err := Listen(sock)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l2.Close()
}

// A clpd that takes connections but answers nothing (frozen: SIGSTOP, or starved) is reported as
// such within the liveness bound, instead of keeping the command waiting forever; a live one
// tells its api_timeout, which bounds a request made without a deadline.
func TestClientGivesUpOnFrozenDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "clpd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() // never served: connections wait in the backlog, as with a stopped process
	c := NewClient(sock)
	c.alive = 300 * time.Millisecond
	start := time.Now()
	err = c.StopGroup(context.Background(), GroupRequest{Group: "g"})
	want := "Could not connect to the server. Check if the cluster service is active. (clpd on " + sock + " took the connection but did not answer within 300ms: it is frozen or starved)"
	if err == nil || err.Error() != want || Code(err) != CodeNoDaemon {
		t.Fatalf("StopGroup on a frozen clpd: %v\nwant %s", err, want)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("gave up after %v", took)
	}

	sock2 := filepath.Join(t.TempDir(), "clpd.sock")
	l2, err := Listen(sock2)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(timed{refusing{err: status.ErrAlreadyStopped()}}, nil)}
	go srv.Serve(l2)
	defer srv.Close()
	p, err := NewClient(sock2).Ping(context.Background())
	if err != nil || p.APITimeout != 42 {
		t.Fatalf("Ping = %+v, %v", p, err)
	}
}

type timed struct{ refusing }

func (timed) APITimeout() time.Duration { return 42 * time.Second }
