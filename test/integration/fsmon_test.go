package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/pkg/alert"
	"clpkit/test/fsservers"
)

// These tests run the real clp_sambamon and clp_nfsmon binaries against a real smbd and a real
// nfs-ganesha with rpcbind (test/fsservers), and assert what an operator sees: the alert log
// records (module, ID, level, text), standard output and error, and exit statuses.

// fsmonEnv is one private world for the monitor commands: an alert log and a registry of IDs.
type fsmonEnv struct {
	bin, dir, alertLog string
	// vars are the CLPKIT_* variables of this world; env is the test's environment plus them.
	vars, env []string
}

func newFsmonEnv(t *testing.T, bin string) *fsmonEnv {
	t.Helper()
	dir := t.TempDir()
	e := &fsmonEnv{bin: bin, dir: dir, alertLog: filepath.Join(dir, "alert.log")}
	e.vars = []string{"CLPKIT_ALERT_LOG=" + e.alertLog, "CLPKIT_SERVER=server1", "CLPKIT_FSMON_DIR=" + filepath.Join(dir, "fsmon")}
	e.env = append(os.Environ(), e.vars...)
	return e
}

// run runs a command to its end.
func (e *fsmonEnv) run(t *testing.T, name string, args ...string) (string, string, int) {
	t.Helper()
	return clustertest.Exec(t, "", e.env, append([]string{filepath.Join(e.bin, name)}, args...)...)
}

// watcher is a monitor command running in the background.
type watcher struct {
	*clustertest.Proc
	stdout, stderr bytes.Buffer
}

func (e *fsmonEnv) start(t *testing.T, name string, args ...string) *watcher {
	t.Helper()
	w := &watcher{}
	cmd := exec.Command(filepath.Join(e.bin, name), args...)
	cmd.Env = e.env
	cmd.Stdout, cmd.Stderr = &w.stdout, &w.stderr
	w.Proc = clustertest.StartProc(t, cmd)
	return w
}

// records returns the alert log as "module ID LEVEL text" lines, checking the server field.
func (e *fsmonEnv) records(t *testing.T) []string {
	t.Helper()
	recs, err := alert.Read(e.alertLog)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Server != "server1" {
			t.Errorf("record with server %q: %+v", r.Server, r)
		}
		out = append(out, fmt.Sprintf("%s %d %s %s", r.Module, r.ID, r.Level, r.Text))
	}
	return out
}

// waitRecords waits until the alert log holds n records.
func (e *fsmonEnv) waitRecords(t *testing.T, n int, d time.Duration) []string {
	t.Helper()
	var got []string
	clustertest.WaitFor(t, d, fmt.Sprintf("%d alert records", n), func() bool {
		got = e.records(t)
		return len(got) >= n
	})
	return got
}

