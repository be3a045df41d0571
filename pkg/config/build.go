package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults not already spelled out by the exported constants.
const (
	storeEmbedded       = "embedded"
	storeExternal       = "external"
	typeExec            = TypeExec
	defaultUnmountRetry = 3

	// The defaults put a service back up on the standby about 1.2 s after a cable pull: the lease
	// (1 s) expires, etcd notices within its 500 ms expiry sweep, the standby starts the group.
	// The active server fences 0.5 s after its last acknowledged renewal, so a renewal path that
	// stalls for about 0.4 s is tolerated.
	defaultHeartbeatInterval = 100 * time.Millisecond
	defaultHeartbeatTimeout  = time.Second
	defaultFenceFraction     = 0.5
	minFenceFraction         = 0.2
	maxFenceFraction         = 0.8
	defaultAPITimeout        = 30 * time.Minute
	defaultStartupWait       = 5 * time.Minute
	// etcd counts leases in whole seconds.
	minHeartbeatTimeout = time.Second
	// defaultElectionShort is the embedded member's election timeout when the lease is shorter
	// than 2 s (etcd's shortest lease is ceil(1.5 × election timeout) seconds); else etcd's own
	// default applies.
	defaultElectionShort = 500 * time.Millisecond
	defaultElection      = time.Second
	// minElection is the shortest election timeout the kit gives etcd (a tick of 5 ms).
	minElection = 50 * time.Millisecond
	// leaderChangeSlack is what a change of the store's leader takes besides the election
	// timeouts: the votes, the new leader's first commit, the forwarded renewal.
	leaderChangeSlack = 100 * time.Millisecond

	watchdogAuto          = "auto"
	watchdogOn            = "on"
	watchdogOff           = "off"
	defaultWatchdogDevice = "/dev/watchdog"
	defaultWatchdogTime   = time.Second
	// watchdogSlack is the room a ping needs after the renewal it follows.
	watchdogSlack = 100 * time.Millisecond
	// defaultScriptTimeout is CLUSTERPRO's default exec resource timeout.
	defaultScriptTimeout = 1800 * time.Second
	maxRetry             = 99

	defaultDataDir = "/var/lib/clpkit"
	defaultLogDir  = "/var/log/clpkit"
	defaultRunDir  = "/run/clpkit"

	etcdClientPort = "2379"
	etcdPeerPort   = "2380"
	// apiPort is CLUSTERPRO's internal communication port.
	apiPort    = "29001"
	maxNameLen = 63
)

func topKeys() []string {
	return []string{"cluster", "timing", "store", "tls", "fencing", "paths", "os", "server", "witness", "group", "monitor"}
}
func clusterKeys() []string { return []string{"name", "comment"} }
func timingKeys() []string {
	return []string{"heartbeat_interval", "heartbeat_timeout", "fence_fraction", "api_timeout", "startup_wait"}
}
func storeKeys() []string { return []string{"mode", "endpoints", "election_timeout"} }
func tlsKeys() []string   { return []string{"dir"} }
func fencingKeys() []string {
	return []string{"guard", "watchdog", "watchdog_device", "watchdog_timeout"}
}
func pathsKeys() []string { return []string{"data_dir", "log_dir", "run_dir", "cgroup", "script_dir"} }
func serverKeys() []string {
	return []string{"name", "address", "comment", "etcd_client_url", "etcd_peer_url", "api_url"}
}
func groupKeys() []string {
	return []string{"name", "comment", "servers", "auto_start", "failback", "exclusion", "resource"}
}
func resourceKeys() []string {
	return []string{"name", "type", "depends", "start", "stop", "start_mode", "stop_mode",
		"start_timeout", "stop_timeout", "log", "activation_retry", "activation_failover_threshold", "activation_final_action",
		"deactivation_retry", "deactivation_final_action", "address", "interface", "device", "mount_point",
		"fstype", "mount_options", "fsck", "unmount_retry", "kill_users", "lazy_unmount"}
}

// resourceRef keeps a resource's table after decoding, for the cross-resource checks that need
// key lines once every group is known.
type resourceRef struct {
	group, index int
	t            *table
}

