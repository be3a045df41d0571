package main

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

func TestMain(m *testing.M) {
	cmdtest.Child("clpdown", run)
	os.Exit(m.Run())
}

// fakeClpd is the daemon side of the tests: it records the cluster requests it gets and answers
// each with the result of its server (err in the result) or with a failure of the whole request.
type fakeClpd struct {
	cmdtest.Unused
	mu        sync.Mutex
	reqs      []api.ClusterRequest
	resultErr *status.OpError // the server's result carries it
	err       error           // the request fails with it
}

func (f *fakeClpd) Cluster(_ context.Context, r api.ClusterRequest) ([]api.ServerResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	if f.err != nil {
		return nil, f.err
	}
	server := r.Host
	if server == "" {
		server = "server1"
	}
	return []api.ServerResult{{Server: server, Error: f.resultErr}}, nil
}

// set prepares the answer of the next request and forgets the requests seen so far.
func (f *fakeClpd) set(resultErr *status.OpError, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs, f.resultErr, f.err = nil, resultErr, err
}

func (f *fakeClpd) requests() []api.ClusterRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs
}

// viaHost is the fake as clpd relays a request for host to it: the request it records keeps the
// host the command asked for, which is what these tests check.
type viaHost struct {
	*fakeClpd
	host string
}

func (v viaHost) Cluster(ctx context.Context, r api.ClusterRequest) ([]api.ServerResult, error) {
	r.Host = v.host
	return v.fakeClpd.Cluster(ctx, r)
}

// serve runs clpd's API over f on a Unix socket and returns the socket. As clpd does, the relay
// refuses a host that is no server of the cluster ("nosuch").
func serve(t *testing.T, f *fakeClpd) string {
	t.Helper()
	relay := func(h string) (api.Service, error) {
		if h == "nosuch" {
			return nil, status.ErrInvalidServer(h)
		}
		return viaHost{f, h}, nil
	}
	return cmdtest.Serve(t, api.Handler(f, relay), nil)
}

const succeeded = "Command succeeded.\n"

