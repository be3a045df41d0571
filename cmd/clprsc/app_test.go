package main

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

func TestMain(m *testing.M) {
	cmdtest.Child("clprsc", run)
	os.Exit(m.Run())
}

// fakeClpd is the daemon side of the tests: its recorder records the requests it gets and
// answers each as set, or, blocking, waits until the client gives up.
type fakeClpd struct {
	cmdtest.Unused
	rec *cmdtest.Recorder[api.ResourceRequest, string]
}

func (f *fakeClpd) Resource(ctx context.Context, r api.ResourceRequest) (string, error) {
	return f.rec.Take(ctx, r)
}

func (f *fakeClpd) set(answer string, err error, block bool) { f.rec.Set(answer, err, block) }

func (f *fakeClpd) requests() []api.ResourceRequest { return f.rec.Requests() }

// viaHost is the fake as clpd relays a request for host to it: the request it records keeps the
// host the command asked for, which is what these tests check.
type viaHost struct {
	*fakeClpd
	host string
}

func (v viaHost) Resource(ctx context.Context, r api.ResourceRequest) (string, error) {
	r.Host = v.host
	return v.fakeClpd.Resource(ctx, r)
}

// serve runs clpd's API over f on a Unix socket and returns the socket.
func serve(t *testing.T, f *fakeClpd) string {
	t.Helper()
	f.rec = cmdtest.NewRecorder[api.ResourceRequest, string]()
	return cmdtest.Serve(t, api.Handler(f, func(h string) (api.Service, error) { return viaHost{f, h}, nil }), f.rec.Release)
}

const succeeded = "Command succeeded.\n"