func (p *parser) build(raw map[string]any) *Config {
	top := p.table(raw, "", "", "", topKeys())
	top.checkUnknown()
	c := &Config{}
	c.Cluster = p.cluster(top)
	c.Timing = p.timing(top)
	c.Store = p.store(top, c.Timing)
	c.Paths = p.paths(top)
	c.TLS = p.tls(top, c.Paths)
	c.Fencing = p.fencing(top, c.Timing)
	c.Servers, c.Witness = p.servers(top, c.Store.Mode == storeEmbedded)
	if c.Store.Mode == storeEmbedded && len(c.Servers) == 2 && c.Witness == nil {
		// Two members make a store that stops when either server does: each needs the other for
		// a quorum, so losing one server would stop the groups of both.
		p.errorf(c.Servers[1].Line, `2 servers on an embedded store need a witness: with two etcd members, losing either server leaves the other without a quorum, and it stops its groups; add a [witness] table (name, address) for a third machine that runs clpd --witness, or add a third server`)
	}
	if c.Store.Mode == storeEmbedded && (len(c.Servers) > 1 || c.Witness != nil) {
		p.fitElection(c)
	}
	if c.Witness != nil && c.Store.Mode != storeEmbedded {
		p.errorf(c.Witness.Line, `[witness] is a member of the embedded store: with store.mode "external" the external etcd cluster is the quorum; remove [witness]`)
	}
	var refs []resourceRef
	c.OS = p.osTable(top)
	c.Groups, refs = p.groups(top, c)
	p.checkDepends(c, refs)
	c.Monitors = p.monitors(top, c)
	return c
}

// unique records name, read from t's "name" key, in names (name to the line it was first given
// at), or reports it with format (given the name and that line) when it is there already.
func (t *table) unique(names map[string]int, name, format string) {
	if line, dup := names[name]; dup {
		t.errorf("name", format, name, line)
		return
	}
	names[name] = t.keyLine("name")
}

// count reads a retry count or threshold into *dst, leaving *dst alone when the key is absent
// or wrong.
func (t *table) count(key string, dst *int) {
	if n, ok := t.intRange(key, 0, maxRetry); ok {
		*dst = n
	}
}

// finalActions are what activation_final_action and a monitor's final_action may be;
// deactivation_final_action takes all but stop-group.
var finalActions = []string{ActionNone, ActionStopGroup, ActionStopCluster, ActionShutdown, ActionReboot}

func (t *table) required(key, example string) {
	t.errorf("", "%s is required: add %s = %s to this %s table", t.keyName(key), key, example, t.header)
}

// ident reads a required name: cluster, server, group and resource names end up in etcd keys, file
// names and command lines, so they are kept to a safe alphabet.
func (t *table) ident(key string) (string, bool) {
	s, ok := t.str(key)
	if !ok {
		if !t.has(key) {
			t.required(key, `"..."`)
		}
		return "", false
	}
	if msg := nameProblem(s); msg != "" {
		t.errorf(key, "%s %s", t.keyName(key), msg)
		return "", false
	}
	return s, true
}

// nameProblem says what is wrong with a name, or "" when it is valid.
func nameProblem(s string) string {
	if s == "" {
		return "must not be empty: use letters, digits, '-', '_' or '.'"
	}
	if len(s) > maxNameLen {
		return fmt.Sprintf("%q is too long (%d bytes): use at most %d bytes", s, len(s), maxNameLen)
	}
	if !isAlnum(s[0]) {
		return fmt.Sprintf("%q is not valid: start it with a letter or digit", s)
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Sprintf("%q is not valid: use letters, digits, '-', '_' or '.'", s)
		}
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *parser) cluster(top *table) Cluster {
	var cl Cluster
	t, ok := p.section(top, "cluster", clusterKeys())
	if !ok {
		if !top.has("cluster") {
			p.errorf(0, `[cluster] table is missing: add [cluster] with name = "..."`)
		}
		return cl
	}
	cl.Name, _ = t.ident("name")
	cl.Comment, _ = t.str("comment")
	return cl
}

