package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Defaults not already spelled out by the exported constants.
const (
	storeEmbedded = "embedded"
	storeExternal = "external"
	typeExec      = "exec"

	defaultHeartbeatInterval = time.Second
	defaultHeartbeatTimeout  = 5 * time.Second
	defaultAPITimeout        = 30 * time.Minute
	// minHeartbeatTimeout is etcd's minimum lease TTL; the heartbeat timeout becomes that TTL.
	minHeartbeatTimeout = 2 * time.Second
	// defaultScriptTimeout is CLUSTERPRO's default exec resource timeout.
	defaultScriptTimeout = 1800 * time.Second
	maxRetry             = 99

	defaultDataDir = "/var/lib/clpkit"
	defaultLogDir  = "/var/log/clpkit"
	defaultRunDir  = "/run/clpkit"

	etcdClientPort = "2379"
	etcdPeerPort   = "2380"
	maxNameLen     = 63
)

func topKeys() []string     { return []string{"cluster", "timing", "store", "paths", "server", "group"} }
func clusterKeys() []string { return []string{"name", "comment"} }
func timingKeys() []string {
	return []string{"heartbeat_interval", "heartbeat_timeout", "api_timeout"}
}
func storeKeys() []string { return []string{"mode", "endpoints"} }
func pathsKeys() []string { return []string{"data_dir", "log_dir", "run_dir"} }
func serverKeys() []string {
	return []string{"name", "address", "comment", "etcd_client_url", "etcd_peer_url"}
}
func groupKeys() []string { return []string{"name", "comment", "servers", "auto_start", "resource"} }
func resourceKeys() []string {
	return []string{"name", "type", "depends", "start", "stop", "start_mode", "stop_mode",
		"start_timeout", "stop_timeout", "log", "activation_retry", "activation_final_action",
		"deactivation_retry", "deactivation_final_action"}
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
	c.Store = p.store(top)
	c.Paths = p.paths(top)
	c.Servers = p.servers(top, c.Store.Mode == storeEmbedded)
	var refs []resourceRef
	c.Groups, refs = p.groups(top, c)
	p.checkDepends(c, refs)
	return c
}

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
	m, ok := top.sub("cluster")
	if !ok {
		if !top.has("cluster") {
			p.errorf(0, `[cluster] table is missing: add [cluster] with name = "..."`)
		}
		return cl
	}
	t := p.table(m, "cluster", "cluster", "[cluster]", clusterKeys())
	t.checkUnknown()
	cl.Name, _ = t.ident("name")
	cl.Comment, _ = t.str("comment")
	return cl
}

func (p *parser) timing(top *table) Timing {
	tm := Timing{
		HeartbeatInterval: defaultHeartbeatInterval,
		HeartbeatTimeout:  defaultHeartbeatTimeout,
		APITimeout:        defaultAPITimeout,
	}
	m, ok := top.sub("timing")
	if !ok {
		return tm
	}
	t := p.table(m, "timing", "timing", "[timing]", timingKeys())
	t.checkUnknown()
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
	if !valid {
		return tm
	}
	timeout := tm.HeartbeatTimeout.String()
	if !t.has("heartbeat_timeout") {
		timeout += ", the default"
	}
	switch {
	case tm.HeartbeatTimeout < minHeartbeatTimeout:
		t.errorf("heartbeat_timeout", "timing.heartbeat_timeout (%s) is below etcd's minimum lease TTL: use at least %q",
			timeout, minHeartbeatTimeout.String())
	case tm.HeartbeatTimeout <= tm.HeartbeatInterval:
		key := "heartbeat_timeout"
		if !t.has(key) {
			key = "heartbeat_interval"
		}
		t.errorf(key, "timing.heartbeat_timeout (%s) must be greater than timing.heartbeat_interval (%s): raise the timeout or lower the interval",
			timeout, tm.HeartbeatInterval)
	}
	return tm
}

func (p *parser) store(top *table) Store {
	st := Store{Mode: storeEmbedded}
	m, ok := top.sub("store")
	if !ok {
		return st
	}
	t := p.table(m, "store", "store", "[store]", storeKeys())
	t.checkUnknown()
	modeOK := true
	if mode, ok := t.enum("mode", storeEmbedded, storeExternal); ok {
		st.Mode = mode
	} else if t.has("mode") {
		modeOK = false
	}
	eps, epsOK := t.strList("endpoints")
	for _, e := range eps {
		if st.Mode == storeExternal && !isHTTPURL(e) {
			t.errorf("endpoints", `store.endpoints %q is not valid: use an http:// or https:// URL like "http://192.168.0.10:2379"`, e)
			epsOK = false
		}
	}
	switch {
	case !modeOK:
	case st.Mode == storeExternal && !t.has("endpoints"):
		t.errorf("mode", `store.endpoints is required when store.mode is "external": list the etcd client URLs, like endpoints = ["http://192.168.0.10:2379"]`)
	case st.Mode == storeExternal && epsOK && len(eps) == 0:
		t.errorf("endpoints", `store.endpoints is empty: list the external etcd client URLs, like ["http://192.168.0.10:2379"]`)
	case st.Mode == storeEmbedded && t.has("endpoints"):
		t.errorf("endpoints", `store.endpoints is only allowed when store.mode is "external": remove it or set mode = "external"`)
	}
	if epsOK && st.Mode == storeExternal {
		st.Endpoints = eps
	}
	return st
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
}

