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
	OS      OS
	Servers []Server
	// Witness is the third member of a two-server cluster's embedded store (clpd --witness runs
	// it); nil when there is none.
	Witness *Server
	Groups  []Group
	// Monitors are the monitor resources, in file order.
	Monitors []Monitor
}

// OS holds the commands the final actions that end with the machine run: tests point them at
// scripts that record the call.
type OS struct {
	// Shutdown and Reboot are argv lists. Defaults: /sbin/shutdown -h now, /sbin/shutdown -r now.
	Shutdown []string
	Reboot   []string
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
	// StartupWait is how long a server whose cluster service starts waits for the other
	// servers of a group's policy before it auto-starts the group without them, so that a
	// group whose primary boots a moment later does not start on the secondary. Default 5m
	// (CLUSTERPRO's server synchronization wait).
	StartupWait time.Duration
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
	// ScriptDir holds the scripts other servers may run here with clprexec --script (CLUSTERPRO's
	// work/trnreq); default <data_dir>/trnreq.
	ScriptDir string
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
	// APIURL is where clpd serves its API to the other servers (mutual TLS with the cluster's
	// certificates): commands given -h reach the server through it. Default
	// https://<Address>:29001.
	APIURL string
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
	// Failback moves the group back to a server earlier in Servers as soon as one is Online
	// (CLUSTERPRO's automatic failback). Default false.
	Failback bool
	// Exclusion names a set of groups of which no two run on one server ("" for none): the
	// mutual standby of two groups that must not share a server.
	Exclusion string
	Resources []Resource
	// Line is where the group's [[group]] table starts in the file, for later error messages.
	Line int
}

// Final actions after activation or deactivation retries, or a monitor's recovery, are exhausted.
const (
	ActionNone        = "none"
	ActionStopGroup   = "stop-group"
	ActionStopCluster = "stop-cluster"
	// ActionShutdown and ActionReboot stop the cluster service, then run [os] shutdown or reboot.
	ActionShutdown = "stop-cluster-shutdown"
	ActionReboot   = "stop-cluster-reboot"
)

// Monitor kinds. The CLUSTERPRO type names (pidw, genw, ipw, diskw, miiw, psw, userw) are accepted
// as aliases and shown by clpstat.
const (
	MonitorPID     = "pid"
	MonitorCustom  = "custom"
	MonitorIP      = "ip"
	MonitorDisk    = "disk"
	MonitorNIC     = "nic"
	MonitorProcess = "process"
	MonitorUser    = "user"
	// MonitorMessage (CLUSTERPRO's mrw) checks nothing itself: an error notice sent with
	// clprexec --notice is its error, clprexec --clear ends it.
	MonitorMessage = "message"
	// MonitorFIP (CLUSTERPRO's fipw) checks that the floating address of its target resource is
	// still on its interface and the link up with carrier, where the resource is Online.
	MonitorFIP = "fip"
)

// Monitor timings: always, or only while the target resource is Online on this server.
const (
	TimingAlways = "always"
	TimingActive = "active"
)

// Recovery target kinds.
const (
	TargetResource = "resource"
	TargetGroup    = "group"
	// TargetServer is CLUSTERPRO's "LocalServer": only the final action applies.
	TargetServer = "server"
)

// LocalServer is the recovery target name that means this server's cluster service.
const LocalServer = "LocalServer"

// Disk monitor methods.
const (
	DiskRead  = "read"
	DiskWrite = "write"
)