func wantRecords(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alert log:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

const (
	smbStarted  = "sambamon 1 INFO The clp_sambamon has started watching Samba."
	smbTerm     = "sambamon 6 ERR The clp_sambamon will terminate."
	smbPaused   = "sambamon 7 INFO The clp_sambamon is going to stop monitoring."
	smbContinue = "sambamon 8 INFO The clp_sambamon is going to monitor."
	smbInUse    = "sambamon 14 ERR The specified monitor id is already under use in other processes."
	nfsStarted  = "nfsmon 1 INFO The clp_nfsmon has started watching NFS."
	nfsError    = "nfsmon 66 ERR The clp_nfsmon has detected an error in NFS."
	nfsTerm     = "nfsmon 6 ERR The clp_nfsmon will terminate."
)

func smbWatching(share string) string {
	return "sambamon 2 INFO The clp_sambamon is going to watch share resource [" + share + "]."
}
func smbStopping(share string) string {
	return "sambamon 3 INFO The clp_sambamon will stop watching Samba [" + share + "]."
}
func nfsWatching(dir string) string {
	return "nfsmon 2 INFO The clp_nfsmon is going to watch shared directory '" + dir + "'."
}
func nfsStopping(dir string) string {
	return "nfsmon 3 INFO The clp_nfsmon will stop watching NFS shared directory '" + dir + "'."
}

// TestFsmonCommandLine: bad command lines give the seed's messages 11, 12 and 13 in the alert
// log and on standard error (11 saying there which parameter), and exit status 2; nothing is
// started.
func TestFsmonCommandLine(t *testing.T) {
	s := setup(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"clp_sambamon", nil, "sambamon 13 ERR The monitor id is not specified at the clp_sambamon command."},
		{"clp_sambamon", []string{"-s", "share", "sambawatch"}, "sambamon 13 ERR The monitor id is not specified at the clp_sambamon command."},
		{"clp_sambamon", []string{"sambawatch"}, "sambamon 12 ERR '-s' parameter is not specified at the clp_sambamon command."},
		{"clp_sambamon", []string{"sambawatch", "-a", "127.0.0.1"}, "sambamon 12 ERR '-s' parameter is not specified at the clp_sambamon command."},
		{"clp_sambamon", []string{"samba_watch", "-s", "x"}, "sambamon 11 ERR Invalid parameter in the clp_sambamon."},
		{"clp_sambamon", []string{"w", "-s", "x", "-i", "0"}, "sambamon 11 ERR Invalid parameter in the clp_sambamon."},
		{"clp_sambamon", []string{"w", "-s", "x", "-r", "10001"}, "sambamon 11 ERR Invalid parameter in the clp_sambamon."},
		{"clp_sambamon", []string{"w", "-s", strings.Repeat("x", 256)}, "sambamon 11 ERR Invalid parameter in the clp_sambamon."},
		{"clp_sambamon", []string{"w", "-s", "x", "-q"}, "sambamon 11 ERR Invalid parameter in the clp_sambamon."},
		{"clp_sambamon", []string{"w", "-stop", "0"}, "sambamon 11 ERR Invalid parameter in the clp_sambamon."},
		{"clp_sambamon", []string{"w", "-s", "x", "-stop"}, "sambamon 11 ERR Invalid parameter in the clp_sambamon."},
		{"clp_nfsmon", nil, "nfsmon 13 ERR The monitor id is not specified at the clp_nfsmon command."},
		{"clp_nfsmon", []string{"nfswatch", "-n", "2049"}, "nfsmon 12 ERR '-d' parameter is not specified at the clp_nfsmon command."},
		{"clp_nfsmon", []string{"nfswatch", "-d", "/e", "-n", "70000"}, "nfsmon 11 ERR Invalid parameter in the clp_nfsmon."},
		{"clp_nfsmon", []string{"nfswatch", "-d", "/e", "-a", "nfs-server"}, "nfsmon 11 ERR Invalid parameter in the clp_nfsmon."},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			e := newFsmonEnv(t, s.bin)
			so, se, code := e.run(t, tt.name, tt.args...)
			text := tt.want[strings.Index(tt.want, "ERR ")+4:]
			// Message 11 keeps the seed's words in the alert log; on stderr they are followed by
			// which parameter is wrong and why, on the same line.
			ok := se == text+"\n"
			if strings.Contains(tt.want, " 11 ERR ") {
				ok = strings.HasPrefix(se, text+" ") && strings.Count(se, "\n") == 1 && strings.HasSuffix(se, "\n")
			}
			if code != 2 || so != "" || !ok {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, %q", code, so, se, text)
			}
			wantRecords(t, e.records(t), tt.want)
		})
	}
}

// TestSambamonProbeFailures runs a watcher to its end against each kind of trouble a Samba server
// has, and checks the seed's messages, in order, and exit status 1.
func TestSambamonProbeFailures(t *testing.T) {
	s := setup(t)
	smb := fsservers.StartSamba(t, fsservers.SambaOptions{})
	closed := fsservers.ClosedPort(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown share", []string{"-s", "nosuch"},
			"sambamon 62 ERR The clp_sambamon has detected an error in Samba [nosuch] (tree connect error[67])."},
		{"share needing a user, as guest", []string{"-s", "authonly"},
			"sambamon 62 ERR The clp_sambamon has detected an error in Samba [authonly] (tree connect error[0xC0000022])."},
		{"wrong password", []string{"-s", "authonly", "-u", smb.User, "-p", "Wrong-Secret-1"},
			"sambamon 64 ERR The clp_sambamon has detected an error in Samba [authonly] (connect error[0xC000006D])."},
		{"not a disk share", []string{"-s", "IPC$"},
			"sambamon 63 ERR The clp_sambamon has detected an error in Samba [IPC$] (share type error)."},
		{"nothing listening", []string{"-s", "share", "-a", fmt.Sprintf("127.0.0.1:%d", closed)},
			"sambamon 72 ERR The clp_sambamon has detected network error(connect error[111])."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newFsmonEnv(t, s.bin)
			args := append([]string{"sambawatch", "-i", "1", "-c", "2", "-r", "5"}, tt.args...)
			if !slices.Contains(args, "-a") {
				args = append(args, "-a", smb.Addr())
			}
			start := time.Now()
			so, se, code := e.run(t, "clp_sambamon", args...)
			if code != 1 || so != "" || se != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and no output", code, so, se)
			}
			// -c 2 -i 1: two failed probes one second apart.
			if d := time.Since(start); d < time.Second || d > 10*time.Second {
				t.Errorf("the watcher ended after %v, want about 1s", d)
			}
			wantRecords(t, e.records(t), smbStarted, tt.want, smbTerm)
			if b, _ := os.ReadFile(e.alertLog); bytes.Contains(b, []byte("Wrong-Secret-1")) {
				t.Errorf("the password is in the alert log:\n%s", b)
			}
			if _, _, code := e.run(t, "clp_sambamon", "sambawatch", "-disp"); code != 4 {
				t.Errorf("-disp after a normal end: exit %d, want 4 (no record left)", code)
			}
		})
	}
}

