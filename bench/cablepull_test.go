package bench

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"clpkit/test/trials"
)

var cablepullSamples = flag.Int("cablepull-samples", 10, "BenchmarkCablePullEmbedded: cable pulls and manual moves measured, and keepalived cable pulls")

// BenchmarkCablePullEmbedded measures failover as the seed's client sees it, on the lab cluster
// that runs its store on the servers themselves (each clpd embeds an etcd member, the store host
// runs the witness): N pulls of the active server's cable, from the pull to the first answer of
// the standby to a client polling the floating address every 10 ms; N clpgrp -m moves, from the
// command's start to the first answer of the destination; then, in the same lab, N cable pulls of
// keepalived (VRRP, advert 1 s, as BenchmarkFailover runs it). clpkit runs at its defaults (lease
// 1 s); the goal is a median cable-pull failover of 2 s or less.
func BenchmarkCablePullEmbedded(b *testing.B) {
	bin := bins(b)
	c := trials.New(b, bin, trials.Options{Embedded: true})
	probe := c.Lab.StartProber(b, c.Client, "http://"+trials.VIP+":"+trials.VIPPort+"/", 10*time.Millisecond)

	var pulls, margins []time.Duration
	for i := range *cablepullSamples {
		d, margin := clpkitPull(b, c, probe, i, "clpkit (embedded store)")
		pulls, margins = append(pulls, d), append(margins, margin)
	}

	var moves, commands []time.Duration
	refused := 0
	for i := range *cablepullSamples {
		active := c.WaitSteady(60 * time.Second)
		dest := c.Other(active)
		t0 := time.Now()
		so, se, code := active.Run("clpgrp", "-m", trials.Group)
		cmd := time.Since(t0)
		if code != 0 {
			// clpgrp -m can report a failed move although the destination starts the group
			// (see test/seed000): the client's view below decides.
			refused++
			fmt.Printf("clpkit clpgrp -m %2d: exit %d %q %q\n", i+1, code, so, se)
		}
		d, err := answerAfter(probe, dest.Name, t0)
		if err != nil {
			b.Fatalf("clpkit: %s never answered after clpgrp -m on %s (exit %d %q %q): %v", dest.Name, active.Name, code, so, se, err)
		}
		moves, commands = append(moves, d), append(commands, cmd)
		fmt.Printf("clpkit (embedded store) clpgrp -m %2d: %s -> %s answered after %4.0f ms; clpgrp returned after %4.0f ms\n",
			i+1, active.Name, dest.Name, Ms(d), Ms(cmd))
	}
	for _, iv := range c.Sampler.Overlaps(trials.Group) {
		b.Errorf("the group ran on two hosts at once: %v", iv)
	}
	probe.Stop()
	// clpkit stops before keepalived takes the lab: nothing of it competes for the CPU.
	for _, s := range c.Servers {
		s.Stop()
	}
	c.Witness.Stop()

	// keepalivedTrials pulls cables -failover-trials times; here it pulls as many as clpkit's.
	n := *failoverTrials
	*failoverTrials = *cablepullSamples
	ka := keepalivedTrials(b, c)
	*failoverTrials = n

	quiet(b)
	clp, mv, kam := Median(pulls), Median(moves), Median(ka)
	b.ReportMetric(Ms(clp), "cablepull-median-ms")
	b.ReportMetric(Ms(mv), "move-median-ms")
	b.ReportMetric(Ms(kam), "keepalived-median-ms")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.0f", Ms(d)) }
	rows := func(what string, s []time.Duration) {
		record(what+", median (ms; "+fmt.Sprint(len(s))+" samples)", ms(Median(s)))
		record(what+", p90 (ms)", ms(Percentile(s, 90)))
		record(what+", max (ms)", ms(Percentile(s, 100)))
	}
	rows("embedded store: cable pull -> standby answering, clpkit defaults", pulls)
	rows("embedded store: clpgrp -m -> destination answering", moves)
	record("embedded store: clpgrp -m command time, median (ms)", ms(Median(commands)))
	record("embedded store: clpgrp -m exiting 1 although the group moved (count)", fmt.Sprint(refused))
	record("embedded store: fencing margin after a cable pull, min (ms)", ms(Percentile(margins, 0)))
	rows("embedded store lab: cable pull -> standby answering, keepalived advert 1 s", ka)
	record("keepalived / clpkit embedded, median cable-pull failover (ratio)", fmt.Sprintf("%.2f", float64(kam)/float64(clp)))
	record("keepalived / clpkit embedded, p90 cable-pull failover (ratio)", fmt.Sprintf("%.2f", float64(Percentile(ka, 90))/float64(Percentile(pulls, 90))))
	goal := "met"
	if clp > 2*time.Second {
		goal = "NOT met"
	}
	record("goal: clpkit embedded cable-pull median <= 2000 ms", goal)
}
