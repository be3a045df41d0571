package psaver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"clpkit/pkg/procwatch"
)

// Options are an Engine's dependencies and tunables. The zero value works: /proc, time.Now, no
// reporting, restart scripts with no output and a 5-minute timeout.
type Options struct {
	// ProcRoot is where processes are looked up; "" means "/proc".
	ProcRoot string
	// Now is the wall clock for rerun_time; nil means time.Now. Durations (grace, intervals)
	// always use the monotonic clock.
	Now func() time.Time
	// Notify receives every event, in order, from the engine's goroutine; it must not block
	// for long (pcheck writes a syslog line).
	Notify func(Event)
	// State receives the new state after every change, from the engine's goroutine (pcheck
	// writes SHM_DUMP_FILE).
	State func(Snapshot)
	// PID is pcheck's process id, shown in snapshots.
	PID int
	// ScriptTimeout bounds a restart script; when it is up, the script's process group is
	// killed. 0 means DefaultScriptTimeout.
	ScriptTimeout time.Duration
	// ScriptOutput receives the restart scripts' standard output and error; nil means
	// /dev/null. It is a file, not an io.Writer: a daemon the script starts in the background
	// inherits the descriptor, and with a pipe the script's end would never be seen.
	ScriptOutput *os.File
	// SearchPoll is the longest gap between two scans of /proc while an entry's process is
	// looked for (the first gaps are shorter); 0 means 100 ms.
	SearchPoll time.Duration
	// NoPidfd makes the engine poll every process with Alive each MONITOR_INTERVAL instead of
	// holding pidfds, as it does on its own for a process it cannot get a pidfd for (old kernel,
	// out of descriptors). Tests use it to cover that path.
	NoPidfd bool
}

// DefaultScriptTimeout bounds a restart script when Options.ScriptTimeout is 0.
const DefaultScriptTimeout = 5 * time.Minute

// ErrStopped is returned by requests to an Engine whose Run has returned.
var ErrStopped = errors.New("pcheck is stopping")

// Engine runs one pfile. Create it with New, run it with Run, and talk to it (padmin's
// commands) with Snapshot, SetMonitor and Reload while Run runs.
type Engine struct {
	opts    Options
	cfg     Config
	reqs    chan request
	done    chan struct{}
	runOnce sync.Once
}

type reqKind int

const (
	reqShow reqKind = iota
	reqMonitor
	reqReload
)

type request struct {
	kind  reqKind
	on    bool   // reqMonitor
	cfg   Config // reqReload
	reply chan reply
}

type reply struct {
	snap Snapshot
	err  error
}

// New checks cfg and returns an Engine for it.
func New(cfg Config, opts Options) (*Engine, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Notify == nil {
		opts.Notify = func(Event) {}
	}
	if opts.State == nil {
		opts.State = func(Snapshot) {}
	}
	if opts.ScriptTimeout <= 0 {
		opts.ScriptTimeout = DefaultScriptTimeout
	}
	if opts.SearchPoll <= 0 {
		opts.SearchPoll = 100 * time.Millisecond
	}
	return &Engine{opts: opts, cfg: cfg, reqs: make(chan request), done: make(chan struct{})}, nil
}

// check rejects what the engine cannot run; the pfile parser gives the operator the precise
// message first, so these are the last line of defence for other callers.
func (c Config) check() error {
	if c.MonitorInterval <= 0 {
		return errors.New("MONITOR_INTERVAL must be positive")
	}
	for i, e := range c.Entries {
		if e.Program == "" || e.Script == "" {
			return fmt.Errorf("entry %d: no process or restart script", i+1)
		}
		if e.Retry < 0 || e.Grace < 0 {
			return fmt.Errorf("entry %d: negative retry or grace", i+1)
		}
		if !slices.Contains(Actions(), e.Action) {
			return fmt.Errorf("entry %d: unknown retry_over_action %q", i+1, e.Action)
		}
	}
	return nil
}

