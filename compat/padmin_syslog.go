package compat

// The syslog lines of pcheck and padmin, as seed 002 §6 and §7 show them and the ProcessSaver
// 2.2 syslog guide names them (research/legacy-tools.md §1.6). log/syslog adds the tag
// "pcheck[PID]: " or "padmin[PID]: "; these functions give the text after it.
//
// Blanks in the Up and Down lines follow the seed to the byte:
//
//	(/usr/bin/java    ,pid=3679) Up       4-digit pid: 4 blanks before ",pid="   (§7.1.1.1)
//	(/usr/bin/java   ,pid=12742) Up       5-digit pid: 3 blanks                  (§7.1.1.2)
//	(/usr/bin/java    ,pid=2573) Up       4-digit pid: 4 blanks                  (§7.1.1.4)
//	Process [/usr/bin/java ,   pid=312] Down    3-digit pid: " ," and 3 blanks   (§7.1.1.2)
//
// so the pid is right-aligned: blanks plus digits make 8 in the Up line and 6 in the Down line
// (at least one blank either way). The Down rule rests on the one sample there is.
//
// Priorities (facility daemon) are not in any source; they are ours: info for the routine lines,
// warning for Down, err for the failures, crit for FATAL. The alert-log IDs are ours too.

import (
	"fmt"
	"log/syslog"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"clpkit/pkg/psaver"
)

// Alert-log event IDs of pcheck (module "pcheck") and padmin (module "padmin").
const (
	PcheckIDUp         = 1
	PcheckIDDown       = 2
	PcheckIDTryRestart = 3
	PcheckIDSetPidFail = 4
	PcheckIDRetryOver  = 5
	PcheckIDFatal      = 6
	PcheckIDSignal     = 7
	PcheckIDStop       = 8
	PcheckIDError      = 9

	PadminIDCommand = 1
)

func blanks(n int) string { return strings.Repeat(" ", max(n, 1)) }

// PcheckLine returns the syslog line of ev; false for events ProcessSaver had no line for
// (psaver.Problem), which pcheck writes on standard error only.
func PcheckLine(ev psaver.Event) (psaver.Line, bool) {
	pid := strconv.Itoa(ev.PID)
	switch ev.Kind {
	case psaver.Up:
		return psaver.Line{Priority: syslog.LOG_INFO, ID: PcheckIDUp,
			Text: "(" + ev.PName + blanks(8-len(pid)) + ",pid=" + pid + ") Up"}, true
	case psaver.Down:
		return psaver.Line{Priority: syslog.LOG_WARNING, ID: PcheckIDDown,
			Text: "Process [" + ev.PName + " ," + blanks(6-len(pid)) + "pid=" + pid + "] Down"}, true
	case psaver.TryRestart:
		return psaver.Line{Priority: syslog.LOG_INFO, ID: PcheckIDTryRestart,
			Text: "Try to restart ('" + ev.PName + "')"}, true
	case psaver.SetPidFail:
		return psaver.Line{Priority: syslog.LOG_ERR, ID: PcheckIDSetPidFail,
			Text: "Set pid fail ('" + ev.PName + "')"}, true
	case psaver.RetryOver:
		return psaver.Line{Priority: syslog.LOG_ERR, ID: PcheckIDRetryOver,
			Text: "(" + ev.PName + ") RETRY_OVER:" + strings.ToUpper(string(ev.Action))}, true
	case psaver.Fatal:
		return psaver.Line{Priority: syslog.LOG_CRIT, ID: PcheckIDFatal,
			Text: "(" + ev.PName + ") FATAL"}, true
	}
	return psaver.Line{}, false
}

// PcheckSignalLine is the line pcheck writes when a signal tells it to stop:
// "SIGTERM Catch (15)!!" (seed 002 §6.1.2). SIGINT and SIGHUP get the same shape.
func PcheckSignalLine(sig syscall.Signal) psaver.Line {
	name := unix.SignalName(sig)
	if name == "" {
		name = "SIG" + strconv.Itoa(int(sig))
	}
	return psaver.Line{Priority: syslog.LOG_INFO, ID: PcheckIDSignal,
		Text: fmt.Sprintf("%s Catch (%d)!!", name, int(sig))}
}

// PcheckStopLine is the last line of a pcheck stopped by a signal (seed 002 §6.1.2).
func PcheckStopLine() psaver.Line {
	return psaver.Line{Priority: syslog.LOG_INFO, ID: PcheckIDStop, Text: "Stop pcheck!!"}
}

// PcheckErrorLine is a line of ours for a pcheck that cannot start (bad pfile, another pcheck
// on the same pfile or IPCKEY): ProcessSaver's wording is not known, and under a cluster monitor
// syslog is where the operator looks.
func PcheckErrorLine(text string) psaver.Line {
	return psaver.Line{Priority: syslog.LOG_ERR, ID: PcheckIDError, Text: text}
}

// PadminCommandLine is what padmin logs once pcheck has carried out stop, start or reload:
// "Command execute. [stop] pfile='/var/opt/HA/PS/conf/bin/pfile_tomcat'" (ProcessSaver 2.2
// syslog guide). pfile is the absolute path.
func PadminCommandLine(command, pfile string) psaver.Line {
	return psaver.Line{Priority: syslog.LOG_INFO, ID: PadminIDCommand,
		Text: "Command execute. [" + command + "] pfile='" + pfile + "'"}
}