func (p *parser) timing(top *table) Timing {
	tm := Timing{
		HeartbeatInterval: defaultHeartbeatInterval,
		HeartbeatTimeout:  defaultHeartbeatTimeout,
		FenceFraction:     defaultFenceFraction,
		APITimeout:        defaultAPITimeout,
		StartupWait:       defaultStartupWait,
	}
	t, ok := p.section(top, "timing", timingKeys())
	if !ok {
		return tm
	}
	valid := true
	read := func(key string, dst *time.Duration) {
		if d, ok := t.duration(key); ok {
			*dst = d
		} else if t.has(key) {
			valid = false
		}
	}
	read("heartbeat_interval", &tm.HeartbeatInterval)
	read("heartbeat_timeout", &tm.HeartbeatTimeout)
	read("api_timeout", &tm.APITimeout)
	if t.has("startup_wait") {
		if n, ok := t.m["startup_wait"].(int64); ok && n == 0 {
			tm.StartupWait = 0
		} else {
			read("startup_wait", &tm.StartupWait)
		}
	}
	if f, ok := t.fraction("fence_fraction", minFenceFraction, maxFenceFraction); ok {
		tm.FenceFraction = f
	} else if t.has("fence_fraction") {
		valid = false
	}
	if !valid {
		return tm
	}
	timeout := tm.HeartbeatTimeout.String()
	if !t.has("heartbeat_timeout") {
		timeout += ", the default"
	}
	fence := time.Duration(float64(tm.HeartbeatTimeout) * tm.FenceFraction)
	switch {
	case tm.HeartbeatTimeout < minHeartbeatTimeout:
		t.errorf("heartbeat_timeout", "timing.heartbeat_timeout (%s) is below etcd's minimum lease TTL: use at least %q",
			timeout, minHeartbeatTimeout.String())
	case tm.HeartbeatTimeout%time.Second != 0:
		t.errorf("heartbeat_timeout", "timing.heartbeat_timeout (%s) is not a whole number of seconds: etcd counts leases in seconds; use %q or %q",
			timeout, tm.HeartbeatTimeout.Truncate(time.Second).String(), (tm.HeartbeatTimeout.Truncate(time.Second) + time.Second).String())
	case 2*tm.HeartbeatInterval > fence:
		key := "heartbeat_interval"
		if !t.has(key) {
			key = "heartbeat_timeout"
		}
		t.errorf(key, "timing.heartbeat_interval (%s) leaves fewer than two renewals before the fencing deadline (fence_fraction %g × heartbeat_timeout %s = %s): use an interval of at most %s",
			tm.HeartbeatInterval, tm.FenceFraction, timeout, fence, fence/2)
	}
	return tm
}

// maxElection is the longest election timeout of a store of several members with which losing
// the store's leader does not make the servers fence. When the leader goes, its followers notice
// after one to two election timeouts; until then they still forward renewals to it, and they are
// lost. A server's last acknowledged renewal may be a heartbeat_interval old when the leader
// goes, and its first renewal after the election a heartbeat_interval late. All of it must end
// before the fencing deadline, fence_fraction × heartbeat_timeout after that last renewal:
// 2 × election + 2 × interval + slack ≤ fence.
func maxElection(tm Timing) time.Duration {
	fence := time.Duration(float64(tm.HeartbeatTimeout) * tm.FenceFraction)
	return (fence - 2*tm.HeartbeatInterval - leaderChangeSlack) / 2
}

// fitElection gives a store of several members an election timeout that a change of leader fits
// in (maxElection), or refuses one the file sets that does not fit.
func (p *parser) fitElection(c *Config) {
	limit := maxElection(c.Timing)
	if !p.electionSet {
		c.Store.ElectionTimeout = max(min(c.Store.ElectionTimeout, limit), minElection)
		return
	}
	if d := c.Store.ElectionTimeout; d > limit && d > minElection {
		p.errorf(p.electionLine, "store.election_timeout (%s) lets a change of the store's leader outlast the fencing deadline, and every server would stop its groups when the leader is lost (2 × election_timeout + 2 × heartbeat_interval + %s must be at most fence_fraction × heartbeat_timeout): use at most %s, or raise timing.heartbeat_timeout",
			d, leaderChangeSlack, max(limit, minElection).Truncate(time.Millisecond))
	}
}

// fraction reads a number (integer or float) that must lie in [lo, hi].
func (t *table) fraction(key string, lo, hi float64) (float64, bool) {
	v, ok := t.m[key]
	if !ok {
		return 0, false
	}
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	default:
		t.wrongType(key, fmt.Sprintf("a number from %g to %g", lo, hi), v)
		return 0, false
	}
	if f < lo || f > hi || f != f {
		t.errorf(key, "%s %g is out of range: use %g to %g", t.keyName(key), f, lo, hi)
		return 0, false
	}
	return f, true
}

