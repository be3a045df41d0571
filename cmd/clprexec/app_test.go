package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

func TestMain(m *testing.M) {
	cmdtest.Child("clprexec", run)
	os.Exit(m.Run())
}

// cluster is what the fake's status shows: three servers, one of them on IPv6, and two groups.
var cluster = status.Cluster{
	Name:        "cluster1",
	LocalServer: "server1",
	Servers: []status.Server{
		{Name: "server1", Address: "192.0.2.1"},
		{Name: "server2", Address: "192.0.2.2"},
		{Name: "server3", Address: "2001:db8::3"},
	},
	Groups: []status.Group{
		{Name: "failover1", Current: "server2", Resources: []status.Resource{{Name: "fip1"}, {Name: "exec1"}}},
		{Name: "failover2", Current: "server1", Resources: []status.Resource{{Name: "exec2"}}},
	},
}

// fakeClpd is the daemon side of the tests: it answers the status with cluster (or statusErr),
// and its recorders record the move and clprexec requests it gets and answer them as set. clpd
// relays a request for a host to a copy with that host, so that the request recorded keeps the
// host the command asked for, which is what these tests check.
type fakeClpd struct {
	cmdtest.Unused
	*answers
	host string
}

// answers are what the fake and its relayed copies share.
type answers struct {
	mu        sync.Mutex
	statusErr error
	moves     *cmdtest.Recorder[api.GroupRequest, struct{}]
	rexecs    *cmdtest.Recorder[api.RexecRequest, api.RexecResult]
}

func (f *fakeClpd) Status(context.Context) (status.Cluster, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.statusErr != nil {
		return status.Cluster{}, f.statusErr
	}
	return cluster, nil
}

func (f *fakeClpd) MoveGroup(ctx context.Context, r api.GroupRequest) error {
	r.Host = f.host
	_, err := f.moves.Take(ctx, r)
	return err
}

func (f *fakeClpd) Rexec(ctx context.Context, r api.RexecRequest) (api.RexecResult, error) {
	r.Host = f.host
	return f.rexecs.Take(ctx, r)
}

// set prepares the answers of the next command and forgets the requests seen so far: moveErr
// answers both kinds of request, and block holds a move until the client gives up.
func (a *answers) set(statusErr, moveErr error, block bool) {
	a.mu.Lock()
	a.statusErr = statusErr
	a.mu.Unlock()
	a.moves.Set(struct{}{}, moveErr, block)
	a.rexecs.Set(api.RexecResult{}, moveErr, false)
}

// serve runs clpd's API over a fake on a Unix socket and returns its answers and the socket.
func serve(t *testing.T) (*answers, string) {
	t.Helper()
	a := &answers{moves: cmdtest.NewRecorder[api.GroupRequest, struct{}](), rexecs: cmdtest.NewRecorder[api.RexecRequest, api.RexecResult]()}
	relay := func(h string) (api.Service, error) { return &fakeClpd{answers: a, host: h}, nil }
	return a, cmdtest.Serve(t, api.Handler(&fakeClpd{answers: a}, relay), func() { a.moves.Release(); a.rexecs.Release() })
}

