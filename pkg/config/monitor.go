package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

func monitorKeys() []string {
	return []string{"name", "type", "comment", "target", "timing", "interval", "timeout", "retry",
		"start_wait", "nice", "timeout_is_error", "recovery_target", "recovery_script",
		"recovery_script_timeout", "recovery_script_threshold", "restart_threshold",
		"failover_threshold", "final_action", "reset_after", "pid_file", "script", "args", "mode",
		"normal_value", "wait_stop", "log", "addresses", "path", "method", "size", "interface",
		"process_name", "cmdline", "category", "keyword"}
}

func osKeys() []string { return []string{"shutdown", "reboot"} }

// monitorAlias maps CLUSTERPRO's type names to ours.
func monitorAlias(s string) (string, bool) {
	for _, a := range [][2]string{{"pidw", MonitorPID}, {"genw", MonitorCustom}, {"ipw", MonitorIP},
		{"diskw", MonitorDisk}, {"miiw", MonitorNIC}, {"psw", MonitorProcess}, {"userw", MonitorUser}, {"mrw", MonitorMessage}, {"fipw", MonitorFIP}} {
		if a[0] == s {
			return a[1], true
		}
	}
	return "", false
}

func monitorTypes() []string {
	return []string{MonitorPID, MonitorCustom, MonitorIP, MonitorDisk, MonitorNIC, MonitorProcess, MonitorUser, MonitorMessage, MonitorFIP}
}

// monitorDefaults are the interval, timeout and retry count of each kind. They are shorter than
// CLUSTERPRO's (genw checks every 60 s there): a failure should be noticed in seconds.
func monitorDefaults(kind string) (interval, timeout time.Duration, retry int) {
	switch kind {
	case MonitorPID:
		return time.Second, 10 * time.Second, 0
	case MonitorCustom:
		return 10 * time.Second, 60 * time.Second, 1
	case MonitorIP:
		return 5 * time.Second, 3 * time.Second, 1
	case MonitorDisk:
		return 10 * time.Second, 30 * time.Second, 0
	case MonitorNIC:
		return 5 * time.Second, 5 * time.Second, 0
	case MonitorProcess:
		return 5 * time.Second, 10 * time.Second, 0
	}
	return time.Second, 10 * time.Second, 0
}

const (
	defaultResetAfter     = 10 * time.Minute
	defaultWaitStop       = 30 * time.Second
	defaultPreactionLimit = 60 * time.Second
	defaultDiskSize       = 4096
	maxDiskSize           = 64 << 20
)

func (p *parser) osTable(top *table) OS {
	o := OS{Shutdown: []string{"/sbin/shutdown", "-h", "now"}, Reboot: []string{"/sbin/shutdown", "-r", "now"}}
	t, ok := p.section(top, "os", osKeys())
	if !ok {
		return o
	}
	for _, k := range []struct {
		key string
		dst *[]string
	}{{"shutdown", &o.Shutdown}, {"reboot", &o.Reboot}} {
		list, ok := t.strList(k.key)
		if !ok {
			continue
		}
		if len(list) == 0 || !filepath.IsAbs(list[0]) {
			t.errorf(k.key, `os.%s must list a command by absolute path and its arguments, like ["/sbin/shutdown", "-h", "now"]`, k.key)
			continue
		}
		*k.dst = list
	}
	return o
}

func (p *parser) monitors(top *table, c *Config) []Monitor {
	arr, _ := top.subArray("monitor")
	var out []Monitor
	names := map[string]int{}
	for i, mm := range arr {
		t := p.table(mm, fmt.Sprintf("monitor[%d]", i), "monitor", "[[monitor]]", monitorKeys())
		t.checkUnknown()
		m := p.monitor(t, c)
		if m.Name != "" {
			t.unique(names, m.Name, "monitor.name %q is already used at line %d: give each monitor a unique name")
		}
		out = append(out, m)
	}
	return out
}

func (p *parser) monitor(t *table, c *Config) Monitor {
	m := Monitor{Line: t.line, Timing: TimingAlways, TimeoutIsError: true, FailoverThreshold: 1,
		FinalAction: ActionNone, ResetAfter: defaultResetAfter, Mode: ModeSync, WaitStop: defaultWaitStop,
		RecoveryScriptTimeout: defaultPreactionLimit, Method: DiskRead, Size: defaultDiskSize}
	m.Name, _ = t.ident("name")
	m.Comment, _ = t.str("comment")
	if s, ok := t.str("type"); ok {
		if a, alias := monitorAlias(s); alias {
			s = a
		}
		if slices.Contains(monitorTypes(), s) {
			m.Type = s
		} else {
			t.errorf("type", "monitor.type %q is not valid: use %s (or CLUSTERPRO's pidw, genw, ipw, diskw, miiw, psw, userw, mrw, fipw)", s, orList(monitorTypes()))
		}
	} else if !t.has("type") {
		t.required("type", `"pid"`)
	}
	m.Interval, m.Timeout, m.Retry = monitorDefaults(m.Type)
	if d, ok := t.duration("interval"); ok {
		m.Interval = d
	}
	if d, ok := t.duration("timeout"); ok {
		m.Timeout = d
	}
	t.count("retry", &m.Retry)
	if t.has("start_wait") {
		if s, ok := t.m["start_wait"].(int64); ok && s == 0 {
			m.StartWait = 0
		} else if d, ok := t.duration("start_wait"); ok {
			m.StartWait = d
		}
	}
	if n, ok := t.intRange("nice", -20, 19); ok {
		m.Nice = n
	}
	if b, ok := t.boolean("timeout_is_error"); ok {
		m.TimeoutIsError = b
	}
	p.monitorTarget(t, c, &m)
	p.monitorRecovery(t, c, &m)
	p.monitorKind(t, c, &m)
	return m
}

