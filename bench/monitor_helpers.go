package bench

// Pieces of the monitor benchmarks (monitor_test.go) that are not benchmarks: reading clpstat's
// JSON, the alert log, keepalived's notify log, pid files and a cgroup's CPU time, and writing a
// keepalived configuration that tracks a process.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"clpkit/pkg/alert"
)

// clusterStatus is the part of `clpstat -o json` (schema clpkit.status/v1) the benchmarks read.
type clusterStatus struct {
	LocalServer string `json:"local_server"`
	Groups      []struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Current string `json:"current"`
	} `json:"groups"`
	Monitors []struct {
		Name    string `json:"name"`
		State   string `json:"state"`
		Servers []struct {
			Server string `json:"server"`
			State  string `json:"state"`
		} `json:"servers"`
	} `json:"monitors"`
}

// parseStatus parses the output of `clpstat -o json`.
func parseStatus(out []byte) (*clusterStatus, error) {
	var doc struct {
		Schema  string        `json:"schema"`
		Cluster clusterStatus `json:"cluster"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("clpstat -o json: %w", err)
	}
	if doc.Schema != "clpkit.status/v1" {
		return nil, fmt.Errorf("clpstat -o json: schema %q, want clpkit.status/v1", doc.Schema)
	}
	return &doc.Cluster, nil
}

// groupState is the state of the named group ("" when there is none).
func (s *clusterStatus) groupState(name string) string {
	for _, g := range s.Groups {
		if g.Name == name {
			return g.State
		}
	}
	return ""
}

// monitorOn is the state of monitor name on server ("Online" while it monitors and is normal).
func (s *clusterStatus) monitorOn(name, server string) string {
	for _, m := range s.Monitors {
		if m.Name != name {
			continue
		}
		for _, o := range m.Servers {
			if o.Server == server {
				return o.State
			}
		}
	}
	return ""
}

// monitorsOnline counts the monitors that are Online (monitoring, normal) on server.
func (s *clusterStatus) monitorsOnline(server string) int {
	n := 0
	for _, m := range s.Monitors {
		for _, o := range m.Servers {
			if o.Server == server && o.State == "Online" {
				n++
			}
		}
	}
	return n
}

// alertsMatching returns the records of the alert log at path from module with event id whose
// text starts with prefix, in the order they were written. Lines that do not parse (a line being
// written) are skipped; a missing log has no records.
func alertsMatching(path, module string, id int, prefix string) ([]alert.Record, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []alert.Record
	for _, line := range strings.Split(string(raw), "\n") {
		r, err := alert.ParseLine(line)
		if err != nil {
			continue
		}
		if r.Module == module && r.ID == id && strings.HasPrefix(r.Text, prefix) {
			out = append(out, r)
		}
	}
	return out, nil
}

// kaEvent is one line of the notify log that kaNotifyScript writes: when keepalived's notify
// script ran, and the state it was told of (MASTER, BACKUP, FAULT, STOP).
type kaEvent struct {
	At    time.Time
	State string
}

// kaNotifyScript is the body of a keepalived notify script (after #!/bin/sh) that appends
// "<seconds>.<nanoseconds> <state>" to log. keepalived calls it as
// `script INSTANCE <name> <state> <priority>`.
func kaNotifyScript(log string) string {
	return fmt.Sprintf("echo \"$(date +%%s.%%N) $3\" >> %q\n", log)
}

// readNotify reads a notify log written by kaNotifyScript; a missing log has no events, and an
// incomplete last line is left for the next read.
func readNotify(path string) ([]kaEvent, error) {
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []kaEvent
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		at, err := parseUnixDot(f[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, kaEvent{at, f[1]})
	}
	return out, nil
}

// parseUnixDot parses `date +%s.%N` output ("1795970523.547822485") without going through a
// float, which would lose the nanoseconds.
func parseUnixDot(s string) (time.Time, error) {
	secs, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 9 {
		return time.Time{}, fmt.Errorf("time %q is not <seconds>.<9 digits>", s)
	}
	sec, err1 := strconv.ParseInt(secs, 10, 64)
	ns, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, fmt.Errorf("time %q is not <seconds>.<9 digits>", s)
	}
	return time.Unix(sec, ns), nil
}

// readInt reads a file holding one decimal number (a pid file, a `date +%s%N` marker); 0 when it
// is missing, empty or not a number.
func readInt(path string) int64 {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// readPid reads a pid file; 0 when it is missing, empty or not a number.
func readPid(path string) int { return int(readInt(path)) }

// runsWith reports whether process pid runs (is not a zombie) and has arg among its arguments: a
// pid read from a pid file is checked this way before it is signalled, so a reused pid is never.
func runsWith(pid int, arg string) bool {
	if pid <= 0 {
		return false
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(raw) == 0 { // a zombie has an empty command line
		return false
	}
	for _, a := range bytes.Split(raw, []byte{0}) {
		if string(a) == arg {
			return true
		}
	}
	return false
}

// cgroupCPU returns the CPU time used so far by the processes of a cgroup v2 directory and its
// descendants (usage_usec of cpu.stat, which needs no controller enabled).
func cgroupCPU(dir string) (time.Duration, error) {
	raw, err := os.ReadFile(dir + "/cpu.stat")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s/cpu.stat: %w", dir, err)
			}
			return time.Duration(us) * time.Microsecond, nil
		}
	}
	return 0, fmt.Errorf("%s/cpu.stat: no usage_usec line", dir)
}

// kaTrackConfig is a keepalived configuration of one VRRP instance on eth0 that follows a
// process named proc (its comm, at most 15 bytes): with trackProcess, by the proc connector
// (vrrp_track_process, event driven); otherwise by running check (a script that runs pidof) every
// second with fall 1 and rise 1 (vrrp_script). Either way the instance goes to FAULT when the
// process is gone, and notify is told of every state change. The advert interval is 1 s, as in
// BenchmarkFailover; nopreempt keeps the address where it went, as clpkit does.
func kaTrackConfig(router, vip string, routerID, priority int, proc, check, notify string, trackProcess bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n\trouter_id %s\n\tenable_script_security\n\tscript_user root\n}\n\n", router)
	if trackProcess {
		fmt.Fprintf(&b, "vrrp_track_process tracked {\n\tprocess %s\n\tquorum 1\n}\n\n", proc)
	} else {
		fmt.Fprintf(&b, "vrrp_script tracked {\n\tscript %q\n\tinterval 1\n\tfall 1\n\trise 1\n}\n\n", check)
	}
	fmt.Fprintf(&b, "vrrp_instance VI_%d {\n\tstate BACKUP\n\tinterface eth0\n\tvirtual_router_id %d\n\tpriority %d\n\tadvert_int 1\n\tnopreempt\n",
		routerID, routerID, priority)
	if trackProcess {
		b.WriteString("\ttrack_process {\n\t\ttracked\n\t}\n")
	} else {
		b.WriteString("\ttrack_script {\n\t\ttracked\n\t}\n")
	}
	fmt.Fprintf(&b, "\tnotify %q\n\tvirtual_ipaddress {\n\t\t%s dev eth0\n\t}\n}\n", notify, vip)
	return b.String()
}

// spread is a wait before the i-th fault that walks the fault's phase across period, so that a
// mechanism that polls every period is not always hit at the same point of its cycle.
func spread(i int, period time.Duration) time.Duration {
	return time.Duration(i*379%1000) * period / 1000
}
