// Package config holds the TOML cluster configuration: its types, defaults and validation.
// Every error that comes from the file names it as "file:line: what is wrong" so an operator can
// go straight to the line.
package config

import "time"

// Config is a whole cluster configuration, after defaults are applied and paths resolved.
type Config struct {
	// File is the absolute path the configuration was read from.
	File    string
	Cluster Cluster
	Timing  Timing
	Store   Store
	Paths   Paths
	TLS     TLS
	Fencing Fencing
	Servers []Server
	Groups  []Group
}

// Cluster names the cluster.
type Cluster struct {
	Name    string
	Comment string
}

// Timing holds the heartbeat and API timings. Defaults: interval 100ms, timeout 1s, fence
// fraction 0.5, API 30m.
type Timing struct {
	// HeartbeatInterval is how often a server renews its lease.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is the lease TTL: a server silent this long is Offline. Whole seconds.
	HeartbeatTimeout time.Duration
	// FenceFraction places the fencing deadline: a server that has had no renewal acknowledged
	// for FenceFraction × HeartbeatTimeout (counted from the renewal's send time) stops its
	// groups; the store cannot expire its lease before the whole HeartbeatTimeout.
	FenceFraction float64
	// APITimeout is how long clpgrp/clpcl wait for an operation unless --apito says otherwise.
	APITimeout time.Duration
}

// Store says where coordination state lives.
type Store struct {
	// Mode is "embedded" (default: clpd runs an etcd member in its data dir) or "external".
	Mode string
	// Endpoints are the client URLs of an external etcd cluster (Mode "external" only).
	Endpoints []string
	// ElectionTimeout is the embedded member's etcd election timeout (its heartbeat tick is a
	// tenth of it). etcd's shortest lease is ceil(1.5 × ElectionTimeout) seconds.
	ElectionTimeout time.Duration
}

// TLS names the certificates the store (and, between servers, the API) is secured with: Dir holds
// ca.crt, <server>.crt and <server>.key. Default <data_dir>/pki; a one-server embedded store
// creates them when they are missing.
type TLS struct {
	Dir string
	// DirSet says the file named Dir; otherwise it is the default.
	DirSet bool
}

// Fencing says what keeps a server's groups from outliving its lease when clpd itself cannot act.
type Fencing struct {
	// Guard runs clpguard, which kills the groups at the deadline if clpd is killed or frozen.
	Guard bool
	// Watchdog is "auto" (the kernel watchdog when the device exists and its timeout fits below
	// the lease), "on" (required) or "off".
	Watchdog        string
	WatchdogDevice  string
	WatchdogTimeout time.Duration
}

// WatchdogFits reports whether the kernel watchdog can guard this lease: the guard pings it only
// while a stall of the whole machine would still reset it before the lease can expire, so its
// timeout must fit below the lease minus a renewal.
func (f Fencing) WatchdogFits(t Timing) bool {
	return f.WatchdogTimeout+t.HeartbeatInterval+watchdogSlack <= t.HeartbeatTimeout
}

// Paths are the directories clpd uses. Relative paths in the file are resolved against the
// directory of the configuration file. Defaults: /var/lib/clpkit, /var/log/clpkit, /run/clpkit.
type Paths struct {
	DataDir string
	LogDir  string
	RunDir  string
	// Cgroup is where the groups' cgroups live, relative to the cgroup v2 mount; "" means
	// clpkit/<cluster>.<server>.
	Cgroup string
}

// Server is one member of the cluster.
type Server struct {
	Name    string
	Address string
	Comment string
	// EtcdClientURL and EtcdPeerURL are the embedded member's listeners, always TLS.
	// Defaults: https://<Address>:2379 and https://<Address>:2380.
	EtcdClientURL string
	EtcdPeerURL   string
	// Line is where the server's table starts in the file, for later error messages.
	Line int
}

// Group is a failover group.
type Group struct {
	Name    string
	Comment string
	// Servers is the failover priority, highest first. Default: every server in file order.
	Servers []string
	// AutoStart starts the group when the cluster starts. Default true.
	AutoStart bool
	Resources []Resource
	// Line is where the group's [[group]] table starts in the file, for later error messages.
	Line int
}

// Final actions after activation or deactivation retries are exhausted.
const (
	ActionNone        = "none"
	ActionStopGroup   = "stop-group"
	ActionStopCluster = "stop-cluster"
)

// Start and stop modes of an exec resource.
const (
	ModeSync  = "sync"
	ModeAsync = "async"
)

// Resource is one resource of a group.
type Resource struct {
	Name string
	// Type is the resource kind; "exec" is the only one so far.
	Type string
	// Depends names resources of the same group that must be Online before this one starts.
	Depends []string
	// Start and Stop are absolute script paths (resolved against the config file's directory).
	Start string
	Stop  string
	// StartMode and StopMode are ModeSync (default) or ModeAsync.
	StartMode string
	StopMode  string
	// StartTimeout and StopTimeout kill the script's process group when exceeded. Default 1800s.
	StartTimeout time.Duration
	StopTimeout  time.Duration
	// Log is the file the scripts' stdout and stderr are appended to.
	// Default: <LogDir>/<group>.<resource>.log.
	Log string
	// ActivationRetry is how many times a failed start is tried again. Default 0.
	ActivationRetry int
	// ActivationFinalAction is applied when retries are exhausted. Default ActionStopGroup.
	ActivationFinalAction string
	// DeactivationRetry is how many times a failed stop is tried again. Default 0.
	DeactivationRetry int
	// DeactivationFinalAction is applied when stop retries are exhausted. Default ActionNone: the
	// resource stays Offline Failure and the group is not released, so no other server can start
	// it while it may still be half-running.
	DeactivationFinalAction string
	// Line is where the resource's [[group.resource]] table starts in the file.
	Line int
}

// Group returns the group named name, or false.
func (c *Config) Group(name string) (*Group, bool) {
	for i := range c.Groups {
		if c.Groups[i].Name == name {
			return &c.Groups[i], true
		}
	}
	return nil, false
}

// Server returns the server named name, or false.
func (c *Config) Server(name string) (*Server, bool) {
	for i := range c.Servers {
		if c.Servers[i].Name == name {
			return &c.Servers[i], true
		}
	}
	return nil, false
}