// TestSambamonWatch: healthy shares (guest and with a user), the server stopping or hanging under
// a running watcher, and -stop.
func TestSambamonWatch(t *testing.T) {
	s := setup(t)
	t.Run("guest and user shares, then -stop", func(t *testing.T) {
		smb := fsservers.StartSamba(t, fsservers.SambaOptions{})
		e := newFsmonEnv(t, s.bin)
		w1 := e.start(t, "clp_sambamon", "guestwatch", "-s", "share", "-a", smb.Addr(), "-i", "1")
		w2 := e.start(t, "clp_sambamon", "userwatch", "-s", "authonly", "-a", smb.Addr(), "-u", smb.User, "-p", smb.Password, "-i", "1")
		e.waitRecords(t, 4, 10*time.Second)
		for _, id := range []string{"guestwatch", "userwatch"} {
			if so, se, code := e.run(t, "clp_sambamon", id, "-stop"); code != 0 || so != "" || se != "" {
				t.Errorf("%s -stop: exit %d, %q, %q", id, code, so, se)
			}
		}
		for _, w := range []*watcher{w1, w2} {
			if code := w.Exit(t, 5*time.Second); code != 0 || w.stdout.Len()+w.stderr.Len() != 0 {
				t.Errorf("watcher: exit %d, output %q %q", code, w.stdout.String(), w.stderr.String())
			}
		}
		// The two watchers start concurrently, so their first records interleave; the stops
		// are sequential.
		got := e.records(t)
		if len(got) != 6 {
			t.Fatalf("alert log:\n%s", strings.Join(got, "\n"))
		}
		first := slices.Clone(got[:4])
		slices.Sort(first)
		wantFirst := []string{smbStarted, smbStarted, smbWatching("authonly"), smbWatching("share")}
		slices.Sort(wantFirst)
		if !slices.Equal(first, wantFirst) {
			t.Errorf("first records %q, want %q in any order", got[:4], wantFirst)
		}
		wantRecords(t, got[4:], smbStopping("share"), smbStopping("authonly"))
		if b, _ := os.ReadFile(e.alertLog); bytes.Contains(b, []byte(smb.Password)) {
			t.Errorf("the password is in the alert log")
		}
	})
	t.Run("server stopped under a running watcher", func(t *testing.T) {
		smb := fsservers.StartSamba(t, fsservers.SambaOptions{})
		e := newFsmonEnv(t, s.bin)
		w := e.start(t, "clp_sambamon", "sambawatch", "-s", "share", "-a", smb.Addr(), "-i", "1", "-c", "2", "-r", "5")
		e.waitRecords(t, 2, 10*time.Second)
		smb.Stop(t)
		if code := w.Exit(t, 15*time.Second); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		wantRecords(t, e.records(t), smbStarted, smbWatching("share"),
			"sambamon 72 ERR The clp_sambamon has detected network error(connect error[111]).", smbTerm)
	})
	t.Run("server frozen: -r fires", func(t *testing.T) {
		smb := fsservers.StartSamba(t, fsservers.SambaOptions{})
		e := newFsmonEnv(t, s.bin)
		w := e.start(t, "clp_sambamon", "sambawatch", "-s", "share", "-a", smb.Addr(), "-i", "1", "-c", "2", "-r", "1")
		e.waitRecords(t, 2, 10*time.Second)
		smb.Freeze()
		defer smb.Thaw()
		start := time.Now()
		if code := w.Exit(t, 15*time.Second); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		// Two probes of 1s (-r) with 1s (-i) between them, after up to 1s of the interval.
		if d := time.Since(start); d < 2*time.Second || d > 6*time.Second {
			t.Errorf("the watcher of a frozen server ended after %v, want 2-4s", d)
		}
		wantRecords(t, e.records(t), smbStarted, smbWatching("share"),
			"sambamon 74 ERR The clp_sambamon has detected network error(select error[110]).", smbTerm)
	})
}

