package cluster

import (
	"time"

	"clpkit/pkg/resource"
	"clpkit/pkg/store"
)

// The machine's vocabulary. Everything that happens to a server's cluster service reaches the
// event loop as one of the events below, and everything the loop does to the world leaves it as
// one of the actions. The machine (machine.go) maps (state, now, event) to actions and does no
// I/O itself, so the whole handover protocol is table-tested without processes or a store.
//
// Times are durations on CLOCK_BOOTTIME (see Clock): they are shared with the guard process and
// never jump with the wall clock.

type event interface{ isEvent() }

// evTick: time has passed; deadlines that are due are acted on.
type evTick struct{}

// evRequest: an API call (clpgrp, clpcl) to be admitted or refused.
type evRequest struct{ r *request }

// evJoined: the store granted this server a lease (or re-attached the previous one).
type evJoined struct {
	lease store.Lease
	// sent is when the grant or re-attach was sent: the lease cannot expire before sent+TTL.
	sent       time.Duration
	reattached bool
	err        error
}

// evRenewed: one lease renewal came back.
type evRenewed struct {
	lease int64
	sent  time.Duration
	// gone says the store no longer knows the lease (expired or revoked).
	gone bool
	err  error
}

// evRevoked: a lease revocation came back (leaving, or discarding a lease after a fence).
type evRevoked struct {
	lease int64
	err   error
}

// evView: a fresh read of the cluster's keys.
type evView struct{ snap store.Snapshot }

// evViewFailed: the store could not be read.
type evViewFailed struct{ err error }

// evAcquired: the owner-key transaction of a group came back.
type evAcquired struct {
	group int
	token int64
	// elsewhere says another server owns the group (the transaction found its key taken).
	elsewhere bool
	err       error
}

// evReleased: the release transaction of a group (marker and owner key) came back.
type evReleased struct {
	group int
	token int64
	// fenced says the token no longer owned the group: there was nothing left to release.
	fenced bool
	err    error
}

// evSpawned: a script was started, or could not be.
type evSpawned struct {
	job  jobID
	info resource.JobInfo
	// fenced says the group's ownership was found lost before the script could start.
	fenced bool
	err    error
}

// evExited: a script ended.
type evExited struct {
	job    jobID
	result resource.Result
}

// evReaped: what a resource's start script left behind has been terminated.
type evReaped struct {
	group, res int
	err        error
}

// evKilled: every process of a group has been killed (fencing).
type evKilled struct {
	group int
	err   error
}

// evGuardFenced: the guard killed this server's groups (its deadline passed before this daemon
// renewed it: the daemon was frozen, or restarted too late).
type evGuardFenced struct{}

// evMonitor: a monitor changed health (err nil: normal). gen names the run it comes from; a
// result of a run since stopped is void.
type evMonitor struct {
	mon, gen int
	err      error
	// timeout says the check did not finish in time.
	timeout bool
}

// evWitness: whether this server reaches the store's witness member.
type evWitness struct{ ok bool }

func (evWitness) isEvent() {}

// evScriptDone: a monitor's recovery script ended.
type evScriptDone struct {
	job    jobID
	result resource.Result
	err    error
}

func (evGuardFenced) isEvent() {}
func (evMonitor) isEvent()     {}
func (evScriptDone) isEvent()  {}
func (evTick) isEvent()        {}
func (evRequest) isEvent()     {}
func (evJoined) isEvent()      {}
func (evRenewed) isEvent()     {}
func (evRevoked) isEvent()     {}
func (evView) isEvent()        {}
func (evViewFailed) isEvent()  {}
func (evAcquired) isEvent()    {}
func (evReleased) isEvent()    {}
func (evSpawned) isEvent()     {}
func (evExited) isEvent()      {}
func (evReaped) isEvent()      {}
func (evKilled) isEvent()      {}

type action interface{ isAction() }

// actJoin asks the store for a lease; previous is the lease a killed daemon held (0 for none).
type actJoin struct{ previous int64 }

// actRenew sends one lease renewal.
type actRenew struct{ lease int64 }

// actRevoke revokes a lease: the server leaves the cluster, or discards a lease it fenced on.
type actRevoke struct{ lease int64 }

// actAcquire takes a group's owner key on the current lease.
type actAcquire struct {
	group int
	lease int64
}

// actMark records where a group runs and how it is doing (see store.Marker).
type actMark struct {
	group  int
	token  int64
	marker store.Marker
}

// actRelease gives a group up: marker (nil deletes it) and owner key, in one transaction.
type actRelease struct {
	group  int
	token  int64
	marker *store.Marker
}

// jobKind says which script a job runs.
type jobKind int

const (
	jobStart jobKind = iota
	jobStop
)

func (k jobKind) String() string {
	if k == jobStart {
		return "start"
	}
	return "stop"
}

// jobID names one script run for the life of the daemon.
type jobID uint64