func TestRun(t *testing.T) {
	f := &fakeClpd{}
	sock := serve(t, f)
	missing := filepath.Join(t.TempDir(), "none.sock")
	noDaemon := "Could not connect to the server. Check if the cluster service is active. (clpd does not answer on " + missing + ")\n"
	notStarted := &status.OpError{Code: status.CodeNotStarted, Msg: "The cluster service is not started on server server1. Start it with: clpcl -s"}

	tests := []struct {
		name      string
		args      string // split at blanks; '' is an empty argument
		resultErr *status.OpError
		err       error
		socket    string // "" = the fake's
		code      int
		stdout    string
		stderr    string
		req       *api.ClusterRequest // what clpd must have been asked; nil = nothing
	}{
		// Refused command lines: status 2, one line, nothing asked of clpd.
		{name: "unknown flag", args: "-x", code: 2, stderr: "clpdown: option -x is not supported yet\n"},
		{name: "-h is the host, not help", args: "-h", code: 2, stderr: "clpdown: option -h needs its argument hostname (see clpdown --help)\n"},
		{name: "-h empty", args: "-h ''", code: 2, stderr: "Invalid option. -h needs a host name, not \"\".\n"},
		{name: "-h swallowing a flag", args: "-h -r", code: 2, stderr: "Invalid option. -h needs a host name, not \"-r\".\n"},
		{name: "an argument", args: "server2", code: 2, stderr: "Invalid option. clpdown takes no argument \"server2\" (see clpdown --help).\n"},
		{name: "-r takes no value", args: "-r now", code: 2, stderr: "Invalid option. clpdown takes no argument \"now\" (see clpdown --help).\n"},
		{name: "host after its flag's place", args: "server2 -h", code: 2, stderr: "clpdown: option -h needs its argument hostname (see clpdown --help)\n"},
		{name: "an argument before -r", args: "server2 -r", code: 2, stderr: "Invalid option. clpdown takes no argument \"server2\" (see clpdown --help).\n"},
		{name: "-s of clpstdn", args: "-s", code: 2, stderr: "clpdown: option -s is not supported yet\n"},

		// Successes.
		{name: "shut down this server", args: "", stdout: succeeded,
			req: &api.ClusterRequest{Op: api.ClusterDown}},
		{name: "reboot this server", args: "-r", stdout: succeeded,
			req: &api.ClusterRequest{Op: api.ClusterDownReboot}},
		{name: "shut down another server", args: "-h server2", stdout: succeeded,
			req: &api.ClusterRequest{Op: api.ClusterDown, Host: "server2"}},
		{name: "reboot another server, host first", args: "-h server2 -r", stdout: succeeded,
			req: &api.ClusterRequest{Op: api.ClusterDownReboot, Host: "server2"}},
		{name: "glued host", args: "-r -h=server2", stdout: succeeded,
			req: &api.ClusterRequest{Op: api.ClusterDownReboot, Host: "server2"}},
		{name: "-r given twice", args: "-r -r", stdout: succeeded,
			req: &api.ClusterRequest{Op: api.ClusterDownReboot}},

		// Failures and their statuses.
		{name: "no clpd", args: "", socket: missing, code: 3, stderr: noDaemon},
		{name: "no clpd, reboot", args: "-r -h server2", socket: missing, code: 3, stderr: noDaemon},
		{name: "cluster service not started", args: "-r", resultErr: notStarted, code: 3,
			stderr: notStarted.Msg + "\n", req: &api.ClusterRequest{Op: api.ClusterDownReboot}},
		{name: "request refused as not started", args: "", err: notStarted, code: 3,
			stderr: notStarted.Msg + "\n", req: &api.ClusterRequest{Op: api.ClusterDown}},
		{name: "the other server does not answer", args: "-h server2", code: 3,
			err:    &status.OpError{Code: api.CodeNoDaemon, Msg: "Could not connect to the server. Check if the cluster service is active. (clpd does not answer at https://192.0.2.2:29001)"},
			stderr: "Could not connect to the server. Check if the cluster service is active. (clpd does not answer at https://192.0.2.2:29001)\n",
			req:    &api.ClusterRequest{Op: api.ClusterDown, Host: "server2"}},
		{name: "a group could not be stopped", args: "", resultErr: status.ErrStopFailed("failover1"), code: 4,
			stderr: status.ErrStopFailed("failover1").Msg + "\n", req: &api.ClusterRequest{Op: api.ClusterDown}},
		{name: "unknown server", args: "-h nosuch", code: 4, stderr: status.ErrInvalidServer("nosuch").Msg + "\n"},
		{name: "clpd timed out", args: "-r", err: status.ErrTimeout(), code: 4, stderr: status.ErrTimeout().Msg + "\n",
			req: &api.ClusterRequest{Op: api.ClusterDownReboot}},
		{name: "busy", args: "", resultErr: &status.OpError{Code: status.CodeBusy, Msg: "Busy."}, code: 4, stderr: "Busy.\n",
			req: &api.ClusterRequest{Op: api.ClusterDown}},
		{name: "internal error", args: "", err: errors.New("store unreachable"), code: 4, stderr: "store unreachable\n",
			req: &api.ClusterRequest{Op: api.ClusterDown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.set(tt.resultErr, tt.err)
			cmdtest.Expect(t, "clpdown", run, cmdtest.SplitArgs(tt.args), cmdtest.EnvWith(cmp.Or(tt.socket, sock)), tt.code, tt.stdout, tt.stderr)
			cmdtest.Asked(t, f.requests(), tt.req, tt.socket == "")
		})
	}
}

// TestNotRoot runs clpdown as an unprivileged user. When the tests run as root, a copy of the
// test binary runs as nobody (see TestMain). The options are checked before the user.
func TestNotRoot(t *testing.T) {
	cmdtest.NotRoot(t, "clpdown", run, []cmdtest.NotRootCase{
		{Args: "", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "-r -h server2", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "-x", Code: 2, Stderr: "clpdown: option -x is not supported yet\n"},
	})
}
