package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/fip"
	"clpkit/pkg/monitor"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
)

// The engine's side of monitors: it runs each monitor's checks in a goroutine of its own while the
// machine wants them (actMonitor), counts failed checks against the retry count, and posts what it
// finds as evMonitor. Everything a result means is the machine's to decide.

// monitorAct starts or stops a monitor's run. A new run always replaces an old one.
func (e *Engine) monitorAct(a actMonitor) {
	if cancel := e.runs[a.mon]; cancel != nil {
		cancel()
		delete(e.runs, a.mon)
	}
	if !a.on {
		return
	}
	ctx, cancel := context.WithCancel(e.life)
	e.runs[a.mon] = cancel
	go e.runMonitor(ctx, a.mon, a.gen)
}

// runMonitor runs one monitor until ctx ends.
func (e *Engine) runMonitor(ctx context.Context, idx, gen int) {
	cfg := &e.d.Config.Monitors[idx]
	post := func(err error) {
		if ctx.Err() != nil {
			return
		}
		e.post(evMonitor{mon: idx, gen: gen, err: err, timeout: errors.Is(err, monitor.ErrTimeout)})
	}
	if !sleep(ctx, cfg.StartWait) {
		return
	}
	if cfg.Type == config.MonitorUser {
		e.watchLoop(ctx, cfg, post)
		return
	}
	if cfg.Type == config.MonitorMessage {
		e.messageLoop(ctx, e.notices[idx], post)
		return
	}
	probe, watcher := e.monitorKind(cfg)
	if watcher != nil {
		e.watchMonitor(ctx, cfg, watcher, post)
		return
	}
	e.poll(ctx, cfg, probe, post)
}

// notice is one clprexec --notice (or, with clear, --clear) for a message monitor.
type notice struct {
	what  string
	clear bool
}

// messageLoop runs a message monitor (mrw): each notice is one error, reported once (its recovery
// runs once, not again every interval as for a failure that lasts), and a clear ends it. A notice
// sent while the monitor did not run (suspended, or "active" and its target offline) is dropped.
func (e *Engine) messageLoop(ctx context.Context, ch chan notice, post func(error)) {
	select {
	case <-ch:
	default:
	}
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-ch:
			if n.clear {
				post(nil)
			} else {
				post(fmt.Errorf("received an error notice (%s)", n.what))
			}
		}
	}
}

// Notice delivers clprexec --notice (clear: --clear) to the message monitors it names: the one
// called name, else those of category and, when the monitor has one, keyword. It reports how many
// took it.
func (e *Engine) Notice(name, category, keyword string, clear bool) (int, error) {
	what := category
	if keyword != "" {
		what += "." + keyword
	}
	n := 0
	for i, ch := range e.notices {
		m := &e.d.Config.Monitors[i]
		switch {
		case name != "" && m.Name != name:
			continue
		case name == "" && (m.Category != category || (m.Keyword != "" && m.Keyword != keyword)):
			continue
		}
		if name != "" && what == "" {
			what = m.Category
		}
		select {
		case ch <- notice{what: what, clear: clear}:
		default:
			// One is waiting already: the monitor reports it, and two in a row mean no more.
		}
		n++
	}
	if n == 0 {
		if name != "" {
			return 0, status.ErrInvalidMonitor(name)
		}
		return 0, &status.OpError{Code: status.CodeInvalidMonitor, Msg: "No message receive monitor takes the category " + what + "."}
	}
	return n, nil
}

// watchMonitor runs an event-driven monitor: its changes are reported as they come. An error that lasts
// is reported again every retry+1 intervals, so its ladder goes on as a polled monitor's does; a
// watch that ends by itself (an asynchronous script that exited) starts again after an interval.
func (e *Engine) watchMonitor(ctx context.Context, cfg *config.Monitor, w monitor.Watcher, post func(error)) {
	var mu sync.Mutex
	var last error
	report := func(err error) {
		mu.Lock()
		last = err
		mu.Unlock()
		post(err)
	}
	go func() {
		t := time.NewTicker(cfg.Interval * time.Duration(cfg.Retry+1))
		defer t.Stop()
		for wait(ctx, t.C) {
			mu.Lock()
			err := last
			mu.Unlock()
			if err != nil {
				post(err)
			}
		}
	}()
	for {
		w.Watch(ctx, report)
		mu.Lock()
		last = nil
		mu.Unlock()
		if !sleep(ctx, cfg.Interval) {
			return
		}
	}
}

// poll checks every interval. An error is reported once retry more checks in a row have failed,
// and again after each further round of as many failures, so a recovery step that did not help
// is followed by the next one; a success is reported when it ends a failure.
func (e *Engine) poll(ctx context.Context, cfg *config.Monitor, p monitor.Probe, post func(error)) {
	failures := 0
	failing := false
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		err := p.Check(cctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err == nil:
			failures = 0
			if failing {
				failing = false
				post(nil)
			}
		default:
			failures++
			if failures > cfg.Retry {
				failures = 0
				failing = true
				post(err)
			}
		}
		if !wait(ctx, t.C) {
			return
		}
	}
}

