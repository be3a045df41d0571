// Package psaver is the ProcessSaver engine behind pcheck and padmin: the entries of a pfile,
// the accounting of retries within a grace window, the restart-script runner, and the state that
// padmin reads through a control socket.
//
// The engine keeps every entry's state in one goroutine (Engine.Run); process exits arrive from
// a procwatch.Watcher (pidfd + epoll), restart scripts run in goroutines of their own, and padmin
// requests come through Engine's methods. Nothing is polled while every watched process is held
// by a pidfd, so an idle pcheck does not wake up at all.
//
// The control socket (Claim, Server, Call) replaces ProcessSaver's SysV shared memory and
// message queue, and Reporter carries messages to syslog, a terminal and the clpkit alert log.
// The text itself (the pfile syntax, the syslog lines, padmin's layout) is compat's business:
// this package deals in typed values.
package psaver

import (
	"strconv"
	"strings"
	"time"

	"clpkit/pkg/procwatch"
)

// Action is what happens when an entry has used up its retries (the pfile's retry_over_action).
type Action string

// The accepted retry_over_actions.
const (
	// Exit ends pcheck with a non-zero status, so that the cluster monitor watching pcheck
	// fails the service over (seed 002 §6, §7).
	Exit Action = "exit"
	// Continue keeps pcheck running and keeps restarting the process, at most once per
	// MONITOR_INTERVAL once the retries are used up.
	Continue Action = "continue"
)

// Actions returns the accepted retry_over_actions in the order error messages list them.
func Actions() []Action { return []Action{Exit, Continue} }

// Defaults of the pfile, from the ProcessSaver 2.2 syslog guide ("デフォルト設定(リトライ回数3回、
// Grace値86400秒)") and the seed's PARAM example.
const (
	DefaultGrace            = 86400 * time.Second
	DefaultRetry            = 3
	DefaultMsgCheckInterval = 5 * time.Second
	DefaultMonitorInterval  = 10 * time.Second
)

// Option is one option of a PENT line as written (name=value), kept in order for padmin.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Entry is one monitored process: a PENT line of the pfile.
type Entry struct {
	// Program is the process to watch: argv[0] or the executable (see procwatch.Spec).
	Program string
	// Script is the absolute path of the restart script.
	Script string
	// Grace is how long the entry must go without a failure before its retry count returns to 0.
	Grace time.Duration
	// Retry is how many restarts are tried before the retry-over action.
	Retry int
	// Action is the retry-over action.
	Action Action
	// Include and Exclude filter the command line (include_strings, exclude_strings).
	Include, Exclude []string
	// Options are the options as written, for display.
	Options []Option
	// Line is the entry's line in the pfile (0 when it does not come from a file).
	Line int
}

// Spec is the process-matching part of the entry.
func (e Entry) Spec() procwatch.Spec {
	return procwatch.Spec{Program: e.Program, Include: e.Include, Exclude: e.Exclude}
}

// key identifies an entry across a reload: two entries are "the same" when every field but the
// line number is, so that moving a line or adding one above it keeps its counters.
func (e Entry) key() string {
	var b strings.Builder
	for _, f := range []string{e.Program, e.Script, e.Grace.String(), strconv.Itoa(e.Retry), string(e.Action)} {
		b.WriteString(f)
		b.WriteByte(0)
	}
	for _, o := range e.Options {
		b.WriteString(o.Name + "=" + o.Value)
		b.WriteByte(0)
	}
	return b.String()
}

// Config is a whole pfile.
type Config struct {
	// Pfile is the pfile's absolute path.
	Pfile string
	// IPCKey identifies the pcheck instance; padmin finds pcheck's control socket by it.
	IPCKey uint32
	// MsgCheckInterval bounds how long padmin waits for pcheck's answer (the legacy pcheck read
	// its message queue this often; this one answers at once).
	MsgCheckInterval time.Duration
	// MonitorInterval is how often processes that could not be held by a pidfd are checked, and
	// how long a new process is looked for after its restart script has ended.
	MonitorInterval time.Duration
	// DumpFile is where pcheck keeps its current state (SHM_DUMP_FILE); "" for none.
	DumpFile string
	// Entries are the PENT lines in order; an entry's pent_id is its index plus 1.
	Entries []Entry
}
