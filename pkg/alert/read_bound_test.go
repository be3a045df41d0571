package alert

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// An endless line (/dev/zero) or an over-long one is skipped with an error naming it; the records
// around it are kept, and memory stays bounded.
func TestReadBoundedLines(t *testing.T) {
	good := "2026-11-22T11:35:18.123+09:00 sv2 rc 10 WARN Activating group failover1 has started.\n"
	in := good + strings.Repeat("x", 3*MaxLine) + "\n" + good
	recs, err := parse(strings.NewReader(in), "alert.log")
	if len(recs) != 2 || !errors.Is(err, ErrMalformed) || err.Error() != "alert.log:2: "+ErrMalformed.Error()+": the line is longer than 1024 KiB" {
		t.Fatalf("records %d, error %v", len(recs), err)
	}
	recs, err = parse(io.LimitReader(zero{}, 64<<20), "/dev/zero")
	if len(recs) != 0 || !errors.Is(err, ErrMalformed) {
		t.Fatalf("/dev/zero: records %d, error %v", len(recs), err)
	}
}

type zero struct{}

func (zero) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
