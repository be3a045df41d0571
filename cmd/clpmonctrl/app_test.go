package main

import (
	"cmp"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

func TestMain(m *testing.M) {
	cmdtest.Child("clpmonctrl", run)
	os.Exit(m.Run())
}

// fakeClpd is the daemon side of the tests: its recorder records the requests it gets and
// answers each as set, or, blocking, waits until the client gives up.
type fakeClpd struct {
	cmdtest.Unused
	rec *cmdtest.Recorder[api.MonitorRequest, []status.Monitor]
}

func (f *fakeClpd) Monitors(ctx context.Context, r api.MonitorRequest) ([]status.Monitor, error) {
	return f.rec.Take(ctx, r)
}

func (f *fakeClpd) set(answer []status.Monitor, err error, block bool) { f.rec.Set(answer, err, block) }

func (f *fakeClpd) requests() []api.MonitorRequest { return f.rec.Requests() }

// viaHost is the fake as clpd relays a request for host to it: the request it records keeps the
// host the command asked for, which is what these tests check.
type viaHost struct {
	*fakeClpd
	host string
}

func (v viaHost) Monitors(ctx context.Context, r api.MonitorRequest) ([]status.Monitor, error) {
	r.Host = v.host
	return v.fakeClpd.Monitors(ctx, r)
}

// serve runs clpd's API over f on a Unix socket and returns the socket.
func serve(t *testing.T, f *fakeClpd) string {
	t.Helper()
	f.rec = cmdtest.NewRecorder[api.MonitorRequest, []status.Monitor]()
	return cmdtest.Serve(t, api.Handler(f, func(h string) (api.Service, error) { return viaHost{f, h}, nil }), f.rec.Release)
}

// counters are the thresholds of a monitor that restarts once, fails over once, then stops.
func counters(recovery, restart, failover, final int) status.Counters {
	return status.Counters{Recovery: recovery, Restart: restart, Failover: failover, FinalAction: final,
		RestartMax: 1, FailoverMax: 1, FinalActionIs: "none"}
}

// shown is what the fake answers to -v: the answering server's entry first, as clpd does.
var shown = []status.Monitor{
	{Name: "pidw1", Type: "pidw", State: status.Normal, Servers: []status.MonitorOnServer{
		{Server: "server1", State: status.Online, Counters: counters(0, 1, 0, 0)},
		{Server: "server2", State: status.Online, Counters: counters(0, 0, 1, 0)},
	}},
	{Name: "genw1", Type: "genw", State: status.Caution, Servers: []status.MonitorOnServer{
		{Server: "server1", State: status.Error, Counters: status.Counters{Recovery: 2, Restart: 3, Failover: 1, FinalAction: 1,
			RecoveryMax: 2, RestartMax: 3, FailoverMax: 1, FinalActionIs: "Stop the cluster service and reboot OS"}},
	}},
	// No entry for any server, no state, no final action: zeros, Unknown and (none).
	{Name: "userw", Type: "userw"},
}

// showGolden is clpmonctrl -v for shown, asked of this server.
const showGolden = `Monitor0 [pidw1 : Normal]
  -----------------------------------------------------------------
    RecoveryScriptCount : 0 / 0
    RestartCount        : 1 / 1
    FailoverCount       : 0 / 1
    FinalActionCount    : 0 / 1 (none)
Monitor1 [genw1 : Caution]
  -----------------------------------------------------------------
    RecoveryScriptCount : 2 / 2
    RestartCount        : 3 / 3
    FailoverCount       : 1 / 1
    FinalActionCount    : 1 / 1 (Stop the cluster service and reboot OS)
Monitor2 [userw : Unknown]
  -----------------------------------------------------------------
    RecoveryScriptCount : 0 / 0
    RestartCount        : 0 / 0
    FailoverCount       : 0 / 0
    FinalActionCount    : 0 / 1 (none)
=================================================================
`

// showServer2 is clpmonctrl -v -h server2 -m pidw1: the counters of server2's entry.
const showServer2 = `Monitor0 [pidw1 : Normal]
  -----------------------------------------------------------------
    RecoveryScriptCount : 0 / 0
    RestartCount        : 0 / 1
    FailoverCount       : 1 / 1
    FinalActionCount    : 0 / 1 (none)
=================================================================
`

const succeeded = "Command succeeded.\n"

func TestRun(t *testing.T) {
	f := &fakeClpd{}
	sock := serve(t, f)
	missing := filepath.Join(t.TempDir(), "none.sock")
	noDaemon := "Could not connect to the server. Check if the cluster service is active. (clpd does not answer on " + missing + ")\n"
	timeout := status.ErrTimeout().Msg + "\n"
	oneOf := "Invalid option. Give exactly one of -s, -r, -c or -v (see clpmonctrl --help).\n"

	tests := []struct {
		name     string
		args     string // split at blanks; '' is an empty argument
		monitors []status.Monitor
		err      error
		block    bool
		socket   string // "" = the fake's
		code     int
		stdout   string
		stderr   string
		req      *api.MonitorRequest // what clpd must have been asked; nil = nothing
	}{
		// Refused command lines: status 2, one line, nothing asked of clpd.
		{name: "no operation", args: "", code: 2, stderr: oneOf},
		{name: "only -m", args: "-m pidw1", code: 2, stderr: oneOf},
		{name: "-s and -r", args: "-s -r", code: 2, stderr: oneOf},
		{name: "-c and -v", args: "-c -v", code: 2, stderr: oneOf},
		{name: "all four", args: "-s -r -c -v", code: 2, stderr: oneOf},
		{name: "unknown flag", args: "-s -x", code: 2, stderr: "clpmonctrl: option -x is not supported yet\n"},
		{name: "-h is the host, not help", args: "-h", code: 2, stderr: "clpmonctrl: option -h needs its argument hostname (see clpmonctrl --help)\n"},
		{name: "-m without a name", args: "-s -m", code: 2, stderr: "clpmonctrl: option -m needs its argument monitor_name (see clpmonctrl --help)\n"},
		{name: "-m swallowing a flag", args: "-s -m -w 5", code: 2, stderr: "Invalid option. -m needs a monitor name, not \"-w\".\n"},
		{name: "-m empty", args: "-s -m ''", code: 2, stderr: "Invalid option. -m needs a monitor name, not \"\".\n"},
		{name: "-h swallowing a flag", args: "-s -h -m pidw1", code: 2, stderr: "Invalid option. -h needs a host name, not \"-m\".\n"},
		{name: "-h empty", args: "-r -h ''", code: 2, stderr: "Invalid option. -h needs a host name, not \"\".\n"},
		{name: "bare monitor name", args: "-s pidw1", code: 2, stderr: "Invalid option. clpmonctrl takes no argument \"pidw1\": give each monitor with its own -m (-m mon1 -m mon2).\n"},
		{name: "two names after one -m", args: "-s -m pidw1 genw1", code: 2, stderr: "Invalid option. clpmonctrl takes no argument \"genw1\": give each monitor with its own -m (-m mon1 -m mon2).\n"},
		{name: "-w with -c", args: "-c -w 5", code: 2, stderr: "Invalid option. -w goes with -s or -r only.\n"},
		{name: "-w with -v", args: "-v -m pidw1 -w 5", code: 2, stderr: "Invalid option. -w goes with -s or -r only.\n"},
		{name: "-w 0", args: "-s -w 0", code: 2, stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not 0.\n"},
		{name: "-w negative", args: "-s -w -1", code: 2, stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not -1.\n"},
		{name: "-w too long", args: "-r -w 65536", code: 2, stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not 65536.\n"},
		{name: "-w not a number", args: "-s -w abc", code: 2, stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not \"abc\".\n"},
		{name: "-w overflowing", args: "-s -w 99999999999999999999", code: 2, stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not 99999999999999999999.\n"},
		{name: "-w without a value", args: "-s -w", code: 2, stderr: "clpmonctrl: option -w needs its argument wait_time (see clpmonctrl --help)\n"},

		// Successes.
		{name: "suspend all", args: "-s", stdout: succeeded, monitors: shown,
			req: &api.MonitorRequest{Op: api.MonitorSuspend}},
		{name: "suspend one", args: "-s -m pidw1", stdout: succeeded,
			req: &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"pidw1"}}},
		{name: "suspend on a host, legacy order", args: "-s -h node1 -m mdw1", stdout: succeeded,
			req: &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"mdw1"}, Host: "node1"}},
		{name: "resume several, flags in any order", args: "-m pidw1 -w 65535 -r -m genw1 -h server2", stdout: succeeded,
			req: &api.MonitorRequest{Op: api.MonitorResume, Monitors: []string{"pidw1", "genw1"}, Host: "server2"}},
		{name: "resume with -w 1", args: "-r -w 1", stdout: succeeded,
			req: &api.MonitorRequest{Op: api.MonitorResume}},
		{name: "glued values", args: "-s -m=pidw1 -w=3", stdout: succeeded,
			req: &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"pidw1"}}},
		{name: "a comma belongs to the name", args: "-c -m a,b", stdout: succeeded,
			req: &api.MonitorRequest{Op: api.MonitorClear, Monitors: []string{"a,b"}}},
		{name: "clear all", args: "-c", stdout: succeeded,
			req: &api.MonitorRequest{Op: api.MonitorClear}},
		{name: "show", args: "-v", monitors: shown, stdout: showGolden,
			req: &api.MonitorRequest{Op: api.MonitorShow}},
		{name: "show the counters of -h", args: "-v -h server2 -m pidw1", monitors: shown[:1], stdout: showServer2,
			req: &api.MonitorRequest{Op: api.MonitorShow, Monitors: []string{"pidw1"}, Host: "server2"}},
		{name: "show no monitor", args: "-v", stdout: strings.Repeat("=", 65) + "\n",
			req: &api.MonitorRequest{Op: api.MonitorShow}},

		// Refusals of clpd and their statuses.
		{name: "monitor not registered", args: "-s -m nosuch", err: status.ErrInvalidMonitor("nosuch"), code: 5,
			stderr: "Specified monitor resource is not registered. (nosuch)\n",
			req:    &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"nosuch"}}},
		{name: "show an unregistered monitor", args: "-v -m nosuch", err: status.ErrInvalidMonitor("nosuch"), code: 5,
			stderr: "Specified monitor resource is not registered. (nosuch)\n",
			req:    &api.MonitorRequest{Op: api.MonitorShow, Monitors: []string{"nosuch"}}},
		{name: "cluster service not started", args: "-r", code: 10,
			err:    &status.OpError{Code: status.CodeNotStarted, Msg: "The cluster service is not started on server server1. Start it with: clpcl -s"},
			stderr: "The cluster service is not started on server server1. Start it with: clpcl -s\n",
			req:    &api.MonitorRequest{Op: api.MonitorResume}},
		{name: "no clpd", args: "-s", socket: missing, code: 10, stderr: noDaemon},
		{name: "no clpd for -v", args: "-v", socket: missing, code: 10, stderr: noDaemon},
		{name: "cluster suspended", args: "-c", code: 11,
			err:    &status.OpError{Code: status.CodeSuspended, Msg: "The cluster is suspended. Resume it with: clpcl --resume"},
			stderr: "The cluster is suspended. Resume it with: clpcl --resume\n",
			req:    &api.MonitorRequest{Op: api.MonitorClear}},
		{name: "clpd timed out", args: "-s", err: status.ErrTimeout(), code: 90, stderr: timeout,
			req: &api.MonitorRequest{Op: api.MonitorSuspend}},
		{name: "-w ran out", args: "-s -m pidw1 -w 1", block: true, code: 90, stderr: timeout,
			req: &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"pidw1"}}},
		{name: "unknown server", args: "-s -h nosuch", err: status.ErrInvalidServer("nosuch"), code: 4,
			stderr: status.ErrInvalidServer("nosuch").Msg + "\n",
			req:    &api.MonitorRequest{Op: api.MonitorSuspend, Host: "nosuch"}},
		{name: "busy", args: "-r", err: &status.OpError{Code: status.CodeBusy, Msg: "Busy."}, code: 4, stderr: "Busy.\n",
			req: &api.MonitorRequest{Op: api.MonitorResume}},
		{name: "internal error", args: "-v", err: errors.New("store unreachable"), code: 255, stderr: "store unreachable\n",
			req: &api.MonitorRequest{Op: api.MonitorShow}},
		{name: "refusal without a code", args: "-s", err: &status.OpError{Msg: "Something odd."}, code: 255, stderr: "Something odd.\n",
			req: &api.MonitorRequest{Op: api.MonitorSuspend}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.set(tt.monitors, tt.err, tt.block)
			cmdtest.Expect(t, "clpmonctrl", run, cmdtest.SplitArgs(tt.args), cmdtest.EnvWith(cmp.Or(tt.socket, sock)), tt.code, tt.stdout, tt.stderr)
			cmdtest.Asked(t, f.requests(), tt.req, tt.socket == "")
		})
	}
}

// TestNotRoot runs clpmonctrl as an unprivileged user. When the tests run as root, a copy of the
// test binary runs as nobody (see TestMain). The options are checked before the user.
func TestNotRoot(t *testing.T) {
	cmdtest.NotRoot(t, "clpmonctrl", run, []cmdtest.NotRootCase{
		{Args: "-s -m pidw1", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "-v", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "-s -r", Code: 2, Stderr: "Invalid option. Give exactly one of -s, -r, -c or -v (see clpmonctrl --help).\n"},
	})
}
