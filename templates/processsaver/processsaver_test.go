// Package processsaver_test checks the ProcessSaver templates of seed 002 §5: the pfile and the
// Tomcat restart script. test/integration/pcheck_test.go runs them under a real pcheck.
package processsaver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"clpkit/compat"
	"clpkit/pkg/psaver"
)

// The seed's text, typed from seed 002 §5.1 and §5.2: the files must not drift from it.
const (
	seedPfile = `##### PARAM #####
IPCKEY  【0xXXXXXXXX】
MSG_CHECK_INTERVAL 5
MONITOR_INTERVAL 10
SHM_DUMP_FILE 【DUMPFILE 名】
##### PENT #####
/usr/bin/java:/var/opt/HA/PS/conf/bin/tomcat_start.sh:86400:3:exit:include_strings=apache&tomcat
`
	seedScript = `#! /bin/sh
# Start script for Tomcat

export LANG=C

# Tomcat Server process restart
【Tomcat インストールディレクトリ】/bin/catalina.sh start

#sleep
/bin/sleep 5

exit 0
`
)

func read(t *testing.T, name string) (string, os.FileMode) {
	t.Helper()
	p := filepath.Join("bin", name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), fi.Mode().Perm()
}

// TestFiles: the seed's text and the seed's modes (-rw-r--r-- and -rwxr-xr-x).
func TestFiles(t *testing.T) {
	for _, f := range []struct {
		name, text string
		mode       os.FileMode
	}{{"pfile_tomcat", seedPfile, 0o644}, {"tomcat_start.sh", seedScript, 0o755}} {
		text, mode := read(t, f.name)
		if text != f.text {
			t.Errorf("%s differs from the seed:\n%s", f.name, text)
		}
		if mode != f.mode {
			t.Errorf("%s: mode %v, want %v", f.name, mode, f.mode)
		}
	}
}

func TestScriptSyntax(t *testing.T) {
	for _, sh := range []string{"sh", "dash", "bash"} {
		bin, err := exec.LookPath(sh)
		if err != nil {
			if sh == "sh" {
				t.Fatal(err)
			}
			continue
		}
		if out, err := exec.Command(bin, "-n", filepath.Join("bin", "tomcat_start.sh")).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("%s -n: %v %q", sh, err, out)
		}
	}
}

// TestPfileAsShipped: the placeholders must be filled in; pcheck says so rather than guess.
func TestPfileAsShipped(t *testing.T) {
	text, _ := read(t, "pfile_tomcat")
	_, err := compat.ParsePfile("pfile_tomcat", []byte(text))
	want := `pfile_tomcat:2: IPCKEY: the template's placeholder "【0xXXXXXXXX】" is still there: put the real value in its place`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	filled := strings.Replace(text, "【0xXXXXXXXX】", "0x0000abcd", 1)
	_, err = compat.ParsePfile("pfile_tomcat", []byte(filled))
	want = `pfile_tomcat:5: SHM_DUMP_FILE: the template's placeholder "【DUMPFILE 名】" is still there: put the real value in its place`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// TestPfileFilledIn: with its two placeholders filled in, the template is the seed's Tomcat
// entry with the recommended values (§5.1: 86400 s, 3 retries, exit, include_strings=apache&tomcat).
func TestPfileFilledIn(t *testing.T) {
	text, _ := read(t, "pfile_tomcat")
	text = strings.NewReplacer("【0xXXXXXXXX】", "0x0000abcd", "【DUMPFILE 名】", "/var/opt/HA/PS/conf/bin/pfile_tomcat.dmp").Replace(text)
	cfg, err := compat.ParsePfile("pfile_tomcat", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := psaver.Config{
		Pfile: "pfile_tomcat", IPCKey: 0xabcd, MsgCheckInterval: 5 * time.Second, MonitorInterval: 10 * time.Second,
		DumpFile: "/var/opt/HA/PS/conf/bin/pfile_tomcat.dmp",
		Entries: []psaver.Entry{{
			Program: "/usr/bin/java", Script: "/var/opt/HA/PS/conf/bin/tomcat_start.sh",
			Grace: 86400 * time.Second, Retry: 3, Action: psaver.Exit, Include: []string{"apache", "tomcat"},
			Options: []psaver.Option{{Name: "include_strings", Value: "apache&tomcat"}}, Line: 7,
		}},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
}