func (p *parser) store(top *table, tm Timing) Store {
	st := Store{Mode: storeEmbedded, ElectionTimeout: defaultElection}
	if tm.HeartbeatTimeout < 2*time.Second {
		st.ElectionTimeout = defaultElectionShort
	}
	t, ok := p.section(top, "store", storeKeys())
	if !ok {
		return st
	}
	modeOK := true
	if mode, ok := t.enum("mode", storeEmbedded, storeExternal); ok {
		st.Mode = mode
	} else if t.has("mode") {
		modeOK = false
	}
	eps, epsOK := t.strList("endpoints")
	for _, e := range eps {
		switch {
		case st.Mode != storeExternal:
		case !isHTTPURL(e):
			t.errorf("endpoints", `store.endpoints %q is not valid: use an https:// URL like "https://192.168.0.10:2379"`, e)
			epsOK = false
		case strings.HasPrefix(e, "http://") && !isLoopbackURL(e):
			t.errorf("endpoints", `store.endpoints %q would expose the cluster's store to the network without TLS: use https:// and name the certificates in [tls] dir`, e)
			epsOK = false
		}
	}
	switch {
	case !modeOK:
	case st.Mode == storeExternal && !t.has("endpoints"):
		t.errorf("mode", `store.endpoints is required when store.mode is "external": list the etcd client URLs, like endpoints = ["https://192.168.0.10:2379"]`)
	case st.Mode == storeExternal && epsOK && len(eps) == 0:
		t.errorf("endpoints", `store.endpoints is empty: list the external etcd client URLs, like ["https://192.168.0.10:2379"]`)
	case st.Mode == storeEmbedded && t.has("endpoints"):
		t.errorf("endpoints", `store.endpoints is only allowed when store.mode is "external": remove it or set mode = "external"`)
	}
	if epsOK && st.Mode == storeExternal {
		st.Endpoints = eps
	}
	if d, ok := t.duration("election_timeout"); ok {
		p.electionSet = true
		p.electionLine = t.keyLine("election_timeout")
		st.ElectionTimeout = d
		minTTL := time.Duration(math.Ceil(1.5*d.Seconds())) * time.Second
		switch {
		case st.Mode == storeExternal:
			t.errorf("election_timeout", "store.election_timeout applies to the embedded member only: set the external etcd's --election-timeout instead, and remove this key")
		case d < minElection:
			t.errorf("election_timeout", "store.election_timeout (%s) is too short for etcd: use at least %q", d, minElection.String())
		case minTTL > tm.HeartbeatTimeout:
			t.errorf("election_timeout", "store.election_timeout (%s) makes etcd's shortest lease %s, longer than timing.heartbeat_timeout (%s): use at most %s, or raise the heartbeat timeout",
				d, minTTL, tm.HeartbeatTimeout, time.Duration(float64(tm.HeartbeatTimeout)/1.5).Truncate(time.Millisecond))
		}
	}
	return st
}

// isLoopbackURL reports whether a URL's host is a loopback address or "localhost".
func isLoopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err == nil && ip.IsLoopback()
}

func (p *parser) tls(top *table, ps Paths) TLS {
	out := TLS{Dir: filepath.Join(ps.DataDir, "pki")}
	t, ok := p.section(top, "tls", tlsKeys())
	if !ok {
		return out
	}
	if s, ok := t.str("dir"); ok {
		if s == "" {
			t.errorf("dir", "tls.dir must not be empty: remove it to use <data_dir>/pki")
			return out
		}
		out.Dir, out.DirSet = p.resolve(s), true
	}
	return out
}

func (p *parser) fencing(top *table, tm Timing) Fencing {
	f := Fencing{Guard: true, Watchdog: watchdogAuto, WatchdogDevice: defaultWatchdogDevice, WatchdogTimeout: defaultWatchdogTime}
	t, ok := p.section(top, "fencing", fencingKeys())
	if !ok {
		return f
	}
	if b, ok := t.boolean("guard"); ok {
		f.Guard = b
	}
	if v, ok := t.enum("watchdog", watchdogAuto, watchdogOn, watchdogOff); ok {
		f.Watchdog = v
	}
	if s, ok := t.str("watchdog_device"); ok {
		if !filepath.IsAbs(s) {
			t.errorf("watchdog_device", "fencing.watchdog_device %q is not an absolute path: use a device like \"/dev/watchdog\"", s)
		} else {
			f.WatchdogDevice = s
		}
	}
	if d, ok := t.duration("watchdog_timeout"); ok {
		if d%time.Second != 0 {
			t.errorf("watchdog_timeout", "fencing.watchdog_timeout (%s) is not a whole number of seconds: kernel watchdogs count in seconds", d)
		} else {
			f.WatchdogTimeout = d
		}
	}
	if f.Watchdog == watchdogOn && !f.WatchdogFits(tm) {
		key := "watchdog"
		if t.has("watchdog_timeout") {
			key = "watchdog_timeout"
		}
		t.errorf(key, "fencing.watchdog = \"on\" needs fencing.watchdog_timeout (%s) to fit below timing.heartbeat_timeout (%s) minus a renewal, so a machine that stalls is reset before its lease can expire: raise the heartbeat timeout to at least %s",
			f.WatchdogTimeout, tm.HeartbeatTimeout, (f.WatchdogTimeout+tm.HeartbeatInterval+watchdogSlack).Round(time.Second)+time.Second)
	}
	if f.Watchdog == watchdogOn && !f.Guard {
		t.errorf("watchdog", "fencing.watchdog = \"on\" needs fencing.guard = true: the guard process feeds the watchdog")
	}
	return f
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
}

