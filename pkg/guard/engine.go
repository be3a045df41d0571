// Package guard is the fence of last resort for clpd's groups. clpd may be SIGKILLed or frozen
// while it runs groups, yet this server must have killed their processes before its lease can
// expire in the store and another server starts them. So clpd feeds a small separate process,
// clpguard, a deadline computed from its last successful lease renewal; clpguard outlives clpd
// and, if the deadline passes without a newer one, kills the listed cgroups itself. A kernel
// watchdog, kept alive only while that is safe, covers a stall of the whole user space.
//
// The package holds both sides: the Engine and Listener that clpguard runs, and the Client and
// Spawn that clpd uses.
package guard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/cgroup"
	"clpkit/pkg/disk"
	"clpkit/pkg/fip"
	"clpkit/pkg/procwatch"
)

// Options are an Engine's dependencies. The zero value guards nothing but works.
type Options struct {
	// Now is the clock deadlines are on; nil means Now (CLOCK_BOOTTIME).
	Now Clock
	// Log receives one line per event (arm, disarm, fence, each target killed); nil discards.
	// It is called from the engine's goroutine.
	Log func(msg string)
	// PID is reported in replies.
	PID int
	// Mount is the cgroup v2 mount (cgroup.FindV2); "" when there is none, and then arms naming
	// cgroups are refused.
	Mount string
	// Self is the guard's own cgroup directory; an arm naming it or a cgroup above it is refused.
	Self string
	// PGID is the guard's own process group, refused as a target.
	PGID int
	// ProcRoot is where processes are counted for the log; "" means "/proc".
	ProcRoot string
	// KillTimeout bounds the kill of each target; 0 means 2 s.
	KillTimeout time.Duration
	// Watchdog, when set, is kept alive by the rule of mayPing; the caller opens and closes it.
	Watchdog *Watchdog
}

// ErrStopped is returned by Do once Run has returned.
var ErrStopped = errors.New("the guard is exiting")

// Engine owns the guard's state. Run it with Run; connections hand it requests with Do.
type Engine struct {
	opts    Options
	reqs    chan call
	done    chan struct{}
	runOnce sync.Once
}

type call struct {
	req   Request
	reply chan Reply
}

// New returns an Engine with opts.
func New(opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = Now
	}
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.KillTimeout <= 0 {
		opts.KillTimeout = 2 * time.Second
	}
	return &Engine{opts: opts, reqs: make(chan call), done: make(chan struct{})}
}

