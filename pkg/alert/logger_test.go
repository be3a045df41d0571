package alert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"clpkit/internal/syslogtest"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestPath(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, DefaultPath},
		{map[string]string{EnvPath: ""}, DefaultPath},
		{map[string]string{EnvPath: "/tmp/x/alert.log"}, "/tmp/x/alert.log"},
	}
	for _, tt := range tests {
		if got := Path(envOf(tt.env)); got != tt.want {
			t.Errorf("Path(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestServerName(t *testing.T) {
	host := func(h string, err error) func() (string, error) {
		return func() (string, error) { return h, err }
	}
	tests := []struct {
		name     string
		env      map[string]string
		hostname func() (string, error)
		want     string
		wantErr  string
	}{
		{"short host name", nil, host("server1", nil), "server1", ""},
		{"FQDN cut at the first dot", nil, host("server1.example.com", nil), "server1", ""},
		{"env wins", map[string]string{EnvServer: "sv2"}, host("server1", nil), "sv2", ""},
		{"env wins over a failing hostname", map[string]string{EnvServer: "sv2"}, host("", errors.New("boom")), "sv2", ""},
		{"hostname fails", nil, host("", errors.New("boom")), "", "CLPKIT_SERVER"},
		{"empty host name", nil, host(".example.com", nil), "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ServerName(envOf(tt.env), tt.hostname)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ServerName = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ServerName = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// memSink records what it is given, or fails.
type memSink struct {
	recs   []Record
	err    error
	closed bool
}

func (m *memSink) Write(_ context.Context, r Record) error {
	if m.err != nil {
		return m.err
	}
	m.recs = append(m.recs, r)
	return nil
}

func (m *memSink) Close() error { m.closed = true; return nil }

func TestLoggerFansOut(t *testing.T) {
	clock := func() time.Time { return utc }
	bad1 := &memSink{err: errors.New("first sink broken")}
	good := &memSink{}
	bad2 := &memSink{err: errors.New("second sink broken")}
	l := NewLogger("server1", clock, bad1, good, bad2)

	err := l.Log(context.Background(), "rc", 10, Warning, "Activating group failover1 has started.")
	// Every sink is tried, and the caller learns of every failure.
	if err == nil || !strings.Contains(err.Error(), "first sink broken") || !strings.Contains(err.Error(), "second sink broken") {
		t.Fatalf("Log error = %v", err)
	}
	want := Record{Time: utc, Server: "server1", Module: "rc", ID: 10, Level: Warning, Text: "Activating group failover1 has started."}
	if len(good.recs) != 1 || good.recs[0] != want {
		t.Fatalf("good sink got %+v, want %+v", good.recs, want)
	}

	if err := l.Log(context.Background(), "rc", 1, Level(5), "x"); err == nil {
		t.Error("Log with an invalid level succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Log(ctx, "rc", 1, Info, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Log with a canceled context = %v", err)
	}
	if len(good.recs) != 1 {
		t.Errorf("rejected records reached the sink: %+v", good.recs)
	}
	if err := l.Close(); err != nil || !good.closed || !bad1.closed {
		t.Errorf("Close = %v, closed = %v %v", err, good.closed, bad1.closed)
	}
}

func TestNewStandardWritesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alert.log")
	l := NewStandard(path, "server1", func() time.Time { return utc })
	defer l.Close()
	if err := l.Log(context.Background(), "rc", 12, Error, "Activating group failover1 has failed."); err != nil {
		t.Fatal(err) // must hold with or without a syslog socket on this machine
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2026-11-22T02:35:18.123+00:00 server1 rc 12 ERR Activating group failover1 has failed.\n"; string(b) != want {
		t.Fatalf("file = %q, want %q", b, want)
	}
}

// readDatagram waits for the next message the syslog socket received.
func readDatagram(t *testing.T, c <-chan string) string {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no syslog message within 5s")
		return ""
	}
}

func TestSyslogSink(t *testing.T) {
	sock, c := syslogtest.Listen(t, "")
	s, err := DialSyslog("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Facility daemon is 3, so the priority is 24 + severity.
	tests := []struct {
		level Level
		pri   string
	}{
		{Info, "<30>"},
		{Warning, "<28>"},
		{Error, "<27>"},
	}
	for _, tt := range tests {
		r := Record{Time: utc, Server: "server1", Module: "logcmd", ID: 3, Level: tt.level, Text: "disk\nfull"}
		if err := s.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		got := readDatagram(t, c)
		re := regexp.MustCompile(`^` + regexp.QuoteMeta(tt.pri) + `\w{3} [ \d]\d \d\d:\d\d:\d\d logcmd\[\d+\]: <type: logcmd><event: 3> disk full\n?$`)
		if !re.MatchString(got) {
			t.Errorf("%s: datagram %q does not match %s", tt.level, got, re)
		}
	}
	// Another module gets its own tag.
	if err := s.Write(context.Background(), Record{Module: "rc", ID: 10, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if got := readDatagram(t, c); !strings.Contains(got, " rc[") {
		t.Errorf("datagram %q is not tagged rc", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), Record{Module: "rc"}); err == nil {
		t.Error("Write after Close succeeded")
	}
}

func TestDialSyslogFails(t *testing.T) {
	if _, err := DialSyslog("unixgram", filepath.Join(t.TempDir(), "nosuch")); err == nil {
		t.Fatal("DialSyslog to a missing socket succeeded")
	}
	// The local default: on a machine without /dev/log the error must be the clear sentinel.
	if _, err := os.Stat("/dev/log"); err != nil {
		if _, err := DialSyslog("", ""); !errors.Is(err, ErrNoSyslog) {
			t.Fatalf("DialSyslog without /dev/log = %v, want ErrNoSyslog", err)
		}
	}
}
