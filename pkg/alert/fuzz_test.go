package alert

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseLine feeds arbitrary lines to the parser: it must never panic, and whatever it accepts
// must survive a round trip through Line unchanged (the file is read by clpstat and rewritten by
// nothing, so a record's meaning must not drift between writer and reader).
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"2026-11-22T02:35:18.123+00:00 server1 logcmd 1 INFO hello",
		"2026-11-22T11:35:18.123+09:00 sv2 rc 10 WARN Activating group failover1 has started.",
		"2026-11-22T02:35:18.123-05:30 s m -1 err  two  blanks ",
		"2026-11-22T02:35:18.123+00:00 s m 1 ERR",
		"2026-11-22T02:35:18.123Z s m 1 INFO x",
		"2026-11-22T02:35:18.123+00:00  s m 1 INFO x",
		"2026-11-22T02:35:18.123+00:00 s m +7 warning x\r",
		"",
		"garbage",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseLine(line)
		if err != nil {
			return
		}
		out := r.Line()
		if strings.ContainsAny(out, "\r\n") {
			t.Fatalf("Line() of a parsed record spans lines: %q", out)
		}
		r2, err := ParseLine(out)
		if err != nil {
			t.Fatalf("ParseLine(%q) ok, but its Line() %q does not parse: %v", line, out, err)
		}
		if out2 := r2.Line(); out2 != out {
			t.Fatalf("round trip drifted:\n%q\n%q", out, out2)
		}
	})
}

// FuzzRecordLine builds records from arbitrary field values (what a script may pass) and checks
// that the written line is one line, keeps the level as awk's fifth field, and parses back.
func FuzzRecordLine(f *testing.F) {
	f.Add(int64(1795833318123), 540, "server1", "logcmd", 1, 0, "hello world")
	f.Add(int64(0), 0, "", "", 0, 2, "")
	f.Add(int64(-1), -330, "a b", "x\ny", -3, 1, "multi\nline\r\ntext ")
	f.Fuzz(func(t *testing.T, ms int64, offMin int, server, module string, id, level int, text string) {
		// Keep to what the layout can express: four-digit years and whole-minute offsets.
		const maxMS = 253402300799999 // 9999-12-31T23:59:59.999Z
		if ms < 0 {
			ms = -(ms + 1)
		}
		ms %= maxMS - 2*86400000
		ms += 86400000
		offMin %= 24 * 60
		zone := time.FixedZone("", offMin*60)
		r := Record{
			Time:   time.UnixMilli(ms).In(zone),
			Server: server, Module: module, ID: id,
			Level: Level(((level % 3) + 3) % 3),
			Text:  text,
		}
		line := r.Line()
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("line spans lines: %q", line)
		}
		if f := strings.Split(line, " "); len(f) < 5 || f[4] != r.Level.String() {
			t.Fatalf("fifth field of %q is not the level %s", line, r.Level)
		}
		back, err := ParseLine(line)
		if err != nil {
			t.Fatalf("ParseLine(%q): %v", line, err)
		}
		if !back.Time.Equal(r.Time) || back.ID != r.ID || back.Level != r.Level ||
			back.Server != field(server) || back.Module != field(module) || back.Text != oneLine(text) {
			t.Fatalf("round trip:\n%+v\n%+v", r, back)
		}
	})
}