// watchLoop is the user-space monitor (CLUSTERPRO's userw): it watches the event loop itself. A
// loop that has not turned for longer than the monitor's timeout was stalled (a frozen process,
// a machine starved of CPU); the guard and the kernel watchdog, fed by the loop's renewals, are
// what act on a stall long enough to matter, this monitor makes it visible and recoverable.
func (e *Engine) watchLoop(ctx context.Context, cfg *config.Monitor, post func(error)) {
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	failing := false
	for wait(ctx, t.C) {
		lag := e.d.Clock.Now() - time.Duration(e.beat.Load())
		switch {
		case lag > cfg.Timeout && !failing:
			failing = true
			post(fmt.Errorf("the cluster event loop did not run for %s (timeout %s)", lag.Round(time.Millisecond), cfg.Timeout))
		case lag <= cfg.Timeout && failing:
			failing = false
			post(nil)
		}
	}
}

// monitorKind builds what checks a monitor: a Probe to poll, or a Watcher.
func (e *Engine) monitorKind(cfg *config.Monitor) (monitor.Probe, monitor.Watcher) {
	switch cfg.Type {
	case config.MonitorPID:
		return monitor.PIDFile{Path: cfg.PIDFile, ProcRoot: e.d.ProcRoot}, nil
	case config.MonitorCustom:
		s := e.monitorScript(cfg)
		if cfg.Mode == config.ModeAsync {
			return nil, s
		}
		return s, nil
	case config.MonitorIP:
		return monitor.Ping{Addresses: cfg.Addresses}, nil
	case config.MonitorDisk:
		return &monitor.Disk{Path: cfg.Path, Method: cfg.Method, Size: cfg.Size}, nil
	case config.MonitorNIC:
		return nil, monitor.Link{Interface: cfg.Interface}
	case config.MonitorProcess:
		return monitor.Process{Name: cfg.ProcessName, Cmdline: cfg.Cmdline, ProcRoot: e.d.ProcRoot}, nil
	case config.MonitorFIP:
		if _, r, ok := e.d.Config.Resource(cfg.Target); ok {
			return fipProbe{r}, nil
		}
	}
	return nil, nil
}

// fipProbe is the fipw monitor of a floating-address resource: the address on its interface, the
// link up with carrier.
type fipProbe struct{ r *config.Resource }

func (p fipProbe) Check(ctx context.Context) error {
	a, err := fipAddress(p.r)
	if err != nil {
		return err
	}
	return fip.Check(ctx, a)
}

// monitorScript is a custom monitor's script. One tied to a resource runs inside its group's
// cgroup, so fencing the group kills it too: a monitor that restarts processes (pcheck) must not
// go on doing so on a server that lost the group.
func (e *Engine) monitorScript(cfg *config.Monitor) *monitor.Script {
	log := cfg.Log
	if log == "" {
		log = filepath.Join(e.d.Config.Paths.LogDir, "monitor."+cfg.Name+".log")
	}
	s := &monitor.Script{
		Path: cfg.Script, Args: cfg.Args, Log: log, Nice: cfg.Nice, NormalValue: cfg.NormalValue,
		WaitStop: cfg.WaitStop,
		Env:      resource.MonitorEnviron(e.d.Environ, e.d.Host, cfg.Name, "", 0, 0, 0),
	}
	if c := e.d.Containment; c != nil {
		group := "@monitors"
		if gi, _, ok := e.d.Config.Resource(cfg.Target); ok {
			group = e.d.Config.Groups[gi].Name
		}
		s.Place = func() (*os.File, string, error) { return c.Dir(group, "@"+cfg.Name, "monitor") }
		s.Kill = c.KillPath
	}
	return s
}

// runScript runs a monitor's recovery script and reports its end.
func (e *Engine) runScript(a actScript) {
	cfg := &e.d.Config.Monitors[a.mon]
	log := cfg.Log
	if log == "" {
		log = filepath.Join(e.d.Config.Paths.LogDir, "monitor."+cfg.Name+".log")
	}
	spec := resource.Spec{
		Script: cfg.RecoveryScript,
		Env:    resource.MonitorEnviron(e.d.Environ, e.d.Host, cfg.Name, a.action, a.counts.recovery, a.counts.restart, a.counts.failover),
		Log:    log,
		RCFile: filepath.Join(e.recs.dir, "monitor."+cfg.Name+".preaction.rc"),
	}
	go func() {
		j, err := resource.Spawn(e.d.ProcRoot, spec)
		if err != nil {
			e.post(evScriptDone{job: a.job, err: err})
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
		defer cancel()
		e.post(evScriptDone{job: a.job, result: j.Wait(ctx)})
	}()
}

// runOS runs the shutdown or reboot command of a final action, as the last thing the service does.
func (e *Engine) runOS(a actOS) {
	e.effect(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, a.argv[0], a.argv[1:]...).CombinedOutput()
		if err != nil {
			e.d.Log.Error("running the final action's command", "command", strings.Join(a.argv, " "), "err", err, "output", string(out))
			return
		}
		e.d.Log.Info("ran the final action's command", "command", strings.Join(a.argv, " "))
	})
}

// sleep waits d unless ctx ends first; it reports whether the wait ran out.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	return wait(ctx, t.C)
}

// wait blocks until c delivers (a ticker's or a timer's next tick); false when ctx ends first.
func wait(ctx context.Context, c <-chan time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c:
		return true
	}
}