func (p *parser) paths(top *table) Paths {
	ps := Paths{DataDir: defaultDataDir, LogDir: defaultLogDir, RunDir: defaultRunDir}
	t, ok := p.section(top, "paths", pathsKeys())
	if !ok {
		ps.ScriptDir = filepath.Join(ps.DataDir, "trnreq")
		return ps
	}
	ps.DataDir = p.dirPath(t, "data_dir", defaultDataDir)
	ps.LogDir = p.dirPath(t, "log_dir", defaultLogDir)
	ps.RunDir = p.dirPath(t, "run_dir", defaultRunDir)
	ps.ScriptDir = p.dirPath(t, "script_dir", filepath.Join(ps.DataDir, "trnreq"))
	if s, ok := t.str("cgroup"); ok {
		clean := filepath.Clean("/" + s)
		if s == "" || clean == "/" || strings.Contains(s, "..") {
			t.errorf("cgroup", "paths.cgroup %q is not valid: name a directory below the cgroup v2 mount, like \"clpkit/cluster1.server1\"", s)
		} else {
			ps.Cgroup = strings.TrimPrefix(clean, "/")
		}
	}
	return ps
}

func (p *parser) dirPath(t *table, key, def string) string {
	s, ok := t.str(key)
	if !ok {
		return def
	}
	if s == "" {
		t.errorf(key, "%s must not be empty: remove it to use %s", t.keyName(key), def)
		return def
	}
	return p.resolve(s)
}

func (p *parser) servers(top *table, embedded bool) ([]Server, *Server) {
	arr, ok := top.subArray("server")
	if (ok && len(arr) == 0) || !top.has("server") {
		top.errorf("server", `no [[server]] table: declare at least one server with name and address`)
	}
	var out []Server
	var tables []*table
	names := map[string]int{}
	for i, m := range arr {
		t := p.table(m, fmt.Sprintf("server[%d]", i), "server", "[[server]]", serverKeys())
		t.checkUnknown()
		s := Server{Line: t.line}
		if name, ok := t.ident("name"); ok {
			t.unique(names, name, "server.name %q is already used at line %d: give each server a unique name")
			s.Name = name
		}
		s.Comment, _ = t.str("comment")
		s.Address = serverAddress(t)
		s.EtcdClientURL = etcdURL(t, "etcd_client_url", s.Address, etcdClientPort)
		s.EtcdPeerURL = etcdURL(t, "etcd_peer_url", s.Address, etcdPeerPort)
		s.APIURL = etcdURL(t, "api_url", s.Address, apiPort)
		out = append(out, s)
		tables = append(tables, t)
	}
	var witness *Server
	if t, ok := p.section(top, "witness", serverKeys()); ok {
		w := Server{Line: t.line}
		if name, ok := t.ident("name"); ok {
			if line, dup := names[name]; dup {
				t.errorf("name", "witness.name %q is already used by a server at line %d: give the witness a name of its own", name, line)
			}
			w.Name = name
		}
		w.Comment, _ = t.str("comment")
		w.Address = serverAddress(t)
		w.EtcdClientURL = etcdURL(t, "etcd_client_url", w.Address, etcdClientPort)
		w.EtcdPeerURL = etcdURL(t, "etcd_peer_url", w.Address, etcdPeerPort)
		witness = &w
		out = append(out, w)
		tables = append(tables, t)
	}
	if embedded {
		checkListeners(out, tables)
	}
	if witness != nil {
		out = out[:len(out)-1]
	}
	return out, witness
}

// serverAddress returns the server's IP address, or "" when it is missing or invalid. Host names
// are refused because the embedded etcd binds to the address, and binding needs an IP.
func serverAddress(t *table) string {
	addr, ok := t.str("address")
	if !ok {
		if !t.has("address") {
			t.required("address", `"192.168.0.10"`)
		}
		return ""
	}
	if ip, err := netip.ParseAddr(addr); err != nil || ip.Zone() != "" {
		t.errorf("address", `%s %q is not valid: use an IP address like "192.168.0.10" (no host name, no zone)`, t.keyName("address"), addr)
		return ""
	}
	return addr
}

// etcdURL returns the URL set for key, or the default built from addr; "" when neither is valid.
func etcdURL(t *table, key, addr, port string) string {
	v, ok := t.str(key)
	switch {
	case ok && !isHTTPURL(v):
		t.errorf(key, `%s %q is not valid: use an https:// URL like "https://192.168.0.10:%s"`, t.keyName(key), v, port)
		return ""
	case ok && strings.HasPrefix(v, "http://") && isLoopbackURL(v):
		t.errorf(key, `%s %q would open the cluster's store to every local user: use https:// (the store takes only clients with the cluster's certificates)`, t.keyName(key), v)
		return ""
	case ok && strings.HasPrefix(v, "http://"):
		t.errorf(key, `%s %q would expose the cluster's store to the network without TLS: use https:// (the store takes only clients with the cluster's certificates)`, t.keyName(key), v)
		return ""
	case ok:
		return v
	case t.has(key) || addr == "":
		return ""
	}
	return "https://" + net.JoinHostPort(addr, port)
}

