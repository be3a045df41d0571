package netlab_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"clpkit/test/netlab"
)

// TestKeepalivedFailover is the yardstick: keepalived (VRRP, advert 1 s) moves a floating
// address from r1 to r2 when r1's cable is pulled, and back when it is plugged in again; the
// client's prober measures when r2 answers on the address.
func TestKeepalivedFailover(t *testing.T) {
	t.Parallel()
	const vip = "10.77.0.100"
	lab := netlab.New(t, "r1", "r2", "client")
	r1, r2, client := lab.Host("r1"), lab.Host("r2"), lab.Host("client")
	dir := netlab.BuildTools(t)
	for _, h := range []*netlab.Host{r1, r2} {
		h.Start(t, filepath.Join(dir, "labhttp"), "-listen", "0.0.0.0:8080", "-name", h.Name)
	}
	k1 := netlab.StartKeepalived(t, r1, netlab.KeepalivedOptions{VIP: vip, Priority: 150})
	k2 := netlab.StartKeepalived(t, r2, netlab.KeepalivedOptions{VIP: vip, Priority: 100})
	logs := func() string { return "r1:\n" + k1.Output() + "\nr2:\n" + k2.Output() }
	p := lab.StartProber(t, client, "http://"+vip+":8080/", 10*time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	started := time.Now()
	if _, err := p.WaitAnswer(ctx, "r1", started); err != nil {
		t.Fatalf("%v\n%s", err, logs())
	}
	if m := netlab.Master(vip, r1, r2); m != "r1" {
		t.Fatalf("the address is on %q, want r1\n%s", m, logs())
	}

	cut := time.Now()
	must(t, lab.CutCable(r1))
	ctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := p.WaitAnswer(ctx, "r2", cut); err != nil {
		t.Fatalf("no failover to r2: %v\n%s", err, logs())
	}
	o, _ := p.Outage(cut)
	t.Logf("keepalived failover (advert 1 s, priorities 150/100): cable pulled → r2 answers in %s (first failed request %s after the pull, last answer of %s %s before it)",
		o.Answered.Sub(cut).Round(time.Millisecond), o.FirstFailure.Sub(cut).Round(time.Millisecond), o.From, cut.Sub(o.LastAnswer).Round(time.Millisecond))
	if o.From != "r1" || o.By != "r2" {
		t.Fatalf("outage %+v: want r1 then r2", o)
	}
	// r1 saw its link go and dropped the address (FAULT state): no split brain.
	waitFor(t, 5*time.Second, "the address on r2 alone", func() bool { return netlab.Master(vip, r1, r2) == "r2" })

	restored := time.Now()
	must(t, lab.RestoreCable(r1))
	// r1 has the higher priority and preempts: the address comes back to it, once.
	ctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	back, err := p.WaitAnswer(ctx, "r1", restored)
	if err != nil {
		t.Fatalf("r1 did not take the address back: %v\n%s", err, logs())
	}
	waitFor(t, 5*time.Second, "the address on r1 alone", func() bool { return netlab.Master(vip, r1, r2) == "r1" })
	t.Logf("cable restored → r1 answers again in %s", back.Sub(restored).Round(time.Millisecond))
	checkReach(t, "after the cable came back", append(allPaths(lab.Hosts(), func(a, b *netlab.Host) bool { return false }),
		path{client, vip, true}))
	if bad := p.BadLines(); len(bad) > 0 {
		t.Fatalf("prober lines that did not parse: %q", bad)
	}
}