func TestRun(t *testing.T) {
	f, sock := serve(t)
	missing, noDaemon := cmdtest.NoDaemon(t)
	remoteDown := &status.OpError{Code: api.CodeNoDaemon, Msg: "Could not connect to the server. Check if the cluster service is active. (clpd does not answer at https://192.0.2.2:29001)"}
	noCerts := &status.OpError{Code: status.CodeInvalidServer, Msg: "Could not connect to server server2: this server has no cluster certificates in /etc/clpkit/tls; create them with clpd --make-certs and copy them to every server."}
	notRunning := &status.OpError{Code: status.CodeAlreadyStopped, Msg: "The group is not running on server server1: only a running group can be moved."}
	noDest := &status.OpError{Code: status.CodeNoDestination, Msg: "No server to move group failover1 to: no other server of its failover policy is Online."}
	notStarted := &status.OpError{Code: status.CodeNotStarted, Msg: "The cluster service is not started on server server2. Start it with: clpcl -s"}
	suspended := &status.OpError{Code: status.CodeSuspended, Msg: "The cluster is suspended. Resume it with: clpcl --resume"}
	timeout := status.ErrTimeout().Msg + "\n"
	oneOf := "Invalid option. Give one of --failover, --script, --notice or --clear (see clprexec --help).\n"
	scriptFailed := &status.OpError{Code: status.CodeScriptFailed, Msg: "The script check.sh on server server2 ended with exit status 3."}
	noMonitor := status.ErrInvalidMonitor("mrw9")
	rexec := func(r api.RexecRequest) *api.RexecRequest { return &r }
	noGroup := "Invalid option. Give the group to fail over, or -r with a resource of it (see clprexec --help).\n"
	notOfCluster := func(h string) string {
		return "clprexec: " + h + " is not an address of a server of cluster cluster1: clprexec reaches the servers of its own cluster (they share its certificates)\n"
	}
	move := func(group, host string) *api.GroupRequest { return &api.GroupRequest{Group: group, Host: host} }

	tests := []struct {
		name      string
		args      string // split at blanks; '' is an empty argument, LOG the log file's path
		statusErr error
		moveErr   error
		block     bool
		socket    string // "" = the fake's
		logBefore string // the log file's content before the command; "-" = no file
		code      int
		stdout    string
		stderr    string            // LOG stands for the log file's path
		log       string            // the log file's content afterwards (when args name it)
		req       *api.GroupRequest // what clpd must have been asked; nil = nothing
		rexec     *api.RexecRequest // the --script, --notice or --clear request clpd must have got
	}{
		// Refused command lines: status 2, one line, nothing asked of clpd.
		{name: "no request", args: "-h 192.0.2.2", code: 2, stderr: oneOf},
		{name: "nothing", args: "", code: 2, stderr: oneOf},
		{name: "two requests", args: "--failover failover1 --notice -h 192.0.2.2", code: 2, stderr: oneOf},
		{name: "--notice alone", args: "--notice", code: 2, stderr: "Invalid option. --notice needs -h with the IP address of a server of the cluster (see clprexec --help).\n"},
		{name: "--script without its file", args: "--script", code: 2, stderr: "clprexec: option --script needs its argument script_file (see clprexec --help)\n"},
		{name: "--script with an operand", args: "--script check.sh extra -h 192.0.2.2", code: 2,
			stderr: "Invalid option. --script takes no operand \"extra\": the script's name follows --script.\n"},
		{name: "--script with -k", args: "--script check.sh -h 192.0.2.2 -k cat", code: 2, stderr: "Invalid option. --script takes neither -k nor -r.\n"},
		{name: "--clear of nothing", args: "--clear -h 192.0.2.2", code: 2,
			stderr: "Invalid option. --clear needs the message receive monitor's name, or -k with its category (see clprexec --help).\n"},
		{name: "--notice with -r", args: "--notice mrw1 -h 192.0.2.2 -r fip1", code: 2, stderr: "Invalid option. -r goes with --failover only.\n"},
		{name: "two monitors", args: "--notice mrw1 mrw2 -h 192.0.2.2", code: 2, stderr: "Invalid option. Give at most one monitor name, not [\"mrw1\" \"mrw2\"].\n"},
		{name: "no group and no -r", args: "--failover -h 192.0.2.2", code: 2, stderr: noGroup},
		{name: "no group, no -r, no -h", args: "--failover", code: 2,
			stderr: "Invalid option. --failover needs -h with the IP address of a server of the cluster (see clprexec --help).\n"},
		{name: "no -h", args: "--failover failover1", code: 2,
			stderr: "Invalid option. --failover needs -h with the IP address of a server of the cluster (see clprexec --help).\n"},
		{name: "-h is the host, not help", args: "--failover failover1 -h", code: 2, stderr: "clprexec: option -h needs its argument IP (see clprexec --help)\n"},
		{name: "-h ending the line after the group", args: "--failover failover1 -w 5 -h", code: 2, stderr: "clprexec: option -h needs its argument IP (see clprexec --help)\n"},
		{name: "-o ending the line", args: "-h 192.0.2.2 --failover failover1 -o", code: 2, stderr: "clprexec: option -o needs its argument logfile (see clprexec --help)\n"},
		{name: "-h empty", args: "--failover failover1 -h ''", code: 2, stderr: "Invalid option. -h needs an IP address or a server name, not \"\".\n"},
		{name: "-h swallowing a flag", args: "--failover failover1 -h -w 5", code: 2, stderr: "Invalid option. -h needs an IP address or a server name, not \"-w\".\n"},
		{name: "-r empty", args: "--failover -h 192.0.2.2 -r ''", code: 2, stderr: "Invalid option. -r needs a resource name, not \"\".\n"},
		{name: "-o empty", args: "--failover failover1 -h 192.0.2.2 -o ''", code: 2, stderr: "Invalid option. -o needs a file name, not \"\".\n"},
		{name: "empty group", args: "--failover '' -h 192.0.2.2", code: 2, stderr: "Invalid option. The group name is empty.\n"},
		{name: "two groups", args: "--failover failover1 failover2 -h 192.0.2.2", code: 2,
			stderr: "Invalid option. Give at most one group name, not [\"failover1\" \"failover2\"].\n"},
		{name: "-k with --failover", args: "--failover failover1 -h 192.0.2.2 -k cat", code: 2, stderr: "Invalid option. -k goes with --notice and --clear only.\n"},
		{name: "-w 0", args: "--failover failover1 -h 192.0.2.2 -w 0", code: 2, stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not 0.\n"},
		{name: "-w too long", args: "--failover failover1 -h 192.0.2.2 -w 65536", code: 2, stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not 65536.\n"},
		{name: "-w not a number", args: "--failover failover1 -h 192.0.2.2 -w soon", code: 2,
			stderr: "Invalid option. -w takes a number of seconds from 1 to 65535, not \"soon\".\n"},
		{name: "-p 0", args: "--failover failover1 -h 192.0.2.2 -p 0", code: 2, stderr: "Invalid option. -p takes a port number from 1 to 65535, not 0.\n"},
		{name: "-p too big", args: "--failover failover1 -h 192.0.2.2 -p 65536", code: 2, stderr: "Invalid option. -p takes a port number from 1 to 65535, not 65536.\n"},
		{name: "log file in no directory", args: "--failover failover1 -h 192.0.2.2 -o /nonexistent/dir/rexec.log", code: 2,
			stderr: "clprexec: cannot open the log file of -o: open /nonexistent/dir/rexec.log: no such file or directory\n"},

		// --script, --notice and --clear: the request goes to the server of -h.
		{name: "--script, as the Hyper-V Replica kit runs it", args: "--script check.sh -h 192.0.2.2", stdout: cmdtest.Succeeded,
			rexec: rexec(api.RexecRequest{Op: api.RexecScript, Script: "check.sh", Timeout: 30, Host: "server2"})},
		{name: "--script with every option", args: "--script check.sh -h 192.0.2.2 -p 29002 -w 10 -o LOG", logBefore: "-", stdout: cmdtest.Succeeded,
			log: "Command succeeded.\n", rexec: rexec(api.RexecRequest{Op: api.RexecScript, Script: "check.sh", Timeout: 10, Host: "server2"})},
		{name: "--script that fails there", args: "--script check.sh -h 192.0.2.2 -o LOG", moveErr: scriptFailed, logBefore: "-", code: 4,
			stderr: scriptFailed.Msg + "\n", log: scriptFailed.Msg + "\n", rexec: rexec(api.RexecRequest{Op: api.RexecScript, Script: "check.sh", Timeout: 30, Host: "server2"})},
		{name: "--notice to a monitor", args: "--notice mrw1 -h 192.0.2.2 -k cat.key", stdout: cmdtest.Succeeded,
			rexec: rexec(api.RexecRequest{Op: api.RexecNotice, Monitor: "mrw1", Category: "cat", Keyword: "key", Host: "server2"})},
		{name: "--notice by category", args: "--notice -h 192.0.2.1 -k cat", stdout: cmdtest.Succeeded,
			rexec: rexec(api.RexecRequest{Op: api.RexecNotice, Category: "cat", Host: "server1"})},
		{name: "--notice to no such monitor", args: "--notice mrw9 -h 192.0.2.2", moveErr: noMonitor, code: 4,
			stderr: noMonitor.Msg + "\n", rexec: rexec(api.RexecRequest{Op: api.RexecNotice, Monitor: "mrw9", Host: "server2"})},
		{name: "--clear", args: "--clear mrw1 -h server2", stdout: cmdtest.Succeeded,
			rexec: rexec(api.RexecRequest{Op: api.RexecClear, Monitor: "mrw1", Host: "server2"})},

		// Successes, and the resolution of -h.
		{name: "script of mkazuyuki", args: "--failover failover1 -h 192.0.2.2", stdout: cmdtest.Succeeded, req: move("failover1", "server2")},
		{name: "the local server's address", args: "--failover failover2 -h 192.0.2.1", stdout: cmdtest.Succeeded, req: move("failover2", "server1")},
		{name: "a server name", args: "--failover failover1 -h server2", stdout: cmdtest.Succeeded, req: move("failover1", "server2")},
		{name: "IPv6 address", args: "--failover failover1 -h 2001:db8::3", stdout: cmdtest.Succeeded, req: move("failover1", "server3")},
		{name: "IPv6 address, another spelling", args: "--failover failover1 -h 2001:0db8:0:0::3", stdout: cmdtest.Succeeded, req: move("failover1", "server3")},
		{name: "group after the options", args: "-h 192.0.2.2 -w 60 --failover failover1", stdout: cmdtest.Succeeded, req: move("failover1", "server2")},
		{name: "group of -r", args: "--failover -h 192.0.2.2 -r exec1", stdout: cmdtest.Succeeded, req: move("failover1", "server2")},
		{name: "group and its resource", args: "--failover failover2 -r exec2 -h 192.0.2.1", stdout: cmdtest.Succeeded, req: move("failover2", "server1")},
		{name: "-p is ignored", args: "--failover failover1 -h 192.0.2.2 -p 29002", stdout: cmdtest.Succeeded, req: move("failover1", "server2")},
		{name: "glued values", args: "--failover failover1 -h=192.0.2.2 -w=1", stdout: cmdtest.Succeeded, req: move("failover1", "server2")},
		{name: "-o creates the log", args: "--failover failover1 -h 192.0.2.2 -o LOG", logBefore: "-",
			stdout: cmdtest.Succeeded, log: "Command succeeded.\n", req: move("failover1", "server2")},
		{name: "-o appends to the log", args: "--failover failover1 -o LOG -h 192.0.2.2", logBefore: "earlier line\n",
			stdout: cmdtest.Succeeded, log: "earlier line\nCommand succeeded.\n", req: move("failover1", "server2")},

		// -h that is no server of this cluster: status 3, nothing moved.
		{name: "address of another cluster", args: "--failover failover1 -h 192.0.2.9", code: 3, stderr: notOfCluster("192.0.2.9")},
		{name: "unknown name", args: "--failover failover1 -h iscsi1", code: 3, stderr: notOfCluster("iscsi1")},
		{name: "address with a port", args: "--failover failover1 -h 192.0.2.2:29001", code: 3, stderr: notOfCluster("192.0.2.2:29001")},
		{name: "not of the cluster, logged", args: "--failover failover1 -h 192.0.2.9 -o LOG", logBefore: "-",
			code: 3, stderr: notOfCluster("192.0.2.9"), log: notOfCluster("192.0.2.9")},

		// Failures of the request and their statuses.
		{name: "no clpd", args: "--failover failover1 -h 192.0.2.2", socket: missing, code: 3, stderr: noDaemon},
		{name: "no clpd, logged", args: "--failover failover1 -h 192.0.2.2 -o LOG", socket: missing, logBefore: "-",
			code: 3, stderr: noDaemon, log: noDaemon},
		{name: "the other server does not answer", args: "--failover failover1 -h 192.0.2.2", moveErr: remoteDown, code: 3,
			stderr: remoteDown.Msg + "\n", req: move("failover1", "server2")},
		{name: "no certificates to relay with", args: "--failover failover1 -h 192.0.2.2", moveErr: noCerts, code: 3,
			stderr: noCerts.Msg + "\n", req: move("failover1", "server2")},
		{name: "unknown resource", args: "--failover -h 192.0.2.2 -r nosuch", code: 4,
			stderr: status.ErrInvalidResource("nosuch").Msg + "\n"},
		{name: "resource of another group", args: "--failover failover1 -h 192.0.2.2 -r exec2", code: 4,
			stderr: "clprexec: resource exec2 belongs to group failover2, not failover1.\n"},
		{name: "unknown group", args: "--failover nosuch -h 192.0.2.2", moveErr: status.ErrInvalidGroup("nosuch"), code: 4,
			stderr: status.ErrInvalidGroup("nosuch").Msg + "\n", req: move("nosuch", "server2")},
		{name: "group not running there", args: "--failover failover1 -h 192.0.2.1", moveErr: notRunning, code: 4,
			stderr: notRunning.Msg + "\n", req: move("failover1", "server1")},
		{name: "no destination, logged", args: "--failover failover1 -h 192.0.2.2 -o LOG", moveErr: noDest, logBefore: "earlier line\n",
			code: 4, stderr: noDest.Msg + "\n", log: "earlier line\n" + noDest.Msg + "\n", req: move("failover1", "server2")},
		{name: "cluster service not started there", args: "--failover failover1 -h 192.0.2.2", moveErr: notStarted, code: 4,
			stderr: notStarted.Msg + "\n", req: move("failover1", "server2")},
		{name: "suspended", args: "--failover failover1 -h 192.0.2.2", moveErr: suspended, code: 4,
			stderr: suspended.Msg + "\n", req: move("failover1", "server2")},
		{name: "status refused", args: "--failover failover1 -h 192.0.2.2", statusErr: errors.New("store unreachable"), code: 4,
			stderr: "store unreachable\n"},
		{name: "internal error", args: "--failover failover1 -h 192.0.2.2", moveErr: errors.New("disk full"), code: 4,
			stderr: "disk full\n", req: move("failover1", "server2")},
		{name: "clpd timed out", args: "--failover failover1 -h 192.0.2.2", moveErr: status.ErrTimeout(), code: 5,
			stderr: timeout, req: move("failover1", "server2")},
		{name: "-w ran out", args: "--failover failover1 -h 192.0.2.2 -w 1 -o LOG", block: true, logBefore: "-", code: 5,
			stderr: timeout, log: timeout, req: move("failover1", "server2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.set(tt.statusErr, tt.moveErr, tt.block)
			s := sock
			if tt.socket != "" {
				s = tt.socket
			}
			logPath := filepath.Join(t.TempDir(), "rexec.log")
			if tt.logBefore != "" && tt.logBefore != "-" {
				if err := os.WriteFile(logPath, []byte(tt.logBefore), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := cmdtest.SplitArgs(tt.args)
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "LOG", logPath)
			}
			cmdtest.Expect(t, "clprexec", run, args, cmdtest.EnvWith(s), tt.code, tt.stdout, tt.stderr)
			if tt.logBefore != "" {
				b, err := os.ReadFile(logPath)
				switch {
				case tt.log == "" && !errors.Is(err, os.ErrNotExist):
					t.Errorf("the log file exists (%q, %v), want none", b, err)
				case tt.log != "" && string(b) != tt.log:
					t.Errorf("log file %q (%v), want %q", b, err, tt.log)
				}
			}
			cmdtest.Asked(t, f.moves.Requests(), tt.req, true)
			cmdtest.Asked(t, f.rexecs.Requests(), tt.rexec, true)
		})
	}
}

// TestNotRoot runs clprexec as an unprivileged user. When the tests run as root, a copy of the
// test binary runs as nobody (see TestMain). The options are checked before the user, and
// nothing is logged.
func TestNotRoot(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "rexec.log")
	cmdtest.NotRoot(t, "clprexec", run, []cmdtest.NotRootCase{
		{Args: "--failover failover1 -h 192.0.2.2", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "--failover -r fip1 -h 192.0.2.2 -o " + logPath, Code: 1, Stderr: "Log in as root.\n"},
		{Args: "--script check.bat -h 192.0.2.2", Code: 1, Stderr: "Log in as root.\n"},
		{Args: "--script check.bat", Code: 2, Stderr: "Invalid option. --script needs -h with the IP address of a server of the cluster (see clprexec --help).\n"},
		{Args: "--failover -h 192.0.2.2", Code: 2, Stderr: "Invalid option. Give the group to fail over, or -r with a resource of it (see clprexec --help).\n"},
	})
}
