package netlab_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/test/netlab"
)

// TestClose: a closed lab leaves nothing behind: no namespace, no process in one of its
// namespaces (also a daemon that double-forked away), no nft table, no interface in the machine's
// own namespace.
func TestClose(t *testing.T) {
	t.Parallel()
	requireNft(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	links := func() []string {
		out, err := exec.CommandContext(ctx, "ip", "-o", "link", "show").Output()
		must(t, err)
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Fields(l); len(f) > 1 {
				names = append(names, strings.TrimSuffix(f[1], ":"))
			}
		}
		return names
	}
	tables := func() string {
		out, err := exec.CommandContext(ctx, "nft", "list", "tables").CombinedOutput()
		must(t, err)
		return string(out)
	}
	linksBefore := links()

	lab := netlab.New(t, "a", "b")
	a, b := lab.Host("a"), lab.Host("b")
	namespaces := []string{lab.Switch, a.NS, b.NS}
	inodes := map[uint64]bool{a.NetnsInode(): true, b.NetnsInode(): true}
	a.Start(t, "sleep", "1000")
	b.StartCmd(t, b.Command("sh", "-c", "setsid sleep 1000 </dev/null >/dev/null 2>&1 & exit 0"))
	must(t, lab.Partition(a))
	must(t, lab.PartitionBetween(a, b))
	must(t, lab.CutCable(b))
	waitFor(t, 5*time.Second, "both sleeps in the lab", func() bool { return len(inLab(inodes)) == 2 })
	for _, ns := range namespaces {
		if !strings.Contains(netnsList(t, ctx), ns) {
			t.Fatalf("namespace %s is not listed while the lab is open", ns)
		}
	}

	must(t, lab.Close())
	must(t, lab.Close()) // idempotent
	list := netnsList(t, ctx)
	for _, ns := range namespaces {
		if strings.Contains(list, ns) {
			t.Errorf("namespace %s survives Close:\n%s", ns, list)
		}
		if _, err := os.Stat("/run/netns/" + ns); err == nil {
			t.Errorf("/run/netns/%s survives Close", ns)
		}
	}
	if left := inLab(inodes); len(left) > 0 {
		t.Errorf("processes %v are still alive in the lab's namespaces", left)
	}
	// Nothing was ever created in the machine's namespace. Other tests may change it meanwhile,
	// so only the lab's own names are looked for.
	ours := func(name string) bool {
		return name == "br0" || name == "eth0" || (len(name) > 1 && name[0] == 'p' && strings.Trim(name[1:], "0123456789") == "")
	}
	for _, name := range links() {
		if ours(name) && !slices.Contains(linksBefore, name) {
			t.Errorf("interface %s appeared in the machine's namespace", name)
		}
	}
	if after := tables(); strings.Contains(after, "clpk_") {
		t.Errorf("the machine has nft tables of a lab:\n%s", after)
	}
}

func netnsList(t *testing.T, ctx context.Context) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	must(t, err)
	return string(out)
}

// inLab returns the live processes whose network namespace is one of inodes.
func inLab(inodes map[uint64]bool) []int {
	d, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range d {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink("/proc/" + e.Name() + "/ns/net")
		if err != nil {
			continue
		}
		ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "net:["), "]"), 10, 64)
		if err == nil && inodes[ino] {
			pids = append(pids, pid)
		}
	}
	return pids
}