// actSpawn runs one script of a resource. A start checks the group's fencing token first
// (token != 0) and is not started at or after notAfter: a script must never begin on a server
// that may already have lost the group.
type actSpawn struct {
	job        jobID
	group, res int
	kind       jobKind
	ev         resource.Event
	timeout    time.Duration
	async      bool
	token      int64
	notAfter   time.Duration
	// epoch is the group's fencing epoch: a spawn of an older epoch than the executor's is void.
	epoch int
}

// actWatch watches a script a previous daemon started, reporting its end as evExited. A timeout
// (0: none, for an asynchronous start) counts from the adoption: when the script began is not
// known precisely enough to count from there.
type actWatch struct {
	job     jobID
	info    resource.JobInfo
	timeout time.Duration
}

// actReap terminates what a resource's start script left running once its stop script succeeded:
// SIGTERM, then, after grace, SIGKILL to everything left.
type actReap struct {
	group, res int
	grace      time.Duration
}

// actKill kills every process of a group at once (fencing) and waits, up to notAfter, for the
// kernel to report the group empty.
type actKill struct {
	group    int
	epoch    int
	notAfter time.Duration
}

// actReply answers an API request.
type actReply struct {
	r   *request
	err error
	// value is the answer of a request that returns one (clpgrp -n).
	value string
}

// actAlert writes one alert-log record.
type actAlert struct {
	module string
	id     int
	level  string
	text   string
}

// actSaveGroup persists what survives a daemon crash about a group (nil record clears it).
type actSaveGroup struct {
	group int
	rec   *groupRecord
	res   []*resourceRecord
}

// actPublish stores this server's view of its groups for the other servers' clpstat.
type actPublish struct{ status published }

// actGuard tells the guard process what to kill, and when, should this daemon fall silent.
type actGuard struct {
	armed   bool
	fenceAt time.Duration
	expiry  time.Duration
	groups  []int
}

// actLease records the lease a restarted daemon re-attaches to (0 clears it).
type actLease struct{ id int64 }

// actSuspend persists the suspended flag across daemon restarts.
type actSuspend struct{ on bool }

// actShutdown ends the engine: the daemon exits, with err when the service could not stop cleanly
// (a group's stop failed, so it keeps its owner key and the guard stays armed).
type actShutdown struct{ err error }

// actLog is a line for the daemon's own log.
type actLog struct {
	level string
	msg   string
	args  []any
}

// actMonitor starts (on) or stops the checks of a monitor; gen names the run.
type actMonitor struct {
	mon, gen int
	on       bool
}

// actScript runs a monitor's recovery script (preaction.sh) with CLP_ACTION and its counters.
type actScript struct {
	job     jobID
	mon     int
	action  string
	counts  counters
	timeout time.Duration
}

// actOS runs the configured shutdown or reboot command (a final action), once the cluster
// service is down.
type actOS struct{ argv []string }

func (actMonitor) isAction()   {}
func (actScript) isAction()    {}
func (actOS) isAction()        {}
func (actJoin) isAction()      {}
func (actRenew) isAction()     {}
func (actRevoke) isAction()    {}
func (actAcquire) isAction()   {}
func (actMark) isAction()      {}
func (actRelease) isAction()   {}
func (actSpawn) isAction()     {}
func (actReap) isAction()      {}
func (actWatch) isAction()     {}
func (actKill) isAction()      {}
func (actReply) isAction()     {}
func (actAlert) isAction()     {}
func (actSaveGroup) isAction() {}
func (actPublish) isAction()   {}
func (actGuard) isAction()     {}
func (actSuspend) isAction()   {}
func (actLease) isAction()     {}
func (actShutdown) isAction()  {}
func (actLog) isAction()       {}

// reqKind is what an API request asks for.
type reqKind int

const (
	reqStartGroup reqKind = iota
	reqStopGroup
	reqMoveGroup
	reqCurrent
	reqServiceStart
	reqServiceStop
	reqSuspend
	reqResume
	// clpmonctrl: suspend, resume, clear counters of monitors (names; none = all).
	reqMonSuspend
	reqMonResume
	reqMonClear
	// clprsc: start or stop one resource.
	reqRscStart
	reqRscStop
)

// request is one API call waiting for its answer. reply is buffered (1) so the loop never blocks
// on a caller that stopped waiting.
type request struct {
	kind  reqKind
	group string
	dest  string
	force bool
	// factor is the CLP_FACTOR of a service stop (SERVERSHUTDOWN, CLUSTERSHUTDOWN).
	factor string
	// from is the server that asked (alert texts name it).
	from string
	// exiting: the service stops because the daemon does (SIGTERM).
	exiting bool
	// os is the machine command to run once the service is down ("shutdown", "reboot"; clpdown).
	os string
	// monitors are the names a monitor request is about; resource the one of a clprsc request.
	monitors []string
	resource string
	reply    chan reply
}

type reply struct {
	err   error
	value string
}
