package mfes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/procwatch"
)

func TestDumpText(t *testing.T) {
	tests := []struct {
		d    Dump
		want string
		v    DumpVerdict
	}{
		{Dump{Region: "ESSERV1", ListenerName: "Web Services", Address: "127.0.0.1:9003", ListenerStarted: true},
			"CN: ESSERV1\nmServerType: MFES\nmServerStatus: Started\nCN: Web Services\nmListenerAddress: tcp:127.0.0.1:9003\nmListenerStatus: Started\n", DumpStarted},
		{Dump{Region: "ESSERV1", ListenerName: "Web Services", Address: "127.0.0.1:9003"},
			"CN: ESSERV1\nmServerType: MFES\nmServerStatus: Started\nCN: Web Services\nmListenerAddress: tcp:127.0.0.1:9003\nmListenerStatus: Stopped\n", DumpListenerDown},
		{Dump{Region: "ESSERV1", Down: true, ListenerName: "Web Services", Address: "127.0.0.1:9003"},
			"CN: ESSERV1\nmServerStatus: SERVER_DOWN\n", DumpServerDown},
		// A listener under another name is not the one the seed's script watches.
		{Dump{Region: "R", ListenerName: "Web", Address: "h:1", ListenerStarted: true},
			"CN: R\nmServerType: MFES\nmServerStatus: Started\nCN: Web\nmListenerAddress: tcp:h:1\nmListenerStatus: Started\n", DumpNothing},
	}
	for _, tt := range tests {
		got := tt.d.Text()
		if got != tt.want {
			t.Errorf("%+v.Text() =\n%q\nwant\n%q", tt.d, got, tt.want)
		}
		if v := ReadDump(got); v != tt.v {
			t.Errorf("ReadDump(%q) = %d, want %d", got, v, tt.v)
		}
		if strings.ContainsAny(got, "*?[") {
			t.Errorf("%q holds a glob character: the seed echoes lines unquoted", got)
		}
	}
}

