package trials

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestFIPMonitor: a fipw monitor sees the floating address taken off the active server's
// interface and fails the group over; the address then lives on the other server only.
func TestFIPMonitor(t *testing.T) {
	const vip = "10.77.0.102"
	c := New(t, build(t), Options{Embedded: true, Resources: `
[[group.resource]]
name = "fip1"
type = "fip"
address = "` + vip + `/24"
interface = "eth0"
`, Monitors: `
[[monitor]]
name = "fipw1"
type = "fipw"
target = "fip1"
interval = "500ms"
`})
	holders := func() []string {
		var on []string
		for _, name := range []string{"server1", "server2"} {
			o, _ := exec.Command("ip", "-n", c.Servers[name].Host.NS, "-o", "addr", "show", "dev", "eth0").Output()
			if strings.Contains(string(o), " "+vip+"/24 ") {
				on = append(on, name)
			}
		}
		return on
	}
	active := c.WaitSteady(60 * time.Second)
	other := c.Other(active)
	if h := holders(); len(h) != 1 || h[0] != active.Name {
		t.Fatalf("the address is on %v, want %s", h, active.Name)
	}
	if st, _, _ := active.Run("clpstat", "--mon", "fipw1"); !strings.Contains(st, "fipw") {
		t.Fatalf("clpstat --mon fipw1 does not show the fipw type:\n%s", st)
	}
	if out, err := exec.Command("ip", "-n", active.Host.NS, "addr", "del", vip+"/24", "dev", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("ip addr del: %v: %s", err, out)
	}
	end := time.Now().Add(30 * time.Second)
	for c.Owner(Group) != other.Name {
		if time.Now().After(end) {
			t.Fatalf("the group did not fail over after its address vanished\n%s", c.dump())
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.WaitSteady(60 * time.Second)
	if h := holders(); len(h) != 1 || h[0] != other.Name {
		t.Fatalf("after the failover the address is on %v, want %s", h, other.Name)
	}
	if a := active.Alerts(); !strings.Contains(a, "is not on eth0") {
		t.Fatalf("the alert log of %s does not say the address vanished:\n%s", active.Name, a)
	}
	if ov := c.Sampler.Overlaps(Group); len(ov) > 0 {
		t.Fatalf("the sampler saw the group on two hosts: %v", ov)
	}
}
