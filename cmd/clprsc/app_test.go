package main

import (
	"context"
	"errors"
	"os"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

func TestMain(m *testing.M) {
	cmdtest.Child("clprsc", run)
	os.Exit(m.Run())
}

// fakeClpd is the daemon side of the tests: rec records the requests it gets and answers each
// as the case sets (the answer is the server -n shows). clpd relays a request for a host to a
// copy with that host, so that the request recorded keeps the host the command asked for, which
// is what these tests check.
type fakeClpd struct {
	cmdtest.Unused
	rec  *cmdtest.Recorder[api.ResourceRequest, string]
	host string
}

func (f *fakeClpd) Resource(ctx context.Context, r api.ResourceRequest) (string, error) {
	r.Host = f.host
	return f.rec.Take(ctx, r)
}

// serve runs clpd's API over a fake on a Unix socket and returns the fake's recorder and the
// socket.
func serve(t *testing.T) (*cmdtest.Recorder[api.ResourceRequest, string], string) {
	t.Helper()
	rec := cmdtest.NewRecorder[api.ResourceRequest, string]()
	relay := func(h string) (api.Service, error) { return &fakeClpd{rec: rec, host: h}, nil }
	return rec, cmdtest.Serve(t, api.Handler(&fakeClpd{rec: rec}, relay), rec.Release)
}

func TestRun(t *testing.T) {
	rec, sock := serve(t)
	missing, noDaemon := cmdtest.NoDaemon(t)
	timeout := status.ErrTimeout().Msg + "\n"
	oneOf := "Invalid option. Give exactly one of -s, -t or -n with a resource name (see clprsc --help).\n"
	nOnly := "Invalid option. -n takes a resource name only, without -h, -f or --apito.\n"
	opErr := func(c status.Code, msg string) error { return &status.OpError{Code: c, Msg: msg} }
	start := func(rsc string) *api.ResourceRequest {
		return &api.ResourceRequest{Op: api.ResourceStart, Resource: rsc}
	}
	stop := func(rsc string) *api.ResourceRequest {
		return &api.ResourceRequest{Op: api.ResourceStop, Resource: rsc}
	}

	cmdtest.RunCases(t, "clprsc", run, sock, rec, []cmdtest.Case[api.ResourceRequest, string]{
		// Refused command lines: status 2, one line, nothing asked of clpd.
		{Name: "no operation", Args: "", Code: 2, Stderr: oneOf},
		{Name: "only -f", Args: "-f -h server1", Code: 2, Stderr: oneOf},
		{Name: "-s and -t", Args: "-s exec1 -t exec1", Code: 2, Stderr: oneOf},
		{Name: "-s and -n", Args: "-s exec1 -n exec1", Code: 2, Stderr: oneOf},
		{Name: "-t and -n", Args: "-t exec1 -n exec1", Code: 2, Stderr: oneOf},
		{Name: "bare resource name", Args: "exec1", Code: 2, Stderr: oneOf},
		{Name: "unknown flag", Args: "-s exec1 -x", Code: 2, Stderr: "clprsc: option -x is not supported yet\n"},
		{Name: "-s without a name", Args: "-s", Code: 2, Stderr: "clprsc: option -s needs its argument resource_name (see clprsc --help)\n"},
		{Name: "-n without a name", Args: "-n", Code: 2, Stderr: "clprsc: option -n needs its argument resource_name (see clprsc --help)\n"},
		{Name: "-h is the host, not help", Args: "-h", Code: 2, Stderr: "clprsc: option -h needs its argument hostname (see clprsc --help)\n"},
		{Name: "-s swallowing a flag", Args: "-s -h server1 exec1", Code: 2, Stderr: "Invalid option. -s needs a resource name, not \"-h\".\n"},
		{Name: "-t swallowing a flag", Args: "-t -f exec1", Code: 2, Stderr: "Invalid option. -t needs a resource name, not \"-f\".\n"},
		{Name: "-s empty", Args: "-s ''", Code: 2, Stderr: "Invalid option. -s needs a resource name, not \"\".\n"},
		{Name: "-n empty", Args: "-n ''", Code: 2, Stderr: "Invalid option. -n needs a resource name, not \"\".\n"},
		{Name: "-h swallowing a flag", Args: "-s exec1 -h -f", Code: 2, Stderr: "Invalid option. -h needs a host name, not \"-f\".\n"},
		{Name: "-h empty", Args: "-t exec1 -h ''", Code: 2, Stderr: "Invalid option. -h needs a host name, not \"\".\n"},
		{Name: "extra argument", Args: "-s exec1 exec2", Code: 2, Stderr: "Invalid option. clprsc takes no argument \"exec2\": the resource name follows -s, -t or -n.\n"},
		{Name: "-n with -h", Args: "-n exec1 -h server1", Code: 2, Stderr: nOnly},
		{Name: "-n with -f", Args: "-n exec1 -f", Code: 2, Stderr: nOnly},
		{Name: "-n with --apito", Args: "-n exec1 --apito 10", Code: 2, Stderr: nOnly},
		{Name: "--apito 0", Args: "-s exec1 --apito 0", Code: 2, Stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not 0.\n"},
		{Name: "--apito negative", Args: "-s exec1 --apito -5", Code: 2, Stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not -5.\n"},
		{Name: "--apito too long", Args: "-t exec1 --apito 86401", Code: 2, Stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not 86401.\n"},
		{Name: "--apito not a number", Args: "-s exec1 --apito abc", Code: 2, Stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not \"abc\".\n"},
		{Name: "--apito overflowing", Args: "-s exec1 --apito 18446744074", Code: 2, Stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not 18446744074.\n"},
		{Name: "unknown long option", Args: "-s exec1 --grp=x", Code: 2, Stderr: "clprsc: option --grp is not supported yet\n"},
		{Name: "--apito without a value", Args: "-s exec1 --apito", Code: 2, Stderr: "clprsc: option --apito needs its argument timeout (see clprsc --help)\n"},
		{Name: "-f with a value", Args: "-s exec1 -f=maybe", Code: 2, Stderr: "clprsc: invalid boolean value \"maybe\" for -f: parse error (see clprsc --help)\n"},

		// Successes.
		{Name: "start", Args: "-s exec1", Stdout: cmdtest.Succeeded, Req: start("exec1")},
		{Name: "stop", Args: "-t exec1", Stdout: cmdtest.Succeeded, Req: stop("exec1")},
		{Name: "stop with -f on a host, legacy order", Args: "-t md1 -f -h server2", Stdout: cmdtest.Succeeded,
			Req: &api.ResourceRequest{Op: api.ResourceStop, Resource: "md1", Host: "server2", Force: true}},
		{Name: "start with -f first", Args: "-f -s exec1 --apito 86400", Stdout: cmdtest.Succeeded,
			Req: &api.ResourceRequest{Op: api.ResourceStart, Resource: "exec1", Force: true}},
		{Name: "glued --apito", Args: "-s exec1 --apito=1", Stdout: cmdtest.Succeeded, Req: start("exec1")},
		{Name: "where it runs", Args: "-n exec1", Answer: "server1", Stdout: "server1\n",
			Req: &api.ResourceRequest{Op: api.ResourceCurrent, Resource: "exec1"}},
		{Name: "runs nowhere", Args: "-n exec1", Stdout: "",
			Req: &api.ResourceRequest{Op: api.ResourceCurrent, Resource: "exec1"}},

		// Refusals of clpd and their statuses.
		{Name: "unknown resource", Args: "-s nosuch", Err: status.ErrInvalidResource("nosuch"), Code: 3,
			Stderr: status.ErrInvalidResource("nosuch").Msg + "\n", Req: start("nosuch")},
		{Name: "-n of an unknown resource", Args: "-n nosuch", Err: status.ErrInvalidResource("nosuch"), Code: 3,
			Stderr: status.ErrInvalidResource("nosuch").Msg + "\n",
			Req:    &api.ResourceRequest{Op: api.ResourceCurrent, Resource: "nosuch"}},
		{Name: "no clpd", Args: "-s exec1", Socket: missing, Code: 4, Stderr: noDaemon},
		{Name: "no clpd for -n", Args: "-n exec1", Socket: missing, Code: 4, Stderr: noDaemon},
		{Name: "cluster service not started", Args: "-t exec1", Code: 4,
			Err:    opErr(status.CodeNotStarted, "The cluster service is not started on server server1. Start it with: clpcl -s"),
			Stderr: "The cluster service is not started on server server1. Start it with: clpcl -s\n", Req: stop("exec1")},
		{Name: "cluster suspended", Args: "-s exec1", Code: 4,
			Err:    opErr(status.CodeSuspended, "The cluster is suspended. Resume it with: clpcl --resume"),
			Stderr: "The cluster is suspended. Resume it with: clpcl --resume\n", Req: start("exec1")},
		{Name: "busy", Args: "-s exec1", Err: status.ErrBusy(), Code: 5, Stderr: status.ErrBusy().Msg + "\n", Req: start("exec1")},
		{Name: "already started", Args: "-s exec1", Err: opErr(status.CodeAlreadyStarted, "The resource has already been started."),
			Code: 5, Stderr: "The resource has already been started.\n", Req: start("exec1")},
		{Name: "already stopped", Args: "-t exec1", Err: opErr(status.CodeAlreadyStopped, "The resource has already been stopped."),
			Code: 5, Stderr: "The resource has already been stopped.\n", Req: stop("exec1")},
		{Name: "group on another server", Args: "-s exec1", Err: status.ErrStartedOther(), Code: 5,
			Stderr: status.ErrStartedOther().Msg + "\n", Req: start("exec1")},
		{Name: "start failed", Args: "-s exec1", Err: status.ErrStartFailed("failover1"), Code: 6,
			Stderr: status.ErrStartFailed("failover1").Msg + "\n", Req: start("exec1")},
		{Name: "stop failed", Args: "-t exec1", Err: status.ErrStopFailed("failover1"), Code: 6,
			Stderr: status.ErrStopFailed("failover1").Msg + "\n", Req: stop("exec1")},
		{Name: "clpd timed out", Args: "-t exec1", Err: status.ErrTimeout(), Code: 7, Stderr: timeout, Req: stop("exec1")},
		{Name: "--apito ran out", Args: "-s exec1 --apito 1", Block: true, Code: 7, Stderr: timeout, Req: start("exec1")},
		{Name: "unknown server", Args: "-s exec1 -h nosuch", Err: status.ErrInvalidServer("nosuch"), Code: 255,
			Stderr: status.ErrInvalidServer("nosuch").Msg + "\n",
			Req:    &api.ResourceRequest{Op: api.ResourceStart, Resource: "exec1", Host: "nosuch"}},
		{Name: "internal error", Args: "-t exec1", Err: errors.New("store unreachable"), Code: 255,
			Stderr: "store unreachable\n", Req: stop("exec1")},
		{Name: "refusal without a code", Args: "-s exec1", Err: opErr("", "Something odd."), Code: 255,
			Stderr: "Something odd.\n", Req: start("exec1")},
	})
}

// TestNotRoot runs clprsc as an unprivileged user. When the tests run as root, a copy of the
// test binary runs as nobody (see TestMain). The options are checked before the user.
func TestNotRoot(t *testing.T) {
	cmdtest.NotRoot(t, "clprsc", run, []cmdtest.NotRootCase{
		{Args: "-s exec1", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "-n exec1", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "-t exec1 -f -h server2 --apito 10", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "-s exec1 -t exec1", Code: 2, Stderr: "Invalid option. Give exactly one of -s, -t or -n with a resource name (see clprsc --help).\n"},
	})
}
