package netlab

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Prober polls a URL from inside a client host and records who answered each attempt: a
// service's view of a failover, as its clients see it.
type Prober struct {
	proc     *Proc
	stopOnce sync.Once
	attempts *Lines[Attempt]
}

// Attempt is one request of a prober: when it started and ended, and the host that answered
// (Host) or why none did (Err).
type Attempt struct {
	Start, End time.Time
	Host       string
	Err        string
}

// probeTimeout bounds one request: well above a healthy answer on the lab's switch (well under a
// millisecond), short enough that a dead server costs little.
const probeTimeout = 100 * time.Millisecond

// StartProber starts polling url from inside host from, every interval (10 ms in practice), each
// request on a fresh connection with a 100 ms timeout, until Stop or tb's cleanup. The requests run in a
// labhttp process inside from's namespace (a Go program cannot safely move its own threads into
// another namespace); it reports every attempt on a pipe.
func (l *Lab) StartProber(tb testing.TB, from *Host, url string, interval time.Duration) *Prober {
	tb.Helper()
	dir := BuildTools(tb)
	p := &Prober{attempts: NewLines(parseAttempt)}
	cmd := from.Command(filepath.Join(dir, "labhttp"), "-probe", url,
		"-interval", interval.String(), "-timeout", probeTimeout.String(), "-for", "30m")
	cmd.Stdout = p.attempts
	p.proc = from.StartCmd(tb, cmd)
	tb.Cleanup(p.Stop)
	return p
}

// Stop ends the polling; the records stay readable.
func (p *Prober) Stop() {
	p.stopOnce.Do(p.proc.Kill)
}

// parseAttempt parses "<start-ns> <end-ns> ok NAME" or "<start-ns> <end-ns> fail REASON".
func parseAttempt(line string) (Attempt, error) {
	f := strings.SplitN(line, " ", 4)
	if len(f) != 4 {
		return Attempt{}, fmt.Errorf("prober line %q has no 4 fields", line)
	}
	start, err1 := strconv.ParseInt(f[0], 10, 64)
	end, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Attempt{}, fmt.Errorf("prober line %q has bad times", line)
	}
	a := Attempt{Start: time.Unix(0, start), End: time.Unix(0, end)}
	switch f[2] {
	case "ok":
		a.Host = f[3]
	case "fail":
		a.Err = f[3]
	default:
		return Attempt{}, fmt.Errorf("prober line %q is neither ok nor fail", line)
	}
	return a, nil
}

// Attempts returns every attempt so far, in the order they ended.
func (p *Prober) Attempts() []Attempt { return p.attempts.All() }

// BadLines returns the prober's output lines that did not parse (none, unless labhttp failed).
func (p *Prober) BadLines() []string { return p.attempts.Bad() }

// Output is what the prober process printed on stderr.
func (p *Prober) Output() string { return p.proc.Output() }

// FirstAnswer returns when the first answer of host to a request started at or after after
// arrived.
func (p *Prober) FirstAnswer(host string, after time.Time) (time.Time, bool) {
	var first time.Time
	p.attempts.View(func(attempts []Attempt) {
		for _, a := range attempts {
			if a.Host == host && !a.Start.Before(after) && (first.IsZero() || a.End.Before(first)) {
				first = a.End
			}
		}
	})
	return first, !first.IsZero()
}

// WaitAnswer waits until host answers a request started at or after after, and returns when it
// did.
func (p *Prober) WaitAnswer(ctx context.Context, host string, after time.Time) (time.Time, error) {
	for {
		if t, ok := p.FirstAnswer(host, after); ok {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("waiting for %s to answer the prober: %w", host, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Outage describes a service's move as the client saw it, around a fault injected at some time.
type Outage struct {
	// From is the host that answered last before the fault; LastAnswer is when that answer came.
	From       string
	LastAnswer time.Time
	// FirstFailure is the start of the first failed request started after the fault (zero if
	// none failed).
	FirstFailure time.Time
	// By is the first other host that answered a request started after the fault, and Answered
	// when its answer came: Answered minus the fault time is the failover time a client sees.
	By       string
	Answered time.Time
}

// Outage returns what the prober saw around a fault injected at after. ok is false while no
// other host than From has answered since.
func (p *Prober) Outage(after time.Time) (o Outage, ok bool) {
	p.attempts.View(func(attempts []Attempt) {
		for _, a := range attempts {
			if a.Host != "" && !a.End.After(after) && a.End.After(o.LastAnswer) {
				o.From, o.LastAnswer = a.Host, a.End
			}
		}
		for _, a := range attempts {
			if a.Start.Before(after) {
				continue
			}
			if a.Err != "" && (o.FirstFailure.IsZero() || a.Start.Before(o.FirstFailure)) {
				o.FirstFailure = a.Start
			}
			if a.Host != "" && a.Host != o.From && (o.Answered.IsZero() || a.End.Before(o.Answered)) {
				o.By, o.Answered = a.Host, a.End
			}
		}
	})
	return o, !o.Answered.IsZero()
}