// TestReadDump follows the seed's mdump_func line by line: the first deciding line wins.
func TestReadDump(t *testing.T) {
	tests := []struct {
		name, out string
		want      DumpVerdict
	}{
		{"empty", "", DumpNothing},
		{"server down first", "SERVER_DOWN\nCN: Web Services\nmListenerStatus: Started\n", DumpServerDown},
		{"down after started", "CN: Web Services\nmListenerStatus: Started\nSERVER_DOWN\n", DumpStarted},
		{"same line", "CN: Web Services mListenerStatus: Started\n", DumpStarted},
		{"other listener", "CN: Web\nmListenerStatus: Stopped\nCN: Web Services\nmListenerStatus: Started\n", DumpStarted},
		{"disabled", "CN: Web Services\nmListenerStatus: Disabled\n", DumpListenerDown},
		{"blanks collapse", "CN:  Web    Services\nmListenerStatus:   Started\n", DumpStarted},
		{"status before any CN", "mListenerStatus: Stopped\n", DumpNothing},
		{"CN resets", "CN: Web Services\nCN: Deployer\nmListenerStatus: Stopped\n", DumpNothing},
	}
	for _, tt := range tests {
		if got := ReadDump(tt.out); got != tt.want {
			t.Errorf("%s: ReadDump = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("region did not start"), 1},
		{&ConfigError{Msg: "x"}, 3},
		{fmt.Errorf("wrapped: %w", &ConfigError{Msg: "x"}), 3},
	}
	for _, tt := range tests {
		if got := ExitStatus(tt.err); got != tt.want {
			t.Errorf("ExitStatus(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestIsLocal(t *testing.T) {
	hostname := func() (string, error) { return "server1.example.com", nil }
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LOCALHOST", true},
		{"127.0.0.1", true},
		{"127.0.0.2", true},
		{"::1", true},
		{"server1", true},
		{"server1.example.com", true},
		{"192.0.2.1", false},
		{"server2.invalid", false},
	}
	for _, tt := range tests {
		if got := IsLocal(context.Background(), tt.host, hostname); got != tt.want {
			t.Errorf("IsLocal(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

// TestMatching: the pattern picks the service's processes, never the caller, its ancestors or
// the kit's own commands that name the region on their command line.
func TestMatching(t *testing.T) {
	procs := []proc{
		{id: procwatch.Identity{PID: 1}, ppid: 0, comm: "init", cmdline: "/sbin/init"},
		{id: procwatch.Identity{PID: 10}, ppid: 1, comm: "sh", cmdline: "sh -c casstop /rESSERV1"},
		{id: procwatch.Identity{PID: 11}, ppid: 10, comm: "casstop", cmdline: "casstop /rESSERV1"},
		{id: procwatch.Identity{PID: 30}, ppid: 1, comm: "casmgr", cmdline: "/opt/mf/bin/casmgr -r ESSERV1"},
		{id: procwatch.Identity{PID: 20}, ppid: 1, comm: "cassi", cmdline: "cassi ESSERV1 x"},
		{id: procwatch.Identity{PID: 21}, ppid: 1, comm: "mdump", cmdline: "mdump localhost ESSERV1"},
		{id: procwatch.Identity{PID: 22}, ppid: 1, comm: "cassi", cmdline: "cassi ESSERV10"},
		{id: procwatch.Identity{PID: 23}, ppid: 1, comm: "vi", cmdline: "vi /tmp/cassi ESSERV1"},
		{id: procwatch.Identity{PID: 24}, ppid: 1, comm: "mfcs", cmdline: "mfcs esserv1"},
	}
	got := matching(procs, esRegionProcesses("ESSERV1"), 11)
	var pids []int
	for _, p := range got {
		pids = append(pids, p.id.PID)
	}
	if fmt.Sprint(pids) != "[20 24 30]" {
		t.Errorf("matching = %v, want [20 24 30]", pids)
	}
	if got := matching(procs, regexp.MustCompile("ESSERV1"), 11); len(got) != 4 {
		t.Errorf("a broad pattern matched %d processes, want 4 (20, 22, 23, 30: not the caller 11, its shell 10, nor mdump 21)", len(got))
	}
	if matching(procs, nil, 11) != nil {
		t.Error("no pattern matched something")
	}
	mfds := esMFDSProcesses()
	for cmd, want := range map[string]bool{"mfds32": true, "/opt/mf/bin/mfds64 -x": true, "mfds": false, "mfds32x": false, "vi mfds32": false} {
		if mfds.MatchString(cmd) != want {
			t.Errorf("mfds pattern on %q: %v", cmd, !want)
		}
	}
}

func TestProcesses(t *testing.T) {
	ps := []proc{{id: procwatch.Identity{PID: 7}}}
	if got := processes(ps) + " " + verb(ps, "runs", "run"); got != "process 7 runs" {
		t.Error(got)
	}
	ps = append(ps, proc{id: procwatch.Identity{PID: 9}})
	if got := processes(ps) + " " + verb(ps, "runs", "run"); got != "processes 7 9 run" {
		t.Error(got)
	}
}

// TestReadProc reads this test process from the real /proc.
func TestReadProc(t *testing.T) {
	p, ok := readProc("/proc", os.Getpid())
	if !ok || p.ppid != os.Getppid() || !strings.Contains(p.cmdline, "mfes.test") || p.id.Start == 0 {
		t.Errorf("readProc(self) = %+v, %v", p, ok)
	}
	dir := t.TempDir()
	pf := filepath.Join(dir, "pid")
	for _, tt := range []struct {
		content string
		want    bool
	}{{strconv.Itoa(os.Getpid()) + "\n", true}, {"garbage", false}, {"0", false}, {"-5", false}} {
		if err := os.WriteFile(pf, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := pidfileProc("/proc", pf); ok != tt.want || err != nil {
			t.Errorf("pidfile %q: %v, %v", tt.content, ok, err)
		}
	}
	if _, ok, err := pidfileProc("/proc", filepath.Join(dir, "none")); ok || err != nil {
		t.Errorf("missing pidfile: %v, %v", ok, err)
	}
}

// TestLock: a second holder waits, and gives up with a clear reason when its context ends.
func TestLock(t *testing.T) {
	m := &Manager{Config: &Config{StateDir: t.TempDir()}}
	svc := &Service{Name: "ESSERV1", ListenerName: DefaultListenerName}
	unlock, err := m.lock(context.Background(), svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = m.lock(ctx, svc)
	want := "another casstart, casstop or mfds still works on ESSERV1 (lock " + filepath.Join(m.Config.StateDir, "region.ESSERV1.lock") + ")"
	if err == nil || err.Error() != want {
		t.Errorf("second lock: %v, want %s", err, want)
	}
	// The directory server has its own lock.
	u2, err := m.lock(context.Background(), &Service{Name: "mfds", Directory: true})
	if err != nil {
		t.Fatal(err)
	}
	u2()
	unlock()
	u3, err := m.lock(context.Background(), svc)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	u3()
}

func TestRegionLookup(t *testing.T) {
	cfg, err := Parse("/etc/clpkit/mfes.toml", []byte("[region.esserv1]\nunit = \"a.service\"\nlistener = \"h:1\"\n[region.ESSERV3]\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{Config: cfg}
	if s, err := m.Region("ESSERV1"); err != nil || s.Name != "esserv1" {
		t.Errorf("Region(ESSERV1) = %+v, %v", s, err)
	}
	_, err = m.Region("ESSERV2")
	if want := "region ESSERV2 is not configured: /etc/clpkit/mfes.toml has no [region.ESSERV2], and no Enterprise Server is installed (COBDIR is not set)"; err == nil || err.Error() != want {
		t.Errorf("Region(ESSERV2): %v", err)
	}
	_, err = m.Region("esserv3")
	if want := "/etc/clpkit/mfes.toml:4: region ESSERV3 has neither start/stop commands nor a unit, and no Enterprise Server is installed to delegate to (COBDIR is not set)"; err == nil || err.Error() != want {
		t.Errorf("Region(esserv3): %v", err)
	}
	if s, err := m.MFDS(); s != nil || err != nil {
		t.Errorf("MFDS() = %+v, %v: none is configured", s, err)
	}
	// An installed Enterprise Server takes every region the file does not configure.
	cob := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cob, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cob, "bin", "casstart"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg.COBDir = cob
	s, err := m.Region("ESSERV2")
	if err != nil || s.Kind != KindES || !s.Processes.MatchString("casmgr ESSERV2") {
		t.Errorf("Region(ESSERV2) with an Enterprise Server = %+v, %v", s, err)
	}
	if s, err := m.MFDS(); err != nil || s == nil || !s.Directory || s.Address != DefaultMFDSAddress {
		t.Errorf("MFDS() with an Enterprise Server = %+v, %v", s, err)
	}
}

func TestRedactPass(t *testing.T) {
	got := strings.Join(RedactPass([]string{"/xvaultuser", "-g", "5", "file", "--UI-on", "/z"}), " ")
	if got != "/x... -g ... ... --UI-on /z" {
		t.Errorf("RedactPass = %q", got)
	}
}
