package fsmon

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/alert"
)

// helperEnv makes the test binary act as a watcher that holds an ID (see TestMain).
const helperEnv = "CLPKIT_FSMON_TEST_HOLD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		dir, id, _ := strings.Cut(spec, "|")
		if _, err := (Registry{Dir: dir}).Acquire(id); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Hour) // until killed
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// holder starts a real process that acquires id in dir and keeps it.
func holder(t *testing.T, dir, id string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir+"|"+id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "held\n" {
		t.Fatalf("helper: %q", line)
	}
	return cmd
}

func TestRegistry(t *testing.T) {
	reg := Registry{Dir: filepath.Join(t.TempDir(), "sambamon")}
	if st, err := reg.Lookup("w1"); err != nil || st.Found {
		t.Fatalf("empty registry: %+v %v", st, err)
	}
	e, err := reg.Acquire("w1")
	if err != nil {
		t.Fatal(err)
	}
	st, err := reg.Lookup("w1")
	if err != nil || !st.Found || !st.Live || st.Record.PID != os.Getpid() || st.Record.Start == 0 {
		t.Fatalf("held: %+v %v", st, err)
	}
	if _, err := reg.Acquire("w1"); !errors.Is(err, ErrInUse) {
		t.Errorf("second Acquire: %v, want ErrInUse", err)
	}
	if err := reg.Delete("w1"); !errors.Is(err, ErrInUse) {
		t.Errorf("Delete while held: %v, want ErrInUse", err)
	}
	// IDs are case-sensitive, and independent.
	e2, err := reg.Acquire("W1")
	if err != nil {
		t.Fatalf("W1 beside w1: %v", err)
	}
	if err := e.Release(); err != nil {
		t.Fatal(err)
	}
	if st, err := reg.Lookup("w1"); err != nil || st.Found {
		t.Errorf("after Release: %+v %v", st, err)
	}
	if err := e2.Release(); err != nil {
		t.Fatal(err)
	}
	if err := reg.Delete("nothing"); err != nil {
		t.Errorf("Delete of nothing: %v", err)
	}
}

// TestRegistrySIGKILL: a watcher killed with SIGKILL leaves its record (its pid still shows)
// but not its lock: the ID can be taken again at once, without -del.
func TestRegistrySIGKILL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nfsmon")
	reg := Registry{Dir: dir}
	h := holder(t, dir, "nfswatch")
	st, err := reg.Lookup("nfswatch")
	if err != nil || !st.Live || st.Record.PID != h.Process.Pid {
		t.Fatalf("held by the helper: %+v %v", st, err)
	}
	if _, err := reg.Acquire("nfswatch"); !errors.Is(err, ErrInUse) {
		t.Fatalf("Acquire while another process holds it: %v", err)
	}
	if err := h.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = h.Wait()
	st, err = reg.Lookup("nfswatch")
	if err != nil || !st.Found || st.Live || st.Record.PID != h.Process.Pid {
		t.Fatalf("after SIGKILL: %+v %v, want the record of pid %d, not live", st, err, h.Process.Pid)
	}
	e, err := reg.Acquire("nfswatch")
	if err != nil {
		t.Fatalf("Acquire after SIGKILL: %v", err)
	}
	defer e.Release()
	if st, _ := reg.Lookup("nfswatch"); st.Record.PID != os.Getpid() {
		t.Errorf("the new record: %+v", st)
	}
}

func TestRegistryDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sambamon")
	reg := Registry{Dir: dir}
	h := holder(t, dir, "w")
	_ = h.Process.Signal(syscall.SIGKILL)
	_ = h.Wait()
	if err := reg.Delete("w"); err != nil {
		t.Fatal(err)
	}
	if st, err := reg.Lookup("w"); err != nil || st.Found {
		t.Errorf("after Delete: %+v %v", st, err)
	}
}

func TestRegistryErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var se *SysError
	_, err := Registry{Dir: filepath.Join(file, "sambamon")}.Acquire("w")
	if !errors.As(err, &se) || se.Func != "mkdir" || se.Errno != syscall.ENOTDIR {
		t.Errorf("registry under a file: %v", err)
	}
	for _, id := range []string{"", ".", "..", "a/b", strings.Repeat("a", 256)} {
		if _, err := (Registry{Dir: t.TempDir()}).Acquire(id); !errors.As(err, &se) || se.Errno != syscall.EINVAL {
			t.Errorf("Acquire(%q): %v, want EINVAL", id, err)
		}
	}
}

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []string
	}{
		{"", 255, []string{""}},
		{"short", 255, []string{"short"}},
		{strings.Repeat("a", 255), 255, []string{strings.Repeat("a", 255)}},
		{strings.Repeat("a", 256), 255, []string{strings.Repeat("a", 255), "a"}},
		{strings.Repeat("a", 600), 255, []string{strings.Repeat("a", 255), strings.Repeat("a", 255), strings.Repeat("a", 90)}},
		// A three-byte character is never cut: "ab" + "日" is 5 bytes; with max 4 it moves whole.
		{"ab日本", 4, []string{"ab", "日", "本"}},
	}
	for _, tt := range tests {
		got := SplitLines(tt.in, tt.max)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("SplitLines(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestEmitter writes through a real alert log file: long texts become several records with one
// ID, and stderr gets only what asks for it.
func TestEmitter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alert.log")
	var stderr strings.Builder
	e := Emitter{Logger: alert.NewLogger("server1", nil, alert.NewFileSink(path)), Module: "sambamon", Stderr: &stderr, Name: "clp_sambamon"}
	long := "The clp_sambamon has detected an error in Samba [" + strings.Repeat("s", 255) + "] (share type error)."
	e.Emit(
		Message{ID: 1, Level: alert.Info, Text: "The clp_sambamon has started watching Samba.", Alert: true},
		Message{ID: 63, Level: alert.Error, Text: long, Alert: true},
		Message{ID: 14, Level: alert.Error, Text: "The specified monitor id is already under use in other processes.", Alert: true, Stderr: true},
		Message{Level: alert.Error, Text: "clp_sambamon: no clp_sambamon is running with this monitor id.", Stderr: true},
	)
	recs, err := alert.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Server != "server1" || r.Module != "sambamon" || len(r.Text) > AlertLineMax {
			t.Errorf("record %+v", r)
		}
		got = append(got, r.Level.String()+" "+r.Text)
	}
	want := []string{
		"INFO The clp_sambamon has started watching Samba.",
		"ERR " + long[:255], "ERR " + long[255:],
		"ERR The specified monitor id is already under use in other processes.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alert log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if recs[1].ID != 63 || recs[2].ID != 63 {
		t.Errorf("the continuation keeps the ID: %d %d", recs[1].ID, recs[2].ID)
	}
	if stderr.String() != "The specified monitor id is already under use in other processes.\nclp_sambamon: no clp_sambamon is running with this monitor id.\n" {
		t.Errorf("stderr %q", stderr.String())
	}
}
