package main

import (
	"context"
	"errors"
	"os"
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

// fakeClpd is the daemon side of the tests: rec records the requests it gets and answers each
// as the case sets. clpd relays a request for a host to a copy with that host, so that the
// request recorded keeps the host the command asked for, which is what these tests check.
type fakeClpd struct {
	cmdtest.Unused
	rec  *cmdtest.Recorder[api.MonitorRequest, []status.Monitor]
	host string
}

func (f *fakeClpd) Monitors(ctx context.Context, r api.MonitorRequest) ([]status.Monitor, error) {
	r.Host = f.host
	return f.rec.Take(ctx, r)
}

// serve runs clpd's API over a fake on a Unix socket and returns the fake's recorder and the
// socket.
func serve(t *testing.T) (*cmdtest.Recorder[api.MonitorRequest, []status.Monitor], string) {
	t.Helper()
	rec := cmdtest.NewRecorder[api.MonitorRequest, []status.Monitor]()
	relay := func(h string) (api.Service, error) { return &fakeClpd{rec: rec, host: h}, nil }
	return rec, cmdtest.Serve(t, api.Handler(&fakeClpd{rec: rec}, relay), rec.Release)
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

func TestRun(t *testing.T) {
	rec, sock := serve(t)
	missing, noDaemon := cmdtest.NoDaemon(t)
	timeout := status.ErrTimeout().Msg + "\n"
	oneOf := "Invalid option. Give exactly one of -s, -r, -c or -v (see clpmonctrl --help).\n"

	cmdtest.RunCases(t, "clpmonctrl", run, sock, rec, []cmdtest.Case[api.MonitorRequest, []status.Monitor]{
		// Refused command lines: status 2, one line, nothing asked of clpd.
		{Name: "no operation", Args: "", Code: 2, Stderr: oneOf},
		{Name: "only -m", Args: "-m pidw1", Code: 2, Stderr: oneOf},
		{Name: "-s and -r", Args: "-s -r", Code: 2, Stderr: oneOf},
		{Name: "-c and -v", Args: "-c -v", Code: 2, Stderr: oneOf},
		{Name: "all four", Args: "-s -r -c -v", Code: 2, Stderr: oneOf},
		{Name: "unknown flag", Args: "-s -x", Code: 2, Stderr: "clpmonctrl: option -x is not supported yet\n"},
		{Name: "-h is the host, not help", Args: "-h", Code: 2, Stderr: "clpmonctrl: option -h needs its argument hostname (see clpmonctrl --help)\n"},
		{Name: "-m without a name", Args: "-s -m", Code: 2, Stderr: "clpmonctrl: option -m needs its argument monitor_name (see clpmonctrl --help)\n"},
		{Name: "-m swallowing a flag", Args: "-s -m -w 5", Code: 2, Stderr: "Invalid option. -m needs a monitor name, not \"-w\".\n"},
		{Name: "-m empty", Args: "-s -m ''", Code: 2, Stderr: "Invalid option. -m needs a monitor name, not \"\".\n"},
		{Name: "-h swallowing a flag", Args: "-s -h -m pidw1", Code: 2, Stderr: "Invalid option. -h needs a host name, not \"-m\".\n"},
		{Name: "-h empty", Args: "-r -h ''", Code: 2, Stderr: "Invalid option. -h needs a host name, not \"\".\n"},
		{Name: "bare monitor name", Args: "-s pidw1", Code: 2, Stderr: "Invalid option. clpmonctrl takes no argument \"pidw1\": give each monitor with its own -m (-m mon1 -m mon2).\n"},
		{Name: "two names after one -m", Args: "-s -m pidw1 genw1", Code: 2, Stderr: "Invalid option. clpmonctrl takes no argument \"genw1\": give each monitor with its own -m (-m mon1 -m mon2).\n"},
		{Name: "-w with -c", Args: "-c -w 5", Code: 2, Stderr: "Invalid option. -w goes with -s or -r only.\n"},
		{Name: "-w with -v", Args: "-v -m pidw1 -w 5", Code: 2, Stderr: "Invalid option. -w goes with -s or -r only.\n"},
		{Name: "-w 0", Args: "-s -w 0", Code: 2, Stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not 0.\n"},
		{Name: "-w negative", Args: "-s -w -1", Code: 2, Stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not -1.\n"},
		{Name: "-w too long", Args: "-r -w 65536", Code: 2, Stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not 65536.\n"},
		{Name: "-w not a number", Args: "-s -w abc", Code: 2, Stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not \"abc\".\n"},
		{Name: "-w overflowing", Args: "-s -w 99999999999999999999", Code: 2, Stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not 99999999999999999999.\n"},
		{Name: "-w without a value", Args: "-s -w", Code: 2, Stderr: "clpmonctrl: option -w needs its argument wait_time (see clpmonctrl --help)\n"},

		// Successes.
		{Name: "suspend all", Args: "-s", Stdout: cmdtest.Succeeded, Answer: shown,
			Req: &api.MonitorRequest{Op: api.MonitorSuspend}},
		{Name: "suspend one", Args: "-s -m pidw1", Stdout: cmdtest.Succeeded,
			Req: &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"pidw1"}}},
		{Name: "suspend on a host, legacy order", Args: "-s -h node1 -m mdw1", Stdout: cmdtest.Succeeded,
			Req: &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"mdw1"}, Host: "node1"}},
		{Name: "resume several, flags in any order", Args: "-m pidw1 -w 65535 -r -m genw1 -h server2", Stdout: cmdtest.Succeeded,
			Req: &api.MonitorRequest{Op: api.MonitorResume, Monitors: []string{"pidw1", "genw1"}, Host: "server2"}},
		{Name: "resume with -w 1", Args: "-r -w 1", Stdout: cmdtest.Succeeded,
			Req: &api.MonitorRequest{Op: api.MonitorResume}},
		{Name: "glued values", Args: "-s -m=pidw1 -w=3", Stdout: cmdtest.Succeeded,
			Req: &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"pidw1"}}},
		{Name: "a comma belongs to the name", Args: "-c -m a,b", Stdout: cmdtest.Succeeded,
			Req: &api.MonitorRequest{Op: api.MonitorClear, Monitors: []string{"a,b"}}},
		{Name: "clear all", Args: "-c", Stdout: cmdtest.Succeeded,
			Req: &api.MonitorRequest{Op: api.MonitorClear}},
		{Name: "show", Args: "-v", Answer: shown, Stdout: showGolden,
			Req: &api.MonitorRequest{Op: api.MonitorShow}},
		{Name: "show the counters of -h", Args: "-v -h server2 -m pidw1", Answer: shown[:1], Stdout: showServer2,
			Req: &api.MonitorRequest{Op: api.MonitorShow, Monitors: []string{"pidw1"}, Host: "server2"}},
		{Name: "show no monitor", Args: "-v", Stdout: strings.Repeat("=", 65) + "\n",
			Req: &api.MonitorRequest{Op: api.MonitorShow}},

		// Refusals of clpd and their statuses.
		{Name: "monitor not registered", Args: "-s -m nosuch", Err: status.ErrInvalidMonitor("nosuch"), Code: 5,
			Stderr: "Specified monitor resource is not registered. (nosuch)\n",
			Req:    &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"nosuch"}}},
		{Name: "show an unregistered monitor", Args: "-v -m nosuch", Err: status.ErrInvalidMonitor("nosuch"), Code: 5,
			Stderr: "Specified monitor resource is not registered. (nosuch)\n",
			Req:    &api.MonitorRequest{Op: api.MonitorShow, Monitors: []string{"nosuch"}}},
		{Name: "cluster service not started", Args: "-r", Code: 10,
			Err:    &status.OpError{Code: status.CodeNotStarted, Msg: "The cluster service is not started on server server1. Start it with: clpcl -s"},
			Stderr: "The cluster service is not started on server server1. Start it with: clpcl -s\n",
			Req:    &api.MonitorRequest{Op: api.MonitorResume}},
		{Name: "no clpd", Args: "-s", Socket: missing, Code: 10, Stderr: noDaemon},
		{Name: "no clpd for -v", Args: "-v", Socket: missing, Code: 10, Stderr: noDaemon},
		{Name: "cluster suspended", Args: "-c", Code: 11,
			Err:    &status.OpError{Code: status.CodeSuspended, Msg: "The cluster is suspended. Resume it with: clpcl --resume"},
			Stderr: "The cluster is suspended. Resume it with: clpcl --resume\n",
			Req:    &api.MonitorRequest{Op: api.MonitorClear}},
		{Name: "clpd timed out", Args: "-s", Err: status.ErrTimeout(), Code: 90, Stderr: timeout,
			Req: &api.MonitorRequest{Op: api.MonitorSuspend}},
		{Name: "-w ran out", Args: "-s -m pidw1 -w 1", Block: true, Code: 90, Stderr: timeout,
			Req: &api.MonitorRequest{Op: api.MonitorSuspend, Monitors: []string{"pidw1"}}},
		{Name: "unknown server", Args: "-s -h nosuch", Err: status.ErrInvalidServer("nosuch"), Code: 4,
			Stderr: status.ErrInvalidServer("nosuch").Msg + "\n",
			Req:    &api.MonitorRequest{Op: api.MonitorSuspend, Host: "nosuch"}},
		{Name: "busy", Args: "-r", Err: &status.OpError{Code: status.CodeBusy, Msg: "Busy."}, Code: 4, Stderr: "Busy.\n",
			Req: &api.MonitorRequest{Op: api.MonitorResume}},
		{Name: "internal error", Args: "-v", Err: errors.New("store unreachable"), Code: 255, Stderr: "store unreachable\n",
			Req: &api.MonitorRequest{Op: api.MonitorShow}},
		{Name: "refusal without a code", Args: "-s", Err: &status.OpError{Msg: "Something odd."}, Code: 255, Stderr: "Something odd.\n",
			Req: &api.MonitorRequest{Op: api.MonitorSuspend}},
	})
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
