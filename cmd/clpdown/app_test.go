package main

import (
	"cmp"
	"context"
	"errors"
	"os"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

func TestMain(m *testing.M) {
	cmdtest.Child("clpdown", run)
	os.Exit(m.Run())
}

// fakeClpd is the daemon side of the tests: rec records the cluster requests it gets and
// answers each as the case sets, the answer being the error its server's result carries. clpd
// relays a request for a host to a copy with that host, so that the request recorded keeps the
// host the command asked for, which is what these tests check.
type fakeClpd struct {
	cmdtest.Unused
	rec  *cmdtest.Recorder[api.ClusterRequest, *status.OpError]
	host string
}

func (f *fakeClpd) Cluster(ctx context.Context, r api.ClusterRequest) ([]api.ServerResult, error) {
	r.Host = f.host
	resultErr, err := f.rec.Take(ctx, r)
	if err != nil {
		return nil, err
	}
	return []api.ServerResult{{Server: cmp.Or(r.Host, "server1"), Error: resultErr}}, nil
}

// serve runs clpd's API over a fake on a Unix socket and returns the fake's recorder and the
// socket. As clpd does, the relay refuses a host that is no server of the cluster ("nosuch").
func serve(t *testing.T) (*cmdtest.Recorder[api.ClusterRequest, *status.OpError], string) {
	t.Helper()
	rec := cmdtest.NewRecorder[api.ClusterRequest, *status.OpError]()
	relay := func(h string) (api.Service, error) {
		if h == "nosuch" {
			return nil, status.ErrInvalidServer(h)
		}
		return &fakeClpd{rec: rec, host: h}, nil
	}
	return rec, cmdtest.Serve(t, api.Handler(&fakeClpd{rec: rec}, relay), rec.Release)
}

func TestRun(t *testing.T) {
	rec, sock := serve(t)
	missing, noDaemon := cmdtest.NoDaemon(t)
	notStarted := &status.OpError{Code: status.CodeNotStarted, Msg: "The cluster service is not started on server server1. Start it with: clpcl -s"}

	cmdtest.RunCases(t, "clpdown", run, sock, rec, []cmdtest.Case[api.ClusterRequest, *status.OpError]{
		// Refused command lines: status 2, one line, nothing asked of clpd.
		{Name: "unknown flag", Args: "-x", Code: 2, Stderr: "clpdown: option -x is not supported yet\n"},
		{Name: "-h is the host, not help", Args: "-h", Code: 2, Stderr: "clpdown: option -h needs its argument hostname (see clpdown --help)\n"},
		{Name: "-h empty", Args: "-h ''", Code: 2, Stderr: "Invalid option. -h needs a host name, not \"\".\n"},
		{Name: "-h swallowing a flag", Args: "-h -r", Code: 2, Stderr: "Invalid option. -h needs a host name, not \"-r\".\n"},
		{Name: "an argument", Args: "server2", Code: 2, Stderr: "Invalid option. clpdown takes no argument \"server2\" (see clpdown --help).\n"},
		{Name: "-r takes no value", Args: "-r now", Code: 2, Stderr: "Invalid option. clpdown takes no argument \"now\" (see clpdown --help).\n"},
		{Name: "host after its flag's place", Args: "server2 -h", Code: 2, Stderr: "clpdown: option -h needs its argument hostname (see clpdown --help)\n"},
		{Name: "an argument before -r", Args: "server2 -r", Code: 2, Stderr: "Invalid option. clpdown takes no argument \"server2\" (see clpdown --help).\n"},
		{Name: "-s of clpstdn", Args: "-s", Code: 2, Stderr: "clpdown: option -s is not supported yet\n"},

		// Successes.
		{Name: "shut down this server", Args: "", Stdout: cmdtest.Succeeded,
			Req: &api.ClusterRequest{Op: api.ClusterDown}},
		{Name: "reboot this server", Args: "-r", Stdout: cmdtest.Succeeded,
			Req: &api.ClusterRequest{Op: api.ClusterDownReboot}},
		{Name: "shut down another server", Args: "-h server2", Stdout: cmdtest.Succeeded,
			Req: &api.ClusterRequest{Op: api.ClusterDown, Host: "server2"}},
		{Name: "reboot another server, host first", Args: "-h server2 -r", Stdout: cmdtest.Succeeded,
			Req: &api.ClusterRequest{Op: api.ClusterDownReboot, Host: "server2"}},
		{Name: "glued host", Args: "-r -h=server2", Stdout: cmdtest.Succeeded,
			Req: &api.ClusterRequest{Op: api.ClusterDownReboot, Host: "server2"}},
		{Name: "-r given twice", Args: "-r -r", Stdout: cmdtest.Succeeded,
			Req: &api.ClusterRequest{Op: api.ClusterDownReboot}},

		// Failures and their statuses.
		{Name: "no clpd", Args: "", Socket: missing, Code: 3, Stderr: noDaemon},
		{Name: "no clpd, reboot", Args: "-r -h server2", Socket: missing, Code: 3, Stderr: noDaemon},
		{Name: "cluster service not started", Args: "-r", Answer: notStarted, Code: 3,
			Stderr: notStarted.Msg + "\n", Req: &api.ClusterRequest{Op: api.ClusterDownReboot}},
		{Name: "request refused as not started", Args: "", Err: notStarted, Code: 3,
			Stderr: notStarted.Msg + "\n", Req: &api.ClusterRequest{Op: api.ClusterDown}},
		{Name: "the other server does not answer", Args: "-h server2", Code: 3,
			Err:    &status.OpError{Code: api.CodeNoDaemon, Msg: "Could not connect to the server. Check if the cluster service is active. (clpd does not answer at https://192.0.2.2:29001)"},
			Stderr: "Could not connect to the server. Check if the cluster service is active. (clpd does not answer at https://192.0.2.2:29001)\n",
			Req:    &api.ClusterRequest{Op: api.ClusterDown, Host: "server2"}},
		{Name: "a group could not be stopped", Args: "", Answer: status.ErrStopFailed("failover1"), Code: 4,
			Stderr: status.ErrStopFailed("failover1").Msg + "\n", Req: &api.ClusterRequest{Op: api.ClusterDown}},
		{Name: "unknown server", Args: "-h nosuch", Code: 4, Stderr: status.ErrInvalidServer("nosuch").Msg + "\n"},
		{Name: "clpd timed out", Args: "-r", Err: status.ErrTimeout(), Code: 4, Stderr: status.ErrTimeout().Msg + "\n",
			Req: &api.ClusterRequest{Op: api.ClusterDownReboot}},
		{Name: "busy", Args: "", Answer: &status.OpError{Code: status.CodeBusy, Msg: "Busy."}, Code: 4, Stderr: "Busy.\n",
			Req: &api.ClusterRequest{Op: api.ClusterDown}},
		{Name: "internal error", Args: "", Err: errors.New("store unreachable"), Code: 4, Stderr: "store unreachable\n",
			Req: &api.ClusterRequest{Op: api.ClusterDown}},
	})
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
