package compat

// This file renders `padmin -f pfile -c show pent` (seed 002 §7.1.1.1 and §7.1.1.2):
//
//	pname  = /usr/bin/java
//	pid  = 12742
//	retry_count = 1
//	restart_count = 1
//	proc_sts  = AVAIL
//	retry_over_act = exit
//	rerun_time = Wed Oct 12 10:40:48 2011
//	include_strings = apache&tomcat
//	pent_id  = 1
//	monitor_sts = on
//
// The blanks are the seed's: two before '=' after pname, pid, proc_sts and pent_id, one after
// the other keys. Whatever the original used there (probably tabs, flattened by the PDF), the
// text keeps "key = value" as three blank-separated words, so `awk '{print $3}'` is the value,
// and it matches `grep 'retry_count = 1'` and `grep 'pid  ='` as the seed's text does.

import (
	"strconv"
	"strings"
	"time"

	"clpkit/pkg/psaver"
)

// RerunNever is rerun_time before the first restart: eight dashes.
const RerunNever = "--------"

// asctime is C's asctime(3) layout without its newline: "Wed Oct 12 10:40:48 2011", the day
// padded with a blank ("Wed Oct  2 ...").
const asctime = "Mon Jan _2 15:04:05 2006"

// PadminShowPent renders every entry of s in pent_id order, entries separated by one blank
// line, times in loc (time.Local for padmin).
func PadminShowPent(s psaver.Snapshot, loc *time.Location) string {
	var b strings.Builder
	for i, e := range s.Entries {
		if i > 0 {
			b.WriteByte('\n')
		}
		line := func(key, sep, value string) { b.WriteString(key + sep + "= " + value + "\n") }
		line("pname", "  ", e.PName)
		line("pid", "  ", strconv.Itoa(e.PID))
		line("retry_count", " ", strconv.Itoa(e.RetryCount))
		line("restart_count", " ", strconv.Itoa(e.RestartCount))
		line("proc_sts", "  ", e.ProcSts)
		line("retry_over_act", " ", string(e.RetryOverAct))
		line("rerun_time", " ", RerunTime(e.RerunTime, loc))
		for _, o := range e.Options {
			line(o.Name, " ", o.Value)
		}
		line("pent_id", "  ", strconv.Itoa(e.ID))
		sts := "off"
		if e.Monitor {
			sts = "on"
		}
		line("monitor_sts", " ", sts)
	}
	return b.String()
}

// RerunTime is rerun_time as padmin shows it: RerunNever for the zero time, else asctime in loc.
func RerunTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return RerunNever
	}
	return t.In(loc).Format(asctime)
}

// FixDashes turns a leading en dash or em dash of an argument into '-'. The seed's PDF prints
// "padmin –f ... –c show pent" with en dashes, and an operator who copies that line must get
// the command, not "unexpected argument".
func FixDashes(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		for _, d := range []string{"\u2013", "\u2014"} {
			if rest, ok := strings.CutPrefix(a, d); ok {
				a = "-" + rest
				break
			}
		}
		out[i] = a
	}
	return out
}