func TestRun(t *testing.T) {
	f := &fakeClpd{}
	sock := serve(t, f)
	missing := filepath.Join(t.TempDir(), "none.sock")
	noDaemon := "Could not connect to the server. Check if the cluster service is active. (clpd does not answer on " + missing + ")\n"
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

	tests := []struct {
		name   string
		args   string // split at blanks; '' is an empty argument
		server string // clpd's answer to -n
		err    error
		block  bool
		socket string // "" = the fake's
		code   int
		stdout string
		stderr string
		req    *api.ResourceRequest // what clpd must have been asked; nil = nothing
	}{
		// Refused command lines: status 2, one line, nothing asked of clpd.
		{name: "no operation", args: "", code: 2, stderr: oneOf},
		{name: "only -f", args: "-f -h server1", code: 2, stderr: oneOf},
		{name: "-s and -t", args: "-s exec1 -t exec1", code: 2, stderr: oneOf},
		{name: "-s and -n", args: "-s exec1 -n exec1", code: 2, stderr: oneOf},
		{name: "-t and -n", args: "-t exec1 -n exec1", code: 2, stderr: oneOf},
		{name: "bare resource name", args: "exec1", code: 2, stderr: oneOf},
		{name: "unknown flag", args: "-s exec1 -x", code: 2, stderr: "clprsc: option -x is not supported yet\n"},
		{name: "-s without a name", args: "-s", code: 2, stderr: "clprsc: option -s needs its argument resource_name (see clprsc --help)\n"},
		{name: "-n without a name", args: "-n", code: 2, stderr: "clprsc: option -n needs its argument resource_name (see clprsc --help)\n"},
		{name: "-h is the host, not help", args: "-h", code: 2, stderr: "clprsc: option -h needs its argument hostname (see clprsc --help)\n"},
		{name: "-s swallowing a flag", args: "-s -h server1 exec1", code: 2, stderr: "Invalid option. -s needs a resource name, not \"-h\".\n"},
		{name: "-t swallowing a flag", args: "-t -f exec1", code: 2, stderr: "Invalid option. -t needs a resource name, not \"-f\".\n"},
		{name: "-s empty", args: "-s ''", code: 2, stderr: "Invalid option. -s needs a resource name, not \"\".\n"},
		{name: "-n empty", args: "-n ''", code: 2, stderr: "Invalid option. -n needs a resource name, not \"\".\n"},
		{name: "-h swallowing a flag", args: "-s exec1 -h -f", code: 2, stderr: "Invalid option. -h needs a host name, not \"-f\".\n"},
		{name: "-h empty", args: "-t exec1 -h ''", code: 2, stderr: "Invalid option. -h needs a host name, not \"\".\n"},
		{name: "extra argument", args: "-s exec1 exec2", code: 2, stderr: "Invalid option. clprsc takes no argument \"exec2\": the resource name follows -s, -t or -n.\n"},
		{name: "-n with -h", args: "-n exec1 -h server1", code: 2, stderr: nOnly},
		{name: "-n with -f", args: "-n exec1 -f", code: 2, stderr: nOnly},
		{name: "-n with --apito", args: "-n exec1 --apito 10", code: 2, stderr: nOnly},
		{name: "--apito 0", args: "-s exec1 --apito 0", code: 2, stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not 0.\n"},
		{name: "--apito negative", args: "-s exec1 --apito -5", code: 2, stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not -5.\n"},
		{name: "--apito too long", args: "-t exec1 --apito 86401", code: 2, stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not 86401.\n"},
		{name: "--apito not a number", args: "-s exec1 --apito abc", code: 2, stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not \"abc\".\n"},
		{name: "--apito overflowing", args: "-s exec1 --apito 18446744074", code: 2, stderr: "Invalid option. --apito takes a number of seconds from 1 to 86400, not 18446744074.\n"},
		{name: "unknown long option", args: "-s exec1 --grp=x", code: 2, stderr: "clprsc: option --grp is not supported yet\n"},
		{name: "--apito without a value", args: "-s exec1 --apito", code: 2, stderr: "clprsc: option --apito needs its argument timeout (see clprsc --help)\n"},
		{name: "-f with a value", args: "-s exec1 -f=maybe", code: 2, stderr: "clprsc: invalid boolean value \"maybe\" for -f: parse error (see clprsc --help)\n"},

		// Successes.
		{name: "start", args: "-s exec1", stdout: succeeded, req: start("exec1")},
		{name: "stop", args: "-t exec1", stdout: succeeded, req: stop("exec1")},
		{name: "stop with -f on a host, legacy order", args: "-t md1 -f -h server2", stdout: succeeded,
			req: &api.ResourceRequest{Op: api.ResourceStop, Resource: "md1", Host: "server2", Force: true}},
		{name: "start with -f first", args: "-f -s exec1 --apito 86400", stdout: succeeded,
			req: &api.ResourceRequest{Op: api.ResourceStart, Resource: "exec1", Force: true}},
		{name: "glued --apito", args: "-s exec1 --apito=1", stdout: succeeded, req: start("exec1")},
		{name: "where it runs", args: "-n exec1", server: "server1", stdout: "server1\n",
			req: &api.ResourceRequest{Op: api.ResourceCurrent, Resource: "exec1"}},
		{name: "runs nowhere", args: "-n exec1", stdout: "",
			req: &api.ResourceRequest{Op: api.ResourceCurrent, Resource: "exec1"}},

		// Refusals of clpd and their statuses.
		{name: "unknown resource", args: "-s nosuch", err: status.ErrInvalidResource("nosuch"), code: 3,
			stderr: status.ErrInvalidResource("nosuch").Msg + "\n", req: start("nosuch")},
		{name: "-n of an unknown resource", args: "-n nosuch", err: status.ErrInvalidResource("nosuch"), code: 3,
			stderr: status.ErrInvalidResource("nosuch").Msg + "\n",
			req:    &api.ResourceRequest{Op: api.ResourceCurrent, Resource: "nosuch"}},
		{name: "no clpd", args: "-s exec1", socket: missing, code: 4, stderr: noDaemon},
		{name: "no clpd for -n", args: "-n exec1", socket: missing, code: 4, stderr: noDaemon},
		{name: "cluster service not started", args: "-t exec1", code: 4,
			err:    opErr(status.CodeNotStarted, "The cluster service is not started on server server1. Start it with: clpcl -s"),
			stderr: "The cluster service is not started on server server1. Start it with: clpcl -s\n", req: stop("exec1")},
		{name: "cluster suspended", args: "-s exec1", code: 4,
			err:    opErr(status.CodeSuspended, "The cluster is suspended. Resume it with: clpcl --resume"),
			stderr: "The cluster is suspended. Resume it with: clpcl --resume\n", req: start("exec1")},
		{name: "busy", args: "-s exec1", err: status.ErrBusy(), code: 5, stderr: status.ErrBusy().Msg + "\n", req: start("exec1")},
		{name: "already started", args: "-s exec1", err: opErr(status.CodeAlreadyStarted, "The resource has already been started."),
			code: 5, stderr: "The resource has already been started.\n", req: start("exec1")},
		{name: "already stopped", args: "-t exec1", err: opErr(status.CodeAlreadyStopped, "The resource has already been stopped."),
			code: 5, stderr: "The resource has already been stopped.\n", req: stop("exec1")},
		{name: "group on another server", args: "-s exec1", err: status.ErrStartedOther(), code: 5,
			stderr: status.ErrStartedOther().Msg + "\n", req: start("exec1")},
		{name: "start failed", args: "-s exec1", err: status.ErrStartFailed("failover1"), code: 6,
			stderr: status.ErrStartFailed("failover1").Msg + "\n", req: start("exec1")},
		{name: "stop failed", args: "-t exec1", err: status.ErrStopFailed("failover1"), code: 6,
			stderr: status.ErrStopFailed("failover1").Msg + "\n", req: stop("exec1")},
		{name: "clpd timed out", args: "-t exec1", err: status.ErrTimeout(), code: 7, stderr: timeout, req: stop("exec1")},
		{name: "--apito ran out", args: "-s exec1 --apito 1", block: true, code: 7, stderr: timeout, req: start("exec1")},
		{name: "unknown server", args: "-s exec1 -h nosuch", err: status.ErrInvalidServer("nosuch"), code: 255,
			stderr: status.ErrInvalidServer("nosuch").Msg + "\n",
			req:    &api.ResourceRequest{Op: api.ResourceStart, Resource: "exec1", Host: "nosuch"}},
		{name: "internal error", args: "-t exec1", err: errors.New("store unreachable"), code: 255,
			stderr: "store unreachable\n", req: stop("exec1")},
		{name: "refusal without a code", args: "-s exec1", err: opErr("", "Something odd."), code: 255,
			stderr: "Something odd.\n", req: start("exec1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.set(tt.server, tt.err, tt.block)
			cmdtest.Expect(t, "clprsc", run, cmdtest.SplitArgs(tt.args), cmdtest.EnvWith(cmp.Or(tt.socket, sock)), tt.code, tt.stdout, tt.stderr)
			cmdtest.Asked(t, f.requests(), tt.req, tt.socket == "")
		})
	}
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
