package mfes

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The parsers of what the package reads besides its configuration (FuzzParse): mdump's output,
// /proc's stat and cmdline files (the stat line through procwatch.ParseStat, which has a fuzz
// target of its own), pidfiles and command logs. None may panic, whatever the input.

// FuzzReadDump: any mdump output gives one of the four verdicts, and a rendered Dump reads back
// as itself.
func FuzzReadDump(f *testing.F) {
	f.Add("CN: ESSERV1\nmServerStatus: SERVER_DOWN\n", "ESSERV1", "127.0.0.1:9003", true)
	f.Add("CN: Web Services\nmListenerStatus: Started\n", "R", "h:1", false)
	f.Add("CN:  Web    Services\r\nmListenerStatus:\tStopped", "", "", true)
	f.Fuzz(func(t *testing.T, out, region, addr string, started bool) {
		if v := ReadDump(out); v < DumpNothing || v > DumpServerDown {
			t.Fatalf("ReadDump(%q) = %d", out, v)
		}
		if strings.ContainsAny(region+addr, "\n") || strings.Contains(region+addr, "SERVER_DOWN") || strings.Contains(region+addr, "CN:") || strings.Contains(region+addr, "mListenerStatus:") {
			return
		}
		d := Dump{Region: region, ListenerName: DefaultListenerName, Address: addr, ListenerStarted: started}
		want := DumpListenerDown
		if started {
			want = DumpStarted
		}
		if v := ReadDump(d.Text()); v != want {
			t.Fatalf("ReadDump(%q) = %d, want %d", d.Text(), v, want)
		}
	})
}

// FuzzReadProc: a /proc entry with any stat and cmdline content is read or skipped, and a
// pidfile with any content names a process or none.
func FuzzReadProc(f *testing.F) {
	f.Add([]byte("42 (standin) S 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0\n"), []byte("standin\x00-tag\x00/t/R\x00"), []byte("42\n"))
	f.Add([]byte("42 (x) Z 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 2 0 555 0 0"), []byte(""), []byte(" 42 "))
	f.Add([]byte("42 (x) R"), []byte("\x00\x00"), []byte("-1"))
	f.Fuzz(func(t *testing.T, stat, cmdline, pidfile []byte) {
		root := t.TempDir()
		dir := filepath.Join(root, "42")
		if err := os.MkdirAll(filepath.Join(dir, "task", "43"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range map[string][]byte{"stat": stat, "cmdline": cmdline, "task/43/cmdline": cmdline} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if p, ok := readProc(root, 42); ok && (p.id.PID != 42 || p.cmdline == "" && len(cmdline) > 0 && strings.Trim(string(cmdline), "\x00") != "") {
			t.Fatalf("readProc = %+v", p)
		}
		pf := filepath.Join(root, "pid")
		if err := os.WriteFile(pf, pidfile, 0o644); err != nil {
			t.Fatal(err)
		}
		p, ok, err := pidfileProc(root, pf)
		if err != nil && len(pidfile) <= maxPidfile {
			t.Fatalf("pidfileProc(%q): %v", pidfile, err)
		}
		if ok && strconv.Itoa(p.id.PID) != strings.TrimSpace(string(pidfile)) && p.id.PID != 42 {
			t.Fatalf("pidfileProc(%q) = %+v", pidfile, p)
		}
		_ = lastLine(pf, 0)
	})
}
