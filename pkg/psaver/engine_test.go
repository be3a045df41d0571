package psaver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/procwatch"
)

// harness runs an Engine on real processes: a "java" (a link to perl that sleeps) started with
// a tag unique to the test in its command line, and restart scripts that start another one.
type harness struct {
	t      *testing.T
	dir    string
	java   string
	tag    string
	events chan Event
	states chan Snapshot
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	pl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl is not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	java := filepath.Join(dir, "bin", "java")
	if err := os.MkdirAll(filepath.Dir(java), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(pl, java); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, java: java, tag: fmt.Sprintf("pstest-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-")),
		events: make(chan Event, 1000), states: make(chan Snapshot, 1000)}
	t.Cleanup(h.killAll)
	return h
}

// killAll kills every process of the test (they are orphans of restart scripts).
func (h *harness) killAll() {
	ps, _ := procwatch.List("/proc", procwatch.Spec{Program: h.java, Include: []string{h.tag}})
	for _, p := range ps {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
}

// startJava starts a process of the test with the given words before the tag, as a child of
// the test (reaped when it exits).
func (h *harness) startJava(words ...string) procwatch.Identity {
	h.t.Helper()
	args := append([]string{h.java, "-e", "sleep 100000", "--"}, append(words, h.tag)...)
	cmd := &exec.Cmd{Path: h.java, Args: args}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	id, err := procwatch.Identify("/proc", cmd.Process.Pid)
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

// script writes a restart script: it counts its runs in DIR/name.runs, then runs body.
func (h *harness) script(name, body string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, name)
	text := fmt.Sprintf("#!/bin/sh\necho run >> %s.runs\n%s\n", p, body)
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// starter is a script body that starts a process of the test in the background and exits.
func (h *harness) starter(words string) string {
	return fmt.Sprintf("%s -e 'sleep 100000' -- %s %s </dev/null >/dev/null 2>&1 &\nexit 0", h.java, words, h.tag)
}

func (h *harness) entry(script string, retry int, act Action, include ...string) Entry {
	return Entry{Program: h.java, Script: script, Grace: DefaultGrace, Retry: retry, Action: act,
		Include: append(include, h.tag), Options: []Option{{Name: "include_strings", Value: strings.Join(append(include, h.tag), "&")}}}
}

func (h *harness) config(interval time.Duration, entries ...Entry) Config {
	return Config{Pfile: filepath.Join(h.dir, "pfile"), IPCKey: 0x1234, MsgCheckInterval: 5 * time.Second,
		MonitorInterval: interval, Entries: entries}
}

// result is what Run returned, once done is closed.
type result struct {
	done chan struct{}
	err  error
}

// wait returns Run's error, failing the test when Run has not returned within d.
func (r *result) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
		return nil
	}
}

func (r *result) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// run starts an Engine on cfg.
func (h *harness) run(cfg Config, tweak func(*Options)) (*Engine, context.CancelFunc, *result) {
	h.t.Helper()
	opts := Options{
		PID:    os.Getpid(),
		Notify: func(ev Event) { h.events <- ev },
		State:  func(s Snapshot) { h.states <- s },
	}
	if tweak != nil {
		tweak(&opts)
	}
	e, err := New(cfg, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &result{done: make(chan struct{})}
	go func() { r.err = e.Run(ctx); close(r.done) }()
	h.t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			h.t.Error("Run did not return after its context was cancelled")
		}
	})
	return e, cancel, r
}

// expect reads the next events and checks their kinds (and, for Up and Down, the pid when
// pids holds one for that position: 0 means any). It returns them.
func (h *harness) expect(kinds ...EventKind) []Event {
	h.t.Helper()
	var got []Event
	for _, k := range kinds {
		select {
		case ev := <-h.events:
			got = append(got, ev)
			if ev.Kind != k {
				h.t.Fatalf("event %d: %v (%+v), want %v; so far %v", len(got), ev.Kind, ev, k, got)
			}
		case <-time.After(15 * time.Second):
			h.t.Fatalf("no event after %v, want %v", got, k)
		}
	}
	return got
}

// quiet checks that no event arrives for d.
func (h *harness) quiet(d time.Duration) {
	h.t.Helper()
	select {
	case ev := <-h.events:
		h.t.Fatalf("unexpected event %v %+v", ev.Kind, ev)
	case <-time.After(d):
	}
}

