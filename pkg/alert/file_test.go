package alert

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestFileSinkCreatesDirAndFile(t *testing.T) {
	// A restrictive umask, as under cron, must not hide the log from operators.
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	path := filepath.Join(t.TempDir(), "var", "log", "clpkit", "alert.log")
	s := NewFileSink(path)
	rec := Record{Time: utc, Server: "s1", Module: "logcmd", ID: 1, Level: Info, Text: "hello"}
	if err := s.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{path: 0o644, filepath.Dir(path): 0o755 | fs.ModeDir} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", p, fi.Mode(), want)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line := "2026-11-22T02:35:18.123+00:00 s1 logcmd 1 INFO hello\n"
	if string(b) != line+line {
		t.Fatalf("file =\n%q\nwant two lines of\n%q", b, line)
	}
}

func TestFileSinkErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "plainfile")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	isDir := filepath.Join(dir, "adir")
	if err := os.Mkdir(isDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		// The message names the file once and gives the OS error, nothing more.
		{"path is a directory", isDir, "cannot write alert log " + isDir + ": is a directory"},
		{"parent is a file", filepath.Join(notDir, "alert.log"),
			"cannot write alert log " + filepath.Join(notDir, "alert.log") + ": not a directory"},
	}
	if os.Geteuid() != 0 { // root ignores permission bits
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(ro, "sub", "alert.log")
		tests = append(tests, struct{ name, path, want string }{
			"directory cannot be created", p,
			"cannot write alert log " + p + ": mkdir " + filepath.Dir(p) + ": permission denied",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewFileSink(tt.path).Write(context.Background(), Record{Time: utc})
			if err == nil {
				t.Fatal("Write succeeded")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestFileSinkCanceledContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alert.log")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewFileSink(path).Write(ctx, Record{Time: utc}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write with a canceled context = %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file was created: %v", err)
	}
}

// Concurrent writers, in goroutines and in separate processes, must never interleave inside a
// line. The records are large (several KiB) so that a writer doing more than one write(2) per
// record, or not using O_APPEND, would be caught.
const (
	helperEnv     = "CLPKIT_ALERT_TEST_HELPER"
	helperRecords = 200
)

// bigText is a recognisable message: a writer tag repeated to about 6 KiB.
func bigText(writer string, i int) string {
	return fmt.Sprintf("%s#%d ", writer, i) + strings.Repeat(writer, 6000/len(writer))
}

func checkText(r Record) error {
	head, body, ok := strings.Cut(r.Text, " ")
	writer, _, ok2 := strings.Cut(head, "#")
	if !ok || !ok2 || body != strings.Repeat(writer, 6000/len(writer)) {
		return fmt.Errorf("mangled record from %q: %.80q...", r.Server, r.Text)
	}
	return nil
}

// TestHelperProcess is not a real test: the multi-process test runs the test binary again with
// helperEnv set, and this function then appends helperRecords records and exits.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process for TestConcurrentWriters")
	}
	path, name, _ := strings.Cut(spec, "|")
	l := NewLogger(name, time.Now, NewFileSink(path))
	for i := 0; i < helperRecords; i++ {
		if err := l.Log(context.Background(), "proc", i, Warning, bigText(name, i)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(0)
}

func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log", "alert.log") // the directory race is part of the test
	const procs, goroutines = 4, 4

	var cmds []*exec.Cmd
	for p := 0; p < procs; p++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), helperEnv+"="+path+"|proc"+strconv.Itoa(p))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			name := "gor" + strconv.Itoa(g)
			l := NewLogger(name, time.Now, NewFileSink(path))
			for i := 0; i < helperRecords; i++ {
				if err := l.Log(context.Background(), "goroutine", i, Error, bigText(name, i)); err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper %v: %v", cmd.Args, err)
		}
	}

	recs, err := Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if want := (procs + goroutines) * helperRecords; len(recs) != want {
		t.Fatalf("read %d records, want %d", len(recs), want)
	}
	next := map[string]int{} // each writer's records appear whole and in its own order
	for _, r := range recs {
		if err := checkText(r); err != nil {
			t.Fatal(err)
		}
		if r.ID != next[r.Server] {
			t.Fatalf("%s: record %d after %d", r.Server, r.ID, next[r.Server]-1)
		}
		next[r.Server]++
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	good1 := "2026-11-22T02:35:18.123+00:00 s1 rc 10 INFO Activating group failover1 has started."
	good2 := "2026-11-22T02:35:19.000+00:00 s1 rc 12 ERR Activating group failover1 has failed."
	tests := []struct {
		name    string
		content string
		wantN   int
		wantErr string
	}{
		{"empty file", "", 0, ""},
		{"two records", good1 + "\n" + good2 + "\n", 2, ""},
		{"no final newline", good1 + "\n" + good2, 2, ""},
		{"CRLF copy", good1 + "\r\n" + good2 + "\r\n", 2, ""},
		{"blank lines are skipped", "\n" + good1 + "\n\n" + good2 + "\n", 2, ""},
		{"malformed line keeps the rest", good1 + "\nnot a record\n" + good2 + "\nbad again\n", 2, ":2: malformed"},
		{"long record", good1 + strings.Repeat("x", 200000) + "\n", 1, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strconv.Itoa(i))
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			recs, err := Read(path)
			if len(recs) != tt.wantN {
				t.Errorf("got %d records, want %d", len(recs), tt.wantN)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), path+tt.wantErr) || !errors.Is(err, ErrMalformed)):
				t.Errorf("error = %v, want %q", err, path+tt.wantErr)
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read(missing) = %v, want ErrNotExist", err)
	}
}