// checkListeners refuses two embedded etcd listeners on one host:port: the second member could not
// bind it, which would otherwise only show when that server starts.
func checkListeners(servers []Server, tables []*table) {
	type listener struct {
		server, key string
		line        int
	}
	seen := map[string]listener{}
	for i, s := range servers {
		t := tables[i]
		for _, l := range []struct{ key, url string }{{"etcd_client_url", s.EtcdClientURL}, {"etcd_peer_url", s.EtcdPeerURL}} {
			u, err := url.Parse(l.url)
			if l.url == "" || err != nil {
				continue
			}
			if prev, dup := seen[u.Host]; dup {
				what := t.keyName(l.key)
				if !t.has(l.key) {
					what += " (the default from address)"
				}
				t.errorf(l.key, "%s %q listens on %s, already used by server.%s of server %q at line %d: give each embedded etcd listener its own address or port",
					what, l.url, u.Host, prev.key, prev.server, prev.line)
				continue
			}
			seen[u.Host] = listener{server: s.Name, key: l.key, line: t.keyLine(l.key)}
		}
	}
}

func (p *parser) groups(top *table, c *Config) ([]Group, []resourceRef) {
	arr, _ := top.subArray("group")
	var out []Group
	var refs []resourceRef
	names := map[string]int{}
	resNames := map[string]int{}
	for i, m := range arr {
		path := fmt.Sprintf("group[%d]", i)
		t := p.table(m, path, "group", "[[group]]", groupKeys())
		t.checkUnknown()
		g := Group{Line: t.line, AutoStart: true}
		if name, ok := t.ident("name"); ok {
			t.unique(names, name, "group.name %q is already used at line %d: give each group a unique name")
			g.Name = name
		}
		g.Comment, _ = t.str("comment")
		g.Servers = p.groupServers(t, c.Servers)
		if b, ok := t.boolean("auto_start"); ok {
			g.AutoStart = b
		}
		if b, ok := t.boolean("failback"); ok {
			g.Failback = b
		}
		if s, ok := t.str("exclusion"); ok {
			if msg := nameProblem(s); msg != "" {
				t.errorf("exclusion", "group.exclusion %s", msg)
			} else {
				g.Exclusion = s
			}
		}
		res, _ := t.subArray("resource")
		for j, rm := range res {
			rt := p.table(rm, fmt.Sprintf("%s.resource[%d]", path, j), "group.resource", "[[group.resource]]", resourceKeys())
			rt.checkUnknown()
			r := p.resource(rt, g.Name, c.Paths.LogDir)
			if r.Name != "" {
				rt.unique(resNames, r.Name, "group.resource.name %q is already used at line %d: resource names must be unique across the cluster")
			}
			g.Resources = append(g.Resources, r)
			refs = append(refs, resourceRef{group: i, index: j, t: rt})
		}
		out = append(out, g)
	}
	return out, refs
}

func (p *parser) groupServers(t *table, servers []Server) []string {
	list, ok := t.strList("servers")
	if !ok {
		if t.has("servers") {
			return nil
		}
		var all []string
		for _, s := range servers {
			if s.Name != "" {
				all = append(all, s.Name)
			}
		}
		return all
	}
	if len(list) == 0 {
		t.errorf("servers", "group.servers is empty: list the servers that may run the group, or remove the key to allow every server")
		return nil
	}
	known := map[string]bool{}
	for _, s := range servers {
		known[s.Name] = true
	}
	seen := map[string]bool{}
	for _, s := range list {
		switch {
		case seen[s]:
			t.errorf("servers", "group.servers lists %q twice: list each server once", s)
		case !known[s]:
			t.errorf("servers", "group.servers names unknown server %q: declare it in a [[server]] table or remove it", s)
		}
		seen[s] = true
	}
	return list
}

