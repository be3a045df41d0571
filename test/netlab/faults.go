package netlab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Faults are idempotent and reversible, and each is bounded by opTimeout. Each takes effect
// before its call returns (the cable's carrier is checked), so a trial's fault time is the time
// taken just before the call.

// partitionTable is the nft table of Partition in a host's namespace.
const partitionTable = "clpk_partition"

// betweenTable is the nft table, in a host's namespace, that cuts it off from the host with the
// given index.
func betweenTable(other *Host) string { return fmt.Sprintf("clpk_between%d", other.index) }

// CutCable pulls host h's cable: the switch-side port goes down, so h's eth0 loses carrier
// (NO-CARRIER), which h's kernel and daemons see as they would a real pulled cable.
func (l *Lab) CutCable(h *Host) error {
	return l.setPort(h, "down", false)
}

// RestoreCable plugs host h's cable back in and waits until eth0 has carrier again.
func (l *Lab) RestoreCable(h *Host) error {
	return l.setPort(h, "up", true)
}

func (l *Lab) setPort(h *Host, state string, carrier bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := runIP(ctx, "-n", l.Switch, "link", "set", h.port, state); err != nil {
		return fmt.Errorf("setting the switch port of host %s %s: %w", h.Name, state, err)
	}
	if err := h.waitCarrier(ctx, carrier); err != nil {
		return fmt.Errorf("setting the switch port of host %s %s: %w", h.Name, state, err)
	}
	return nil
}

// Partition makes host h's switch port drop everything silently: h keeps its carrier, but every
// frame in or out of its eth0 is dropped (ARP included), by netdev ingress and egress hooks of an
// nft table of the lab's own in h's namespace. Loopback is untouched. Dropping at egress, below
// the IP stack, keeps a sender from getting the EPERM an output-chain drop would give it: the
// packets vanish as on the wire. (A packet socket with PACKET_QDISC_BYPASS would get past the
// egress hook; no daemon of this kit uses one.)
func (l *Lab) Partition(h *Host) error {
	return l.addTable(h, partitionTable, fmt.Sprintf(`table netdev %[1]s {
	chain in {
		type filter hook ingress device "eth0" priority -500; policy drop;
	}
	chain out {
		type filter hook egress device "eth0" priority -500; policy drop;
	}
}
`, partitionTable))
}

// Heal undoes Partition.
func (l *Lab) Heal(h *Host) error {
	return l.deleteTable(h, partitionTable)
}

// PartitionBetween drops all traffic between hosts a and b, and only that: in each host's
// namespace, frames from or to the other's MAC address and packets from or to the other's
// addresses (its own and those added with AddAddr when the partition is made) are dropped.
// Matching the MAC address also catches ARP and addresses added later, such as a floating
// address the other host takes over.
func (l *Lab) PartitionBetween(a, b *Host) error {
	if a == b {
		return fmt.Errorf("partitioning host %s from itself", a.Name)
	}
	if err := l.addTable(a, betweenTable(b), betweenRules(betweenTable(b), b)); err != nil {
		return err
	}
	return l.addTable(b, betweenTable(a), betweenRules(betweenTable(a), a))
}

// HealBetween undoes PartitionBetween.
func (l *Lab) HealBetween(a, b *Host) error {
	if err := l.deleteTable(a, betweenTable(b)); err != nil {
		return err
	}
	return l.deleteTable(b, betweenTable(a))
}

func betweenRules(table string, other *Host) string {
	addrs := strings.Join(other.Addrs(), ", ")
	return fmt.Sprintf(`table netdev %s {
	chain in {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ether saddr %s drop
		ip saddr { %s } drop
	}
	chain out {
		type filter hook egress device "eth0" priority -500; policy accept;
		ether daddr %s drop
		ip daddr { %s } drop
	}
}
`, table, other.MAC, addrs, other.MAC, addrs)
}

// addTable replaces table name in h's namespace with def, in one nft transaction, so that a
// repeated fault neither fails nor doubles its rules.
func (l *Lab) addTable(h *Host, name, def string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("adding nft table %s on host %s: the lab is closed", name, h.Name)
	}
	if l.tables[h] == nil {
		l.tables[h] = map[string]bool{}
	}
	// Recorded before it exists, so Close removes it even if nft fails half-way.
	l.tables[h][name] = true
	l.mu.Unlock()
	script := fmt.Sprintf("table netdev %s\ndelete table netdev %s\n%s", name, name, def)
	if err := h.nft(ctx, script); err != nil {
		return fmt.Errorf("adding nft table %s on host %s: %w", name, h.Name, err)
	}
	return nil
}

// deleteTable removes table name from h's namespace; removing an absent table is not an error.
func (l *Lab) deleteTable(h *Host, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	script := fmt.Sprintf("table netdev %s\ndelete table netdev %s\n", name, name)
	if err := h.nft(ctx, script); err != nil {
		return fmt.Errorf("deleting nft table %s on host %s: %w", name, h.Name, err)
	}
	l.mu.Lock()
	delete(l.tables[h], name)
	l.mu.Unlock()
	return nil
}

// Tables lists the nft tables of host h's namespace, as "family name".
func (h *Host) Tables(ctx context.Context) ([]string, error) {
	so, se, code, err := h.Run(ctx, "nft", "list", "tables")
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("listing the nft tables of host %s: exit %d: %s", h.Name, code, strings.TrimSpace(se))
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(so), "\n") {
		if t, ok := strings.CutPrefix(line, "table "); ok {
			out = append(out, t)
		}
	}
	return out, nil
}

// nft runs an nft script inside h's namespace.
func (h *Host) nft(ctx context.Context, script string) error {
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("nft (nftables) is not installed: %w", err)
	}
	cmd := h.commandContext(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("nft -f in %s: %w: %s", h.NS, err, strings.TrimSpace(out.String()))
	}
	return nil
}
