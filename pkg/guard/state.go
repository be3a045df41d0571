package guard

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxSleep bounds how long the engine sleeps while armed. Go timers run on CLOCK_MONOTONIC,
// which stops while the machine is suspended, and the deadline is on CLOCK_BOOTTIME, which does
// not: after a resume, the deadline is noticed within maxSleep.
const maxSleep = time.Second

// state is what the guard knows; only the engine's goroutine touches it, and its methods are
// pure functions of it and the instant passed in.
type state struct {
	armed   bool
	fenceAt time.Duration
	expiry  time.Duration
	cgroups []string
	pgids   []int
	addrs   []string
	mounts  []Mount

	fenced      bool
	fencedAt    time.Duration
	killed      []string
	killedPGIDs []int
	failed      []string

	// withheld is set once the withholding of watchdog pings has been logged for this arm.
	withheld bool
}

// targets limits what an arm may name, beyond DecodeRequest's checks: things only the running
// guard knows.
type targets struct {
	mount string // the cgroup v2 mount, "" when there is none
	self  string // the guard's own cgroup directory, "" when unknown
	pgid  int    // the guard's own process group
}

// check refuses targets whose kill would kill the guard itself (the fallback kill freezes the
// subtree first, and a frozen guard would never thaw it) or reach outside the cgroup tree.
func (t targets) check(req Request) error {
	for _, p := range req.Cgroups {
		switch {
		case t.mount == "":
			return fmt.Errorf("arm: cgroup %s: this machine has no cgroup v2 mounted; name process groups instead", p)
		case !strings.HasPrefix(p, t.mount+"/"):
			return fmt.Errorf("arm: cgroup %s is not below the cgroup v2 mount %s", p, t.mount)
		case t.self != "" && (p == t.self || strings.HasPrefix(t.self, p+"/")):
			return fmt.Errorf("arm: cgroup %s holds the guard itself (%s)", p, t.self)
		}
	}
	if t.pgid > 0 && slices.Contains(req.PGIDs, t.pgid) {
		return fmt.Errorf("arm: process group %d is the guard's own", t.pgid)
	}
	return nil
}

// arm takes a checked arm request. It returns a line worth logging, or "" for a mere renewal
// (clpd re-arms at every heartbeat, and the log must not grow by a line a second).
func (s *state) arm(req Request) string {
	same := s.armed && slices.Equal(s.cgroups, req.Cgroups) && slices.Equal(s.pgids, req.PGIDs) && slices.Equal(s.addrs, req.Addresses) && slices.Equal(s.mounts, req.Mounts)
	was := s.armed
	*s = state{
		armed: true, fenceAt: req.FenceAt, expiry: req.Expiry,
		cgroups: slices.Clone(req.Cgroups), pgids: slices.Clone(req.PGIDs), addrs: slices.Clone(req.Addresses), mounts: slices.Clone(req.Mounts),
		withheld: same && s.withheld,
	}
	if same {
		return ""
	}
	verb := "armed"
	if was {
		verb = "re-armed with new targets"
	}
	line := fmt.Sprintf("%s: fencing at %s unless renewed (lease expiry %s); cgroups [%s], process groups %v, addresses [%s]",
		verb, seconds(req.FenceAt), seconds(req.Expiry), strings.Join(req.Cgroups, " "), req.PGIDs, strings.Join(req.Addresses, " "))
	if len(req.Mounts) > 0 {
		var ms []string
		for _, m := range req.Mounts {
			ms = append(ms, m.MountPoint)
		}
		line += ", mounts [" + strings.Join(ms, " ") + "]"
	}
	return line
}

// disarm forgets the deadline and any past fence. It returns a line worth logging, or "".
func (s *state) disarm() string {
	was := s.armed
	*s = state{}
	if was {
		return "disarmed: nothing to guard"
	}
	return ""
}

// exit says whether an exit request may end the guard now.
func (s *state) exit(force bool, now time.Duration) error {
	if s.armed && !force {
		return fmt.Errorf("refusing to exit while armed: fencing is due in %s; disarm first, or send force",
			seconds(s.fenceAt-now))
	}
	return nil
}

// due reports whether the deadline has passed.
func (s *state) due(now time.Duration) bool { return s.armed && now >= s.fenceAt }

// wake returns how long the engine may sleep before it must look at the deadline again; false
// when it need not (disarmed).
func (s *state) wake(now time.Duration) (time.Duration, bool) {
	if !s.armed {
		return 0, false
	}
	return min(max(s.fenceAt-now, 0), maxSleep), true
}

// fenceResult is what fencing did.
type fenceResult struct {
	killed      []string
	killedPGIDs []int
	failed      []string
}

// done records a fence that ended at now: the guard is disarmed, and says it fenced.
func (s *state) done(now time.Duration, r fenceResult) {
	*s = state{fenced: true, fencedAt: now, killed: r.killed, killedPGIDs: r.killedPGIDs, failed: r.failed}
}

// reply describes the state.
func (s *state) reply(pid int) Reply {
	r := Reply{
		OK: true, Armed: s.armed, FenceAt: s.fenceAt, Expiry: s.expiry,
		Fenced: s.fenced, FencedAt: s.fencedAt, Killed: slices.Clone(s.killed),
		KilledPGIDs: slices.Clone(s.killedPGIDs), Failed: slices.Clone(s.failed), PID: pid,
	}
	if r.Killed == nil {
		r.Killed = []string{}
	}
	return r
}

// mayPing is the watchdog rule: the kernel watchdog may be kept alive at now only if nothing is
// guarded, or if, should this be the last ping, the reset it leads to (at now+timeout) comes no
// later than the earliest expiry of the lease. So when the guard, clpd and everything else
// stall, the machine resets before another server can take the groups over.
func mayPing(now time.Duration, armed bool, expiry, timeout time.Duration) bool {
	return !armed || now+timeout <= expiry
}
