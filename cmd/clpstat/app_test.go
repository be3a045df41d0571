package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"clpkit/internal/cmdtest"
	"clpkit/internal/command"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// The optional names of --sv, --hb, --grp, --rsc and --mon: the next argument unless it starts
// with '-'; the values of -h and -o are whatever follows them.
func TestOptionalValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the options set, with their values, then the operands
	}{
		{"--mon", "mon= |"},
		{"--mon pidw1", "mon=pidw1 |"},
		{"-mon pidw1", "mon=pidw1 |"},
		{"--mon=pidw1", "mon=pidw1 |"},
		{"--mon -h server1", "h=server1 mon= |"},
		{"-h server1 --mon pidw1", "h=server1 mon=pidw1 |"},
		{"-h --mon x", "h=--mon | x"},
		{"--mon --", "mon= |"},
		{"-- --mon x", "| --mon x"},
		{"-m", "m |"},
		{"", "|"},
		{"--sv", "sv= |"},
		{"--sv server1 -h server2", "h=server2 sv=server1 |"},
		{"-hb leasehb1", "hb=leasehb1 |"},
		{"--grp --detail", "detail grp= |"},
		{"--cl x", "cl | x"},
		{"-o --sv x", "o=--sv | x"},
	} {
		var got string
		code := spec().Run(append([]string{"clpstat"}, strings.Fields(tc.in)...), io.Discard, io.Discard, func(c *cli.Context) error {
			var set []string
			for _, f := range spec().Flags {
				k := f.Key()
				switch {
				case !c.IsSet(k):
				case f.Kind == command.Switch:
					set = append(set, k)
				default:
					set = append(set, k+"="+c.String(k))
				}
			}
			slices.Sort(set)
			got = strings.TrimSpace(strings.Join(set, " ") + " | " + strings.Join(c.Args().Slice(), " "))
			return nil
		})
		if code != 0 || got != tc.want {
			t.Errorf("clpstat %s: status %d, read %q, want %q", tc.in, code, got, tc.want)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"clpstat", "--svx", "a"}, io.Discard, &stderr, func(string) string { return "" }); code != 1 || stderr.String() != "clpstat: option --svx is not supported yet\n" {
		t.Errorf("clpstat --svx a: status %d, stderr %q", code, stderr.String())
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
		"-n -p":                 "Invalid option. -n cannot be combined with -p.",
		"-p --long":             "Invalid option. -p cannot be combined with --long.",
		"-i --cl":               "Invalid option. -i cannot be combined with --cl.",
		"--sv --hb":             "Invalid option. --sv cannot be combined with --hb.",
		"--grp g --rsc r --mon": "Invalid option. --grp cannot be combined with --rsc or --mon.",
		"-g -n -i --sv x":       "Invalid option. -g cannot be combined with -n, -i or --sv.",
		"--rsc fip1 -o json":    "Invalid option. --rsc cannot be combined with -o.",
		"-n -m":                 "Invalid option. -m cannot be combined with -n.",
		"--detail":              "Invalid option. --detail needs --cl or -i.",
		"--sv --detail":         "Invalid option. --detail needs --cl or -i, not --sv.",
		"--local --detail":      "Invalid option. --detail needs --cl or -i.",
		"--cl x":                `Invalid option. clpstat takes no argument "x" (see clpstat --help).`,
		"-i server1":            `Invalid option. clpstat takes no argument "server1" (see clpstat --help).`,
	} {
		cmdtest.Expect(t, "clpstat", run, strings.Fields(args), func(string) string { return "" }, 1, "", want+"\n")
	}
}

// statusOnly is a clpd that answers the status with c, for itself and for the server of -h.
type statusOnly struct {
	cmdtest.Unused
	c status.Cluster
}

func (f statusOnly) Status(context.Context) (status.Cluster, error) { return f.c, nil }

// fakeClpd answers the status with c on a socket in a temporary directory and returns the
// environment that points clpstat at it.
func fakeClpd(t *testing.T, c status.Cluster) func(string) string {
	t.Helper()
	f := statusOnly{c: c}
	return cmdtest.EnvWith(cmdtest.Serve(t, api.Handler(f, func(string) (api.Service, error) { return f, nil }), nil))
}

// display is a command line of clpstat and its whole output.
type display struct {
	args   string
	code   int
	stdout string // "" when it must be empty
	stderr string
}