// TestSambamonControl drives a running watcher from other processes: -disp, a second watcher
// with the same ID, -del, -pause and -continue, -stop that times out, SIGTERM, and SIGKILL
// followed by a restart with the same ID.
func TestSambamonControl(t *testing.T) {
	s := setup(t)
	smb := fsservers.StartSamba(t, fsservers.SambaOptions{})
	e := newFsmonEnv(t, s.bin)
	args := []string{"sambawatch", "-s", "share", "-a", smb.Addr(), "-i", "1", "-c", "1", "-r", "2"}
	w := e.start(t, "clp_sambamon", args...)
	e.waitRecords(t, 2, 10*time.Second)

	pid := strconv.Itoa(w.Cmd.Process.Pid)
	if so, se, code := e.run(t, "clp_sambamon", "sambawatch", "-disp"); code != 0 || so != pid+"\n" || se != "" {
		t.Errorf("-disp: exit %d, %q, %q; want %s", code, so, se, pid)
	}
	dupText := "The specified monitor id is already under use in other processes.\n"
	if so, se, code := e.run(t, "clp_sambamon", args...); code != 3 || so != "" || se != dupText {
		t.Errorf("second watcher: exit %d, %q, %q", code, so, se)
	}
	if _, se, code := e.run(t, "clp_sambamon", "sambawatch", "-del"); code != 3 || se != dupText {
		t.Errorf("-del of a running watcher: exit %d, %q", code, se)
	}
	// Another command's IDs are separate.
	if so, se, code := e.run(t, "clp_nfsmon", "sambawatch", "-disp"); code != 4 || so != "" || se != "clp_nfsmon: there is no record of this monitor id.\n" {
		t.Errorf("clp_nfsmon -disp of a clp_sambamon ID: exit %d, %q, %q", code, so, se)
	}
	wantRecords(t, e.records(t), smbStarted, smbWatching("share"), smbInUse, smbInUse)

	// Paused, the watcher does not notice the server going away; continued, it does at once.
	if so, se, code := e.run(t, "clp_sambamon", "sambawatch", "-pause"); code != 0 || so+se != "" {
		t.Errorf("-pause: exit %d, %q", code, so+se)
	}
	e.waitRecords(t, 5, 5*time.Second)
	smb.Stop(t)
	time.Sleep(2500 * time.Millisecond) // two intervals: probes would have failed by now
	if !w.Running() {
		t.Fatal("the paused watcher exited")
	}
	if so, se, code := e.run(t, "clp_sambamon", "sambawatch", "-continue"); code != 0 || so+se != "" {
		t.Errorf("-continue: exit %d, %q", code, so+se)
	}
	if code := w.Exit(t, 10*time.Second); code != 1 {
		t.Errorf("exit %d after -continue, want 1", code)
	}
	wantRecords(t, e.records(t), smbStarted, smbWatching("share"), smbInUse, smbInUse, smbPaused, smbContinue,
		"sambamon 72 ERR The clp_sambamon has detected network error(connect error[111]).", smbTerm)

	// No watcher: -stop has nothing to do (status 0, silent); -pause, -continue, -disp say so.
	before := len(e.records(t))
	for _, tt := range []struct {
		op, stderr string
		code       int
	}{
		{"-stop", "", 0},
		{"-pause", "clp_sambamon: no clp_sambamon is running with this monitor id.\n", 4},
		{"-continue", "clp_sambamon: no clp_sambamon is running with this monitor id.\n", 4},
		{"-disp", "clp_sambamon: there is no record of this monitor id.\n", 4},
		{"-del", "", 0},
	} {
		if so, se, code := e.run(t, "clp_sambamon", "sambawatch", tt.op); code != tt.code || so != "" || se != tt.stderr {
			t.Errorf("%s with no watcher: exit %d, %q, %q; want %d, %q", tt.op, code, so, se, tt.code, tt.stderr)
		}
	}
	if got := e.records(t); len(got) != before {
		t.Errorf("commands with no watcher wrote alerts: %q", got[before:])
	}
}