func (p *parser) resource(t *table, group, logDir string) Resource {
	r := Resource{
		StartMode:               ModeSync,
		StopMode:                ModeSync,
		StartTimeout:            defaultScriptTimeout,
		StopTimeout:             defaultScriptTimeout,
		ActivationFailover:      1,
		ActivationFinalAction:   ActionStopGroup,
		DeactivationFinalAction: ActionNone,
		Line:                    t.line,
	}
	r.Name, _ = t.ident("name")
	typ, typeOK := t.enum("type", typeExec, TypeFIP, TypeDisk)
	if !typeOK && !t.has("type") {
		t.required("type", `"exec"`)
	}
	r.Type = typ
	r.Depends, _ = t.strList("depends")
	switch typ {
	case typeExec:
		r.Start = p.script(t, "start")
		r.Stop = p.script(t, "stop")
	case TypeFIP:
		p.fipResource(t, &r)
	case TypeDisk:
		p.diskResource(t, &r)
	}
	for _, k := range []string{"start", "stop", "start_mode", "stop_mode", "log"} {
		if typ != typeExec && typ != "" && t.has(k) {
			t.errorf(k, "group.resource.%s applies to exec resources only, not %q: remove it", k, typ)
		}
	}
	for _, k := range []string{"address", "interface"} {
		if typ != TypeFIP && typ != "" && t.has(k) {
			t.errorf(k, "group.resource.%s applies to fip resources only: remove it", k)
		}
	}
	for _, k := range []string{"device", "mount_point", "fstype", "mount_options", "fsck", "unmount_retry", "kill_users", "lazy_unmount"} {
		if typ != TypeDisk && typ != "" && t.has(k) {
			t.errorf(k, "group.resource.%s applies to disk resources only: remove it", k)
		}
	}
	if v, ok := t.enum("start_mode", ModeSync, ModeAsync); ok {
		r.StartMode = v
	}
	if v, ok := t.enum("stop_mode", ModeSync, ModeAsync); ok {
		r.StopMode = v
	}
	if d, ok := t.duration("start_timeout"); ok {
		r.StartTimeout = d
	}
	if d, ok := t.duration("stop_timeout"); ok {
		r.StopTimeout = d
	}
	if s, ok := t.str("log"); ok {
		if s == "" {
			t.errorf("log", "group.resource.log must not be empty: remove it to log to <log_dir>/<group>.<resource>.log")
		}
		r.Log = p.resolve(s)
	} else if group != "" && r.Name != "" {
		r.Log = filepath.Join(logDir, group+"."+r.Name+".log")
	}
	t.count("activation_retry", &r.ActivationRetry)
	t.count("activation_failover_threshold", &r.ActivationFailover)
	if v, ok := t.enum("activation_final_action", finalActions...); ok {
		r.ActivationFinalAction = v
	}
	t.count("deactivation_retry", &r.DeactivationRetry)
	// Stopping the group is no way out of a failed stop: the group is already stopping.
	if v, ok := t.enum("deactivation_final_action", ActionNone, ActionStopCluster, ActionShutdown, ActionReboot); ok {
		r.DeactivationFinalAction = v
	}
	return r
}

// script resolves a start or stop script and checks it is there now, so that a typo shows up when
// the configuration is loaded instead of at the first failover.
func (p *parser) script(t *table, key string) string {
	s, ok := t.str(key)
	if !ok || s == "" {
		if ok || !t.has(key) {
			// An empty string is pointed at by its key line, a missing key by the table header.
			at := ""
			if ok {
				at = key
			}
			t.errorf(at, `group.resource.%s is required for type "exec": add %s = "path/to/%s.sh" to this [[group.resource]] table`, key, key, key)
		}
		return ""
	}
	path := p.resolve(s)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.errorf(key, "group.resource.%s script %q does not exist: create it or fix the path", key, path)
	case err != nil:
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		t.errorf(key, "group.resource.%s script %q cannot be checked: %v: fix its directory's permissions", key, path, err)
	case !fi.Mode().IsRegular():
		t.errorf(key, "group.resource.%s script %q is not a regular file: point it at the script itself", key, path)
	}
	return path
}

// checkDepends runs once every resource is known, since depends may name resources declared later.
func (p *parser) checkDepends(c *Config, refs []resourceRef) {
	type owner struct{ group, index int }
	byName := map[string]owner{}
	for _, ref := range refs {
		r := c.Groups[ref.group].Resources[ref.index]
		if _, dup := byName[r.Name]; r.Name != "" && !dup {
			byName[r.Name] = owner{ref.group, ref.index}
		}
	}
	// edges[g][i] lists the indexes, within group g, of the resources resource i depends on.
	edges := make([][][]int, len(c.Groups))
	for g := range c.Groups {
		edges[g] = make([][]int, len(c.Groups[g].Resources))
	}
	for _, ref := range refs {
		g := c.Groups[ref.group]
		r := g.Resources[ref.index]
		seen := map[string]bool{}
		for _, d := range r.Depends {
			o, known := byName[d]
			switch {
			case seen[d]:
				ref.t.errorf("depends", "group.resource.depends lists %q twice: list each resource once", d)
			case r.Name != "" && d == r.Name:
				ref.t.errorf("depends", "group.resource.depends names the resource itself (%q): remove it", d)
			case !known:
				ref.t.errorf("depends", "group.resource.depends names unknown resource %q: declare it in a [[group.resource]] table of group %q or remove it", d, g.Name)
			case o.group != ref.group:
				ref.t.errorf("depends", "group.resource.depends names %q of group %q: depend only on resources of the same group (%q)",
					d, c.Groups[o.group].Name, g.Name)
			default:
				edges[ref.group][ref.index] = append(edges[ref.group][ref.index], o.index)
			}
			seen[d] = true
		}
	}
	for g := range c.Groups {
		if cycle := findCycle(edges[g]); cycle != nil {
			names := make([]string, 0, len(cycle)+1)
			for _, i := range cycle {
				names = append(names, c.Groups[g].Resources[i].Name)
			}
			names = append(names, names[0])
			line := p.lines.Find(fmt.Sprintf("group[%d].resource[%d].depends", g, cycle[0]))
			msg := "dependency cycle: " + names[0]
			for _, n := range names[1:] {
				msg += " -> " + n
			}
			p.errorf(line, "%s: remove one of these depends", msg)
		}
	}
}

