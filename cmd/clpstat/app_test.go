package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"clpkit/internal/command"
	"clpkit/pkg/status"
)

func TestMonValue(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"--mon"}, []string{"--mon="}},
		{[]string{"--mon", "pidw1"}, []string{"--mon=pidw1"}},
		{[]string{"-mon", "pidw1"}, []string{"--mon=pidw1"}},
		{[]string{"--mon=pidw1"}, []string{"--mon=pidw1"}},
		{[]string{"--mon", "-h", "server1"}, []string{"--mon=", "-h", "server1"}},
		{[]string{"-h", "server1", "--mon", "pidw1"}, []string{"-h", "server1", "--mon=pidw1"}},
		// -h takes the next argument, whatever it is.
		{[]string{"-h", "--mon", "x"}, []string{"-h", "--mon", "x"}},
		{[]string{"--mon", "--"}, []string{"--mon=", "--"}},
		{[]string{"--", "--mon", "x"}, []string{"--", "--mon", "x"}},
		{[]string{"-m"}, []string{"-m"}},
		{nil, []string{}},
	} {
		if got := monValue(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("monValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Bad command lines fail before clpd is asked: exit 1, one line on stderr, nothing on stdout.
func TestBadCommandLines(t *testing.T) {
	for args, want := range map[string]string{
		"-m -g":                 "Invalid option. -g cannot be combined with -m.",
		"-g -o json --long":     "Invalid option. -g cannot be combined with -o or --long.",
		"-g --long":             "Invalid option. -g cannot be combined with --long.",
		"-m --mon":              "Invalid option. -m cannot be combined with --mon.",
		"-m -o json":            "Invalid option. -m cannot be combined with -o.",
		"-m --long":             "Invalid option. -m cannot be combined with --long.",
		"--mon pidw1 -o json":   "Invalid option. --mon cannot be combined with -o.",
		"--mon --long":          "Invalid option. --mon cannot be combined with --long.",
		"-g -m --mon x -o json": "Invalid option. -g cannot be combined with -m, --mon or -o.",
		"--mon pidw1 extra":     `Invalid option. clpstat takes no argument "extra" (see clpstat --help).`,
		"-m extra":              `Invalid option. clpstat takes no argument "extra" (see clpstat --help).`,
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"clpstat"}, strings.Fields(args)...), &stdout, &stderr, func(string) string { return "" })
		if code != 1 || stdout.Len() != 0 || stderr.String() != want+"\n" {
			t.Errorf("clpstat %s: exit %d, stdout %q, stderr %q; want 1, nothing, %q", args, code, stdout.String(), stderr.String(), want)
		}
	}
}

// fakeClpd answers GET /v1/status with c on a socket in a temporary directory and returns the
// environment that points clpstat at it.
func fakeClpd(t *testing.T, c status.Cluster) func(string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "clpstat")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "clpd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		if err := json.NewEncoder(w).Encode(c); err != nil {
			t.Error(err)
		}
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return func(k string) string {
		if k == command.EnvSocket {
			return sock
		}
		return ""
	}
}

func cluster() status.Cluster {
	on := func(server string, st status.State) status.MonitorOnServer {
		return status.MonitorOnServer{Server: server, State: st, Counters: status.Counters{RestartMax: 3, FailoverMax: 1, FinalActionIs: "No operation"}}
	}
	return status.Cluster{
		Name:        "cluster1",
		LocalServer: "server1",
		Servers:     []status.Server{{Name: "server1", State: status.Online}, {Name: "server2", State: status.Offline}},
		Monitors: []status.Monitor{
			{Name: "userw", Type: "userw", State: status.Normal, RecoveryTarget: "LocalServer",
				Servers: []status.MonitorOnServer{on("server1", status.Online), on("server2", status.Offline)}},
			{Name: "genw1", Type: "genw", State: status.Error, RecoveryTarget: "failover1",
				Servers: []status.MonitorOnServer{on("server1", status.Error), on("server2", status.Offline)}},
		},
	}
}

func TestMonitorDisplays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("clpstat runs only as root")
	}
	env := fakeClpd(t, cluster())
	for _, tc := range []struct {
		args   string
		code   int
		stdout string // "" when it must be empty
		stderr string
	}{
		{"-m", 0, ` ===================  MONITOR RESOURCE STATUS  ===================
  Cluster : cluster1
  *server0 : server1
   server1 : server2

  Monitor0 [userw : Normal]
  -----------------------------------------------------------------
    server0 [o] : Online
    server1 [x] : Offline

  Monitor1 [genw1 : Error]
  -----------------------------------------------------------------
    server0 [o] : Error
    server1 [x] : Offline
 =================================================================
`, ""},
		{"--mon genw1 -h server1", 0, ` =======================  CLUSTER INFORMATION  =======================
  [Monitor1 : genw1]
    Type                                                     : genw
    Comment                                                  : 
    Target Resource                                          : 
    Recovery Target                                          : failover1
    Recovery Script Threshold                                : 0
    Reactivation Threshold                                   : 3
    Failover Threshold                                       : 1
    Final Action                                             : No operation
 =====================================================================
`, ""},
		{"--mon nosuch", 1, "", `Invalid monitor resource name "nosuch": the cluster's monitor resources are listed by clpstat -m.` + "\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"clpstat"}, strings.Fields(tc.args)...), &stdout, &stderr, env)
		if code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("clpstat %s: exit %d\nstdout:\n%s\nstderr: %q\nwant exit %d\nstdout:\n%s\nstderr: %q",
				tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}

	// --mon alone shows both monitors; --mon before another option takes no name.
	for _, args := range []string{"--mon", "--mon -h server1", "-h server1 --mon"} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"clpstat"}, strings.Fields(args)...), &stdout, &stderr, env); code != 0 ||
			!strings.Contains(stdout.String(), "  [Monitor0 : userw]\n") || !strings.Contains(stdout.String(), "  [Monitor1 : genw1]\n") {
			t.Errorf("clpstat %s: exit %d, stdout:\n%s\nstderr %q", args, code, stdout.String(), stderr.String())
		}
	}

	// --local gives this server's word on the monitor lines; the default the cluster's.
	for args, want := range map[string]string{
		"":        "    userw            : Normal           \n    genw1            : Error            \n",
		"--local": "    userw            : Normal           \n    genw1            : Error            \n",
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"clpstat"}, strings.Fields(args)...), &stdout, &stderr, env); code != 0 || !strings.Contains(stdout.String(), "  <monitor>\n"+want) {
			t.Errorf("clpstat %s: exit %d, stdout:\n%s\nstderr %q", args, code, stdout.String(), stderr.String())
		}
	}
	c := cluster()
	c.LocalServer = "server2"
	env2 := fakeClpd(t, c)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"clpstat", "--local"}, &stdout, &stderr, env2); code != 0 ||
		!strings.Contains(stdout.String(), "  <monitor>\n    userw            : Offline          \n    genw1            : Offline          \n") {
		t.Errorf("clpstat --local on server2: exit %d, stdout:\n%s\nstderr %q", code, stdout.String(), stderr.String())
	}
}
