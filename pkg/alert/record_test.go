package alert

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	utc = time.Date(2026, 11, 22, 2, 35, 18, 123456789, time.UTC)
	jst = time.Date(2026, 11, 22, 11, 35, 18, 123000000, time.FixedZone("JST", 9*3600))
)

func TestParseLevel(t *testing.T) {
	tests := []struct {
		in      string
		want    Level
		wantErr bool
	}{
		{"INFO", Info, false},
		{"info", Info, false},
		{"Info", Info, false},
		{"WARN", Warning, false},
		{"warn", Warning, false},
		{"WARNING", Warning, false},
		{"warning", Warning, false},
		{"ERR", Error, false},
		{"err", Error, false},
		{"ERROR", Error, false},
		{"error", Error, false},
		{" WARN ", Warning, false}, // built from a shell variable with stray blanks
		{"", 0, true},
		{"DEBUG", 0, true},
		{"CRIT", 0, true},
		{"WARNINGS", 0, true},
		{"1", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseLevel(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseLevel(%q) = %v, want an error", tt.in, got)
				continue
			}
			// The error must teach the caller what to type instead.
			for _, w := range []string{"INFO", "WARN", "WARNING", "ERR", "ERROR"} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseLevel(%q) error %q does not list %s", tt.in, err, w)
				}
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestLevelString(t *testing.T) {
	tests := []struct {
		l    Level
		want string
	}{
		{Info, "INFO"},
		{Warning, "WARN"},
		{Error, "ERR"},
		{Level(7), "Level(7)"},
	}
	for _, tt := range tests {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("Level(%d).String() = %q, want %q", int(tt.l), got, tt.want)
		}
	}
}

func TestLevelJSON(t *testing.T) {
	b, err := json.Marshal([]Level{Info, Warning, Error})
	if err != nil || string(b) != `["INFO","WARN","ERR"]` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var got []Level
	if err := json.Unmarshal([]byte(`["info","WARNING","error"]`), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != Info || got[1] != Warning || got[2] != Error {
		t.Fatalf("Unmarshal = %v", got)
	}
	if _, err := json.Marshal(Level(9)); err == nil {
		t.Fatal("Marshal(Level(9)) succeeded")
	}
}

func TestRecordLine(t *testing.T) {
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{
			name: "utc keeps +00:00 and cuts to milliseconds",
			rec:  Record{Time: utc, Server: "server1", Module: "logcmd", ID: 1, Level: Info, Text: "hello"},
			want: "2026-11-22T02:35:18.123+00:00 server1 logcmd 1 INFO hello",
		},
		{
			name: "zone offset",
			rec:  Record{Time: jst, Server: "sv2", Module: "rc", ID: 10, Level: Warning, Text: "Activating group failover1 has started."},
			want: "2026-11-22T11:35:18.123+09:00 sv2 rc 10 WARN Activating group failover1 has started.",
		},
		{
			name: "newlines become blanks",
			rec:  Record{Time: utc, Server: "s", Module: "m", ID: 3, Level: Error, Text: "line1\nline2\r\nline3\r"},
			want: "2026-11-22T02:35:18.123+00:00 s m 3 ERR line1 line2  line3 ",
		},
		{
			name: "blanks in server and module would shift awk columns",
			rec:  Record{Time: utc, Server: "my server", Module: "a\tb", ID: 0, Level: Info, Text: " padded "},
			want: "2026-11-22T02:35:18.123+00:00 my_server a_b 0 INFO  padded ",
		},
		{
			name: "empty server, module and text",
			rec:  Record{Time: utc, Level: Error},
			want: "2026-11-22T02:35:18.123+00:00 - - 0 ERR ",
		},
		{
			name: "negative ID",
			rec:  Record{Time: utc, Server: "s", Module: "m", ID: -5, Level: Info, Text: "x"},
			want: "2026-11-22T02:35:18.123+00:00 s m -5 INFO x",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rec.Line()
			if got != tt.want {
				t.Fatalf("Line() =\n%q\nwant\n%q", got, tt.want)
			}
			// The level is always awk's $5, whatever the text holds.
			if f := strings.Fields(got); f[4] != tt.rec.Level.String() {
				t.Errorf("awk $5 = %q, want %q", f[4], tt.rec.Level)
			}
			back, err := ParseLine(got)
			if err != nil {
				t.Fatalf("ParseLine(Line()) error: %v", err)
			}
			if back.Line() != got {
				t.Errorf("round trip changed the line:\n%q\n%q", got, back.Line())
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    Record
		wantErr string
	}{
		{
			name: "full record",
			line: "2026-11-22T11:35:18.123+09:00 sv2 rc 10 WARN Activating group failover1 has started.",
			want: Record{Time: jst, Server: "sv2", Module: "rc", ID: 10, Level: Warning, Text: "Activating group failover1 has started."},
		},
		{
			name: "text keeps its blanks",
			line: "2026-11-22T02:35:18.123+00:00 s m 1 INFO  two  blanks ",
			want: Record{Time: utc.Truncate(time.Millisecond), Server: "s", Module: "m", ID: 1, Level: Info, Text: " two  blanks "},
		},
		{
			name: "empty text with its separator",
			line: "2026-11-22T02:35:18.123+00:00 s m 1 ERR ",
			want: Record{Time: utc.Truncate(time.Millisecond), Server: "s", Module: "m", ID: 1, Level: Error},
		},
		{
			name: "empty text without its separator",
			line: "2026-11-22T02:35:18.123+00:00 s m 1 ERR",
			want: Record{Time: utc.Truncate(time.Millisecond), Server: "s", Module: "m", ID: 1, Level: Error},
		},
		{
			name: "legacy level spelling",
			line: "2026-11-22T02:35:18.123+00:00 s m 1 error boom",
			want: Record{Time: utc.Truncate(time.Millisecond), Server: "s", Module: "m", ID: 1, Level: Error, Text: "boom"},
		},
		{name: "empty line", line: "", wantErr: "want 6 blank-separated fields"},
		{name: "too few fields", line: "2026-11-22T02:35:18.123+00:00 s m 1", wantErr: "got 4"},
		{name: "bad time", line: "2026-11-22 02:35:18 s m 1 INFO x", wantErr: "time"},
		{name: "Z zone", line: "2026-11-22T02:35:18.123Z s m 1 INFO x", wantErr: "time"},
		{name: "double blank", line: "2026-11-22T02:35:18.123+00:00  s m 1 INFO x", wantErr: "empty server"},
		{name: "bad ID", line: "2026-11-22T02:35:18.123+00:00 s m one INFO x", wantErr: "event ID"},
		{name: "bad level", line: "2026-11-22T02:35:18.123+00:00 s m 1 NOTICE x", wantErr: "unknown level"},
		{name: "tab in module", line: "2026-11-22T02:35:18.123+00:00 s m\tx 1 INFO x", wantErr: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLine(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseLine error = %v, want ErrMalformed containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tt.want.Time) || got.Server != tt.want.Server || got.Module != tt.want.Module ||
				got.ID != tt.want.ID || got.Level != tt.want.Level || got.Text != tt.want.Text {
				t.Fatalf("ParseLine =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestRecordMessage(t *testing.T) {
	r := Record{Module: "logcmd", ID: 7, Text: "a\nb"}
	if got, want := r.Message(), "<type: logcmd><event: 7> a b"; got != want {
		t.Fatalf("Message() = %q, want %q", got, want)
	}
}
