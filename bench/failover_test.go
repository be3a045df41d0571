package bench

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"clpkit/test/netlab"
	"clpkit/test/trials"
)

var failoverTrials = flag.Int("failover-trials", 10, "BenchmarkFailover: cable pulls per system")

// BenchmarkFailover pulls the active server's cable in a network-namespace lab and measures, from
// a client host, how long until the service answers from the standby: clpkit at its defaults
// (lease 1 s, renewal 100 ms, fencing at half the lease), then keepalived with a 1 s advert
// interval in the same lab. For clpkit it also reports the fencing margin: from the last moment
// the old server's processes were seen to the first of the new server's.
func BenchmarkFailover(b *testing.B) {
	bin := bins(b)
	c := trials.New(b, bin, trials.Options{})
	probe := c.Lab.StartProber(b, c.Client, "http://"+trials.VIP+":"+trials.VIPPort+"/", 10*time.Millisecond)
	var answered, margins []time.Duration
	for i := range *failoverTrials {
		d, margin := clpkitPull(b, c, probe, i, "clpkit")
		answered, margins = append(answered, d), append(margins, margin)
		for _, iv := range c.Sampler.Overlaps(trials.Group) {
			b.Errorf("the group ran on two hosts at once: %v", iv)
		}
	}
	probe.Stop()
	// Stop clpkit before keepalived takes the lab: nothing of it must compete for the CPU.
	for _, s := range c.Servers {
		s.Stop()
	}

	ka := keepalivedTrials(b, c)

	quiet(b)
	clp, kam := Median(answered), Median(ka)
	b.ReportMetric(Ms(clp), "clpkit-median-ms")
	b.ReportMetric(Ms(kam), "keepalived-median-ms")
	n := fmt.Sprint(len(answered))
	record("cable pull -> standby answering, clpkit defaults, median (ms; "+n+" pulls)", fmt.Sprintf("%.0f", Ms(clp)))
	record("cable pull -> standby answering, clpkit defaults, max (ms)", fmt.Sprintf("%.0f", Ms(Percentile(answered, 100))))
	record("cable pull -> standby answering, keepalived advert 1 s, median (ms; "+fmt.Sprint(len(ka))+" pulls)", fmt.Sprintf("%.0f", Ms(kam)))
	record("cable pull -> standby answering, keepalived advert 1 s, max (ms)", fmt.Sprintf("%.0f", Ms(Percentile(ka, 100))))
	record("keepalived / clpkit, median failover time (ratio)", fmt.Sprintf("%.2f", float64(kam)/float64(clp)))
	record("fencing margin, old server's processes gone -> new server's start, min (ms)", fmt.Sprintf("%.0f", Ms(Percentile(margins, 0))))
	record("fencing margin, median (ms)", fmt.Sprintf("%.0f", Ms(Median(margins))))
}

// keepalivedTrials runs the same cable pulls against keepalived: two instances (priorities 150
// and 100, advert 1 s) hold a second floating address, with a responder on both servers.
func keepalivedTrials(b *testing.B, c *trials.Cluster) []time.Duration {
	const vip, port = "10.77.0.101", "8081"
	tools := netlab.BuildTools(b)
	s1, s2 := c.Lab.Host("server1"), c.Lab.Host("server2")
	for _, h := range []*netlab.Host{s1, s2} {
		h.Start(b, tools+"/labhttp", "-listen", "0.0.0.0:"+port, "-name", h.Name)
	}
	netlab.StartKeepalived(b, s1, netlab.KeepalivedOptions{VIP: vip + "/24", RouterID: 51, Priority: 150, AdvertInt: time.Second})
	netlab.StartKeepalived(b, s2, netlab.KeepalivedOptions{VIP: vip + "/24", RouterID: 51, Priority: 100, AdvertInt: time.Second})
	probe := c.Lab.StartProber(b, c.Client, "http://"+vip+":"+port+"/", 10*time.Millisecond)
	defer probe.Stop()
	var out []time.Duration
	for i := range *failoverTrials {
		var master string
		deadline := time.Now().Add(30 * time.Second)
		for {
			if master = netlab.Master(vip, s1, s2); master != "" && !strings.Contains(master, ",") {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := probe.WaitAnswer(ctx, master, time.Now())
				cancel()
				if err == nil {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("keepalived: no single master after 30 s (%q)", master)
			}
			time.Sleep(100 * time.Millisecond)
		}
		active, standby := s1, s2
		if master == s2.Name {
			active, standby = s2, s1
		}
		_, d, err := pullCable(b, c.Lab, probe, i, active, standby.Name)
		if err != nil {
			b.Fatalf("keepalived: %s never answered after the cable of %s was pulled: %v", standby.Name, active.Name, err)
		}
		out = append(out, d)
		fmt.Printf("keepalived cable pull %2d: %s -> %s answered after %4.0f ms\n", i+1, active.Name, standby.Name, Ms(d))
		restoreCable(b, c.Lab, active)
	}
	return out
}

// pullCable cuts active's cable, pull i of a series, at a phase that lands the pulls anywhere in
// the 100 ms renewal cycle; it returns when the cable was cut and how long after that the probe
// first got an answer from standby.
func pullCable(b *testing.B, lab *netlab.Lab, probe *netlab.Prober, i int, active *netlab.Host, standby string) (time.Time, time.Duration, error) {
	b.Helper()
	time.Sleep(time.Duration(37*i%100) * time.Millisecond)
	t0 := time.Now()
	if err := lab.CutCable(active); err != nil {
		b.Fatal(err)
	}
	d, err := answerAfter(probe, standby, t0)
	return t0, d, err
}

// answerAfter waits up to 30 s for the probe's first answer from host after t0 and returns how
// long after t0 it came.
func answerAfter(probe *netlab.Prober, host string, t0 time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at, err := probe.WaitAnswer(ctx, host, t0)
	return at.Sub(t0), err
}

// restoreCable puts h's cable back after a second, so that every pull is seen out to its end.
func restoreCable(b *testing.B, lab *netlab.Lab, h *netlab.Host) {
	b.Helper()
	time.Sleep(time.Second)
	if err := lab.RestoreCable(h); err != nil {
		b.Fatal(err)
	}
}

// clpkitPull pulls the cable of c's active server once (pull i of a series), prints the pull
// under label and puts the cable back; it returns how long until the standby answered the probe
// and the fencing margin: from the last moment the old server's processes were seen to the first
// of the new server's.
func clpkitPull(b *testing.B, c *trials.Cluster, probe *netlab.Prober, i int, label string) (answered, margin time.Duration) {
	b.Helper()
	active := c.WaitSteady(60 * time.Second)
	standby := c.Other(active)
	t0, d, err := pullCable(b, c.Lab, probe, i, active.Host, standby.Name)
	if err != nil {
		b.Fatalf("clpkit: the standby %s never answered after the cable of %s was pulled: %v", standby.Name, active.Name, err)
	}
	first, _ := c.Sampler.FirstSeen(trials.Group, standby.Name, t0)
	last, _ := c.Sampler.LastSeen(trials.Group, active.Name, first)
	fmt.Printf("%s cable pull %2d: %s -> %s answered after %4.0f ms; fencing margin %4.0f ms\n",
		label, i+1, active.Name, standby.Name, Ms(d), Ms(first.Sub(last)))
	restoreCable(b, c.Lab, active.Host)
	return d, first.Sub(last)
}
