package psaver

import (
	"bytes"
	"log/syslog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/internal/syslogtest"
	"clpkit/pkg/alert"
)

// TestReporterWire checks what reaches syslog byte for byte: "<PRI>Mmm dd hh:mm:ss
// pcheck[PID]: text\n", facility daemon, the priority of the line.
func TestReporterWire(t *testing.T) {
	sock, got := syslogtest.Listen(t, "")
	var stderr bytes.Buffer
	alertPath := filepath.Join(t.TempDir(), "alert.log")
	if err := os.WriteFile(alertPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r, warning := NewReporter("pcheck", sock, &stderr, false, alertPath, "server1")
	defer r.Close()
	if warning != "" {
		t.Fatal(warning)
	}
	lines := []Line{
		{Priority: syslog.LOG_INFO, ID: 1, Text: "(/usr/bin/java    ,pid=3679) Up"},
		{Priority: syslog.LOG_WARNING, ID: 2, Text: "Process [/usr/bin/java ,   pid=312] Down"},
		{Priority: syslog.LOG_ERR, ID: 5, Text: "(/usr/bin/java) RETRY_OVER:EXIT"},
		{Priority: syslog.LOG_CRIT, ID: 6, Text: "(/usr/bin/java) FATAL"},
	}
	wantPRI := []int{30, 28, 27, 26} // daemon (3) * 8 + severity
	for _, l := range lines {
		r.Report(l)
	}
	for i, l := range lines {
		select {
		case msg := <-got:
			re := regexp.MustCompile(`^<` + strconv.Itoa(wantPRI[i]) + `>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d pcheck\[` +
				strconv.Itoa(os.Getpid()) + `\]: ` + regexp.QuoteMeta(l.Text) + "\n$")
			if !re.MatchString(msg) {
				t.Errorf("datagram %q does not match %s", msg, re)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("line %d never reached syslog", i)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr (not a terminal) got %q", stderr.String())
	}
	recs, err := alert.Read(alertPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0].Module != "pcheck" || recs[0].ID != 1 || recs[0].Level != alert.Info ||
		recs[1].Level != alert.Warning || recs[3].Level != alert.Error || recs[3].Text != "(/usr/bin/java) FATAL" || recs[3].Server != "server1" {
		t.Errorf("alert records %+v", recs)
	}
}

// TestReporterEcho: on a terminal, and without syslog, lines go to stderr too; Log never echoes.
func TestReporterEcho(t *testing.T) {
	sock, got := syslogtest.Listen(t, "")
	var stderr bytes.Buffer
	r, _ := NewReporter("padmin", sock, &stderr, true, "/nonexistent/alert.log", "s")
	r.Report(Line{Priority: syslog.LOG_INFO, Text: "Command execute. [stop] pfile='/x'"})
	r.Log(Line{Priority: syslog.LOG_ERR, Text: "not echoed"})
	r.Close()
	want := "padmin[" + strconv.Itoa(os.Getpid()) + "]: Command execute. [stop] pfile='/x'\n"
	if stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
	for i := 0; i < 2; i++ {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("missing datagram")
		}
	}

	stderr.Reset()
	missing := filepath.Join(t.TempDir(), "no-log")
	r, warning := NewReporter("pcheck", missing, &stderr, false, "", "s")
	defer r.Close()
	if want := "pcheck: syslog is not available (dial unixgram " + missing + ": connect: no such file or directory): messages go to standard error"; warning != want {
		t.Errorf("warning %q, want %q", warning, want)
	}
	r.Report(Line{Text: "Stop pcheck!!"})
	if !strings.HasSuffix(stderr.String(), "]: Stop pcheck!!\n") {
		t.Errorf("stderr without syslog: %q", stderr.String())
	}
}

func TestSyslogSocket(t *testing.T) {
	if got := SyslogSocket(func(string) string { return "" }); got != "/dev/log" {
		t.Errorf("default %q", got)
	}
	if got := SyslogSocket(func(k string) string { return map[string]string{EnvSyslogSocket: "/tmp/s"}[k] }); got != "/tmp/s" {
		t.Errorf("override %q", got)
	}
}
