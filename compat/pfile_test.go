package compat

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/psaver"
)

// seedPfile is the pfile of seed 002 §5.1 with its two placeholders filled in.
const seedPfile = `##### PARAM #####
IPCKEY  0x0000abcd
MSG_CHECK_INTERVAL 5
MONITOR_INTERVAL 10
SHM_DUMP_FILE /var/opt/HA/PS/conf/bin/pfile_tomcat.dmp
##### PENT #####
/usr/bin/java:/var/opt/HA/PS/conf/bin/tomcat_start.sh:86400:3:exit:include_strings=apache&tomcat
`

func seedEntry() psaver.Entry {
	return psaver.Entry{
		Program: "/usr/bin/java", Script: "/var/opt/HA/PS/conf/bin/tomcat_start.sh",
		Grace: 86400 * time.Second, Retry: 3, Action: psaver.Exit,
		Include: []string{"apache", "tomcat"},
		Options: []psaver.Option{{Name: "include_strings", Value: "apache&tomcat"}},
		Line:    7,
	}
}

func TestParsePfile(t *testing.T) {
	tests := []struct {
		name string
		text string
		want psaver.Config
	}{
		{name: "seed 002", text: seedPfile, want: psaver.Config{
			Pfile: "pfile_tomcat", IPCKey: 0xabcd, MsgCheckInterval: 5 * time.Second, MonitorInterval: 10 * time.Second,
			DumpFile: "/var/opt/HA/PS/conf/bin/pfile_tomcat.dmp", Entries: []psaver.Entry{seedEntry()},
		}},
		{name: "defaults: empty grace and retry, no options, no banners, no optional PARAM",
			text: "IPCKEY 4660\n/usr/bin/java:/opt/start.sh:::continue\n",
			want: psaver.Config{Pfile: "pfile_tomcat", IPCKey: 4660, MsgCheckInterval: 5 * time.Second, MonitorInterval: 10 * time.Second,
				Entries: []psaver.Entry{{Program: "/usr/bin/java", Script: "/opt/start.sh", Grace: 86400 * time.Second, Retry: 3,
					Action: psaver.Continue, Line: 2}}}},
		{name: "tabs, CRLF, comments, blanks, action case, several options, colons in strings, spaces around fields",
			text: "# ProcessSaver pfile\r\n\r\n\tIPCKEY\t0X1F\r\nMONITOR_INTERVAL\t1\r\n  # indented comment\r\n" +
				" /usr/bin/java : /opt/a/start.sh : 0 : 0 : EXIT : include_strings=bootstrap.jar:/usr/local&Bootstrap start , exclude_strings=grep&probe \r\n" +
				"sleep:/opt/b/../b/start.sh:60:10:Continue:exclude_strings=x\r\n",
			want: psaver.Config{Pfile: "pfile_tomcat", IPCKey: 0x1f, MsgCheckInterval: 5 * time.Second, MonitorInterval: time.Second,
				Entries: []psaver.Entry{
					{Program: "/usr/bin/java", Script: "/opt/a/start.sh", Grace: 0, Retry: 0, Action: psaver.Exit,
						Include: []string{"bootstrap.jar:/usr/local", "Bootstrap start"}, Exclude: []string{"grep", "probe"},
						Options: []psaver.Option{{Name: "include_strings", Value: "bootstrap.jar:/usr/local&Bootstrap start"},
							{Name: "exclude_strings", Value: "grep&probe"}}, Line: 6},
					{Program: "sleep", Script: "/opt/b/start.sh", Grace: time.Minute, Retry: 10, Action: psaver.Continue,
						Exclude: []string{"x"}, Options: []psaver.Option{{Name: "exclude_strings", Value: "x"}}, Line: 7},
				}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePfile("pfile_tomcat", []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestParsePfileErrors: every problem is one line naming the file, the line and the field.
func TestParsePfileErrors(t *testing.T) {
	const pent = "/usr/bin/java:/opt/start.sh:86400:3:exit\n"
	tests := []struct {
		name, text, want string
	}{
		{"no IPCKEY", "MONITOR_INTERVAL 10\n" + pent,
			`pf: no IPCKEY line: add one to the PARAM section, e.g. "IPCKEY 0x0000abcd" (a key no other pfile uses)`},
		{"no PENT", "IPCKEY 0x1\n", "pf: no PENT line: nothing to watch (process:restart_script:grace:retry:retry_over_action[:options])"},
		{"IPCKEY placeholder of the template", "##### PARAM #####\nIPCKEY  【0xXXXXXXXX】\n" + pent,
			`pf:2: IPCKEY: the template's placeholder "【0xXXXXXXXX】" is still there: put the real value in its place`},
		{"SHM_DUMP_FILE placeholder with a blank", "IPCKEY 0x1\nSHM_DUMP_FILE 【DUMPFILE 名】\n" + pent,
			`pf:2: SHM_DUMP_FILE: the template's placeholder "【DUMPFILE 名】" is still there: put the real value in its place`},
		{"IPCKEY not a number", "IPCKEY 0xZZ\n" + pent, `pf:1: IPCKEY: "0xZZ" is not a number: write the key in hexadecimal, e.g. 0x0000abcd`},
		{"IPCKEY too wide", "IPCKEY 0x100000000\n" + pent, `pf:1: IPCKEY: "0x100000000" does not fit in 32 bits`},
		{"IPCKEY zero", "IPCKEY 0x0\n" + pent, "pf:1: IPCKEY: 0 is IPC_PRIVATE, not a key: choose a unique non-zero key, e.g. 0x0000abcd"},
		{"IPCKEY twice", "IPCKEY 0x1\n\nIPCKEY 0x2\n" + pent, "pf:3: IPCKEY: given again (first on line 1)"},
		{"PARAM without value", "IPCKEY\n" + pent, "pf:1: IPCKEY: no value"},
		{"PARAM with two values", "IPCKEY 0x1 # unique\n" + pent, `pf:1: IPCKEY: one value expected, found 3 words: "0x1 # unique"`},
		{"interval zero", "IPCKEY 0x1\nMONITOR_INTERVAL 0\n" + pent, `pf:2: MONITOR_INTERVAL: "0" is not a whole number of seconds from 1 to 86400`},
		{"interval signed", "IPCKEY 0x1\nMSG_CHECK_INTERVAL +5\n" + pent, `pf:2: MSG_CHECK_INTERVAL: "+5" is not a whole number of seconds from 1 to 86400`},
		{"dump file relative", "IPCKEY 0x1\nSHM_DUMP_FILE ps.dmp\n" + pent, `pf:2: SHM_DUMP_FILE: "ps.dmp" is not an absolute path`},
		{"unknown PARAM", "IPCKEY 0x1\nMONITOR_INTERVALL 10\n" + pent,
			"pf:2: MONITOR_INTERVALL: unknown PARAM key: accepted are IPCKEY, MSG_CHECK_INTERVAL, MONITOR_INTERVAL, SHM_DUMP_FILE"},
		{"junk line", "IPCKEY 0x1\nhello world\n" + pent,
			`pf:2: "hello world" is neither a PARAM line (KEY value) nor a PENT line (process:restart_script:grace:retry:retry_over_action[:options])`},
		{"NUL", "IPCKEY 0x1\nab\x00c\n" + pent, "pf:2: contains a NUL byte: is this a text file?"},
		{"too few fields", "IPCKEY 0x1\n/usr/bin/java:/opt/start.sh:86400:3\n",
			"pf:2: a PENT line has at least 5 fields separated by ':' (process:restart_script:grace:retry:retry_over_action[:options]); this one has 4"},
		{"empty process", "IPCKEY 0x1\n:/opt/start.sh:1:1:exit\n", "pf:2: process: empty: name the program to watch, e.g. /usr/bin/java"},
		{"empty script", "IPCKEY 0x1\n/usr/bin/java::1:1:exit\n", "pf:2: restart_script: empty: name the restart script"},
		{"relative script", "IPCKEY 0x1\n/usr/bin/java:start.sh:1:1:exit\n", `pf:2: restart_script: "start.sh" is not an absolute path`},
		{"grace not a number", "IPCKEY 0x1\n/usr/bin/java:/opt/start.sh:8640O:3:exit\n",
			`pf:2: grace: "8640O" is not a whole number of seconds from 0 to 31536000`},
		{"grace negative", "IPCKEY 0x1\n/usr/bin/java:/opt/start.sh:-1:3:exit\n",
			`pf:2: grace: "-1" is not a whole number of seconds from 0 to 31536000`},
		{"retry too large", "IPCKEY 0x1\n/usr/bin/java:/opt/start.sh:1:99999999999:exit\n",
			`pf:2: retry: "99999999999" is not a whole number from 0 to 1000000`},
		{"unknown action", "IPCKEY 0x1\n/usr/bin/java:/opt/start.sh:1:3:shutdown\n",
			`pf:2: retry_over_action: unknown action "shutdown": accepted are exit, continue`},
		{"empty action", "IPCKEY 0x1\n/usr/bin/java:/opt/start.sh:1:3:\n",
			"pf:2: retry_over_action: empty: accepted are exit, continue"},
		{"unknown option", "IPCKEY 0x1\n" + strings.TrimSuffix(pent, "\n") + ":inclde_strings=a\n",
			`pf:2: options: unknown option "inclde_strings": accepted are include_strings, exclude_strings`},
		{"option without value", "IPCKEY 0x1\n" + strings.TrimSuffix(pent, "\n") + ":include_strings\n",
			"pf:2: options: include_strings has no value: write include_strings=string1&string2"},
		{"empty string between &", "IPCKEY 0x1\n" + strings.TrimSuffix(pent, "\n") + ":include_strings=a&&b\n",
			`pf:2: options: "include_strings=a&&b" has an empty string (strings are separated by one '&')`},
		{"control character in a value", "IPCKEY 0x1\n" + strings.TrimSuffix(pent, "\n") + ":include_strings=0\r&\n",
			`pf:2: options: "include_strings=0\r&" has an empty string (strings are separated by one '&')`},
		{"option twice", "IPCKEY 0x1\n" + strings.TrimSuffix(pent, "\n") + ":exclude_strings=a,exclude_strings=b\n",
			"pf:2: options: exclude_strings is given twice: put all its strings in one, separated by '&'"},
		{"trailing comma", "IPCKEY 0x1\n" + strings.TrimSuffix(pent, "\n") + ":exclude_strings=a,\n",
			`pf:2: options: empty option in "exclude_strings=a," (options are separated by ',')`},
		// The first problem of the PARAM section wins over a PENT problem found before it.
		{"PARAM problem first", "/usr/bin/java:x:1:1:exit\nIPCKEY zz\n", `pf:2: IPCKEY: "zz" is not a number: write the key in hexadecimal, e.g. 0x0000abcd`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePfile("pf", []byte(tt.text))
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if _, ok := err.(*PfileError); !ok {
				t.Errorf("error is a %T, not a *PfileError", err)
			}
		})
	}
}

// TestParsePfileParams: padmin reads the PARAM section of a pfile whose entries are broken.
func TestParsePfileParams(t *testing.T) {
	cfg, err := ParsePfileParams("pf", []byte("IPCKEY 0x2a\nSHM_DUMP_FILE /var/tmp/d\n/usr/bin/java:x:y\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.IPCKey != 0x2a || cfg.DumpFile != "/var/tmp/d" || len(cfg.Entries) != 0 {
		t.Errorf("got %+v", cfg)
	}
	if _, err := ParsePfileParams("pf", []byte("IPCKEY x\n")); err == nil || err.Error() != `pf:1: IPCKEY: "x" is not a number: write the key in hexadecimal, e.g. 0x0000abcd` {
		t.Errorf("err = %v", err)
	}
}

// writeFile writes content at dir/name with mode and returns the path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

// TestLoadPfile checks the file rules of seed 002 §5.1 and §5.2 on real files.
func TestLoadPfile(t *testing.T) {
	type files struct {
		pfileMode, scriptMode os.FileMode
		scriptOwner           int // -1: keep
		pfileOwner            int
		noScript              bool
		dump                  string // SHM_DUMP_FILE, relative to the dir ("" for none); "SCRIPT" for the script
	}
	ok := files{pfileMode: 0o644, scriptMode: 0o755, scriptOwner: -1, pfileOwner: -1}
	with := func(f func(*files)) files { c := ok; f(&c); return c }
	tests := []struct {
		name  string
		files files
		want  string // error with DIR for the directory; "" for success
	}{
		{"seed modes", ok, ""},
		{"0600 and 0700 are fine", with(func(f *files) { f.pfileMode, f.scriptMode = 0o600, 0o700 }), ""},
		{"dump file in an existing directory", with(func(f *files) { f.dump = "state.dmp" }), ""},
		{"pfile world-writable", with(func(f *files) { f.pfileMode = 0o666 }),
			"DIR/pfile: mode 0666 lets group or others write it: chmod 644 (-rw-r--r--)"},
		{"pfile group-writable", with(func(f *files) { f.pfileMode = 0o664 }),
			"DIR/pfile: mode 0664 lets group or others write it: chmod 644 (-rw-r--r--)"},
		{"script not executable", with(func(f *files) { f.scriptMode = 0o644 }),
			"DIR/pfile:3: restart_script: DIR/start.sh: not executable (mode 0644): chmod 755 (-rwxr-xr-x)"},
		{"script world-writable", with(func(f *files) { f.scriptMode = 0o777 }),
			"DIR/pfile:3: restart_script: DIR/start.sh: mode 0777 lets group or others write it: chmod 755 (-rwxr-xr-x)"},
		{"script missing", with(func(f *files) { f.noScript = true }),
			"DIR/pfile:3: restart_script: DIR/start.sh: no such file or directory"},
		{"script owned by another user", with(func(f *files) { f.scriptOwner = 65534 }),
			"DIR/pfile:3: restart_script: DIR/start.sh: owned by uid 65534: it must belong to root (chown root)"},
		{"pfile owned by another user", with(func(f *files) { f.pfileOwner = 65534 }),
			"DIR/pfile: owned by uid 65534: it must belong to root (chown root)"},
		{"dump file directory missing", with(func(f *files) { f.dump = "no/such/dir/d" }),
			"DIR/pfile:2: SHM_DUMP_FILE: the directory DIR/no/such/dir does not exist"},
		{"dump file is the script", with(func(f *files) { f.dump = "SCRIPT" }),
			"DIR/pfile:2: SHM_DUMP_FILE: is the restart script of line 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.files.scriptOwner >= 0 || tt.files.pfileOwner >= 0) && os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root")
			}
			dir := t.TempDir()
			script := filepath.Join(dir, "start.sh")
			if !tt.files.noScript {
				writeFile(t, dir, "start.sh", "#!/bin/sh\nexit 0\n", tt.files.scriptMode)
				if tt.files.scriptOwner >= 0 {
					if err := os.Chown(script, tt.files.scriptOwner, -1); err != nil {
						t.Fatal(err)
					}
				}
			}
			dump := "/dev/null/unused"
			switch tt.files.dump {
			case "":
			case "SCRIPT":
				dump = script
			default:
				dump = filepath.Join(dir, tt.files.dump)
			}
			text := "IPCKEY 0x7\nSHM_DUMP_FILE " + dump + "\n" + "/usr/bin/java:" + script + ":86400:3:exit\n"
			if tt.files.dump == "" {
				text = "IPCKEY 0x7\n\n/usr/bin/java:" + script + ":86400:3:exit\n"
			}
			pf := writeFile(t, dir, "pfile", text, tt.files.pfileMode)
			if tt.files.pfileOwner >= 0 {
				if err := os.Chown(pf, tt.files.pfileOwner, -1); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := LoadPfile(pf)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Pfile != pf || len(cfg.Entries) != 1 || cfg.Entries[0].Script != script {
					t.Errorf("got %+v", cfg)
				}
				return
			}
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || err.Error() != want {
				t.Errorf("error\n got %v\nwant %s", err, want)
			}
		})
	}
}

// TestLoadPfileRelativePath: a relative -f is made absolute, for messages and for padmin.
func TestLoadPfileRelativePath(t *testing.T) {
	dir := t.TempDir()
	script := writeFile(t, dir, "start.sh", "#!/bin/sh\n", 0o755)
	writeFile(t, dir, "pfile", "IPCKEY 0x7\n/usr/bin/java:"+script+":1:1:exit\n", 0o644)
	t.Chdir(dir)
	cfg, err := LoadPfile("pfile")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Pfile != filepath.Join(dir, "pfile") {
		t.Errorf("Pfile = %q", cfg.Pfile)
	}
	if _, err := LoadPfile("missing"); err == nil || err.Error() != filepath.Join(dir, "missing")+": no such file or directory" {
		t.Errorf("missing pfile: %v", err)
	}
	p, err := LoadPfileParams("pfile")
	if err != nil || p.IPCKey != 7 || p.Pfile != filepath.Join(dir, "pfile") {
		t.Errorf("LoadPfileParams = %+v, %v", p, err)
	}
}
