package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func testdataDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "config"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadTestdata(t *testing.T) {
	dir := testdataDir(t)
	script := func(res, action string) string {
		return filepath.Join(dir, "scripts", "failover1", res, action+".sh")
	}
	tests := []struct {
		file string
		want *Config
	}{
		{
			file: "full.toml",
			want: &Config{
				File:    filepath.Join(dir, "full.toml"),
				Cluster: Cluster{Name: "cluster1", Comment: "Test cluster"},
				Timing: Timing{
					HeartbeatInterval: 500 * time.Millisecond,
					HeartbeatTimeout:  3 * time.Second,
					FenceFraction:     0.6,
					APITimeout:        10 * time.Minute,
					StartupWait:       5 * time.Minute,
				},
				Store:   Store{Mode: "external", Endpoints: []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379"}, ElectionTimeout: time.Second},
				TLS:     TLS{Dir: filepath.Join(dir, "pki"), DirSet: true},
				Fencing: Fencing{Guard: true, Watchdog: "off", WatchdogDevice: "/dev/watchdog1", WatchdogTimeout: 2 * time.Second},
				OS:      OS{Shutdown: []string{"/sbin/shutdown", "-h", "now"}, Reboot: []string{"/sbin/shutdown", "-r", "now"}},
				Paths: Paths{
					DataDir: filepath.Join(dir, "var", "lib"),
					LogDir:  "/tmp/clpkit/log",
					RunDir:  filepath.Join(dir, "run"),
					Cgroup:  "clpkit/test1",
					// clprexec --script's directory follows data_dir.
					ScriptDir: filepath.Join(dir, "var", "lib", "trnreq"),
				},
				Servers: []Server{
					{
						Name: "server1", Address: "10.0.0.1", Comment: "Primary server",
						EtcdClientURL: "https://10.0.0.1:12379", EtcdPeerURL: "https://10.0.0.1:12380", APIURL: "https://10.0.0.1:29001",
						Line: 39,
					},
					{
						Name: "server2", Address: "fe80::2",
						EtcdClientURL: "https://[fe80::2]:2379", EtcdPeerURL: "https://[fe80::2]:2380", APIURL: "https://[fe80::2]:29001",
						Line: 46,
					},
				},
				Groups: []Group{
					{
						Name: "failover1", Comment: "Main service",
						Servers:   []string{"server2", "server1"},
						AutoStart: false,
						Line:      50,
						Resources: []Resource{
							{
								Name: "exec1", Type: "exec",
								Start: script("exec1", "start"), Stop: script("exec1", "stop"),
								StartMode: ModeAsync, StopMode: ModeSync,
								StartTimeout: 90 * time.Second, StopTimeout: 60 * time.Second,
								Log:                     filepath.Join(dir, "log", "exec1.log"),
								ActivationRetry:         2,
								ActivationFailover:      1,
								ActivationFinalAction:   ActionStopCluster,
								DeactivationRetry:       99,
								DeactivationFinalAction: ActionStopCluster,
								Line:                    56,
							},
							{
								Name: "exec2", Type: "exec", Depends: []string{"exec1"},
								Start: script("exec2", "start"), Stop: script("exec2", "stop"),
								StartMode: ModeSync, StopMode: ModeSync,
								StartTimeout: 1800 * time.Second, StopTimeout: 1800 * time.Second,
								Log:                     "/tmp/clpkit/log/failover1.exec2.log",
								ActivationFailover:      1,
								ActivationFinalAction:   ActionStopGroup,
								DeactivationFinalAction: ActionNone,
								Line:                    71,
							},
						},
					},
					{Name: "empty", Servers: []string{"server1", "server2"}, AutoStart: true, Line: 78},
				},
			},
		},
		{
			file: "minimal.toml",
			want: &Config{
				File:    filepath.Join(dir, "minimal.toml"),
				Cluster: Cluster{Name: "cluster1"},
				Timing:  Timing{HeartbeatInterval: 100 * time.Millisecond, HeartbeatTimeout: time.Second, FenceFraction: 0.5, APITimeout: 30 * time.Minute, StartupWait: 5 * time.Minute},
				Store:   Store{Mode: "embedded", ElectionTimeout: 500 * time.Millisecond},
				Paths:   Paths{DataDir: "/var/lib/clpkit", LogDir: "/var/log/clpkit", RunDir: "/run/clpkit", ScriptDir: "/var/lib/clpkit/trnreq"},
				TLS:     TLS{Dir: "/var/lib/clpkit/pki"},
				Fencing: Fencing{Guard: true, Watchdog: "auto", WatchdogDevice: "/dev/watchdog", WatchdogTimeout: time.Second},
				OS:      OS{Shutdown: []string{"/sbin/shutdown", "-h", "now"}, Reboot: []string{"/sbin/shutdown", "-r", "now"}},
				Servers: []Server{{
					Name: "server1", Address: "127.0.0.1",
					EtcdClientURL: "https://127.0.0.1:2379", EtcdPeerURL: "https://127.0.0.1:2380", APIURL: "https://127.0.0.1:29001",
					Line: 6,
				}},
				Groups: []Group{{
					Name: "failover1", Servers: []string{"server1"}, AutoStart: true, Line: 10,
					Resources: []Resource{{
						Name: "exec1", Type: "exec",
						Start: script("exec1", "start"), Stop: script("exec1", "stop"),
						StartMode: ModeSync, StopMode: ModeSync,
						StartTimeout: 1800 * time.Second, StopTimeout: 1800 * time.Second,
						Log:                     "/var/log/clpkit/failover1.exec1.log",
						ActivationFailover:      1,
						ActivationFinalAction:   ActionStopGroup,
						DeactivationFinalAction: ActionNone,
						Line:                    13,
					}},
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Load(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load mismatch\n got: %#v\nwant: %#v", got, tt.want)
			}
		})
	}
}

// A relative path given to Load must still produce absolute paths everywhere.
func TestLoadRelativePath(t *testing.T) {
	dir := testdataDir(t)
	t.Chdir(dir)
	c, err := Load("minimal.toml")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "minimal.toml"); c.File != want {
		t.Errorf("File = %q, want %q", c.File, want)
	}
	if want := filepath.Join(dir, "scripts", "failover1", "exec1", "start.sh"); c.Groups[0].Resources[0].Start != want {
		t.Errorf("Start = %q, want %q", c.Groups[0].Resources[0].Start, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := Load(path)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Load error %v is not *Error", err)
	}
	want := path + ": cannot read the configuration: no such file or directory: check the path and its permissions"
	if err.Error() != want {
		t.Errorf("error\n got: %s\nwant: %s", err, want)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "/c.toml", Line: 3, Msg: "bad"}, "/c.toml:3: bad"},
		{Error{File: "/c.toml", Msg: "bad"}, "/c.toml: bad"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestConfigLookups(t *testing.T) {
	c, err := Load(filepath.Join(testdataDir(t), "full.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := c.Group("empty"); !ok || g.Line != 78 {
		t.Errorf("Group(empty) = %v, %v", g, ok)
	}
	if s, ok := c.Server("server2"); !ok || s.Address != "fe80::2" {
		t.Errorf("Server(server2) = %v, %v", s, ok)
	}
	if _, ok := c.Group("nope"); ok {
		t.Error("Group(nope) found")
	}
}

// An endless or huge file is refused with one line after reading a bounded amount.
func TestLoadBounded(t *testing.T) {
	_, err := Load("/dev/zero")
	if err == nil || err.Error() != "/dev/zero: the configuration is larger than 1024 KiB: point -c at the cluster's TOML file" {
		t.Fatalf("Load(/dev/zero) = %v", err)
	}
}

// The election timeout of a store of several members fits a change of leader inside the fencing
// deadline (maxElection); one member keeps etcd's lease-bound default; a value the file sets
// that fits is kept.
func TestElectionTimeoutFitsLeaderChange(t *testing.T) {
	const servers = "[cluster]\nname = \"c\"\n[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\n"
	const more = "[[server]]\nname = \"s2\"\naddress = \"10.0.0.2\"\n[witness]\nname = \"w\"\naddress = \"10.0.0.3\"\n"
	for _, tt := range []struct {
		name, toml string
		want       time.Duration
	}{
		{"one member", servers, 500 * time.Millisecond},
		{"several members, 1s lease", servers + more, 100 * time.Millisecond},
		{"several members, 2s lease", servers + more + "[timing]\nheartbeat_timeout = \"2s\"\n", 350 * time.Millisecond},
		{"several members, 10s lease", servers + more + "[timing]\nheartbeat_timeout = \"10s\"\n", time.Second},
		{"several members, long interval", servers + more + "[timing]\nheartbeat_interval = \"250ms\"\n", 50 * time.Millisecond},
		{"several members, set and fitting", servers + more + "[store]\nelection_timeout = \"80ms\"\n", 80 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("/etc/clpkit/cluster.toml", []byte(tt.toml))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Store.ElectionTimeout; got != tt.want {
				t.Errorf("election timeout %s, want %s", got, tt.want)
			}
			if d := c.Store.ElectionTimeout; len(c.Servers) > 1 && d > minElection && 2*d+2*c.Timing.HeartbeatInterval+leaderChangeSlack > time.Duration(float64(c.Timing.HeartbeatTimeout)*c.Timing.FenceFraction) {
				t.Errorf("election timeout %s does not fit a change of leader in the fencing deadline", d)
			}
		})
	}
}