// Do hands a decoded request to the engine and returns its reply. The reply says ok:false,
// with the reason, when the engine refuses the request; the error is for an engine that has
// stopped (ErrStopped) or a ctx that ended first.
func (e *Engine) Do(ctx context.Context, req Request) (Reply, error) {
	c := call{req: req, reply: make(chan Reply, 1)}
	select {
	case e.reqs <- c:
	case <-e.done:
		return Reply{}, ErrStopped
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
	select {
	case r := <-c.reply:
		return r, nil
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
}

// Done is closed when Run has returned.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Run owns the state until ctx ends (SIGTERM: the guard stops without fencing) or an exit
// request is accepted; either way it returns nil. Run may be called once.
func (e *Engine) Run(ctx context.Context) error {
	err := errors.New("guard: Run called twice")
	e.runOnce.Do(func() { err = e.run(ctx) })
	return err
}

// loop is the state of one Run, owned by its goroutine.
type loop struct {
	opts    Options
	st      state
	lim     targets
	pingErr string // the last watchdog error logged, so that a failing device logs once
}

func (e *Engine) run(ctx context.Context) error {
	defer close(e.done)
	l := &loop{opts: e.opts, lim: targets{mount: e.opts.Mount, self: e.opts.Self, pgid: e.opts.PGID}}

	timer := time.NewTimer(maxSleep)
	timer.Stop()
	defer timer.Stop()
	var tick <-chan time.Time
	if wd := e.opts.Watchdog; wd != nil {
		t := time.NewTicker(wd.Interval())
		defer t.Stop()
		tick = t.C
		l.ping()
	}
	for {
		// The deadline is judged on CLOCK_BOOTTIME whatever woke the loop; the timer is only
		// a way to be woken.
		if now := e.opts.Now(); l.st.due(now) {
			l.fence(now)
			l.ping()
		}
		var wake <-chan time.Time
		if d, ok := l.st.wake(e.opts.Now()); ok {
			timer.Reset(d)
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			if l.st.armed {
				l.opts.Log(fmt.Sprintf("stopping while armed: the deadline %s (in %s) will NOT be enforced by this guard",
					seconds(l.st.fenceAt), seconds(l.st.fenceAt-e.opts.Now())))
			}
			return nil
		case <-wake:
		case <-tick:
			l.ping()
		case c := <-e.reqs:
			rep, exit := l.handle(c.req)
			c.reply <- rep
			if exit {
				return nil
			}
		}
		timer.Stop()
	}
}

// handle applies one request and says whether the guard is to exit.
func (l *loop) handle(req Request) (Reply, bool) {
	now := l.opts.Now()
	refuse := func(err error) (Reply, bool) {
		r := l.st.reply(l.opts.PID)
		r.OK, r.Error = false, err.Error()
		return r, false
	}
	was := l.st.fenced
	switch req.Op {
	case OpArm:
		// Decoded requests are checked already; this is for callers of Do that built their own.
		if err := checkArm(req); err != nil {
			return refuse(err)
		}
		if err := l.lim.check(req); err != nil {
			return refuse(err)
		}
		if msg := l.st.arm(req); msg != "" {
			l.opts.Log(msg)
		}
		// A deadline already past means: fence now, before answering, so that the reply says so.
		if l.st.due(now) {
			l.fence(now)
		}
		l.ping()
	case OpDisarm:
		if msg := l.st.disarm(); msg != "" {
			l.opts.Log(msg)
		}
		l.ping()
	case OpStatus:
	case OpExit:
		if err := l.st.exit(req.Force, now); err != nil {
			return refuse(err)
		}
		if l.st.armed {
			l.opts.Log(fmt.Sprintf("exit forced while armed: the deadline %s (in %s) will NOT be enforced by this guard",
				seconds(l.st.fenceAt), seconds(l.st.fenceAt-now)))
		}
		l.opts.Log("exiting on request")
		return l.st.reply(l.opts.PID), true
	default:
		return refuse(fmt.Errorf("unknown op %q: the guard knows arm, disarm, status and exit", req.Op))
	}
	r := l.st.reply(l.opts.PID)
	r.WasFenced = was && (req.Op == OpArm || req.Op == OpDisarm)
	return r, false
}

// fence kills every target: the cgroups at once, each bounded by KillTimeout, and the process
// groups with one kill(-pgid) each. It logs one line per target with how many processes it held.
func (l *loop) fence(now time.Duration) {
	st := l.st
	l.opts.Log(fmt.Sprintf("deadline %s passed (now %s, lease expiry %s): fencing %d cgroup(s), %d process group(s)",
		seconds(st.fenceAt), seconds(now), seconds(st.expiry), len(st.cgroups), len(st.pgids)))

	// The addresses go first: removing one is a single netlink call, and a server that may no
	// longer own them must stop answering on them before anything else.
	for _, a := range st.addrs {
		addr, err := ParseAddress(a)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.KillTimeout)
			err = fip.Remove(ctx, addr)
			cancel()
		}
		if err != nil {
			l.opts.Log(fmt.Sprintf("FAILED to remove address %s: %v", a, err))
			continue
		}
		l.opts.Log(fmt.Sprintf("removed address %s", a))
	}
	type outcome struct {
		n   int
		err error
	}
	results := make([]outcome, len(st.cgroups))
	var wg sync.WaitGroup
	for i, p := range st.cgroups {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), l.opts.KillTimeout)
			defer cancel()
			cg := cgroup.Cgroup{Path: p}
			pids, _ := cg.Procs()
			results[i] = outcome{n: len(pids), err: cg.Kill(ctx)}
		})
	}
	var r fenceResult
	for _, g := range st.pgids {
		n := groupSize(l.opts.ProcRoot, g)
		switch err := unix.Kill(-g, unix.SIGKILL); {
		case err == nil:
			l.opts.Log(fmt.Sprintf("fenced process group %d: SIGKILL sent to %d process(es)", g, n))
			r.killedPGIDs = append(r.killedPGIDs, g)
		case errors.Is(err, unix.ESRCH):
			l.opts.Log(fmt.Sprintf("fenced process group %d: no process left in it", g))
			r.killedPGIDs = append(r.killedPGIDs, g)
		default:
			l.opts.Log(fmt.Sprintf("FAILED to fence process group %d (%d process(es)): %v", g, n, err))
			r.failed = append(r.failed, fmt.Sprintf("process group %d: %v", g, err))
		}
	}
	wg.Wait()
	// The disks go last: their users were in the groups just killed; one still busy (a shell
	// outside the groups) is detached, so the file system leaves this server's namespace now
	// and is written no more once its last user lets go.
	for _, m := range st.mounts {
		d := &disk.Disk{Device: m.Device, MountPoint: m.MountPoint, ProcRoot: l.opts.ProcRoot,
			Retry: 1, Kill: true, Lazy: true, KillGrace: 50 * time.Millisecond, RetryInterval: 20 * time.Millisecond}
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.KillTimeout)
		rep, err := d.UnmountReport(ctx)
		cancel()
		switch {
		case err != nil:
			l.opts.Log(fmt.Sprintf("FAILED to unmount %s from %s: %v", m.Device, m.MountPoint, err))
			r.failed = append(r.failed, fmt.Sprintf("mount %s: %v", m.MountPoint, err))
		case rep.Already:
			l.opts.Log(fmt.Sprintf("%s: nothing mounted, nothing to unmount", m.MountPoint))
		default:
			l.opts.Log(fmt.Sprintf("unmounted %s from %s", m.Device, m.MountPoint))
		}
	}
	for i, p := range st.cgroups {
		switch o := results[i]; {
		case o.err == nil:
			l.opts.Log(fmt.Sprintf("fenced cgroup %s: killed %d process(es), now empty", p, o.n))
			r.killed = append(r.killed, p)
		case errors.Is(o.err, fs.ErrNotExist):
			// Nothing can run in a cgroup that does not exist.
			l.opts.Log(fmt.Sprintf("fenced cgroup %s: it does not exist, nothing to kill", p))
			r.killed = append(r.killed, p)
		default:
			l.opts.Log(fmt.Sprintf("FAILED to fence cgroup %s (%d process(es)): %v", p, o.n, o.err))
			r.failed = append(r.failed, fmt.Sprintf("%s: %v", p, o.err))
		}
	}
	end := l.opts.Now()
	l.st.done(end, r)
	l.opts.Log(fmt.Sprintf("fenced in %s: %d target(s) killed, %d failed; disarmed",
		seconds(end-now), len(r.killed)+len(r.killedPGIDs), len(r.failed)))
}

// ping keeps the watchdog alive when the rule allows, and logs when it starts to withhold.
func (l *loop) ping() {
	wd := l.opts.Watchdog
	if wd == nil {
		return
	}
	now := l.opts.Now()
	if !mayPing(now, l.st.armed, l.st.expiry, wd.Timeout()) {
		if !l.st.withheld {
			l.st.withheld = true
			l.opts.Log(fmt.Sprintf("withholding watchdog pings: the lease may expire at %s, before a reset %s from now; "+
				"the machine resets unless clpd renews", seconds(l.st.expiry), seconds(wd.Timeout())))
		}
		return
	}
	if err := wd.Ping(); err != nil {
		if msg := err.Error(); msg != l.pingErr {
			l.pingErr = msg
			l.opts.Log(err.Error())
		}
		return
	}
	l.pingErr = ""
}

// groupSize counts the live processes of process group pgid, for the log.
func groupSize(procRoot string, pgid int) int {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := procwatch.Stat(procRoot, pid); err == nil && !st.Exited() && st.PGRP == pgid {
			n++
		}
	}
	return n
}