func (e *Engine) call(ctx context.Context, r request) (Snapshot, error) {
	r.reply = make(chan reply, 1)
	select {
	case e.reqs <- r:
	case <-e.done:
		return Snapshot{}, ErrStopped
	case <-ctx.Done():
		return Snapshot{}, ctx.Err()
	}
	select {
	case rep := <-r.reply:
		return rep.snap, rep.err
	case <-ctx.Done():
		return Snapshot{}, ctx.Err()
	}
}

// Snapshot returns the current state (padmin -c show pent).
func (e *Engine) Snapshot(ctx context.Context) (Snapshot, error) {
	return e.call(ctx, request{kind: reqShow})
}

// SetMonitor pauses (false) or resumes (true) monitoring of every entry (padmin -c stop and
// -c start). While paused, exits are recorded (proc_sts DOWN) but nothing is logged or
// restarted; on resume, entries whose process is not running are looked for, and restarted when
// not found within MONITOR_INTERVAL.
func (e *Engine) SetMonitor(ctx context.Context, on bool) (Snapshot, error) {
	return e.call(ctx, request{kind: reqMonitor, on: on})
}

// Reload replaces the configuration (padmin -c reload). Entries that are unchanged (every field
// but the line number) keep their process, counters and rerun_time; new entries start as at
// start-up; removed ones are dropped. IPCKEY cannot change.
func (e *Engine) Reload(ctx context.Context, cfg Config) (Snapshot, error) {
	if err := cfg.check(); err != nil {
		return Snapshot{}, err
	}
	return e.call(ctx, request{kind: reqReload, cfg: cfg})
}

// Run watches the entries until ctx ends (it returns nil: pcheck was told to stop) or an entry
// with retry_over_action exit uses up its retries (it returns a *RetryOverError). Either way,
// restart scripts still running are killed (their process groups) and waited for before it
// returns. Run may be called once.
func (e *Engine) Run(ctx context.Context) error {
	err := errors.New("psaver: Run called twice")
	e.runOnce.Do(func() { err = e.run(ctx) })
	return err
}

type phase int

const (
	idle      phase = iota // watched, or nothing to do (monitoring off, retry-over exit)
	searching              // looking for the process until deadline
	scripting              // the restart script runs
	pausing                // continue after retry-over: the next restart is due at deadline
)

type entry struct {
	Entry
	id          int
	proc        procwatch.Identity // zero while no process is held
	pidfd       bool               // proc is watched by the Watcher (else polled)
	retry       int
	restarts    int
	rerun       time.Time
	lastFailure time.Time
	sts         string
	monitor     bool
	phase       phase
	deadline    time.Time
	dropped     bool // removed by a reload: a late script result is ignored
}

type scriptResult struct {
	e   *entry
	err error
}

// loop is the state of one Run, owned by its goroutine.
type loop struct {
	eng      *Engine
	cfg      Config
	entries  []*entry
	byProc   map[procwatch.Identity][]*entry
	w        *procwatch.Watcher // nil: every process is polled
	exits    chan procwatch.Identity
	scripts  chan scriptResult
	quit     chan struct{} // closed when the loop ends, so script goroutines never block
	sctx     context.Context
	wg       sync.WaitGroup
	monitor  bool
	lastScan time.Time
	scans    int // scans since a search began; the first ones come quickly (see scanGap)
	lastPoll time.Time
	fatal    *entry
	dirty    bool
}