// TestSambamonKillAndStop: SIGKILL leaves a record that blocks nothing; -stop that times out
// reports 15; SIGTERM stops a watcher as -stop does.
func TestSambamonKillAndStop(t *testing.T) {
	s := setup(t)
	smb := fsservers.StartSamba(t, fsservers.SambaOptions{})
	e := newFsmonEnv(t, s.bin)
	args := []string{"sambawatch", "-s", "share", "-a", smb.Addr(), "-i", "1"}

	w := e.start(t, "clp_sambamon", args...)
	e.waitRecords(t, 2, 10*time.Second)
	old := strconv.Itoa(w.Cmd.Process.Pid)
	if err := w.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.Exit(t, 5*time.Second)
	if so, _, code := e.run(t, "clp_sambamon", "sambawatch", "-disp"); code != 0 || so != old+"\n" {
		t.Errorf("-disp after SIGKILL: exit %d, %q; want the killed pid %s", code, so, old)
	}
	// The same ID starts again at once, without -del.
	w = e.start(t, "clp_sambamon", args...)
	e.waitRecords(t, 4, 10*time.Second)
	if so, _, _ := e.run(t, "clp_sambamon", "sambawatch", "-disp"); so != strconv.Itoa(w.Cmd.Process.Pid)+"\n" {
		t.Errorf("-disp of the new watcher: %q", so)
	}

	// A watcher that cannot act on -stop (stopped with SIGSTOP): 15 after the wait, status 4.
	if err := w.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	so, se, code := e.run(t, "clp_sambamon", "sambawatch", "-stop", "1")
	if code != 4 || so != "" || se != "The clp_sambamon has not performed end processing.\n" {
		t.Errorf("-stop 1 of a stopped process: exit %d, %q, %q", code, so, se)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Errorf("-stop 1 took %v", d)
	}
	// Resumed, it finds the SIGTERM that -stop sent and ends cleanly.
	_ = w.Cmd.Process.Signal(syscall.SIGCONT)
	if code := w.Exit(t, 5*time.Second); code != 0 {
		t.Errorf("exit %d after SIGCONT, want 0", code)
	}

	// SIGTERM from clpd (the end of an asynchronous start script) stops it like -stop.
	w = e.start(t, "clp_sambamon", args...)
	e.waitRecords(t, 8, 10*time.Second)
	_ = w.Cmd.Process.Signal(syscall.SIGTERM)
	if code := w.Exit(t, 5*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	wantRecords(t, e.records(t),
		smbStarted, smbWatching("share"),
		smbStarted, smbWatching("share"),
		"sambamon 15 ERR The clp_sambamon has not performed end processing.",
		smbStopping("share"),
		smbStarted, smbWatching("share"), smbStopping("share"))
}

// TestFsmonSystemError: a registry that cannot be created is message 42 with the failing call
// and errno, status 5.
func TestFsmonSystemError(t *testing.T) {
	s := setup(t)
	e := newFsmonEnv(t, s.bin)
	file := filepath.Join(e.dir, "not-a-dir")
	touch(t, file)
	e.env = append(e.env, "CLPKIT_FSMON_DIR="+file)
	so, se, code := e.run(t, "clp_nfsmon", "nfswatch", "-d", "/export", "-a", "127.0.0.1")
	want := "The clp_nfsmon has detected system error (mkdir 20)."
	if code != 5 || so != "" || se != want+"\n" {
		t.Errorf("exit %d, %q, %q", code, so, se)
	}
	wantRecords(t, e.records(t), "nfsmon 42 ERR "+want)
}

// TestNfsmon watches a real nfs-ganesha through a real rpcbind, then breaks each piece. One NFS
// server at a time runs on the machine (rpcbind is shared), so the cases run in order.
func TestNfsmon(t *testing.T) {
	s := setup(t)
	n := fsservers.StartNFS(t, fsservers.NFSOptions{})
	closed := fsservers.ClosedPort(t)
	base := []string{"nfswatch", "-a", "127.0.0.1", "-i", "1", "-c", "1", "-r", "2"}
	failure := func(t *testing.T, text string, extra ...string) {
		t.Helper()
		e := newFsmonEnv(t, s.bin)
		so, se, code := e.run(t, "clp_nfsmon", append(append([]string{}, base...), extra...)...)
		if code != 1 || so != "" || se != "" {
			t.Errorf("exit %d, %q, %q; want 1 and no output", code, so, se)
		}
		wantRecords(t, e.records(t), nfsStarted, "nfsmon 0 ERR clp_nfsmon: "+text, nfsError, nfsTerm)
	}

	t.Run("export present, then -stop", func(t *testing.T) {
		for _, extra := range [][]string{{"-d", n.Export}, {"-d", n.Export, "-n", strconv.Itoa(n.Port)}, {"-d", n.Export, "-n" + strconv.Itoa(n.Port)}} {
			e := newFsmonEnv(t, s.bin)
			w := e.start(t, "clp_nfsmon", append(append([]string{}, base...), extra...)...)
			e.waitRecords(t, 2, 10*time.Second)
			time.Sleep(1500 * time.Millisecond) // more probes, all healthy
			if so, se, code := e.run(t, "clp_nfsmon", "nfswatch", "-stop"); code != 0 || so+se != "" {
				t.Errorf("-stop: exit %d, %q", code, so+se)
			}
			if code := w.Exit(t, 5*time.Second); code != 0 {
				t.Errorf("%v: exit %d, want 0", extra, code)
			}
			wantRecords(t, e.records(t), nfsStarted, nfsWatching(n.Export), nfsStopping(n.Export))
		}
	})
	t.Run("wrong directory", func(t *testing.T) {
		failure(t, "mount error(13)", "-d", "/clpkit/nosuch")
	})
	t.Run("nothing at the -n port", func(t *testing.T) {
		failure(t, "RPC: Unable to receive: errno = Connection refused.", "-d", n.Export, "-n", strconv.Itoa(closed))
	})
	t.Run("pause, continue, frozen server", func(t *testing.T) {
		e := newFsmonEnv(t, s.bin)
		w := e.start(t, "clp_nfsmon", append(append([]string{}, base...), "-d", n.Export)...)
		e.waitRecords(t, 2, 10*time.Second)
		e.run(t, "clp_nfsmon", "nfswatch", "-pause")
		e.waitRecords(t, 3, 5*time.Second)
		n.Freeze()
		defer n.Thaw()
		time.Sleep(2500 * time.Millisecond)
		if !w.Running() {
			t.Fatal("the paused watcher exited")
		}
		e.run(t, "clp_nfsmon", "nfswatch", "-continue")
		if code := w.Exit(t, 10*time.Second); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		wantRecords(t, e.records(t), nfsStarted, nfsWatching(n.Export),
			"nfsmon 7 INFO The clp_nfsmon is going to stop monitoring.", "nfsmon 8 INFO The clp_nfsmon is going to monitor.",
			"nfsmon 0 ERR clp_nfsmon: RPC: Timed out.", nfsError, nfsTerm)
		n.Thaw()
	})
	t.Run("ganesha stopped under a running watcher", func(t *testing.T) {
		e := newFsmonEnv(t, s.bin)
		w := e.start(t, "clp_nfsmon", append(append([]string{}, base...), "-d", n.Export)...)
		e.waitRecords(t, 2, 10*time.Second)
		n.Stop(t)
		if code := w.Exit(t, 10*time.Second); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		wantRecords(t, e.records(t), nfsStarted, nfsWatching(n.Export),
			"nfsmon 0 ERR clp_nfsmon: RPC: Program not registered.", nfsError, nfsTerm)
	})
	t.Run("rpcbind stopped", func(t *testing.T) {
		n.Rpcbind.Stop(t)
		failure(t, "RPC: Port mapper failure - RPC: Unable to receive.", "-d", n.Export)
	})
}

// TestMonitorTemplates runs templates/samba-monitor and templates/nfs-monitor the way seed 001
// uses them, with the real commands against real servers: start.sh (started asynchronously by the
// cluster) runs the watcher in the foreground; stop.sh stops it, and start.sh then ends. The
// scripts are the templates with the edit the operator makes (XXXX replaced by the share or the
// directory, plus the test server's address). These are the runs templates/templates_test.go
// leaves out (fsmonElsewhere), with the same cases and the same expected output.
func TestMonitorTemplates(t *testing.T) {
	s := setup(t)
	root := repoPath(t, "templates")
	cases := []struct {
		name  string
		env   []string
		lines string
	}{
		{"start-home", []string{"CLP_EVENT=START", "CLP_DISK=SUCCESS", "CLP_SERVER=HOME"}, "NORMAL1\nNORMAL2\n"},
		{"start-other", []string{"CLP_EVENT=START", "CLP_DISK=SUCCESS", "CLP_SERVER=OTHER"}, "NORMAL1\nON_OTHER1\n"},
		{"failover-home", []string{"CLP_EVENT=FAILOVER", "CLP_DISK=SUCCESS", "CLP_SERVER=HOME"}, "FAILOVER1\nFAILOVER2\n"},
		{"failover-other", []string{"CLP_EVENT=FAILOVER", "CLP_DISK=SUCCESS", "CLP_SERVER=OTHER"}, "FAILOVER1\nON_OTHER2\n"},
	}
	type template struct {
		folder, command, placeholder, edit string
		records                            []string
	}
	runTemplate := func(t *testing.T, tp template) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e := newFsmonEnv(t, s.bin)
				dir := filepath.Join(e.dir, "scripts")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, name := range []string{"start.sh", "stop.sh"} {
					b, err := os.ReadFile(filepath.Join(root, tp.folder, name))
					if err != nil {
						t.Fatal(err)
					}
					text := string(b)
					if name == "start.sh" {
						if strings.Count(text, tp.placeholder) != 2 {
							t.Fatalf("%s/start.sh has not two %q lines", tp.folder, tp.placeholder)
						}
						text = strings.ReplaceAll(text, tp.placeholder, tp.edit)
					}
					if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				env := append([]string{"PATH=" + s.bin + ":/usr/local/bin:/usr/bin:/bin"}, c.env...)
				env = append(env, e.vars...)
				script := func(name string) *exec.Cmd {
					cmd := exec.Command(filepath.Join(dir, name))
					cmd.Dir, cmd.Env = dir, env
					cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
					return cmd
				}
				start := script("start.sh")
				var startOut, startErr bytes.Buffer
				start.Stdout, start.Stderr = &startOut, &startErr
				if err := start.Start(); err != nil {
					t.Fatal(err)
				}
				startDone := make(chan struct{})
				go func() { _ = start.Wait(); close(startDone) }()
				t.Cleanup(func() {
					_ = syscall.Kill(-start.Process.Pid, syscall.SIGKILL)
					<-startDone
				})
				e.waitRecords(t, 2, 10*time.Second)

				stop := script("stop.sh")
				var stopOut, stopErr bytes.Buffer
				stop.Stdout, stop.Stderr = &stopOut, &stopErr
				if err := stop.Run(); err != nil || stopOut.String() != c.lines+tp.command+" stop\nEXIT\n" || stopErr.Len() != 0 {
					t.Errorf("stop.sh: %v\nstdout %q\nstderr %q", err, stopOut.String(), stopErr.String())
				}
				select {
				case <-startDone:
				case <-time.After(10 * time.Second):
					t.Fatal("start.sh did not end after stop.sh")
				}
				if code := start.ProcessState.ExitCode(); code != 0 || startOut.String() != c.lines+tp.command+" start\nEXIT\n" || startErr.Len() != 0 {
					t.Errorf("start.sh: exit %d\nstdout %q\nstderr %q", code, startOut.String(), startErr.String())
				}
				wantRecords(t, e.records(t), tp.records...)
			})
		}
	}
	t.Run("samba-monitor", func(t *testing.T) {
		smb := fsservers.StartSamba(t, fsservers.SambaOptions{})
		runTemplate(t, template{folder: "samba-monitor", command: "clp_sambamon", placeholder: "-s XXXX",
			edit:    "-s share -a " + smb.Addr() + " -i 1",
			records: []string{smbStarted, smbWatching("share"), smbStopping("share")}})
	})
	t.Run("nfs-monitor", func(t *testing.T) {
		n := fsservers.StartNFS(t, fsservers.NFSOptions{})
		runTemplate(t, template{folder: "nfs-monitor", command: "clp_nfsmon", placeholder: "-d XXXX",
			edit:    "-d " + n.Export + " -a 127.0.0.1 -i 1",
			records: []string{nfsStarted, nfsWatching(n.Export), nfsStopping(n.Export)}})
	})
}
