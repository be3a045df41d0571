package trials

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"clpkit/test/netlab"
)

// Fault is one way the active server fails.
type Fault struct {
	Name string
	// Before prepares a trial (slow scripts, a start under way); it runs on a steady cluster.
	Before func(c *Cluster, active *Server, rng *rand.Rand)
	// Inject breaks the active server.
	Inject func(c *Cluster, active *Server)
	// After runs once the group runs elsewhere (or the wait for it gave up): it removes what
	// Before set up.
	After func(c *Cluster, active *Server)
	// Repair undoes the fault: the old server comes back.
	Repair func(c *Cluster, active *Server)
}

// Trial is what one fault injection showed.
type Trial struct {
	From, To string
	// Injected is when the fault was injected.
	Injected time.Time
	// Takeover is from the fault to the first process of the group on the new server.
	Takeover time.Duration
	// Margin is from the last process of the group seen on the old server to the first on the
	// new one: the time no host ran the group. Negative would be an overlap.
	Margin time.Duration
	// Overlaps are the intervals, within the trial, during which the group's processes existed
	// on two hosts at once. The promise is that there are none.
	Overlaps []netlab.Interval
}

// Run runs n trials of f and returns them. Each starts from a steady cluster (the group running
// on one server, both Online), waits a random part of a renewal cycle, injects the fault, waits
// for the group's processes on the other server, repairs, and waits for the cluster to settle.
func Run(tb testing.TB, c *Cluster, f Fault, n int, seed uint64) []Trial {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var out []Trial
	for i := range n {
		active := c.WaitSteady(60 * time.Second)
		standby := c.Other(active)
		if f.Before != nil {
			f.Before(c, active, rng)
		}
		// Faults land anywhere in the renewal cycle (100 ms) and beyond.
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		t0 := time.Now()
		f.Inject(c, active)
		first, ok := waitSeen(c, standby.Name, t0, 30*time.Second)
		if f.After != nil {
			f.After(c, active)
		}
		if !ok {
			tb.Fatalf("%s, trial %d: the group never started on %s after the fault on %s\n%s", f.Name, i+1, standby.Name, active.Name, c.dump())
		}
		// Let the old server's side play out (its fence, its cleanup) before it comes back.
		time.Sleep(time.Second)
		f.Repair(c, active)
		c.WaitSteady(60 * time.Second)
		tr := Trial{From: active.Name, To: standby.Name, Injected: t0, Takeover: first.Sub(t0)}
		if last, ok := c.Sampler.LastSeen(Group, active.Name, first); ok {
			tr.Margin = first.Sub(last)
		}
		for _, iv := range c.Sampler.Overlaps(Group) {
			if iv.End.After(t0.Add(-time.Second)) {
				tr.Overlaps = append(tr.Overlaps, iv)
			}
		}
		out = append(out, tr)
		if len(tr.Overlaps) > 0 {
			tb.Errorf("%s, trial %d: group %s ran on two hosts at once: %v\n%s", f.Name, i+1, Group, tr.Overlaps, c.dump())
		}
	}
	return out
}

func waitSeen(c *Cluster, host string, after time.Time, d time.Duration) (time.Time, bool) {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if t, ok := c.Sampler.FirstSeen(Group, host, after); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

func (c *Cluster) dump() string {
	var b strings.Builder
	for _, name := range []string{"server1", "server2"} {
		s := c.Servers[name]
		st, se, _ := s.Run("clpstat")
		fmt.Fprintf(&b, "--- %s clpstat:\n%s%s--- alerts:\n%s", s.Name, st, se, s.Alerts())
	}
	return b.String()
}

// Summary renders trials as one line: count, takeover median and max, margin min and median.
func Summary(name string, ts []Trial) string {
	if len(ts) == 0 {
		return name + ": no trials"
	}
	var take, margin []time.Duration
	overlaps := 0
	for _, t := range ts {
		take = append(take, t.Takeover)
		margin = append(margin, t.Margin)
		overlaps += len(t.Overlaps)
	}
	slices.Sort(take)
	slices.Sort(margin)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("%-34s trials %3d  overlaps %d  takeover median %s max %s  margin min %s median %s",
		name, len(ts), overlaps, ms(take[len(take)/2]), ms(take[len(take)-1]), ms(margin[0]), ms(margin[len(margin)/2]))
}
