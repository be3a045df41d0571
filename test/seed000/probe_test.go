package seed000

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"clpkit/test/netlab"
)

// answer is one request of the client: the value and host of the answer, or why none came.
type answer struct {
	seq        int
	start, end time.Time
	value      int64
	host       string
	err        string
}

func (a answer) ok() bool { return a.err == "" }

// client is the seed's client program, run in the client host: it calls one service, one request
// at a time every 20 ms, and this side keeps what it printed.
type client struct {
	id, url string
	proc    *netlab.Proc
	once    sync.Once
	answers *netlab.Lines[answer]
}

func startClient(tb testing.TB, lab *netlab.Lab, from *netlab.Host, exe, id, url string) *client {
	tb.Helper()
	c := &client{id: id, url: url, answers: netlab.NewLines(parseAnswer)}
	cmd := from.Command(exe, "-url", url, "-id", id, "-interval", "20ms", "-timeout", "300ms")
	cmd.Env = append(os.Environ(), helperEnv+"=probe")
	cmd.Stdout = c.answers
	c.proc = from.StartCmd(tb, cmd)
	tb.Cleanup(c.Stop)
	return c
}

// Stop ends the client; what it saw stays readable.
func (c *client) Stop() { c.once.Do(c.proc.Kill) }

// parseAnswer parses "SEQ START END ok VALUE HOST" or "SEQ START END fail REASON".
func parseAnswer(line string) (answer, error) {
	f := strings.SplitN(line, " ", 5)
	if len(f) != 5 {
		return answer{}, fmt.Errorf("client line %q", line)
	}
	seq, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseInt(f[1], 10, 64)
	end, err3 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return answer{}, fmt.Errorf("client line %q", line)
	}
	a := answer{seq: seq, start: time.Unix(0, start), end: time.Unix(0, end)}
	switch f[3] {
	case "ok":
		v, h, _ := strings.Cut(f[4], " ")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || h == "" {
			return answer{}, fmt.Errorf("client line %q", line)
		}
		a.value, a.host = n, h
	case "fail":
		a.err = f[4]
	default:
		return answer{}, fmt.Errorf("client line %q", line)
	}
	return a, nil
}

// Answers returns every request so far, in order.
func (c *client) Answers() []answer { return c.answers.All() }

// First returns the first answer from host to a request started at or after after.
func (c *client) First(host string, after time.Time) (answer, bool) {
	for _, a := range c.Answers() {
		if a.ok() && a.host == host && !a.start.Before(after) {
			return a, true
		}
	}
	return answer{}, false
}

// Wait waits up to d for First(host, after).
func (c *client) Wait(host string, after time.Time, d time.Duration) (answer, bool) {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if a, ok := c.First(host, after); ok {
			return a, true
		}
		if time.Now().After(end) {
			return answer{}, false
		}
	}
}

// Gap describes the service's interruption around t0, as the client saw it: the last answer
// before, the first answer from to after, and the requests that failed in between.
func (c *client) Gap(t0 time.Time, to string) string {
	var last, first answer
	fails := 0
	for _, a := range c.Answers() {
		switch {
		case a.start.Before(t0):
			if a.ok() {
				last = a
			}
		case first.seq == 0 && a.ok() && a.host == to:
			first = a
		case first.seq == 0 && !a.ok():
			fails++
		}
	}
	if first.seq == 0 {
		return "no answer from " + to
	}
	return fmt.Sprintf("last %d from %s, then %d failed requests, first %d from %s %.0f ms after the fault",
		last.value, last.host, fails, first.value, first.host, float64(first.end.Sub(t0))/float64(time.Millisecond))
}

// entry is one line of the counter file.
type entry struct {
	value     int64
	host, req string
}

// readCounter reads the counter file's complete lines.
func readCounter(path string) ([]entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var out []entry
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return out, fmt.Errorf("%s: line %q", path, line)
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return out, fmt.Errorf("%s: line %q", path, line)
		}
		out = append(out, entry{v, f[1], f[2]})
	}
	return out, nil
}

// verdict is what checkCounter found.
type verdict struct {
	answers, failed int
	// abandoned are the values written for a request whose answer never reached the client
	// (it gave up after 300 ms, or the answer was on the wire when the cable was pulled).
	abandoned []int64
	last      int64
	problems  []string
}

// checkCounter holds the client's answers against the counter file on the shared disk:
//   - the file holds 1, 2, 3, ... one line each: no value written twice, none skipped;
//   - every answer is the file's line of its value, for that very request and host;
//   - the answers increase, request after request, across every failover;
//   - a value the client did not get between two answers went to a request of the client that
//     failed: the answer was lost, not the write.
func checkCounter(c *client, path string) verdict {
	var v verdict
	answers := c.Answers()
	journal, err := readCounter(path)
	if err != nil {
		v.problems = append(v.problems, err.Error())
	}
	for i, e := range journal {
		if e.value != int64(i)+1 {
			v.problems = append(v.problems, fmt.Sprintf("line %d of the counter holds %d (%s, %s): a value written twice or skipped", i+1, e.value, e.host, e.req))
			break
		}
	}
	byReq := map[string]answer{}
	var prev answer
	for _, a := range answers {
		byReq[fmt.Sprintf("%s-%d", c.id, a.seq)] = a
		if !a.ok() {
			v.failed++
			continue
		}
		v.answers++
		if prev.seq != 0 && a.value <= prev.value {
			v.problems = append(v.problems, fmt.Sprintf("request %d got %d from %s after request %d got %d from %s", a.seq, a.value, a.host, prev.seq, prev.value, prev.host))
		}
		if a.value < 1 || a.value > int64(len(journal)) {
			v.problems = append(v.problems, fmt.Sprintf("request %d got %d from %s, which the counter file (%d lines) does not hold", a.seq, a.value, a.host, len(journal)))
		} else if e := journal[a.value-1]; e.value != a.value || e.host != a.host || e.req != fmt.Sprintf("%s-%d", c.id, a.seq) {
			v.problems = append(v.problems, fmt.Sprintf("request %d got %d from %s, but the counter file says %d went to %s for %s", a.seq, a.value, a.host, e.value, e.req, e.host))
		}
		prev = a
	}
	v.last = prev.value
	for i := int64(0); i < prev.value && i < int64(len(journal)); i++ {
		e := journal[i]
		a, ok := byReq[e.req]
		switch {
		case !ok:
			v.problems = append(v.problems, fmt.Sprintf("value %d went to %s for %s, a request the client never made", e.value, e.host, e.req))
		case !a.ok():
			v.abandoned = append(v.abandoned, e.value)
		}
	}
	return v
}

func (v verdict) String() string {
	return fmt.Sprintf("%d answers up to %d, %d failed requests, %d values written for requests whose answer was lost %v",
		v.answers, v.last, v.failed, len(v.abandoned), v.abandoned)
}

// event is one line a script appended to events.log.
type event struct {
	at                  time.Time
	host, group, res    string
	verb, event, factor string
}

func readEvents(dir string) []event {
	b, _ := os.ReadFile(filepath.Join(dir, "events.log"))
	var out []event
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 7 {
			continue
		}
		sec, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out = append(out, event{at: time.Unix(0, int64(sec*1e9)), host: f[1], group: f[2], res: f[3], verb: f[4],
			event: strings.TrimPrefix(f[5], "CLP_EVENT="), factor: strings.TrimPrefix(f[6], "CLP_FACTOR=")})
	}
	return out
}
