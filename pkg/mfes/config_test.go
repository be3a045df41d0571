package mfes

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

const goodConfig = `# a configuration with every setting
state_dir = "state"
log_dir = "/var/log/x"

[timeouts]
start = "30s"
stop = "20s"
force = "5s"

[enterprise_server]
cobdir = "/opt/mf/ES40SP2"
env_file = "/root/ES40SP2"

[mfds]
address = "127.0.0.1:86"
start = "mfds32 &"
stop = "kill $(cat /run/mfds.pid)"
pidfile = "/run/mfds.pid"

[region.ESSERV1]
listener = "10.34.69.38:9003"
start = "/opt/es/start ESSERV1"
stop = "/opt/es/stop ESSERV1"
force_stop = "/opt/es/kill ESSERV1"
status = "/opt/es/status ESSERV1"
processes = "ESSERV1"
start_timeout = "1m"

[region.esserv2]
unit = "esserv2.service"
listener = "127.0.0.1:9004"
listener_name = "Web"

[region.ESSERV3]
`

func TestParse(t *testing.T) {
	c, err := Parse("/etc/clpkit/mfes.toml", []byte(goodConfig), "/env/cobdir")
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "/etc/clpkit/mfes.toml" || c.StateDir != "/etc/clpkit/state" || c.LogDir != "/var/log/x" {
		t.Errorf("paths: %q %q %q", c.File, c.StateDir, c.LogDir)
	}
	if c.Timeouts != (Timeouts{30 * time.Second, 20 * time.Second, 5 * time.Second}) {
		t.Errorf("timeouts: %+v", c.Timeouts)
	}
	if c.COBDir != "/opt/mf/ES40SP2" || c.EnvFile != "/root/ES40SP2" {
		t.Errorf("enterprise_server: %q %q", c.COBDir, c.EnvFile)
	}
	m := c.MFDS
	if m == nil || !m.Directory || m.Kind != KindCommand || m.Address != "127.0.0.1:86" || m.Pidfile != "/run/mfds.pid" || m.ListenerName != "" || m.Line != 14 {
		t.Errorf("mfds: %+v", m)
	}
	r1 := c.Regions["ESSERV1"]
	if r1 == nil || r1.Directory || r1.Kind != KindCommand || r1.Address != "10.34.69.38:9003" || r1.ForceStop != "/opt/es/kill ESSERV1" ||
		r1.Status != "/opt/es/status ESSERV1" || r1.Processes.String() != "ESSERV1" || r1.ListenerName != "Web Services" ||
		r1.Timeouts != (Timeouts{time.Minute, 20 * time.Second, 5 * time.Second}) || r1.Line != 20 {
		t.Errorf("ESSERV1: %+v", r1)
	}
	r2 := c.Regions["ESSERV2"]
	if r2 == nil || r2.Name != "esserv2" || r2.Kind != KindSystemd || r2.Unit != "esserv2.service" || r2.ListenerName != "Web" {
		t.Errorf("esserv2: %+v", r2)
	}
	if r3 := c.Regions["ESSERV3"]; r3 == nil || r3.Kind != KindES || r3.Address != "" {
		t.Errorf("ESSERV3: %+v", r3)
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse("/x/mfes.toml", []byte(""), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.StateDir != DefaultStateDir || c.LogDir != DefaultLogDir || c.MFDS != nil || len(c.Regions) != 0 || c.COBDir != "" ||
		c.Timeouts != (Timeouts{DefaultStartTimeout, DefaultStopTimeout, DefaultForceTimeout}) {
		t.Errorf("%+v", c)
	}
	c, err = Parse("/x/mfes.toml", []byte("[mfds]\nunit = \"mfds.service\"\n"), "/cob")
	if err != nil {
		t.Fatal(err)
	}
	if c.MFDS.Address != DefaultMFDSAddress || c.COBDir != "/cob" {
		t.Errorf("%+v %q", c.MFDS, c.COBDir)
	}
}

// TestParseErrors: every problem is one line naming the file and the line to fix.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"syntax", "[region.A\n", `/c/m.toml:2: invalid TOML: expected '.' or ']' to end table name, but got '\n' instead`},
		{"unknown top", "stat_dir = \"x\"\n", "/c/m.toml:1: unknown setting stat_dir"},
		{"unknown in region", "[region.A]\nlistener = \"127.0.0.1:1\"\nstart = \"a\"\nstop = \"b\"\npidfile = \"p\"\nstrat = \"x\"\n", "/c/m.toml:6: unknown setting region.A.strat"},
		{"wrong type", "[timeouts]\nstart = 30\n", `/c/m.toml:2: timeouts.start: give the value as a string, in double quotes`},
		{"table expected", "state_dir = \"s\"\nregion = \"x\"\n", `/c/m.toml:2: region: write each region as a table of its own, [region.NAME]`},
		{"array of tables", "[[region]]\nlistener = \"h:1\"\n", `/c/m.toml:1: region: write each region as a table of its own, [region.NAME]`},
		{"mfds not a table", "mfds = 1\n", `/c/m.toml:1: mfds: type mismatch for mfes.rawService: expected table but found int64`},
		{"bad duration", "[timeouts]\n\nstop = \"soon\"\n", `/c/m.toml:3: timeouts.stop = "soon": give a duration from 1s to 24h, as in "30s" or "2m"`},
		{"negative duration", "[region.A]\nstart_timeout = \"-1s\"\n", `/c/m.toml:2: region.A.start_timeout = "-1s": give a duration from 1s to 24h, as in "30s" or "2m"`},
		{"unit and commands", "[region.A]\nlistener = \"127.0.0.1:1\"\nunit = \"a.service\"\nstart = \"x\"\n", "/c/m.toml:3: region.A: give either unit (systemd) or start/stop commands, not both"},
		{"unit without type", "[mfds]\nunit = \"mfds\"\n", `/c/m.toml:2: mfds.unit = "mfds": name the unit with its type, as in "mfds.service"`},
		{"no stop", "[region.A]\nlistener = \"127.0.0.1:1\"\nstart = \"x\"\npidfile = \"p\"\n", "/c/m.toml:1: region.A has no stop command: the command backend needs start and stop"},
		{"no way to see it", "[region.A]\nlistener = \"127.0.0.1:1\"\nstart = \"x\"\nstop = \"y\"\n", "/c/m.toml:1: region.A: set pidfile or processes, so that casstop can tell when nothing of it runs any more"},
		{"no listener", "[region.A]\nstart = \"x\"\nstop = \"y\"\npidfile = \"p\"\n", `/c/m.toml:1: region.A has no listener: casstart needs the address of its "Web Services" listener to know that it accepts connections`},
		{"bad listener", "[region.A]\nstart = \"x\"\nstop = \"y\"\npidfile = \"p\"\nlistener = \"9003\"\n", `/c/m.toml:5: region.A.listener = "9003": write it as host:port, as in 127.0.0.1:9003`},
		{"listener without host", "[region.A]\nunit = \"a.service\"\nlistener = \":9003\"\n", `/c/m.toml:3: region.A.listener = ":9003": the host is missing: write 127.0.0.1:PORT for this server`},
		{"bad port", "[mfds]\nunit = \"a.service\"\naddress = \"h:99999\"\n", `/c/m.toml:3: mfds.address = "h:99999": the port must be a number from 1 to 65535`},
		{"address on a region", "[region.A]\nunit = \"a.service\"\nlistener = \"h:1\"\naddress = \"h:2\"\n", "/c/m.toml:4: region.A.address: a region has listener, not address"},
		{"listener on mfds", "[mfds]\nunit = \"a.service\"\nlistener = \"h:2\"\n", "/c/m.toml:3: mfds.listener: a directory server has address, not listener"},
		{"listener_name on mfds", "[mfds]\nunit = \"a.service\"\nlistener_name = \"Web\"\n", "/c/m.toml:3: mfds.listener_name: only regions have a listener"},
		{"bad pattern", "[region.A]\nunit = \"a.service\"\nlistener = \"h:1\"\nprocesses = \"(\"\n", "/c/m.toml:4: region.A.processes: not a regular expression: error parsing regexp: missing closing ): `(`"},
		{"bad region name", "[region.\"ES 1\"]\nunit = \"a.service\"\nlistener = \"h:1\"\n", `/c/m.toml:1: region name "ES 1": use 1 to 32 letters, digits, '_' or '-'`},
		{"same name twice", "[region.ES1]\nunit = \"a.service\"\nlistener = \"h:1\"\n[region.es1]\nunit = \"b.service\"\nlistener = \"h:2\"\n", `/c/m.toml:4: region "es1" is region "ES1" again (names are compared in upper case)`},
		{"first by line", "[region.B]\nunit = \"x\"\nlistener = \"h:1\"\n[region.A]\nunit = \"y\"\nlistener = \"h:1\"\n", `/c/m.toml:2: region.B.unit = "x": name the unit with its type, as in "x.service"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("/c/m.toml", []byte(tt.text), "")
			var ce *ConfigError
			if !errors.As(err, &ce) || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.toml")
	// The default file may be missing: an installed Enterprise Server alone can be used.
	c, err := Load(missing, false, "/opt/cob")
	if err != nil || c.File != "" || c.COBDir != "/opt/cob" {
		t.Errorf("missing default: %+v, %v", c, err)
	}
	// A file the operator named must exist.
	if _, err := Load(missing, true, ""); err == nil || err.Error() != missing+": cannot read the configuration: no such file or directory" {
		t.Errorf("missing explicit: %v", err)
	}
	p := filepath.Join(dir, "m.toml")
	if err := os.WriteFile(p, []byte("log_dir = \"logs\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = Load(p, true, "")
	if err != nil || c.LogDir != filepath.Join(dir, "logs") {
		t.Errorf("%+v, %v", c, err)
	}
}

func TestConfigPath(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvConfig {
				return v
			}
			return ""
		}
	}
	tests := []struct {
		flag, env, want string
		explicit        bool
	}{
		{"", "", DefaultConfig, false},
		{"", "/e.toml", "/e.toml", true},
		{"/f.toml", "/e.toml", "/f.toml", true},
	}
	for _, tt := range tests {
		if got, explicit := ConfigPath(tt.flag, env(tt.env)); got != tt.want || explicit != tt.explicit {
			t.Errorf("ConfigPath(%q, %q) = %q, %v", tt.flag, tt.env, got, explicit)
		}
	}
}

// FuzzParse: no input panics the parser, and every error names the file, on one line.
func FuzzParse(f *testing.F) {
	f.Add(goodConfig)
	f.Add("[region.A]\nstart = \"x\"\n")
	f.Add("[mfds]\naddress = \"[::1]:86\"\n[timeouts]\nstart = \"1h\"\n")
	f.Add("[[region]]\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, err := Parse("/f/m.toml", []byte(text), "")
		if err == nil {
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "/f/m.toml") || strings.Contains(msg, "\n") {
			t.Fatalf("error %q", msg)
		}
		if !regexp.MustCompile(`^/f/m\.toml(:[0-9]+)?: `).MatchString(msg) {
			t.Fatalf("error %q has no location", msg)
		}
	})
}

// TestLoadTooLarge: a configuration path that names something huge (a big file, /dev/zero) is
// refused after reading 1 MiB, with one line that says what to check, and memory does not grow
// with the file.
func TestLoadTooLarge(t *testing.T) {
	big := filepath.Join(t.TempDir(), "mfes.toml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// A sparse file: 64 MiB to read, no disk used.
	if err := f.Truncate(64 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, path := range []string{big, "/dev/zero"} {
		if path == "/dev/zero" {
			if _, err := os.Stat(path); err != nil {
				t.Logf("skipping /dev/zero: %v", err)
				continue
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Load(path, true, "")
		runtime.ReadMemStats(&after)
		want := path + ": the configuration is larger than 1 MiB, more than any mfes.toml needs: check that --config or $CLPKIT_MFES_CONFIG names the TOML file"
		if err == nil || err.Error() != want || ExitStatus(err) != 3 {
			t.Errorf("Load(%s) = %v, want %s", path, err, want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
			t.Errorf("Load(%s) allocated %d MiB", path, grew>>20)
		}
	}
	// 1 MiB exactly is still read (and parsed: comments).
	line := "#" + strings.Repeat("x", 1023-1) + "\n"
	if err := os.WriteFile(big, []byte(strings.Repeat(line, 1024)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big, true, ""); err != nil {
		t.Errorf("Load of 1 MiB of comments: %v", err)
	}
}