func (p *parser) paths(top *table) Paths {
	ps := Paths{DataDir: defaultDataDir, LogDir: defaultLogDir, RunDir: defaultRunDir}
	m, ok := top.sub("paths")
	if !ok {
		return ps
	}
	t := p.table(m, "paths", "paths", "[paths]", pathsKeys())
	t.checkUnknown()
	ps.DataDir = p.dirPath(t, "data_dir", defaultDataDir)
	ps.LogDir = p.dirPath(t, "log_dir", defaultLogDir)
	ps.RunDir = p.dirPath(t, "run_dir", defaultRunDir)
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

func (p *parser) servers(top *table, embedded bool) []Server {
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
			if line, dup := names[name]; dup {
				t.errorf("name", "server.name %q is already used at line %d: give each server a unique name", name, line)
			} else {
				names[name] = t.keyLine("name")
			}
			s.Name = name
		}
		s.Comment, _ = t.str("comment")
		s.Address = serverAddress(t)
		s.EtcdClientURL = etcdURL(t, "etcd_client_url", s.Address, etcdClientPort)
		s.EtcdPeerURL = etcdURL(t, "etcd_peer_url", s.Address, etcdPeerPort)
		out = append(out, s)
		tables = append(tables, t)
	}
	if embedded {
		checkListeners(out, tables)
	}
	return out
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
		t.errorf("address", `server.address %q is not valid: use an IP address like "192.168.0.10" (no host name, no zone)`, addr)
		return ""
	}
	return addr
}

// etcdURL returns the URL set for key, or the default built from addr; "" when neither is valid.
func etcdURL(t *table, key, addr, port string) string {
	v, ok := t.str(key)
	switch {
	case ok && !isHTTPURL(v):
		t.errorf(key, `server.%s %q is not valid: use an http:// or https:// URL like "http://192.168.0.10:%s"`, key, v, port)
		return ""
	case ok:
		return v
	case t.has(key) || addr == "":
		return ""
	}
	return "http://" + net.JoinHostPort(addr, port)
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
				what := "server." + l.key
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
			if line, dup := names[name]; dup {
				t.errorf("name", "group.name %q is already used at line %d: give each group a unique name", name, line)
			} else {
				names[name] = t.keyLine("name")
			}
			g.Name = name
		}
		g.Comment, _ = t.str("comment")
		g.Servers = p.groupServers(t, c.Servers)
		if b, ok := t.boolean("auto_start"); ok {
			g.AutoStart = b
		}
		res, _ := t.subArray("resource")
		for j, rm := range res {
			rt := p.table(rm, fmt.Sprintf("%s.resource[%d]", path, j), "group.resource", "[[group.resource]]", resourceKeys())
			rt.checkUnknown()
			r := p.resource(rt, g.Name, c.Paths.LogDir)
			if r.Name != "" {
				if line, dup := resNames[r.Name]; dup {
					rt.errorf("name", "group.resource.name %q is already used at line %d: resource names must be unique across the cluster", r.Name, line)
				} else {
					resNames[r.Name] = rt.keyLine("name")
				}
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
		ActivationFinalAction:   ActionStopGroup,
		DeactivationFinalAction: ActionNone,
		Line:                    t.line,
	}
	r.Name, _ = t.ident("name")
	typ, typeOK := t.enum("type", typeExec)
	if !typeOK && !t.has("type") {
		t.required("type", `"exec"`)
	}
	r.Type = typ
	r.Depends, _ = t.strList("depends")
	if typ == typeExec {
		r.Start = p.script(t, "start")
		r.Stop = p.script(t, "stop")
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
	if n, ok := t.intRange("activation_retry", 0, maxRetry); ok {
		r.ActivationRetry = n
	}
	if v, ok := t.enum("activation_final_action", ActionNone, ActionStopGroup, ActionStopCluster); ok {
		r.ActivationFinalAction = v
	}
	if n, ok := t.intRange("deactivation_retry", 0, maxRetry); ok {
		r.DeactivationRetry = n
	}
	// Stopping the group is no way out of a failed stop: the group is already stopping.
	if v, ok := t.enum("deactivation_final_action", ActionNone, ActionStopCluster); ok {
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
			line := p.lines.find(fmt.Sprintf("group[%d].resource[%d].depends", g, cycle[0]))
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