// Monitor is one monitor resource: what it watches, how often, and its recovery ladder.
type Monitor struct {
	Name    string
	Type    string
	Comment string
	// Target is the resource the monitor watches (pid) or is tied to (timing "active").
	Target string
	// Timing is TimingAlways or TimingActive (monitor only while Target is Online here).
	Timing string
	// Interval between checks, Timeout of one check, Retry: failed checks in a row beyond the
	// first before an error is declared. StartWait delays the first check.
	Interval, Timeout time.Duration
	Retry             int
	StartWait         time.Duration
	// Nice is the nice value of the checks a monitor runs as processes (custom scripts).
	Nice int
	// TimeoutIsError: a check that times out is an error (else it is only logged).
	TimeoutIsError bool

	// RecoveryTarget names a resource, a group or LocalServer; RecoveryKind says which.
	RecoveryTarget string
	RecoveryKind   string
	// RecoveryGroup is the group a resource or group target belongs to ("" for LocalServer).
	RecoveryGroup string
	// RecoveryScript (preaction.sh) runs before each step of the ladder, with CLP_ACTION.
	RecoveryScript        string
	RecoveryScriptTimeout time.Duration
	// The ladder: recovery script runs, then restarts, then failovers, then the final action.
	RecoveryThreshold int
	RestartThreshold  int
	FailoverThreshold int
	FinalAction       string
	// ResetAfter resets the counters once the monitor has stayed Normal this long after an
	// error; 0 keeps them until clpmonctrl -c or a restart of the cluster service.
	ResetAfter time.Duration

	// PIDFile (pid without a target): the process named by this file is watched.
	PIDFile string
	// Script and Args (custom): the program a custom monitor runs; Mode is ModeSync (run each
	// interval, exit status compared with NormalValue) or ModeAsync (started once; its end is
	// the error); WaitStop is how long an asynchronous script gets to end at stop. Log receives
	// its output.
	Script      string
	Args        []string
	Mode        string
	NormalValue int
	WaitStop    time.Duration
	Log         string
	// Addresses (ip): the monitor is in error when none of them answers an ICMP echo.
	Addresses []string
	// Path, Method and Size (disk): read Size bytes of a device or file with O_DIRECT, or write
	// and fsync a file of Size bytes in a directory.
	Path   string
	Method string
	Size   int
	// Interface (nic): the link whose carrier is watched.
	Interface string
	// ProcessName and Cmdline (process): a process whose name is ProcessName and, when set,
	// whose command line contains Cmdline.
	ProcessName string
	Cmdline     string
	// Category and Keyword (message): the notices of clprexec --notice -k category[.keyword]
	// this monitor takes; an empty Keyword takes every keyword of the category.
	Category string
	Keyword  string

	Line int
}

// TypeName is the monitor kind as CLUSTERPRO names it, for clpstat.
func (m *Monitor) TypeName() string {
	switch m.Type {
	case MonitorPID:
		return "pidw"
	case MonitorCustom:
		return "genw"
	case MonitorIP:
		return "ipw"
	case MonitorDisk:
		return "diskw"
	case MonitorNIC:
		return "miiw"
	case MonitorProcess:
		return "psw"
	case MonitorUser:
		return "userw"
	case MonitorMessage:
		return "mrw"
	case MonitorFIP:
		return "fipw"
	}
	return m.Type
}

// Monitor returns the monitor named name, or false.
func (c *Config) Monitor(name string) (*Monitor, bool) {
	return byName(c.Monitors, name, func(m *Monitor) string { return m.Name })
}

// Resource returns the group index and resource named name, or false.
func (c *Config) Resource(name string) (int, *Resource, bool) {
	for i := range c.Groups {
		for j := range c.Groups[i].Resources {
			if c.Groups[i].Resources[j].Name == name {
				return i, &c.Groups[i].Resources[j], true
			}
		}
	}
	return 0, nil, false
}

// Start and stop modes of an exec resource.
const (
	ModeSync  = "sync"
	ModeAsync = "async"
)

// Resource types.
const (
	TypeExec = "exec"
	TypeFIP  = "fip"
	TypeDisk = "disk"
)

// Fsck policies of a disk resource.
const (
	FsckAlways  = "always"
	FsckNever   = "never"
	FsckOnError = "on-error"
)

// Resource is one resource of a group.
type Resource struct {
	Name string
	// Type is the resource kind: "exec" (scripts), "fip" (a floating IP address) or "disk" (a
	// shared disk's file system).
	Type string
	// Address and Interface (fip): the floating address ("10.0.0.100/24") and, optionally, the
	// interface it goes on.
	Address, Interface string
	// Device, MountPoint, FSType, MountOptions (disk): what is mounted where; Fsck the check
	// before mounting (FsckAlways, FsckNever, FsckOnError, the default); UnmountRetry, KillUsers
	// (default true) and LazyUnmount how an unmount that finds the disk busy escalates.
	Device, MountPoint, FSType string
	MountOptions               []string
	Fsck                       string
	UnmountRetry               int
	KillUsers, LazyUnmount     bool
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
	// ActivationFailover is how many times, per server, a group whose activation failed for good
	// is failed over to the next server of its policy before the final action. Default 1.
	ActivationFailover int
	// ActivationFinalAction is applied when retries and failovers are exhausted. Default
	// ActionStopGroup.
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
	return byName(c.Groups, name, func(g *Group) string { return g.Name })
}

// StoreMembers are the members of the embedded store: the servers, then the witness.
func (c *Config) StoreMembers() []Server {
	out := append([]Server(nil), c.Servers...)
	if c.Witness != nil {
		out = append(out, *c.Witness)
	}
	return out
}

// Server returns the server named name, or false.
func (c *Config) Server(name string) (*Server, bool) {
	return byName(c.Servers, name, func(s *Server) string { return s.Name })
}

// byName returns the element of list that nameOf names name, or false.
func byName[T any](list []T, name string, nameOf func(*T) string) (*T, bool) {
	for i := range list {
		if nameOf(&list[i]) == name {
			return &list[i], true
		}
	}
	return nil, false
}
