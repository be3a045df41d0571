package alert

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// FuzzRead feeds whole alert-log files to the reader: whatever a file holds (records, blank
// lines, CRLF, a last line without a newline, binary junk), it must not panic, must return
// exactly the lines ParseLine accepts, in order, and must name the first line it refuses.
func FuzzRead(f *testing.F) {
	good := "2026-11-22T11:35:18.123+09:00 server1 rc 10 INFO Activating group failover1 has started.\n" +
		"2026-11-22T11:35:19.004+09:00 server1 rc 11 INFO Activating group failover1 has completed.\n"
	for _, s := range []string{
		good,
		good + "2026-11-22T11:36:00.000+09:00 server2 rm 9 ERR Detected an error in monitoring pidw1. (process 4242 is gone)",
		strings.ReplaceAll(good, "\n", "\r\n"),
		"\n\n" + good + "\n",
		good + "not a record\n" + good,
		"2026-11-22T11:35:18.123+09:00 server1 logcmd 1 WARN  two  blanks \n",
		"2026-11-22T11:35:18.123+09:00 server1 sambamon 62 ERR The clp_sambamon has detected an error in Samba [share]. (error[0xC000006D])\n",
		"2026-11-22T11:35:18.123+09:00 server1 rc x INFO bad id\n",
		"\x00\x00\x00\x00",
		"\r\n\r",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= MaxLine {
			return // over-long lines are TestReadBoundedLines's
		}
		// Read is os.Open and parse; parse is fuzzed on the bytes, to leave the disk alone.
		const path = "/var/log/clpkit/alert.log"
		recs, err := parse(bytes.NewReader(data), path)

		// The model: lines split on LF, one CR before it dropped, blank lines skipped.
		var want []Record
		var firstBad string
		lines := strings.Split(string(data), "\n")
		if strings.HasSuffix(string(data), "\n") {
			lines = lines[:len(lines)-1]
		}
		for i, line := range lines {
			line = strings.TrimSuffix(line, "\r")
			if line == "" {
				continue
			}
			r, perr := ParseLine(line)
			if perr != nil {
				if firstBad == "" {
					firstBad = fmt.Sprintf("%s:%d: ", path, i+1)
				}
				continue
			}
			want = append(want, r)
		}

		if len(recs) != len(want) {
			t.Fatalf("Read returned %d records, the file holds %d (error %v)", len(recs), len(want), err)
		}
		for i := range recs {
			if recs[i].Line() != want[i].Line() {
				t.Fatalf("record %d:\n%q\nwant\n%q", i, recs[i].Line(), want[i].Line())
			}
			if _, perr := ParseLine(recs[i].Line()); perr != nil {
				t.Fatalf("record %d does not survive a rewrite: %v", i, perr)
			}
		}
		switch {
		case firstBad == "" && err != nil:
			t.Fatalf("no malformed line, but error %v", err)
		case firstBad != "" && (err == nil || !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), firstBad)):
			t.Fatalf("error %v, want one wrapping ErrMalformed that begins %q", err, firstBad)
		}
	})
}