func (e *Engine) run(ctx context.Context) error {
	defer close(e.done)
	l := &loop{
		eng: e, cfg: e.cfg, monitor: true,
		byProc:  make(map[procwatch.Identity][]*entry),
		exits:   make(chan procwatch.Identity),
		scripts: make(chan scriptResult),
		quit:    make(chan struct{}),
	}
	// Scripts get a context of their own, cancelled when the loop ends for any reason.
	sctx, cancelScripts := context.WithCancel(context.Background())
	l.sctx = sctx
	wctx, cancelWatch := context.WithCancel(ctx)
	var watchDone sync.WaitGroup
	if !e.opts.NoPidfd {
		w, err := procwatch.NewWatcher(e.opts.ProcRoot)
		if err != nil {
			e.opts.Notify(Event{Kind: Problem, Err: fmt.Errorf("%w; polling every MONITOR_INTERVAL instead", err)})
		} else {
			l.w = w
			watchDone.Add(1)
			go func() {
				defer watchDone.Done()
				for {
					id, err := w.Next(wctx)
					if err != nil {
						return
					}
					select {
					case l.exits <- id:
					case <-wctx.Done():
						return
					}
				}
			}()
		}
	}
	defer func() {
		cancelScripts()
		close(l.quit)
		l.wg.Wait()
		cancelWatch()
		if l.w != nil {
			_ = l.w.Close()
		}
		watchDone.Wait()
		e.opts.State(l.snapshot(time.Now()))
	}()

	now := time.Now()
	l.lastPoll = now
	for i, ent := range e.cfg.Entries {
		l.entries = append(l.entries, l.newEntry(ent, i+1, now))
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if l.fatal == nil {
			l.tick(time.Now())
		}
		if l.fatal != nil {
			return &RetryOverError{Entry: l.fatal.id, PName: l.fatal.Program}
		}
		if l.dirty {
			l.dirty = false
			e.opts.State(l.snapshot(time.Now()))
		}
		if wake, ok := l.nextWake(); ok {
			timer.Reset(max(time.Until(wake), 0))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case id := <-l.exits:
			l.exited(id)
		case r := <-l.scripts:
			l.scriptDone(r)
		case req := <-e.reqs:
			l.handle(req)
		case <-timer.C:
		}
	}
}

func (l *loop) notify(ev Event) { l.eng.opts.Notify(ev) }

// newEntry makes a fresh entry that looks for its process until now + MONITOR_INTERVAL.
func (l *loop) newEntry(ent Entry, id int, now time.Time) *entry {
	e := &entry{Entry: ent, id: id, monitor: l.monitor, sts: StsDown}
	l.search(e, now)
	return e
}

// search starts looking for e's process; the next tick scans /proc at once.
func (l *loop) search(e *entry, now time.Time) {
	e.phase = searching
	e.deadline = now.Add(l.cfg.MonitorInterval)
	l.lastScan, l.scans = time.Time{}, 0
	l.dirty = true
}

// scanGap is the wait before the next scan of a search: 5 ms, doubling up to SearchPoll. A
// restart script usually starts its daemon in the background and exits, and the daemon may not
// have exec'd yet at the first scan; it has a few milliseconds later.
func (l *loop) scanGap() time.Duration {
	return min(5*time.Millisecond<<min(l.scans, 10), l.eng.opts.SearchPoll)
}

// tick does whatever is due at now: grace resets, polls of processes without a pidfd, paced
// restarts, and scans for processes being looked for.
func (l *loop) tick(now time.Time) {
	for _, e := range l.entries {
		if e.retry > 0 && now.Sub(e.lastFailure) >= e.Grace {
			e.retry = 0
			l.dirty = true
		}
	}
	if !now.Before(l.lastPoll.Add(l.cfg.MonitorInterval)) {
		l.lastPoll = now
		l.poll()
	}
	for _, e := range l.entries {
		if e.phase == pausing && !now.Before(e.deadline) {
			e.phase = idle
			if e.monitor {
				l.restart(e)
			}
		}
	}
	var look []*entry
	overdue := false
	for _, e := range l.entries {
		if e.phase == searching {
			look = append(look, e)
			overdue = overdue || !now.Before(e.deadline)
		}
	}
	if len(look) == 0 || (now.Before(l.lastScan.Add(l.scanGap())) && !overdue) {
		return
	}
	l.lastScan = now
	l.scans++
	specs := make([]procwatch.Spec, len(look))
	for i, e := range look {
		specs[i] = e.Spec()
	}
	ids, err := procwatch.Find(l.eng.opts.ProcRoot, specs)
	if err != nil {
		l.notify(Event{Kind: Problem, Err: err})
	}
	for i, e := range look {
		if err == nil && ids[i].PID != 0 && l.found(e, ids[i]) {
			continue
		}
		if !now.Before(e.deadline) {
			e.phase = idle
			if e.monitor {
				l.notify(Event{Kind: SetPidFail, Entry: e.id, PName: e.Program})
			}
			l.fail(e)
		}
	}
}