// monitorTarget reads the watched resource and the timing.
func (p *parser) monitorTarget(t *table, c *Config, m *Monitor) {
	if s, ok := t.str("target"); ok {
		if _, _, found := c.Resource(s); !found {
			t.errorf("target", "monitor.target names unknown resource %q: name a resource declared in a [[group.resource]] table", s)
		} else {
			m.Target = s
		}
	}
	if v, ok := t.enum("timing", TimingAlways, TimingActive); ok {
		m.Timing = v
	} else if !t.has("timing") && m.Target != "" {
		// A monitor tied to a resource watches it where it runs, as CLUSTERPRO's pidw must.
		m.Timing = TimingActive
	}
	if m.Timing == TimingActive && m.Target == "" && !t.has("target") {
		t.errorf("timing", `monitor.timing "active" needs a target: add target = "<resource>" (the monitor runs while that resource is Online here)`)
	}
}

// monitorRecovery reads the recovery ladder.
func (p *parser) monitorRecovery(t *table, c *Config, m *Monitor) {
	if s, ok := t.str("recovery_target"); ok {
		switch gi, _, isRes := c.Resource(s); {
		case s == LocalServer:
			m.RecoveryTarget, m.RecoveryKind = s, TargetServer
		case isRes:
			m.RecoveryTarget, m.RecoveryKind, m.RecoveryGroup = s, TargetResource, c.Groups[gi].Name
		default:
			if _, isGroup := c.Group(s); isGroup {
				m.RecoveryTarget, m.RecoveryKind, m.RecoveryGroup = s, TargetGroup, s
			} else {
				t.errorf("recovery_target", "monitor.recovery_target %q names no resource or group: name a [[group.resource]], a [[group]], or %q (this server's cluster service)", s, LocalServer)
			}
		}
	} else if !t.has("recovery_target") {
		if m.Target != "" {
			// CLUSTERPRO's default recovery target is the group of the watched resource.
			gi, _, _ := c.Resource(m.Target)
			m.RecoveryTarget, m.RecoveryKind, m.RecoveryGroup = c.Groups[gi].Name, TargetGroup, c.Groups[gi].Name
		} else {
			m.RecoveryTarget, m.RecoveryKind = LocalServer, TargetServer
		}
	}
	if s, ok := t.str("recovery_script"); ok {
		if s == "" {
			t.errorf("recovery_script", "monitor.recovery_script must not be empty: remove it to run no script")
		} else {
			m.RecoveryScript = p.checkedFile(t, "recovery_script", s)
		}
	}
	if d, ok := t.duration("recovery_script_timeout"); ok {
		m.RecoveryScriptTimeout = d
	}
	t.count("recovery_script_threshold", &m.RecoveryThreshold)
	t.count("restart_threshold", &m.RestartThreshold)
	t.count("failover_threshold", &m.FailoverThreshold)
	if v, ok := t.enum("final_action", finalActions...); ok {
		m.FinalAction = v
	}
	if m.RecoveryThreshold > 0 && m.RecoveryScript == "" && !t.has("recovery_script") {
		t.errorf("recovery_script_threshold", "monitor.recovery_script_threshold is %d but there is no recovery_script: add recovery_script = \"preaction.sh\" or set the threshold to 0", m.RecoveryThreshold)
	}
	if m.RecoveryKind == TargetServer && m.FinalAction == ActionStopGroup {
		t.errorf("final_action", `monitor.final_action "stop-group" needs a group or resource recovery_target, not %q`, LocalServer)
	}
	if t.has("reset_after") {
		if s, ok := t.m["reset_after"].(int64); ok && s == 0 {
			m.ResetAfter = 0
		} else if d, ok := t.duration("reset_after"); ok {
			m.ResetAfter = d
		}
	}
}