func (h *harness) snapshot(e *Engine) Snapshot {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.Snapshot(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func kill(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// TestEngineRestartsUntilRetryOver: the seed 002 §7 cycle on the engine, with pidfds and with
// polling: found among look-alikes, restarted after each kill with the counters moving, then
// RETRY_OVER:EXIT and FATAL and Run returns a *RetryOverError.
func TestEngineRestartsUntilRetryOver(t *testing.T) {
	for _, noPidfd := range []bool{false, true} {
		t.Run(fmt.Sprintf("noPidfd=%v", noPidfd), func(t *testing.T) {
			h := newHarness(t)
			h.startJava("apache", "httpd")           // look-alike: no tomcat
			h.startJava("apache", "tomcat", "probe") // look-alike: excluded
			first := h.startJava("org.apache.catalina.startup.Bootstrap", "-Dcatalina.home=/usr/local/tomcat")
			ent := h.entry(h.script("start.sh", h.starter("apache tomcat")), 2, Exit, "apache", "tomcat")
			ent.Exclude = []string{"probe"}
			before := time.Now()
			e, _, done := h.run(h.config(300*time.Millisecond, ent), func(o *Options) { o.NoPidfd = noPidfd })

			up := h.expect(Up)[0]
			if up.PID != first.PID || up.PName != h.java || up.Entry != 1 {
				t.Fatalf("Up %+v, want pid %d", up, first.PID)
			}
			s := h.snapshot(e)
			want := EntryState{ID: 1, PName: h.java, PID: first.PID, ProcSts: StsAvail, RetryOverAct: Exit,
				Options: ent.Options, Monitor: true}
			if got := s.Entries[0]; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("state %+v\nwant  %+v", got, want)
			}

			pid := first.PID
			for n := 1; n <= 2; n++ {
				kill(t, pid)
				evs := h.expect(Down, TryRestart, Up)
				if evs[0].PID != pid || evs[2].PID == pid {
					t.Fatalf("restart %d: events %+v", n, evs)
				}
				pid = evs[2].PID
				s := h.snapshot(e).Entries[0]
				if s.PID != pid || s.RetryCount != n || s.RestartCount != n || s.ProcSts != StsAvail ||
					s.RerunTime.Before(before) || s.RerunTime.After(time.Now()) {
					t.Fatalf("after restart %d: %+v", n, s)
				}
			}
			kill(t, pid)
			evs := h.expect(Down, RetryOver, Fatal)
			if evs[1].Action != Exit {
				t.Errorf("retry-over action %q", evs[1].Action)
			}
			var ro *RetryOverError
			if err := done.wait(t, 5*time.Second); !errors.As(err, &ro) || ro.Entry != 1 || ro.PName != h.java {
				t.Fatalf("Run = %v", err)
			}
			// The last state published is the retry-over one.
			var last Snapshot
			for len(h.states) > 0 {
				last = <-h.states
			}
			if st := last.Entries[0]; st.ProcSts != StsRetryOver || st.PID != 0 || st.RetryCount != 2 || st.RestartCount != 2 {
				t.Errorf("final state %+v", st)
			}
			if runs, _ := os.ReadFile(filepath.Join(h.dir, "start.sh.runs")); string(runs) != "run\nrun\n" {
				t.Errorf("the restart script ran %q", runs)
			}
		})
	}
}

// TestEngineSetPidFailAndContinue: a restart script that starts nothing gives Set pid fail after
// MONITOR_INTERVAL; with continue, RETRY_OVER:CONTINUE is followed by a paced attempt, and a
// working process is then taken as usual.
func TestEngineSetPidFailAndContinue(t *testing.T) {
	h := newHarness(t)
	start := h.startJava("svc")
	marker := filepath.Join(h.dir, "working")
	// The script starts the process only once the marker exists.
	body := fmt.Sprintf("[ -e %s ] || exit 3\n%s", marker, h.starter("svc"))
	ent := h.entry(h.script("start.sh", body), 1, Continue, "svc")
	interval := 400 * time.Millisecond
	e, _, done := h.run(h.config(interval, ent), nil)
	h.expect(Up)
	kill(t, start.PID)
	h.expect(Down, TryRestart, Problem, SetPidFail, RetryOver)
	t0 := time.Now()
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	evs := h.expect(TryRestart, Up)
	if d := time.Since(t0); d < interval/2 {
		t.Errorf("the attempt after RETRY_OVER:CONTINUE came after %v, want about %v", d, interval)
	}
	s := h.snapshot(e).Entries[0]
	if s.RetryCount != 2 || s.RestartCount != 2 || s.ProcSts != StsAvail || s.PID != evs[1].PID {
		t.Errorf("state %+v", s)
	}
	if !done.running() {
		t.Fatalf("Run returned %v with continue", done.err)
	}
}

// TestEngineProblemText: the restart script's failure is reported with its status.
func TestEngineProblemText(t *testing.T) {
	h := newHarness(t)
	p := h.startJava("=x=")
	script := h.script("start.sh", "exit 3")
	h.run(h.config(200*time.Millisecond, h.entry(script, 0, Continue, "=x=")), nil)
	h.expect(Up)
	kill(t, p.PID)
	h.expect(Down, RetryOver)
	// retry 0: no restart at all before the retry-over, then a paced attempt.
	evs := h.expect(TryRestart, Problem)
	if want := "restart script " + script + " ended with exit status 3"; evs[1].Err == nil || evs[1].Err.Error() != want {
		t.Errorf("problem %v, want %q", evs[1].Err, want)
	}
}

// TestEngineGrace: a failure grace or more after the previous one counts from zero again.
func TestEngineGrace(t *testing.T) {
	h := newHarness(t)
	pid := h.startJava("g").PID
	ent := h.entry(h.script("start.sh", h.starter("g")), 1, Exit, "g")
	ent.Grace = 700 * time.Millisecond
	e, _, done := h.run(h.config(time.Second, ent), nil)
	h.expect(Up)
	for n := 1; n <= 3; n++ {
		kill(t, pid)
		pid = h.expect(Down, TryRestart, Up)[2].PID
		if s := h.snapshot(e).Entries[0]; s.RetryCount != 1 || s.RestartCount != n {
			t.Fatalf("restart %d: %+v", n, s)
		}
		// The count returns to 0 once grace has passed without a failure.
		deadline := time.Now().Add(5 * time.Second)
		for h.snapshot(e).Entries[0].RetryCount != 0 {
			if time.Now().After(deadline) {
				t.Fatal("retry_count did not return to 0 after grace")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Two failures within grace: retry-over.
	kill(t, pid)
	pid = h.expect(Down, TryRestart, Up)[2].PID
	kill(t, pid)
	h.expect(Down, RetryOver, Fatal)
	if err := done.wait(t, 5*time.Second); err == nil {
		t.Fatal("Run returned nil after FATAL")
	}
}

// TestEngineMonitorOffOn: with monitoring off an exit is recorded but nothing is logged or
// restarted; back on, the missing process is looked for, then restarted.
func TestEngineMonitorOffOn(t *testing.T) {
	h := newHarness(t)
	p := h.startJava("m")
	ent := h.entry(h.script("start.sh", h.starter("m")), 3, Exit, "m")
	e, _, _ := h.run(h.config(300*time.Millisecond, ent), nil)
	h.expect(Up)
	ctx := context.Background()
	s, err := e.SetMonitor(ctx, false)
	if err != nil || s.Entries[0].Monitor {
		t.Fatalf("SetMonitor(false) = %+v, %v", s, err)
	}
	kill(t, p.PID)
	deadline := time.Now().Add(5 * time.Second)
	for st := h.snapshot(e).Entries[0]; st.ProcSts != StsDown || st.PID != 0; st = h.snapshot(e).Entries[0] {
		if time.Now().After(deadline) {
			t.Fatalf("state after an exit while off: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.quiet(500 * time.Millisecond)
	if _, err := e.SetMonitor(ctx, true); err != nil {
		t.Fatal(err)
	}
	h.expect(SetPidFail, TryRestart, Up)
	if st := h.snapshot(e).Entries[0]; !st.Monitor || st.RetryCount != 1 || st.RestartCount != 1 || st.ProcSts != StsAvail {
		t.Errorf("state after start: %+v", st)
	}
}

// TestEngineReload: an unchanged entry keeps its process and counters, a changed one starts
// afresh, a removed one is dropped, and IPCKEY cannot change.
func TestEngineReload(t *testing.T) {
	h := newHarness(t)
	a := h.startJava("=alpha=")
	h.startJava("=bravo=")
	entA := h.entry(h.script("a.sh", h.starter("=alpha=")), 3, Exit, "=alpha=")
	entB := h.entry(h.script("b.sh", h.starter("=bravo=")), 3, Exit, "=bravo=")
	cfg := h.config(300*time.Millisecond, entA, entB)
	e, _, _ := h.run(cfg, nil)
	h.expect(Up, Up)
	kill(t, a.PID)
	newA := h.expect(Down, TryRestart, Up)[2].PID

	c := h.startJava("=charlie=")
	entC := h.entry(h.script("c.sh", h.starter("=charlie=")), 1, Continue, "=charlie=")
	entA.Line = 9 // moved: still the same entry
	next := cfg
	next.Entries = []Entry{entC, entA}
	s, err := e.Reload(context.Background(), next)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Entries) != 2 {
		t.Fatalf("entries after reload: %+v", s.Entries)
	}
	gotA := s.Entries[1]
	if gotA.ID != 2 || gotA.PID != newA || gotA.RetryCount != 1 || gotA.RestartCount != 1 || gotA.RerunTime.IsZero() {
		t.Errorf("unchanged entry after reload: %+v", gotA)
	}
	up := h.expect(Up)[0]
	if up.PID != c.PID || up.Entry != 1 {
		t.Errorf("new entry Up %+v, want pid %d", up, c.PID)
	}
	bad := next
	bad.IPCKey = 0x9999
	if _, err := e.Reload(context.Background(), bad); err == nil ||
		err.Error() != "IPCKEY cannot change while pcheck runs (0x00009999 in the pfile, 0x00001234 in use): stop pcheck and start it again" {
		t.Errorf("reload with another IPCKEY: %v", err)
	}
}

// TestEngineScriptTimeoutAndStop: a restart script that hangs is killed with its process group
// when its time is up; one still running when pcheck stops is killed too.
func TestEngineScriptTimeoutAndStop(t *testing.T) {
	h := newHarness(t)
	p := h.startJava("t")
	pidFile := filepath.Join(h.dir, "child.pid")
	script := h.script("start.sh", fmt.Sprintf("sleep 1000 &\necho $! > %s\nwait", pidFile))
	e, cancel, done := h.run(h.config(200*time.Millisecond, h.entry(script, 5, Exit, "t")),
		func(o *Options) { o.ScriptTimeout = 500 * time.Millisecond })
	h.expect(Up)
	kill(t, p.PID)
	evs := h.expect(Down, TryRestart, Problem)
	if want := "restart script " + script + " did not end within 500ms: its process group was killed"; evs[2].Err.Error() != want {
		t.Errorf("problem %q, want %q", evs[2].Err, want)
	}
	child := readPID(t, pidFile)
	waitGone(t, child)

	// The next attempt runs the same hanging script; stopping the engine kills it.
	h.expect(SetPidFail, TryRestart)
	var second int
	deadline := time.Now().Add(5 * time.Second)
	for second == 0 || second == child {
		if time.Now().After(deadline) {
			t.Fatal("the second run of the script did not start its child")
		}
		time.Sleep(20 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		fmt.Sscan(string(b), &second)
	}
	cancel()
	if err := done.wait(t, 5*time.Second); err != nil {
		t.Fatalf("Run after cancel = %v", err)
	}
	waitGone(t, second)
	if _, err := e.Snapshot(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Snapshot after Run: %v", err)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for pid == 0 {
		b, _ := os.ReadFile(path)
		fmt.Sscan(string(b), &pid)
		if pid == 0 && time.Now().After(deadline) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return pid
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err := procwatch.Stat("/proc", pid); err != nil || st.Exited() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still runs", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEngineManyEntries: a hundred entries found in one pass, each restarted on its own.
func TestEngineManyEntries(t *testing.T) {
	h := newHarness(t)
	const n = 100
	var ents []Entry
	pids := map[int]bool{}
	for i := 0; i < n; i++ {
		w := fmt.Sprintf("w%03d", i)
		pids[h.startJava(w).PID] = true
		ents = append(ents, h.entry(h.script(w+".sh", h.starter(w)), 3, Exit, w))
	}
	e, _, _ := h.run(h.config(time.Second, ents...), nil)
	for _, ev := range h.expect(repeat(Up, n)...) {
		if !pids[ev.PID] {
			t.Fatalf("Up of an unknown pid %+v", ev)
		}
	}
	s := h.snapshot(e)
	var victims []int
	for _, st := range s.Entries {
		if st.ID%10 == 0 {
			victims = append(victims, st.PID)
		}
	}
	for _, pid := range victims {
		kill(t, pid)
	}
	// Each death is followed at once by its restart, so the kinds interleave; count them.
	count := map[EventKind]int{}
	for count[Up] < len(victims) {
		select {
		case ev := <-h.events:
			count[ev.Kind]++
			if ev.Kind != Up && ev.Kind != Down && ev.Kind != TryRestart {
				t.Fatalf("unexpected %v %+v", ev.Kind, ev)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("after the kills: %v", count)
		}
	}
	if count[Down] != len(victims) || count[TryRestart] != len(victims) {
		t.Errorf("after the kills: %v", count)
	}
	for _, st := range h.snapshot(e).Entries {
		want := 0
		if st.ID%10 == 0 {
			want = 1
		}
		if st.RestartCount != want || st.ProcSts != StsAvail {
			t.Errorf("entry %d: %+v", st.ID, st)
		}
	}
}

func repeat(k EventKind, n int) []EventKind {
	out := make([]EventKind, n)
	for i := range out {
		out[i] = k
	}
	return out
}