// poll checks the processes that are not held by a pidfd. It does not try to get a pidfd for
// them again: when descriptors ran out, taking the last ones back would leave none for the next
// restart script; the process that replaces one of them tries afresh.
func (l *loop) poll() {
	for _, e := range l.entries {
		if e.proc.PID == 0 || e.pidfd {
			continue
		}
		if !procwatch.Alive(l.eng.opts.ProcRoot, e.proc) {
			pid := e.proc.PID
			l.release(e)
			l.died(e, pid)
		}
	}
}

// found takes id as e's process; false when it exited in the meantime (keep looking).
func (l *loop) found(e *entry, id procwatch.Identity) bool {
	pidfd := false
	if l.w != nil {
		err := l.w.Add(id)
		if errors.Is(err, procwatch.ErrGone) {
			return false
		}
		if err != nil {
			l.notify(Event{Kind: Problem, Entry: e.id, PName: e.Program,
				Err: fmt.Errorf("%w; checking it every MONITOR_INTERVAL instead", err)})
		}
		pidfd = err == nil
	} else if !procwatch.Alive(l.eng.opts.ProcRoot, id) {
		return false
	}
	e.proc, e.pidfd = id, pidfd
	l.byProc[id] = append(l.byProc[id], e)
	e.sts, e.phase = StsAvail, idle
	l.dirty = true
	l.notify(Event{Kind: Up, Entry: e.id, PName: e.Program, PID: id.PID})
	return true
}

// release forgets e's process, and stops watching it unless another entry holds it too.
func (l *loop) release(e *entry) {
	id := e.proc
	rest := slices.DeleteFunc(l.byProc[id], func(o *entry) bool { return o == e })
	if len(rest) > 0 {
		l.byProc[id] = rest
	} else {
		delete(l.byProc, id)
		if l.w != nil && e.pidfd {
			l.w.Remove(id)
		}
	}
	e.proc, e.pidfd = procwatch.Identity{}, false
	l.dirty = true
}

// exited handles a pidfd reporting the exit of id.
func (l *loop) exited(id procwatch.Identity) {
	es := l.byProc[id]
	delete(l.byProc, id)
	for _, e := range es {
		e.proc, e.pidfd = procwatch.Identity{}, false
		l.died(e, id.PID)
	}
}

// died handles the exit of e's process pid (already released).
func (l *loop) died(e *entry, pid int) {
	l.dirty = true
	if !e.monitor {
		e.sts, e.phase = StsDown, idle
		return
	}
	l.notify(Event{Kind: Down, Entry: e.id, PName: e.Program, PID: pid})
	l.fail(e)
}

// fail counts a failure of e (its process died, or was not found) and decides what follows:
// a restart while retries remain, else the retry-over action. The retry count starts again from
// zero when the previous failure is grace or more ago.
func (l *loop) fail(e *entry) {
	now := time.Now()
	l.dirty = true
	if e.retry > 0 && now.Sub(e.lastFailure) >= e.Grace {
		e.retry = 0
	}
	e.lastFailure = now
	if !e.monitor {
		e.sts, e.phase = StsDown, idle
		return
	}
	if e.retry >= e.Retry {
		e.sts = StsRetryOver
		l.notify(Event{Kind: RetryOver, Entry: e.id, PName: e.Program, Action: e.Action})
		if e.Action == Exit {
			l.notify(Event{Kind: Fatal, Entry: e.id, PName: e.Program, Action: e.Action})
			e.phase = idle
			l.fatal = e
			return
		}
		// continue: try again, but no more than once per MONITOR_INTERVAL, so that a
		// process that cannot start does not turn pcheck into a fork loop.
		e.phase, e.deadline = pausing, now.Add(l.cfg.MonitorInterval)
		return
	}
	l.restart(e)
}

// restart counts a restart of e and runs its restart script in a goroutine of its own.
func (l *loop) restart(e *entry) {
	e.retry++
	e.restarts++
	e.rerun = l.eng.opts.Now()
	e.sts, e.phase = StsRestart, scripting
	l.dirty = true
	l.notify(Event{Kind: TryRestart, Entry: e.id, PName: e.Program})
	l.wg.Add(1)
	go func(script string) {
		defer l.wg.Done()
		err := runScript(l.sctx, script, l.eng.opts.ScriptTimeout, l.eng.opts.ScriptOutput)
		select {
		case l.scripts <- scriptResult{e: e, err: err}:
		case <-l.quit:
		}
	}(e.Script)
}

