package psaver

import (
	"fmt"
	"time"
)

// The proc_sts values padmin shows. ProcessSaver's own documents show only AVAIL; the others
// are clpkit's and are listed in padmin(8).
const (
	// StsAvail: the process runs and is watched.
	StsAvail = "AVAIL"
	// StsDown: the process is not running: pcheck is looking for it (at start-up, or after
	// padmin -c start), or monitoring is off so nobody restarts it.
	StsDown = "DOWN"
	// StsRestart: the restart script runs, or pcheck is looking for the process it started.
	StsRestart = "RESTART"
	// StsRetryOver: the retries are used up (for continue, until the next paced attempt).
	StsRetryOver = "RETRY_OVER"
)

// EntryState is what padmin -c show pent prints for one entry.
type EntryState struct {
	ID           int       `json:"pent_id"`
	PName        string    `json:"pname"`
	PID          int       `json:"pid"`
	RetryCount   int       `json:"retry_count"`
	RestartCount int       `json:"restart_count"`
	ProcSts      string    `json:"proc_sts"`
	RetryOverAct Action    `json:"retry_over_act"`
	RerunTime    time.Time `json:"rerun_time"` // zero until the first restart
	Options      []Option  `json:"options"`
	Monitor      bool      `json:"monitor"`
}

// Snapshot is the state of a whole pcheck.
type Snapshot struct {
	// PID is pcheck's process id.
	PID int `json:"pid"`
	// Pfile is the pfile pcheck runs on.
	Pfile    string       `json:"pfile"`
	IPCKey   uint32       `json:"ipckey"`
	DumpFile string       `json:"dump_file,omitempty"`
	Entries  []EntryState `json:"entries"`
}

// EventKind says what happened to an entry; every kind is one syslog line of ProcessSaver.
type EventKind int

// The events an Engine reports, in the order of a restart's life.
const (
	// Up: the process was found and is watched (at start-up or after a restart).
	Up EventKind = iota + 1
	// Down: the watched process has exited.
	Down
	// TryRestart: the restart script is being started.
	TryRestart
	// SetPidFail: no process was found within MONITOR_INTERVAL after the restart script ended
	// (or at start-up).
	SetPidFail
	// RetryOver: the retries are used up; Event.Action says what follows.
	RetryOver
	// Fatal: pcheck ends because of a retry-over with action exit.
	Fatal
	// Problem: something went wrong that ProcessSaver had no syslog line for (a restart script
	// that failed or timed out, /proc that could not be read); Event.Err says what. pcheck
	// reports it on standard error.
	Problem
)

func (k EventKind) String() string {
	switch k {
	case Up:
		return "Up"
	case Down:
		return "Down"
	case TryRestart:
		return "TryRestart"
	case SetPidFail:
		return "SetPidFail"
	case RetryOver:
		return "RetryOver"
	case Fatal:
		return "Fatal"
	case Problem:
		return "Problem"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one thing that happened to an entry.
type Event struct {
	Kind   EventKind
	Entry  int    // pent_id
	PName  string // the entry's program
	PID    int    // Up: the new process; Down: the one that exited
	Action Action // RetryOver, Fatal
	Err    error  // Problem
}

// RetryOverError is returned by Engine.Run when an entry with action exit has used up its
// retries: pcheck must exit non-zero so that the cluster fails over.
type RetryOverError struct {
	Entry int
	PName string
}

func (e *RetryOverError) Error() string {
	return fmt.Sprintf("entry %d (%s) used up its retries: retry_over_action exit", e.Entry, e.PName)
}