// monitorKind reads what the kind itself needs.
func (p *parser) monitorKind(t *table, c *Config, m *Monitor) {
	need := func(key, example string) {
		if !t.has(key) {
			t.errorf("", "monitor.%s is required for type %q: add %s = %s to this [[monitor]] table", key, m.Type, key, example)
		}
	}
	switch m.Type {
	case MonitorPID:
		if s, ok := t.str("pid_file"); ok {
			m.PIDFile = p.resolve(s)
		}
		if m.PIDFile == "" && m.Target == "" && !t.has("pid_file") && !t.has("target") {
			t.errorf("", `monitor of type "pid" needs target = "<asynchronous exec resource>" or pid_file = "/run/app.pid"`)
		}
		if m.Target != "" && m.PIDFile == "" && m.Timing == TimingAlways && t.has("timing") {
			t.errorf("timing", `monitor.timing "always" cannot watch the process of %q: it runs only where its group runs; remove timing (a pid monitor of a resource is "active")`, m.Target)
		}
		if m.Target != "" && m.PIDFile == "" {
			if _, r, _ := c.Resource(m.Target); r.StartMode != ModeAsync {
				t.errorf("target", `monitor.target %q is not an asynchronous exec resource: a pid monitor watches the process of an asynchronous start (set start_mode = "async" on it), or give pid_file`, m.Target)
			}
		}
	case MonitorCustom:
		if s, ok := t.str("script"); ok {
			m.Script = p.checkedFile(t, "script", s)
		} else {
			need("script", `"genw.sh"`)
		}
		m.Args, _ = t.strList("args")
		if v, ok := t.enum("mode", ModeSync, ModeAsync); ok {
			m.Mode = v
		}
		if n, ok := t.intRange("normal_value", 0, 255); ok {
			m.NormalValue = n
		}
		if d, ok := t.duration("wait_stop"); ok {
			m.WaitStop = d
		}
	case MonitorIP:
		m.Addresses, _ = t.strList("addresses")
		if len(m.Addresses) == 0 && !t.has("addresses") {
			need("addresses", `["192.168.0.1"]`)
		} else if t.has("addresses") && len(m.Addresses) == 0 {
			t.errorf("addresses", "monitor.addresses is empty: list the addresses to ping")
		}
	case MonitorDisk:
		if s, ok := t.str("path"); ok {
			m.Path = p.resolve(s)
		} else {
			need("path", `"/dev/sdb1"`)
		}
		if v, ok := t.enum("method", DiskRead, DiskWrite); ok {
			m.Method = v
		}
		if n, ok := t.intRange("size", 1, maxDiskSize); ok {
			m.Size = n
		}
	case MonitorNIC:
		if s, ok := t.str("interface"); ok && s != "" {
			m.Interface = s
		} else if !ok {
			need("interface", `"eth0"`)
		}
	case MonitorProcess:
		if s, ok := t.str("process_name"); ok && s != "" {
			m.ProcessName = s
		} else if !ok {
			need("process_name", `"java"`)
		}
		m.Cmdline, _ = t.str("cmdline")
	case MonitorFIP:
		if m.Target == "" && !t.has("target") {
			need("target", `"fip1"`)
		} else if _, r, ok := c.Resource(m.Target); ok && r.Type != TypeFIP {
			t.errorf("target", "monitor.target %q is of type %q: a fip monitor watches the address of a resource of type \"fip\"", m.Target, r.Type)
		}
		if m.Timing == TimingAlways && t.has("timing") {
			t.errorf("timing", `monitor.timing "always" cannot watch a floating address: it is only on the server where its resource is Online; remove timing`)
		}
	case MonitorMessage:
		// CLUSTERPRO's default category is the monitor's name.
		m.Category = m.Name
		if s, ok := t.str("category"); ok && s != "" {
			m.Category = s
		}
		m.Keyword, _ = t.str("keyword")
	}
	if s, ok := t.str("log"); ok && s != "" {
		m.Log = p.resolve(s)
	}
	for _, k := range kindKeys() {
		if t.has(k.key) && !slices.Contains(k.kinds, m.Type) && m.Type != "" {
			t.errorf(k.key, "monitor.%s does not apply to type %q: remove it", k.key, m.Type)
		}
	}
}

func kindKeys() []struct {
	key   string
	kinds []string
} {
	return []struct {
		key   string
		kinds []string
	}{
		{"pid_file", []string{MonitorPID}},
		{"script", []string{MonitorCustom}}, {"args", []string{MonitorCustom}}, {"mode", []string{MonitorCustom}},
		{"normal_value", []string{MonitorCustom}}, {"wait_stop", []string{MonitorCustom}},
		{"addresses", []string{MonitorIP}},
		{"path", []string{MonitorDisk}}, {"method", []string{MonitorDisk}}, {"size", []string{MonitorDisk}},
		{"interface", []string{MonitorNIC}},
		{"process_name", []string{MonitorProcess}}, {"cmdline", []string{MonitorProcess}},
		{"category", []string{MonitorMessage}}, {"keyword", []string{MonitorMessage}},
	}
}

// checkedFile resolves a script path and checks it is a regular file now, so that a typo shows
// up when the configuration is loaded instead of at the first failure.
func (p *parser) checkedFile(t *table, key, s string) string {
	path := p.resolve(s)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.errorf(key, "%s %q does not exist: create it or fix the path", t.keyName(key), path)
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		t.errorf(key, "%s %q cannot be checked: %v: fix its directory's permissions", t.keyName(key), path, err)
	case !fi.Mode().IsRegular():
		t.errorf(key, "%s %q is not a regular file: point it at the script itself", t.keyName(key), path)
	}
	return path
}
