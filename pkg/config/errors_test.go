package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// head is a valid start that cases extend; it takes lines 1-5.
const head = `[cluster]
name = "c"
[[server]]
name = "s1"
address = "10.0.0.1"
`

// external makes the store external: appended last, it moves no line of what comes before.
const external = "[store]\nmode = \"external\"\nendpoints = [\"https://10.0.0.9:2379\"]\n"

// res declares a valid exec resource; it takes 5 lines, its header first.
func res(name string) string {
	return "[[group.resource]]\nname = \"" + name + "\"\ntype = \"exec\"\nstart = \"start.sh\"\nstop = \"stop.sh\"\n"
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"start.sh", "stop.sh"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "c.toml")
	long := strings.Repeat("a", 64)

	tests := []struct {
		name string
		toml string
		want string // "line: msg", or "msg" when the error has no line; without the file
	}{
		// TOML syntax.
		{"syntax", "[cluster\nname = \"c\"\n", `2: invalid TOML: expected '.' or ']' to end table name, but got '\n' instead`},
		{"duplicate key", "[cluster]\nname = \"c\"\nname = \"d\"\n", `3: invalid TOML: key 'cluster.name' has already been defined`},

		// Unknown keys.
		{"unknown top", "colour = 1\n" + head, `1: unknown key "colour" at the top level: accepted keys are cluster, timing, store, tls, fencing, paths, os, server, witness, group, monitor`},
		{"unknown cluster", "[cluster]\nname = \"c\"\nnmae = \"x\"\n[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\n", `3: unknown key "nmae" in [cluster]: accepted keys are name, comment`},
		{"unknown server", head + "port = 1\n", `6: unknown key "port" in [[server]]: accepted keys are name, address, comment, etcd_client_url, etcd_peer_url, api_url`},
		{"unknown timing", head + "[timing]\nheartbeat = \"1s\"\n", `7: unknown key "heartbeat" in [timing]: accepted keys are heartbeat_interval, heartbeat_timeout, fence_fraction, api_timeout, startup_wait`},
		{"unknown store", head + "[store]\nendpoint = []\n", `7: unknown key "endpoint" in [store]: accepted keys are mode, endpoints, election_timeout`},
		{"unknown paths", head + "[paths]\nlib_dir = \"x\"\n", `7: unknown key "lib_dir" in [paths]: accepted keys are data_dir, log_dir, run_dir, cgroup, script_dir`},
		{"unknown group", head + "[[group]]\nname = \"g\"\nfailover_policy = 1\n", `8: unknown key "failover_policy" in [[group]]: accepted keys are name, comment, servers, auto_start, failback, exclusion, resource`},
		{"unknown resource", head + "[[group]]\nname = \"g\"\n" + res("r") + "retry = 1\n", `13: unknown key "retry" in [[group.resource]]: accepted keys are name, type, depends, start, stop, start_mode, stop_mode, start_timeout, stop_timeout, log, activation_retry, activation_failover_threshold, activation_final_action, deactivation_retry, deactivation_final_action, address, interface, device, mount_point, fstype, mount_options, fsck, unmount_retry, kill_users, lazy_unmount`},
		{"unknown subtable", head + "[server.extra]\nx = 1\n", `6: unknown key "extra" in [[server]]: accepted keys are name, address, comment, etcd_client_url, etcd_peer_url, api_url`},

		// Wrong value types.
		{"type string", "[cluster]\nname = 1\n[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\n", `2: cluster.name must be a string, not an integer`},
		{"type bool", head + "[[group]]\nname = \"g\"\nauto_start = \"yes\"\n", `8: group.auto_start must be true or false, not a string`},
		{"type array", head + "[[group]]\nname = \"g\"\nservers = \"s1\"\n", `8: group.servers must be an array of strings, not a string`},
		{"type array element", head + "[[group]]\nname = \"g\"\nservers = [\"s1\", 2]\n", `8: group.servers must contain only strings, not an integer`},
		{"type table", "[[cluster]]\nname = \"c\"\n[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\n", `1: cluster must be a table ([cluster]), not an array of tables`},
		{"type array of tables", "[cluster]\nname = \"c\"\n[server]\nname = \"s1\"\n", `3: server must be an array of tables ([[server]]), not a table`},
		{"type implicit table", head + "[[group.resource]]\nname = \"r\"\n", `6: group must be an array of tables ([[group]]), not a table`},
		{"type inline array", "group = [1]\n" + head, `1: group must contain only tables, not an integer`},
		{"type duration", head + "[timing]\napi_timeout = true\n", `7: timing.api_timeout must be a duration string like "1s" or an integer number of seconds, not a boolean`},
		{"type duration float", head + "[timing]\napi_timeout = 1.5\n", `7: timing.api_timeout must be a duration string like "1s" or an integer number of seconds, not a float`},
		{"type integer", head + "[[group]]\nname = \"g\"\n" + res("r") + "activation_retry = 1.5\n", `13: group.resource.activation_retry must be an integer from 0 to 99, not a float`},
		{"type datetime", head + "[[group]]\nname = \"g\"\ncomment = 2024-01-01\n", `8: group.comment must be a string, not a date or time`},

		// Names.
		{"name missing", "[cluster]\ncomment = \"x\"\n[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\n", `1: cluster.name is required: add name = "..." to this [cluster] table`},
		{"name empty", head + "[[group]]\nname = \"\"\n", `7: group.name must not be empty: use letters, digits, '-', '_' or '.'`},
		{"name chars", "[cluster]\nname = \"c\"\n[[server]]\nname = \"a b\"\naddress = \"10.0.0.1\"\n", `4: server.name "a b" is not valid: use letters, digits, '-', '_' or '.'`},
		{"name start", head + "[[group]]\nname = \"-g\"\n", `7: group.name "-g" is not valid: start it with a letter or digit`},
		{"name long", head + "[[group]]\nname = \"g\"\n" + res(long), `9: group.resource.name "` + long + `" is too long (64 bytes): use at most 63 bytes`},
		{"server name missing", "[cluster]\nname = \"c\"\n[[server]]\naddress = \"10.0.0.1\"\n", `3: server.name is required: add name = "..." to this [[server]] table`},
		{"duplicate server", head + "[[server]]\nname = \"s1\"\naddress = \"10.0.0.2\"\n" + external, `7: server.name "s1" is already used at line 4: give each server a unique name`},
		{"two servers on embedded stores without a witness", head + "[[server]]\nname = \"s2\"\naddress = \"10.0.0.2\"\n", `6: 2 servers on an embedded store need a witness: with two etcd members, losing either server leaves the other without a quorum, and it stops its groups; add a [witness] table (name, address) for a third machine that runs clpd --witness, or add a third server`},
		{"witness named like a server", head + "[[server]]\nname = \"s2\"\naddress = \"10.0.0.2\"\n[witness]\nname = \"s1\"\naddress = \"10.0.0.3\"\n", `10: witness.name "s1" is already used by a server at line 4: give the witness a name of its own`},
		{"witness on the listener of a server", head + "[[server]]\nname = \"s2\"\naddress = \"10.0.0.2\"\n[witness]\nname = \"w\"\naddress = \"10.0.0.1\"\n", `9: witness.etcd_client_url (the default from address) "https://10.0.0.1:2379" listens on 10.0.0.1:2379, already used by server.etcd_client_url of server "s1" at line 3: give each embedded etcd listener its own address or port`},
		{"witness with an external store", head + "[witness]\nname = \"w\"\naddress = \"10.0.0.3\"\n" + external, `6: [witness] is a member of the embedded store: with store.mode "external" the external etcd cluster is the quorum; remove [witness]`},
		{"witness address", head + "[[server]]\nname = \"s2\"\naddress = \"10.0.0.2\"\n[witness]\nname = \"w\"\naddress = \"witness.example\"\n", `11: witness.address "witness.example" is not valid: use an IP address like "192.168.0.10" (no host name, no zone)`},
		{"duplicate group", head + "[[group]]\nname = \"g\"\n[[group]]\nname = \"g\"\n", `9: group.name "g" is already used at line 7: give each group a unique name`},
		{"duplicate resource across groups", head + "[[group]]\nname = \"g1\"\n" + res("r") + "[[group]]\nname = \"g2\"\n" + res("r"), `16: group.resource.name "r" is already used at line 9: resource names must be unique across the cluster`},

		// Cluster, servers.
		{"cluster missing", "[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\n", `[cluster] table is missing: add [cluster] with name = "..."`},
		{"no server", "[cluster]\nname = \"c\"\n", `no [[server]] table: declare at least one server with name and address`},
		{"empty server array", "server = []\n[cluster]\nname = \"c\"\n", `1: no [[server]] table: declare at least one server with name and address`},
		{"address missing", "[cluster]\nname = \"c\"\n[[server]]\nname = \"s1\"\n", `3: server.address is required: add address = "192.168.0.10" to this [[server]] table`},
		{"address host name", "[cluster]\nname = \"c\"\n[[server]]\nname = \"s1\"\naddress = \"node1\"\n", `5: server.address "node1" is not valid: use an IP address like "192.168.0.10" (no host name, no zone)`},
		{"address zone", "[cluster]\nname = \"c\"\n[[server]]\nname = \"s1\"\naddress = \"fe80::1%eth0\"\n", `5: server.address "fe80::1%eth0" is not valid: use an IP address like "192.168.0.10" (no host name, no zone)`},
		{"etcd url", head + "etcd_peer_url = \"10.0.0.1:2380\"\n", `6: server.etcd_peer_url "10.0.0.1:2380" is not valid: use an https:// URL like "https://192.168.0.10:2380"`},
		{"etcd listener clash default", head + "[[server]]\nname = \"s2\"\naddress = \"10.0.0.1\"\n", `6: server.etcd_client_url (the default from address) "https://10.0.0.1:2379" listens on 10.0.0.1:2379, already used by server.etcd_client_url of server "s1" at line 3: give each embedded etcd listener its own address or port`},
		{"etcd listener clash explicit", head + "etcd_client_url = \"https://10.0.0.1:2380\"\n", `3: server.etcd_peer_url (the default from address) "https://10.0.0.1:2380" listens on 10.0.0.1:2380, already used by server.etcd_client_url of server "s1" at line 6: give each embedded etcd listener its own address or port`},

		// Groups' servers.
		{"group unknown server", head + "[[group]]\nname = \"g\"\nservers = [\"s2\"]\n", `8: group.servers names unknown server "s2": declare it in a [[server]] table or remove it`},
		{"group repeated server", head + "[[group]]\nname = \"g\"\nservers = [\"s1\", \"s1\"]\n", `8: group.servers lists "s1" twice: list each server once`},
		{"group no servers", head + "[[group]]\nname = \"g\"\nservers = []\n", `8: group.servers is empty: list the servers that may run the group, or remove the key to allow every server`},

		// Depends.
		{"depends unknown", head + "[[group]]\nname = \"g\"\n" + res("a") + "depends = [\"b\"]\n", `13: group.resource.depends names unknown resource "b": declare it in a [[group.resource]] table of group "g" or remove it`},
		{"depends self", head + "[[group]]\nname = \"g\"\n" + res("a") + "depends = [\"a\"]\n", `13: group.resource.depends names the resource itself ("a"): remove it`},
		{"depends twice", head + "[[group]]\nname = \"g\"\n" + res("a") + res("b") + "depends = [\"a\", \"a\"]\n", `18: group.resource.depends lists "a" twice: list each resource once`},
		{"depends other group", head + "[[group]]\nname = \"g1\"\n" + res("a") + "[[group]]\nname = \"g2\"\n" + res("b") + "depends = [\"a\"]\n", `20: group.resource.depends names "a" of group "g1": depend only on resources of the same group ("g2")`},
		{"depends cycle", head + "[[group]]\nname = \"g\"\n" + res("a") + "depends = [\"c\"]\n" + res("b") + "depends = [\"a\"]\n" + res("c") + "depends = [\"b\"]\n", `13: dependency cycle: a -> c -> b -> a: remove one of these depends`},
		{"depends cycle not first", head + "[[group]]\nname = \"g\"\n" + res("x") + "depends = [\"b\"]\n" + res("a") + "depends = [\"b\"]\n" + res("b") + "depends = [\"a\"]\n", `19: dependency cycle: a -> b -> a: remove one of these depends`},

		// Scripts.
		{"start missing key", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"exec\"\nstop = \"stop.sh\"\n", `8: group.resource.start is required for type "exec": add start = "path/to/start.sh" to this [[group.resource]] table`},
		{"start empty", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"exec\"\nstart = \"\"\nstop = \"stop.sh\"\n", `11: group.resource.start is required for type "exec": add start = "path/to/start.sh" to this [[group.resource]] table`},
		{"stop not found", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"exec\"\nstart = \"start.sh\"\nstop = \"scripts/stop.sh\"\n", `12: group.resource.stop script "` + filepath.Join(dir, "scripts", "stop.sh") + `" does not exist: create it or fix the path`},
		{"start is a directory", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"exec\"\nstart = \"scripts\"\nstop = \"stop.sh\"\n", `11: group.resource.start script "` + filepath.Join(dir, "scripts") + `" is not a regular file: point it at the script itself`},

		// Enums.
		{"type missing", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\n", `8: group.resource.type is required: add type = "exec" to this [[group.resource]] table`},
		{"type invalid", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"nas\"\n", `10: group.resource.type "nas" is not valid: use "exec", "fip" or "disk"`},
		{"disk without device", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"disk\"\nmount_point = \"/mnt\"\nfstype = \"ext4\"\n", `8: group.resource.device is required for type "disk": add device = "/dev/sdb1" to this [[group.resource]] table`},
		{"disk relative mount point", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"disk\"\ndevice = \"/dev/sdb1\"\nmount_point = \"mnt\"\nfstype = \"ext4\"\n", `12: group.resource.mount_point "mnt" is not an absolute path: use one like "/mnt/data"`},
		{"fip address", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"fip\"\naddress = \"10.0.0.300/24\"\n", `11: group.resource.address "10.0.0.300/24" is not a floating address: use an IP address with its prefix length, like "192.168.0.100/24"`},
		{"fip with a script", head + "[[group]]\nname = \"g\"\n[[group.resource]]\nname = \"r\"\ntype = \"fip\"\naddress = \"10.0.0.100/24\"\nstart = \"start.sh\"\n", `12: group.resource.start applies to exec resources only, not "fip": remove it`},
		{"store mode", head + "[store]\nmode = \"cloud\"\n", `7: store.mode "cloud" is not valid: use "embedded" or "external"`},
		{"start mode", head + "[[group]]\nname = \"g\"\n" + res("r") + "start_mode = \"fast\"\n", `13: group.resource.start_mode "fast" is not valid: use "sync" or "async"`},
		{"activation final action", head + "[[group]]\nname = \"g\"\n" + res("r") + "activation_final_action = \"reboot\"\n", `13: group.resource.activation_final_action "reboot" is not valid: use "none", "stop-group", "stop-cluster", "stop-cluster-shutdown" or "stop-cluster-reboot"`},
		{"deactivation final action", head + "[[group]]\nname = \"g\"\n" + res("r") + "deactivation_final_action = \"stop-group\"\n", `13: group.resource.deactivation_final_action "stop-group" is not valid: use "none", "stop-cluster", "stop-cluster-shutdown" or "stop-cluster-reboot"`},

		// Monitors: the table starts at line 13, name at 14, type at 15.
		{"fip monitor without a target", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"fipw\"\n",
			`13: monitor.target is required for type "fip": add target = "fip1" to this [[monitor]] table`},
		{"fip monitor of an exec resource", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"fip\"\ntarget = \"r\"\n",
			`16: monitor.target "r" is of type "exec": a fip monitor watches the address of a resource of type "fip"`},
		{"monitor type", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"foo\"\n", `15: monitor.type "foo" is not valid: use "pid", "custom", "ip", "disk", "nic", "process", "user", "message" or "fip" (or CLUSTERPRO's pidw, genw, ipw, diskw, miiw, psw, userw, mrw, fipw)`},
		{"monitor type missing", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\n", `13: monitor.type is required: add type = "pid" to this [[monitor]] table`},
		{"pid target not async", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"pidw\"\ntarget = \"r\"\n", `16: monitor.target "r" is not an asynchronous exec resource: a pid monitor watches the process of an asynchronous start (set start_mode = "async" on it), or give pid_file`},
		{"pid without target", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"pid\"\n", `13: monitor of type "pid" needs target = "<asynchronous exec resource>" or pid_file = "/run/app.pid"`},
		{"unknown target", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"pid\"\ntarget = \"x\"\n", `16: monitor.target names unknown resource "x": name a resource declared in a [[group.resource]] table`},
		{"unknown recovery target", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"user\"\nrecovery_target = \"x\"\n", `16: monitor.recovery_target "x" names no resource or group: name a [[group.resource]], a [[group]], or "LocalServer" (this server's cluster service)`},
		{"custom without script", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"genw\"\n", `13: monitor.script is required for type "custom": add script = "genw.sh" to this [[monitor]] table`},
		{"key of another kind", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"ip\"\naddresses = [\"10.0.0.2\"]\nscript = \"start.sh\"\n", `17: monitor.script does not apply to type "ip": remove it`},
		{"active without target", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"user\"\ntiming = \"active\"\n", `16: monitor.timing "active" needs a target: add target = "<resource>" (the monitor runs while that resource is Online here)`},
		{"final action range", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"user\"\nfinal_action = \"halt\"\n", `16: monitor.final_action "halt" is not valid: use "none", "stop-group", "stop-cluster", "stop-cluster-shutdown" or "stop-cluster-reboot"`},
		{"stop-group of LocalServer", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"user\"\nfinal_action = \"stop-group\"\n", `16: monitor.final_action "stop-group" needs a group or resource recovery_target, not "LocalServer"`},
		{"recovery threshold without script", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"user\"\nrecovery_script_threshold = 1\n", `16: monitor.recovery_script_threshold is 1 but there is no recovery_script: add recovery_script = "preaction.sh" or set the threshold to 0`},
		{"duplicate monitor", head + "[[group]]\nname = \"g\"\n" + res("r") + "[[monitor]]\nname = \"m\"\ntype = \"user\"\n[[monitor]]\nname = \"m\"\ntype = \"user\"\n", `17: monitor.name "m" is already used at line 14: give each monitor a unique name`},
		{"os command relative", head + "[os]\nreboot = [\"reboot\"]\n", `7: os.reboot must list a command by absolute path and its arguments, like ["/sbin/shutdown", "-h", "now"]`},

		// Numbers and durations.
		{"retry high", head + "[[group]]\nname = \"g\"\n" + res("r") + "activation_retry = 100\n", `13: group.resource.activation_retry 100 is out of range: use 0 to 99`},
		{"retry negative", head + "[[group]]\nname = \"g\"\n" + res("r") + "deactivation_retry = -1\n", `13: group.resource.deactivation_retry -1 is out of range: use 0 to 99`},
		{"timeout zero", head + "[[group]]\nname = \"g\"\n" + res("r") + "start_timeout = 0\n", `13: group.resource.start_timeout 0 is not positive: use a duration like "1.5s", "500ms" or "30m", or a whole number of seconds`},
		{"timeout huge", head + "[[group]]\nname = \"g\"\n" + res("r") + "stop_timeout = 9223372036854775807\n", `13: group.resource.stop_timeout 9223372036854775807 is out of range: use at most 9223372036 seconds`},
		{"duration zero string", head + "[timing]\nheartbeat_interval = \"0s\"\n", `7: timing.heartbeat_interval "0s" is not positive: use a duration like "1.5s", "500ms" or "30m", or a whole number of seconds`},
		{"duration negative", head + "[timing]\napi_timeout = \"-1m\"\n", `7: timing.api_timeout "-1m" is not positive: use a duration like "1.5s", "500ms" or "30m", or a whole number of seconds`},
		{"duration syntax", head + "[timing]\napi_timeout = \"5\"\n", `7: timing.api_timeout "5" is not a valid duration: use a duration like "1.5s", "500ms" or "30m", or a whole number of seconds`},
		{"heartbeat below lease ttl", head + "[timing]\nheartbeat_interval = \"100ms\"\nheartbeat_timeout = \"500ms\"\n", `8: timing.heartbeat_timeout (500ms) is below etcd's minimum lease TTL: use at least "1s"`},
		{"heartbeat not whole seconds", head + "[timing]\nheartbeat_timeout = \"1.5s\"\n", `7: timing.heartbeat_timeout (1.5s) is not a whole number of seconds: etcd counts leases in seconds; use "1s" or "2s"`},
		{"heartbeat interval too long for the fence", head + "[timing]\nheartbeat_interval = 3\nheartbeat_timeout = \"3s\"\n", `7: timing.heartbeat_interval (3s) leaves fewer than two renewals before the fencing deadline (fence_fraction 0.5 × heartbeat_timeout 3s = 1.5s): use an interval of at most 750ms`},
		{"heartbeat interval above default timeout", head + "[timing]\nheartbeat_interval = \"10s\"\n", `7: timing.heartbeat_interval (10s) leaves fewer than two renewals before the fencing deadline (fence_fraction 0.5 × heartbeat_timeout 1s, the default = 500ms): use an interval of at most 250ms`},
		{"fence fraction range", head + "[timing]\nfence_fraction = 0.9\n", `7: timing.fence_fraction 0.9 is out of range: use 0.2 to 0.8`},
		{"fence fraction type", head + "[timing]\nfence_fraction = \"half\"\n", `7: timing.fence_fraction must be a number from 0.2 to 0.8, not a string`},

		// Store.
		{"external without endpoints", head + "[store]\nmode = \"external\"\n", `7: store.endpoints is required when store.mode is "external": list the etcd client URLs, like endpoints = ["https://192.168.0.10:2379"]`},
		{"external empty endpoints", head + "[store]\nmode = \"external\"\nendpoints = []\n", `8: store.endpoints is empty: list the external etcd client URLs, like ["https://192.168.0.10:2379"]`},
		{"external bad endpoint", head + "[store]\nmode = \"external\"\nendpoints = [\"10.0.0.1:2379\"]\n", `8: store.endpoints "10.0.0.1:2379" is not valid: use an https:// URL like "https://192.168.0.10:2379"`},
		{"external http endpoint", head + "[store]\nmode = \"external\"\nendpoints = [\"http://10.0.0.9:2379\"]\n", `8: store.endpoints "http://10.0.0.9:2379" would expose the cluster's store to the network without TLS: use https:// and name the certificates in [tls] dir`},
		{"election timeout too long for the lease", head + "[store]\nelection_timeout = \"1s\"\n", `7: store.election_timeout (1s) makes etcd's shortest lease 2s, longer than timing.heartbeat_timeout (1s): use at most 666ms, or raise the heartbeat timeout`},
		{"election timeout too long for a change of leader", head + "[[server]]\nname = \"s2\"\naddress = \"10.0.0.2\"\n[witness]\nname = \"w\"\naddress = \"10.0.0.3\"\n[store]\nelection_timeout = \"200ms\"\n", `13: store.election_timeout (200ms) lets a change of the store's leader outlast the fencing deadline, and every server would stop its groups when the leader is lost (2 × election_timeout + 2 × heartbeat_interval + 100ms must be at most fence_fraction × heartbeat_timeout): use at most 100ms, or raise timing.heartbeat_timeout`},
		{"election timeout for an external store", head + "[store]\nmode = \"external\"\nendpoints = [\"https://10.0.0.9:2379\"]\nelection_timeout = \"500ms\"\n", `9: store.election_timeout applies to the embedded member only: set the external etcd's --election-timeout instead, and remove this key`},
		{"embedded http on loopback", "[cluster]\nname = \"c\"\n[[server]]\nname = \"s1\"\naddress = \"127.0.0.1\"\netcd_client_url = \"http://127.0.0.1:2379\"\n", `6: server.etcd_client_url "http://127.0.0.1:2379" would open the cluster's store to every local user: use https:// (the store takes only clients with the cluster's certificates)`},
		{"embedded http on the network", head + "etcd_peer_url = \"http://10.0.0.1:2380\"\n", `6: server.etcd_peer_url "http://10.0.0.1:2380" would expose the cluster's store to the network without TLS: use https:// (the store takes only clients with the cluster's certificates)`},
		{"watchdog on without room", head + "[fencing]\nwatchdog = \"on\"\n", `7: fencing.watchdog = "on" needs fencing.watchdog_timeout (1s) to fit below timing.heartbeat_timeout (1s) minus a renewal, so a machine that stalls is reset before its lease can expire: raise the heartbeat timeout to at least 2s`},
		{"watchdog on without guard", head + "[timing]\nheartbeat_timeout = 3\n[fencing]\nguard = false\nwatchdog = \"on\"\n", `10: fencing.watchdog = "on" needs fencing.guard = true: the guard process feeds the watchdog`},
		{"watchdog timeout fraction", head + "[fencing]\nwatchdog_timeout = \"1500ms\"\n", `7: fencing.watchdog_timeout (1.5s) is not a whole number of seconds: kernel watchdogs count in seconds`},
		{"watchdog device relative", head + "[fencing]\nwatchdog_device = \"watchdog\"\n", `7: fencing.watchdog_device "watchdog" is not an absolute path: use a device like "/dev/watchdog"`},
		{"empty tls dir", head + "[tls]\ndir = \"\"\n", `7: tls.dir must not be empty: remove it to use <data_dir>/pki`},
		{"cgroup escapes", head + "[paths]\ncgroup = \"../x\"\n", `7: paths.cgroup "../x" is not valid: name a directory below the cgroup v2 mount, like "clpkit/cluster1.server1"`},
		{"embedded with endpoints", head + "[store]\nendpoints = [\"http://10.0.0.1:2379\"]\n", `7: store.endpoints is only allowed when store.mode is "external": remove it or set mode = "external"`},

		// Paths.
		{"empty data dir", head + "[paths]\ndata_dir = \"\"\n", `7: paths.data_dir must not be empty: remove it to use /var/lib/clpkit`},
		{"empty log", head + "[[group]]\nname = \"g\"\n" + res("r") + "log = \"\"\n", `13: group.resource.log must not be empty: remove it to log to <log_dir>/<group>.<resource>.log`},

		// Ordering and location.
		{"first by line", head + "[[group]]\nname = \"g\"\n" + res("r") + "activation_retry = 100\n[timing]\napi_timeout = 0\n", `13: group.resource.activation_retry 100 is out of range: use 0 to 99`},
		{"located before whole-file", "[[server]]\nname = \"s 1\"\naddress = \"10.0.0.1\"\n", `2: server.name "s 1" is not valid: use letters, digits, '-', '_' or '.'`},
		{"inline table points at key", "\nserver = [\n  {name = \"s1\", address = \"x\"},\n]\n[cluster]\nname = \"c\"\n", `2: server.address "x" is not valid: use an IP address like "192.168.0.10" (no host name, no zone)`},
		{"dotted key", "cluster.name = \"c\"\ncluster.comment = 5\n[[server]]\nname = \"s1\"\naddress = \"10.0.0.1\"\n", `2: cluster.comment must be a string, not an integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(file, []byte(tt.toml))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			// Cases start with the line number, or with the message for whole-file problems.
			want := file + ":" + tt.want
			if tt.want[0] < '0' || tt.want[0] > '9' {
				want = file + ": " + tt.want
			}
			if got := err.Error(); got != want {
				t.Errorf("error\n got: %s\nwant: %s", got, want)
			}
		})
	}
}

// Each case in TestParseErrors is only worth something if the same text minus the mistake loads,
// which the head and res helpers guarantee; check that once.
func TestParseHelpersValid(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"start.sh", "stop.sh"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := head + "[[group]]\nname = \"g\"\n" + res("a") + res("b") + "depends = [\"a\"]\n"
	if _, err := Parse(filepath.Join(dir, "c.toml"), []byte(src)); err != nil {
		t.Fatal(err)
	}
}