// expectDisplays runs clpstat on each command line against env and reports any difference from
// the exit status and the exact output expected.
func expectDisplays(t *testing.T, env func(string) string, displays []display) {
	t.Helper()
	for _, tc := range displays {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"clpstat"}, strings.Fields(tc.args)...), &stdout, &stderr, env)
		if code != tc.code || stdout.String() != tc.stdout || stderr.String() != tc.stderr {
			t.Errorf("clpstat %s: exit %d\nstdout:\n%s\nstderr: %q\nwant exit %d\nstdout:\n%s\nstderr: %q",
				tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
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
	expectDisplays(t, env, []display{
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
	})

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

func witnessCluster() status.Cluster {
	hbs := func(lease, witness status.State) []status.Heartbeat {
		return []status.Heartbeat{
			{Name: "leasehb1", State: lease, Comment: "etcd Lease Heartbeat"},
			{Name: "witnesshb1", State: witness, Comment: "Witness Heartbeat"},
		}
	}
	return status.Cluster{
		Name:        "cluster1",
		LocalServer: "node1",
		Witness:     "witness1",
		Settings:    []status.Param{{Name: "Heartbeat Timeout", Value: "10s"}},
		Servers: []status.Server{
			{Name: "node1", Address: "192.0.2.11", State: status.Online, Heartbeats: hbs(status.Normal, status.Normal)},
			{Name: "node2", Address: "192.0.2.12", State: status.Offline, Heartbeats: hbs(status.Offline, status.Offline)},
		},
		Groups: []status.Group{
			{Name: "failover1", State: status.Online, Current: "node1", Servers: []string{"node1", "node2"},
				Resources: []status.Resource{{Name: "fip1", Type: "fip", State: status.Online,
					Params: []status.Param{{Name: "IP Address", Value: "10.0.0.100"}}}}},
		},
	}
}

func TestHeartbeatAndConfigDisplays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("clpstat runs only as root")
	}
	env := fakeClpd(t, witnessCluster())
	expectDisplays(t, env, []display{
		{"-n", 0, ` ==================  HEARTBEAT RESOURCE STATUS  ==================
  Cluster : cluster1
  *server0 : node1
   server1 : node2

  HB0 : leasehb1
  HB1 : witnesshb1

 [on server0 : Online]
 [on server1 : Offline]
  -----------------------------------------------------------------
  server0 : o o
  server1 : x x
 =================================================================
`, ""},
		{"-p -h node1", 0, ` =============  NETWORK PARTITION RESOLUTION STATUS  =============
  Cluster : cluster1
  *server0 : node1
   server1 : node2

  NP0 : witnesshb1 (witness witness1)

 [on server0 : Online]
 [on server1 : Offline]
  -----------------------------------------------------------------
  server0 : o
  server1 : x
 =================================================================
`, ""},
		{"--rsc fip1", 0, ` =======================  CLUSTER INFORMATION  =======================
  [Resource0 : fip1]
    Type                                                     : fip
    Comment                                                  : 
    IP Address                                               : 10.0.0.100
 =====================================================================
`, ""},
		{"--cl --detail", 0, ` =======================  CLUSTER INFORMATION  =======================
  [Cluster : cluster1]
    Comment                                                  : 
    Heartbeat Timeout                                        : 10s
 =====================================================================
`, ""},
		{"--sv node2", 0, ` =======================  CLUSTER INFORMATION  =======================
  [Server1 : node2]
    Address                                                  : 192.0.2.12
    Comment                                                  : 
 =====================================================================
`, ""},
		{"--sv nosuch", 1, "", `Invalid server name "nosuch": the cluster's servers are listed by clpstat --sv.` + "\n"},
		{"--hb nosuch", 1, "", `Invalid heartbeat resource name "nosuch": the cluster's heartbeat resources are listed by clpstat --hb.` + "\n"},
		{"--grp nosuch", 1, "", `Invalid group name "nosuch": the cluster's groups are listed by clpstat --grp.` + "\n"},
		{"--rsc nosuch -h node1", 1, "", `Invalid group resource name "nosuch": the cluster's group resources are listed by clpstat --rsc.` + "\n"},
		{"--mon nosuch", 1, "", `Invalid monitor resource name "nosuch": the cluster's monitor resources are listed by clpstat -m.` + "\n"},
	})

	// The displays without a name show every item; -i shows them all, in order.
	for args, want := range map[string][]string{
		"--sv":                {"  [Server0 : node1]\n", "  [Server1 : node2]\n"},
		"--hb -h node1":       {"  [HB0 : leasehb1]\n", "  [HB1 : witnesshb1]\n"},
		"--grp":               {"  [Group0 : failover1]\n    Type                                                     : failover\n"},
		"--rsc":               {"  [Resource0 : fip1]\n"},
		"-i":                  {"  [Cluster : cluster1]\n    Comment                                                  : \n  [Server0", "  [HB1 : witnesshb1]\n", "  [Resource0 : fip1]\n"},
		"-i --detail":         {"  [Cluster : cluster1]\n    Comment                                                  : \n    Heartbeat Timeout"},
		"--cl":                {"  [Cluster : cluster1]\n    Comment                                                  : \n =="},
		"--local":             {"    failover1 .......: Online           \n"},
		"-h node1 --grp":      {"  [Group0 : failover1]\n"},
		"--rsc=fip1 -h node1": {"    IP Address                                               : 10.0.0.100\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"clpstat"}, strings.Fields(args)...), &stdout, &stderr, env)
		for _, w := range want {
			if code != 0 || !strings.Contains(stdout.String(), w) {
				t.Errorf("clpstat %s: exit %d, no %q in stdout:\n%s\nstderr %q", args, code, w, stdout.String(), stderr.String())
			}
		}
	}
}