// findCycle returns one dependency cycle as node indexes, starting at its earliest node in file
// order so the report does not depend on where the search began, or nil.
func findCycle(edges [][]int) []int {
	const (
		unvisited = iota
		onStack
		done
	)
	state := make([]int, len(edges))
	var stack []int
	var found []int
	var visit func(n int) bool
	visit = func(n int) bool {
		state[n] = onStack
		stack = append(stack, n)
		for _, m := range edges[n] {
			switch state[m] {
			case onStack:
				start := len(stack) - 1
				for stack[start] != m {
					start--
				}
				found = append([]int(nil), stack[start:]...)
				return true
			case unvisited:
				if visit(m) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return false
	}
	for n := range edges {
		if state[n] == unvisited && visit(n) {
			break
		}
	}
	if found == nil {
		return nil
	}
	first := 0
	for i, n := range found {
		if n < found[first] {
			first = i
		}
	}
	return append(found[first:], found[:first]...)
}

// fipResource reads a floating IP: an address with or without its prefix length, and optionally
// the interface (default: the one whose network contains it, found when it is added).
func (p *parser) fipResource(t *table, r *Resource) {
	s, ok := t.str("address")
	if !ok {
		if !t.has("address") {
			t.errorf("", `group.resource.address is required for type "fip": add address = "192.168.0.100/24" to this [[group.resource]] table`)
		}
		return
	}
	addr := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		addr = s[:i]
	}
	ip, err := netip.ParseAddr(addr)
	if err == nil && strings.Contains(s, "/") {
		_, err = netip.ParsePrefix(s)
	}
	if err != nil || ip.Zone() != "" || ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() {
		t.errorf("address", `group.resource.address %q is not a floating address: use an IP address with its prefix length, like "192.168.0.100/24"`, s)
		return
	}
	r.Address = s
	if v, ok := t.str("interface"); ok {
		if v == "" || strings.ContainsAny(v, "/ ") || len(v) > 15 {
			t.errorf("interface", "group.resource.interface %q is not an interface name: use a name like \"eth0\", or remove it", v)
		} else {
			r.Interface = v
		}
	}
}

// diskResource reads a shared disk: the device, where to mount it, its file system, and how to
// check and let go of it.
func (p *parser) diskResource(t *table, r *Resource) {
	r.Fsck, r.UnmountRetry, r.KillUsers = FsckOnError, defaultUnmountRetry, true
	for _, k := range []struct {
		key, example string
		dst          *string
		path         bool
	}{{"device", `"/dev/sdb1"`, &r.Device, true}, {"mount_point", `"/mnt/data"`, &r.MountPoint, true}, {"fstype", `"ext4"`, &r.FSType, false}} {
		v, ok := t.str(k.key)
		switch {
		case !ok && !t.has(k.key):
			t.errorf("", `group.resource.%s is required for type "disk": add %s = %s to this [[group.resource]] table`, k.key, k.key, k.example)
		case ok && k.path && !filepath.IsAbs(v):
			t.errorf(k.key, "group.resource.%s %q is not an absolute path: use one like %s", k.key, v, k.example)
		case ok && v == "":
			t.errorf(k.key, "group.resource.%s must not be empty: use one like %s", k.key, k.example)
		case ok:
			*k.dst = filepath.Clean(v)
			if !k.path {
				*k.dst = v
			}
		}
	}
	r.MountOptions, _ = t.strList("mount_options")
	if v, ok := t.enum("fsck", FsckAlways, FsckNever, FsckOnError); ok {
		r.Fsck = v
	}
	t.count("unmount_retry", &r.UnmountRetry)
	if b, ok := t.boolean("kill_users"); ok {
		r.KillUsers = b
	}
	if b, ok := t.boolean("lazy_unmount"); ok {
		r.LazyUnmount = b
	}
}
