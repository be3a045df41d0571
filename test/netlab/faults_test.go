package netlab_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"clpkit/test/netlab"
)

// TestFaults: every host reaches every other; each fault cuts exactly what it should, keeps or
// drops carrier as a real cable or switch would, and is undone by its reverse.
func TestFaults(t *testing.T) {
	t.Parallel()
	requireNft(t)
	lab := netlab.New(t, "store", "server1", "server2", "client")
	netlab.BuildTools(t)
	store, s1, s2 := lab.Host("store"), lab.Host("server1"), lab.Host("server2")
	hosts := lab.Hosts()
	none := func(a, b *netlab.Host) bool { return false }
	isolated := func(h *netlab.Host) func(a, b *netlab.Host) bool {
		return func(a, b *netlab.Host) bool { return a == h || b == h }
	}
	carrier := func(h *netlab.Host) bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := h.Carrier(ctx)
		must(t, err)
		return c
	}
	if got, want := s1.Addr, "10.77.0.11"; got != want {
		t.Fatalf("server1's address is %s, want %s", got, want)
	}
	checkReach(t, "at start", allPaths(hosts, none))

	must(t, lab.CutCable(s1))
	must(t, lab.CutCable(s1)) // idempotent
	if carrier(s1) {
		t.Fatal("server1's eth0 has carrier after CutCable")
	}
	checkReach(t, "server1's cable cut", append(allPaths(hosts, isolated(s1)),
		path{s1, "127.0.0.1", true}))
	must(t, lab.RestoreCable(s1))
	must(t, lab.RestoreCable(s1))
	if !carrier(s1) {
		t.Fatal("server1's eth0 has no carrier after RestoreCable")
	}
	checkReach(t, "server1's cable restored", allPaths(hosts, none))

	must(t, lab.Partition(s1))
	must(t, lab.Partition(s1))
	if !carrier(s1) {
		t.Fatal("server1's eth0 lost carrier in a partition")
	}
	checkReach(t, "server1 partitioned", append(allPaths(hosts, isolated(s1)),
		path{s1, "127.0.0.1", true}, path{s1, s1.Addr, true}))
	must(t, lab.Heal(s1))
	must(t, lab.Heal(s1))
	checkReach(t, "server1 healed", allPaths(hosts, none))

	must(t, lab.PartitionBetween(s1, s2))
	must(t, lab.PartitionBetween(s2, s1))
	checkReach(t, "server1 and server2 partitioned from each other", allPaths(hosts, func(a, b *netlab.Host) bool {
		return (a == s1 && b == s2) || (a == s2 && b == s1)
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tables, err := store.Tables(ctx)
	must(t, err)
	if len(tables) != 0 {
		t.Fatalf("store, not part of the partition, has nft tables %v", tables)
	}
	must(t, lab.HealBetween(s1, s2))
	must(t, lab.HealBetween(s1, s2))
	checkReach(t, "server1 and server2 healed", allPaths(hosts, none))
	for _, h := range hosts {
		tables, err := h.Tables(ctx)
		must(t, err)
		if len(tables) != 0 {
			t.Errorf("%s keeps nft tables %v after healing", h.Name, tables)
		}
	}
}

// TestBindRetry: labhttp started before its floating address exists answers once the address is
// added, and the prober sees the moment.
func TestBindRetry(t *testing.T) {
	t.Parallel()
	lab := netlab.New(t, "srv", "client")
	srv, client := lab.Host("srv"), lab.Host("client")
	dir := netlab.BuildTools(t)
	srv.Start(t, filepath.Join(dir, "labhttp"), "-listen", "10.77.0.200:8080", "-name", "srv", "-bind-retry")
	p := lab.StartProber(t, client, "http://10.77.0.200:8080/", 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	added := time.Now()
	must(t, srv.AddAddr("10.77.0.200/24"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	at, err := p.WaitAnswer(ctx, "srv", added)
	if err != nil {
		t.Fatalf("%v\nprober: %s", err, p.Output())
	}
	o, ok := p.Outage(added)
	if !ok || o.By != "srv" || o.From != "" || o.FirstFailure.IsZero() {
		t.Fatalf("outage around the address's arrival: %+v, %t", o, ok)
	}
	t.Logf("answered %s after the address was added; %d attempts so far", at.Sub(added).Round(time.Millisecond), len(p.Attempts()))
	if bad := p.BadLines(); len(bad) > 0 {
		t.Fatalf("prober lines that did not parse: %q", bad)
	}
	must(t, srv.DelAddr("10.77.0.200/24"))
	must(t, srv.DelAddr("10.77.0.200/24"))
}
