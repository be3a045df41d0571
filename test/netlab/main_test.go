package netlab_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"clpkit/test/netlab"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := netlab.RemoveTools(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func requireNft(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft (nftables) is not installed")
	}
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// path is one ping from a host to an address, and whether it should be answered.
type path struct {
	from *netlab.Host
	to   string
	ok   bool
}

// checkReach pings every path at once (a lost ping costs its whole timeout) and fails the test
// with every path that did not behave as expected.
func checkReach(t *testing.T, when string, paths []path) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wrong []string
	var wg sync.WaitGroup
	for _, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A reachable path gets 2 s: right after a fault is undone the sender's neighbour
			// entry may still be waiting for its next ARP probe, a second apart on Linux.
			timeout := 500 * time.Millisecond
			if p.ok {
				timeout = 2 * time.Second
			}
			err := p.from.Ping(ctx, p.to, timeout)
			if (err == nil) != p.ok {
				mu.Lock()
				wrong = append(wrong, fmt.Sprintf("%s → %s: want reachable=%t, got %v", p.from.Name, p.to, p.ok, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(wrong) > 0 {
		sort.Strings(wrong)
		t.Fatalf("%s:\n%s", when, strings.Join(wrong, "\n"))
	}
}

// allPaths is every host to every other host's address, reachable unless cut says otherwise.
func allPaths(hosts []*netlab.Host, cut func(a, b *netlab.Host) bool) []path {
	var out []path
	for _, a := range hosts {
		for _, b := range hosts {
			if a != b {
				out = append(out, path{a, b.Addr, !cut(a, b)})
			}
		}
	}
	return out
}
