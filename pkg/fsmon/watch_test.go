package fsmon

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// scripted is a probe for the watch loop's own logic: it returns the scripted results in turn
// (then keeps returning the last), and a nil entry in block makes that probe wait for its
// context, as a hung server does.
type scripted struct {
	mu      sync.Mutex
	results []error
	block   map[int]bool
	calls   int
	started chan int
}

var errDown = errors.New("down")

func (s *scripted) probe(ctx context.Context) error {
	s.mu.Lock()
	n := s.calls
	s.calls++
	var r error
	if len(s.results) > 0 {
		r = s.results[min(n, len(s.results)-1)]
	}
	block := s.block[n]
	s.mu.Unlock()
	if s.started != nil {
		s.started <- n
	}
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	return r
}

type recorder struct {
	mu sync.Mutex
	ev []Kind
	ch chan Kind
}

func newRecorder() *recorder { return &recorder{ch: make(chan Kind, 64)} }

func (r *recorder) report(e Event) {
	r.mu.Lock()
	r.ev = append(r.ev, e.Kind)
	r.mu.Unlock()
	r.ch <- e.Kind
}

func (r *recorder) kinds() []Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ev)
}

// waitKind waits for the next event and checks it.
func (r *recorder) waitKind(t *testing.T, want Kind) {
	t.Helper()
	select {
	case k := <-r.ch:
		if k != want {
			t.Fatalf("event %d, want %d (all: %v)", k, want, r.kinds())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event %d within 5s (all: %v)", want, r.kinds())
	}
}

func TestWatchDeclares(t *testing.T) {
	tests := []struct {
		name    string
		results []error
		retries int
		want    []Kind
		calls   int
	}{
		{"fails from the start", []error{errDown}, 3, []Kind{Failed, Terminating}, 3},
		{"one retry", []error{errDown}, 1, []Kind{Failed, Terminating}, 1},
		{"healthy, then down", []error{nil, nil, errDown}, 2, []Kind{Watching, Failed, Terminating}, 4},
		{"a success resets the count", []error{errDown, nil, errDown, errDown}, 2, []Kind{Watching, Failed, Terminating}, 4},
		{"late first success", []error{errDown, errDown, nil, errDown}, 3, []Kind{Watching, Failed, Terminating}, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &scripted{results: tt.results}
			rec := newRecorder()
			out := Watch(context.Background(), WatchConfig{Interval: time.Millisecond, Retries: tt.retries, Timeout: time.Second, Probe: p.probe}, nil, rec.report)
			if out != FailureDeclared || !slices.Equal(rec.kinds(), tt.want) || p.calls != tt.calls {
				t.Errorf("outcome %d, events %v, %d probes; want %d, %v, %d", out, rec.kinds(), p.calls, FailureDeclared, tt.want, tt.calls)
			}
		})
	}
}

func TestWatchTimeoutIsAFailure(t *testing.T) {
	p := &scripted{block: map[int]bool{0: true, 1: true}}
	rec := newRecorder()
	start := time.Now()
	out := Watch(context.Background(), WatchConfig{Interval: 10 * time.Millisecond, Retries: 2, Timeout: 100 * time.Millisecond, Probe: p.probe}, nil, rec.report)
	if out != FailureDeclared || !slices.Equal(rec.kinds(), []Kind{Failed, Terminating}) {
		t.Fatalf("%d %v", out, rec.kinds())
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 2*time.Second {
		t.Errorf("two timed-out probes took %v, want about 2 x 100ms + 10ms", d)
	}
}

// startWatch runs Watch with cfg in the background, recording its events: send to ctl to steer
// it, and read its outcome from done.
func startWatch(cfg WatchConfig) (ctl chan<- Control, rec *recorder, done <-chan Outcome) {
	c := make(chan Control)
	r := newRecorder()
	d := make(chan Outcome)
	go func() {
		d <- Watch(context.Background(), cfg, c, r.report)
	}()
	return c, r, d
}

func TestWatchControl(t *testing.T) {
	t.Run("stop abandons a hung probe", func(t *testing.T) {
		p := &scripted{block: map[int]bool{0: true}, started: make(chan int, 8)}
		ctl, rec, done := startWatch(WatchConfig{Interval: time.Hour, Retries: 1, Timeout: time.Hour, Probe: p.probe})
		<-p.started
		ctl <- Stop
		rec.waitKind(t, Stopping)
		if out := <-done; out != StoppedOnRequest {
			t.Errorf("outcome %d", out)
		}
	})
	t.Run("pause forgets failures and stops probing; continue probes at once", func(t *testing.T) {
		p := &scripted{results: []error{errDown}, started: make(chan int, 8)}
		ctl, rec, done := startWatch(WatchConfig{Interval: 200 * time.Millisecond, Retries: 2, Timeout: time.Second, Probe: p.probe})
		<-p.started // failure 1 of 2
		ctl <- Pause
		rec.waitKind(t, Paused)
		select {
		case n := <-p.started:
			t.Fatalf("probe %d ran while paused", n)
		case <-time.After(500 * time.Millisecond):
		}
		ctl <- Pause // acknowledged again
		rec.waitKind(t, Paused)
		ctl <- Continue
		rec.waitKind(t, Continued)
		select {
		case <-p.started: // failure 1 of 2 again: the count started over
		case <-time.After(100 * time.Millisecond):
			t.Fatal("no probe right after continue")
		}
		<-p.started // failure 2 of 2
		rec.waitKind(t, Failed)
		rec.waitKind(t, Terminating)
		if out := <-done; out != FailureDeclared {
			t.Errorf("outcome %d", out)
		}
	})
	t.Run("pause abandons a hung probe", func(t *testing.T) {
		p := &scripted{block: map[int]bool{0: true}, results: []error{nil}, started: make(chan int, 8)}
		ctl, rec, done := startWatch(WatchConfig{Interval: time.Hour, Retries: 1, Timeout: time.Hour, Probe: p.probe})
		<-p.started
		ctl <- Pause
		rec.waitKind(t, Paused)
		ctl <- Continue
		rec.waitKind(t, Continued)
		rec.waitKind(t, Watching) // the abandoned probe did not count; the next one succeeded
		ctl <- Stop
		rec.waitKind(t, Stopping)
		<-done
	})
	t.Run("continue while running is acknowledged", func(t *testing.T) {
		p := &scripted{results: []error{nil}}
		ctl, rec, done := startWatch(WatchConfig{Interval: time.Hour, Retries: 1, Timeout: time.Second, Probe: p.probe})
		rec.waitKind(t, Watching)
		ctl <- Continue
		rec.waitKind(t, Continued)
		ctl <- Stop
		rec.waitKind(t, Stopping)
		<-done
	})
	t.Run("cancelled context", func(t *testing.T) {
		p := &scripted{block: map[int]bool{0: true}, started: make(chan int, 8)}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Outcome)
		go func() {
			done <- Watch(ctx, WatchConfig{Interval: time.Hour, Retries: 1, Timeout: time.Hour, Probe: p.probe}, nil, func(Event) {})
		}()
		<-p.started
		cancel()
		if out := <-done; out != Cancelled {
			t.Errorf("outcome %d", out)
		}
	})
}