// scriptDone handles the end of e's restart script: look for the new process.
func (l *loop) scriptDone(r scriptResult) {
	e := r.e
	if r.err != nil {
		l.notify(Event{Kind: Problem, Entry: e.id, PName: e.Program, Err: r.err})
	}
	if e.dropped {
		return
	}
	l.search(e, time.Now())
}

func (l *loop) handle(req request) {
	now := time.Now()
	var err error
	switch req.kind {
	case reqMonitor:
		l.setMonitor(req.on, now)
	case reqReload:
		err = l.reload(req.cfg, now)
	}
	req.reply <- reply{snap: l.snapshot(now), err: err}
}

func (l *loop) setMonitor(on bool, now time.Time) {
	l.monitor = on
	for _, e := range l.entries {
		if e.monitor == on {
			continue
		}
		e.monitor = on
		l.dirty = true
		switch {
		case !on && e.phase == pausing:
			e.sts, e.phase = StsDown, idle
		case on && e.phase == idle && e.proc.PID == 0:
			e.sts = StsDown
			l.search(e, now)
		}
	}
}

func (l *loop) reload(cfg Config, now time.Time) error {
	if cfg.IPCKey != l.cfg.IPCKey {
		return fmt.Errorf("IPCKEY cannot change while pcheck runs (0x%08x in the pfile, 0x%08x in use): stop pcheck and start it again", cfg.IPCKey, l.cfg.IPCKey)
	}
	old := make(map[string][]*entry)
	for _, e := range l.entries {
		old[e.key()] = append(old[e.key()], e)
	}
	l.cfg = cfg
	next := make([]*entry, 0, len(cfg.Entries))
	for i, ent := range cfg.Entries {
		k := ent.key()
		if q := old[k]; len(q) > 0 {
			e := q[0]
			old[k] = q[1:]
			e.id, e.Line = i+1, ent.Line
			next = append(next, e)
			continue
		}
		next = append(next, l.newEntry(ent, i+1, now))
	}
	for _, q := range old {
		for _, e := range q {
			e.dropped = true
			if e.proc.PID != 0 {
				l.release(e)
			}
		}
	}
	l.entries = next
	l.dirty = true
	return nil
}

// nextWake is when tick next has something to do; false when nothing is pending (every process
// is held by a pidfd): the loop then sleeps until an exit or a request.
func (l *loop) nextWake() (time.Time, bool) {
	var w time.Time
	add := func(t time.Time) {
		if w.IsZero() || t.Before(w) {
			w = t
		}
	}
	polled := false
	for _, e := range l.entries {
		if e.retry > 0 {
			add(e.lastFailure.Add(e.Grace))
		}
		switch e.phase {
		case searching:
			add(e.deadline)
			add(l.lastScan.Add(l.scanGap()))
		case pausing:
			add(e.deadline)
		}
		polled = polled || (e.proc.PID != 0 && !e.pidfd)
	}
	if polled {
		add(l.lastPoll.Add(l.cfg.MonitorInterval))
	}
	return w, !w.IsZero()
}

func (l *loop) snapshot(now time.Time) Snapshot {
	s := Snapshot{PID: l.eng.opts.PID, Pfile: l.cfg.Pfile, IPCKey: l.cfg.IPCKey, DumpFile: l.cfg.DumpFile}
	for _, e := range l.entries {
		retry := e.retry
		if retry > 0 && now.Sub(e.lastFailure) >= e.Grace {
			retry = 0 // the tick that resets it may be a moment late
		}
		s.Entries = append(s.Entries, EntryState{
			ID: e.id, PName: e.Program, PID: e.proc.PID,
			RetryCount: retry, RestartCount: e.restarts,
			ProcSts: e.sts, RetryOverAct: e.Action, RerunTime: e.rerun,
			Options: slices.Clone(e.Options), Monitor: e.monitor,
		})
	}
	return s
}
