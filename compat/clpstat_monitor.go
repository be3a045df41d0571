package compat

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"clpkit/pkg/status"
)

// Frame lines of `clpstat -m`. No verbatim sample of this output exists: the layout is
// reconstructed (research note §2.4) from the scripts that parse it, chiefly monstat.sh
// (`clpstat -m | grep Monitor | grep "Normal\]"`). The strings are hard-coded, like the other
// frames, because the legacy padding is not a formula; this frame is 66 columns (19 '=' each
// side of the title, the footer and the rule 65 wide), as reconstructed, not the 70 of the
// verified frames.
const (
	monitorHeader = " ===================  MONITOR RESOURCE STATUS  ==================="
	monitorFooter = " ================================================================="
	monitorRule   = "  -----------------------------------------------------------------"
)

// Frame and column of the configuration displays (`clpstat --mon` here, and those of
// clpstat_config.go), research note §2.5. The one
// verbatim sample ([Monitor5 : userw]) starts its frame lines in column 0 and measures 69
// columns, while every verified frame is 70 with one leading blank: the markdown it comes from
// most likely lost that blank. We keep the 70-column frame with one leading blank, like the other
// outputs, and the item lines exactly as measured: four blanks, the label padded so that the
// colon is in column 61 (0-based), ": ", then the value. The bracket line is indented by two
// blanks, as the item lines' parent, in the style of the other displays ("  Cluster : ").
const (
	configHeader   = " =======================  CLUSTER INFORMATION  ======================="
	configColonCol = 61
	configIndent   = "    "
)

// ErrUnknownMonitor is returned, wrapped with the name, by WriteMonitorConfig when the cluster has
// no monitor resource of the requested name. Nothing is written then.
var ErrUnknownMonitor = errors.New("no such monitor resource")

// WriteMonitorStatus writes `clpstat -m`: the cluster name, a server index map with '*' on this
// server (the only star of the output), then one block per monitor in configuration order,
// after a blank line (shown here without the two blanks that begin every line):
//
//	Monitor0 [pidw1 : Normal]
//	-----------------------------------------------------------------
//	  server0 [o] : Online
//
// The bracket holds the cluster-wide state, so `grep Monitor | grep "Normal\]"` finds the
// healthy monitors. Each row gives a server's own state mark ([o] Online, [-] Unknown, [x]
// anything else) and the monitor's state on that server. Rows follow the server map, one per
// configured server; a server the monitor has no entry for shows Unknown, and entries naming no
// configured server are not shown.
func WriteMonitorStatus(w io.Writer, c status.Cluster) error {
	var b strings.Builder
	writeMapHead(&b, monitorHeader, c)
	for i, m := range c.Monitors {
		b.WriteString("\n  Monitor" + strconv.Itoa(i) + " [" + clean(m.Name) + " : " + word(m.State) + "]\n")
		b.WriteString(monitorRule + "\n")
		for j, s := range c.Servers {
			st := status.Unknown
			if e := monitorOn(m, s.Name); e != nil {
				st = e.State
			}
			b.WriteString("    server" + strconv.Itoa(j) + " " + serverMark(s.State) + " : " + word(st) + "\n")
		}
	}
	b.WriteString(monitorFooter + "\n")
	return writeAll(w, b.String())
}

// WriteMonitorConfig writes `clpstat --mon [name]`: the settings of every monitor resource, or
// of those named name when name is not empty, each under a `[MonitorN : name]` line whose N is
// the monitor's position in the configuration. When no monitor is named name it writes nothing
// and returns an error wrapping ErrUnknownMonitor.
//
// The thresholds are configuration, the same on every server; the model carries them in each
// server's counters, so they are read from this server's entry, else from the first entry, and
// left blank when the monitor has no entry at all (rather than printing a 0 nobody configured).
func WriteMonitorConfig(w io.Writer, c status.Cluster, name string) error {
	return writeConfigDisplay(w, c, name, ErrUnknownMonitor, monitorConfig)
}

// monitorConfig appends the `[MonitorN : name]` blocks of --mon and -i to b, all of them or
// those named name, and reports whether it wrote any.
func monitorConfig(b *strings.Builder, c status.Cluster, name string) bool {
	return configBlocks(b, "Monitor", c.Monitors, name, func(m status.Monitor) string { return m.Name }, func(m status.Monitor) {
		configItem(b, "Type", m.Type)
		configItem(b, "Comment", m.Comment)
		configItem(b, "Target Resource", m.Target)
		configItem(b, "Recovery Target", m.RecoveryTarget)
		var recovery, restart, failover, final string
		if e := thresholdsOf(m, c.LocalServer); e != nil {
			recovery = strconv.Itoa(e.Counters.RecoveryMax)
			restart = strconv.Itoa(e.Counters.RestartMax)
			failover = strconv.Itoa(e.Counters.FailoverMax)
			final = e.Counters.FinalActionIs
		}
		configItem(b, "Recovery Script Threshold", recovery)
		configItem(b, "Reactivation Threshold", restart)
		configItem(b, "Failover Threshold", failover)
		configItem(b, "Final Action", final)
	})
}

// writeConfigDisplay writes one display of the CLUSTER INFORMATION frame: the header, what
// section appends of c's items named name, the footer. When name is not empty and section wrote
// nothing, it writes nothing at all and returns errUnknown wrapped with the name, so stdout
// stays empty.
func writeConfigDisplay(w io.Writer, c status.Cluster, name string, errUnknown error, section func(*strings.Builder, status.Cluster, string) bool) error {
	var b strings.Builder
	b.WriteString(configHeader + "\n")
	if !section(&b, c, name) && name != "" {
		return fmt.Errorf("%w: %q", errUnknown, name)
	}
	b.WriteString(frameFooter + "\n")
	return writeAll(w, b.String())
}

// configBracket writes the line that opens one item of a configuration display,
// `  [KindN : name]`, N being the item's position in the configuration.
func configBracket(b *strings.Builder, kind string, n int, name string) {
	b.WriteString("  [" + kind + strconv.Itoa(n) + " : " + clean(name) + "]\n")
}

// configBlocks appends the block of each of items named name, or of every one when name is
// empty: its `[KindN : name]` line, N being its position among items, then what settings
// appends for it. It reports whether it wrote any.
func configBlocks[T any](b *strings.Builder, kind string, items []T, name string, nameOf func(T) string, settings func(T)) bool {
	found := false
	for i, it := range items {
		if n := nameOf(it); name == "" || n == name {
			found = true
			configBracket(b, kind, i, n)
			settings(it)
		}
	}
	return found
}

// configItem writes one setting line of a configuration display: four blanks, the label padded
// (or cut, for a label from the configuration that is too long) so that the colon is in column
// configColonCol, ": ", then the value. Both are cleaned, so no value can forge a line.
func configItem(b *strings.Builder, label, value string) {
	b.WriteString(configIndent + field(label, configColonCol-len(configIndent)) + ": " + clean(value) + "\n")
}

// monitorOn returns the monitor's entry for the server named server, or nil. An empty name
// matches nothing, like an empty LocalServer stars nothing.
func monitorOn(m status.Monitor, server string) *status.MonitorOnServer {
	if server == "" {
		return nil
	}
	for i := range m.Servers {
		if m.Servers[i].Server == server {
			return &m.Servers[i]
		}
	}
	return nil
}

// thresholdsOf picks the entry whose counters carry the monitor's thresholds: this server's,
// else the first one, else nil.
func thresholdsOf(m status.Monitor, local string) *status.MonitorOnServer {
	if e := monitorOn(m, local); e != nil {
		return e
	}
	if len(m.Servers) > 0 {
		return &m.Servers[0]
	}
	return nil
}

// localMonitorState is the word of a monitor line under `clpstat --local`: the monitor's state on
// this server in the vocabulary of the monitor lines, where Online (monitoring, normal) reads
// Normal. Error, Suspend, Offline and Unknown are the same words; anything else is shown as it is.
// A monitor with no entry for this server, or no known local server, is Unknown.
func localMonitorState(m status.Monitor, local string) status.State {
	e := monitorOn(m, local)
	if e == nil {
		return status.Unknown
	}
	if e.State == status.Online {
		return status.Normal
	}
	return e.State
}

// serverMark is a server's own state flag in the per-server rows of -m: [o] Online, [-]
// Unknown (or no state), [x] anything else, so that only a server known to be up reads [o].
func serverMark(s status.State) string {
	switch s {
	case status.Online:
		return "[o]"
	case status.Unknown, "":
		return "[-]"
	default:
		return "[x]"
	}
}

// word renders a state with no padding: cleaned, and Unknown when empty, as in stateCol.
func word(s status.State) string {
	if v := clean(string(s)); v != "" {
		return v
	}
	return string(status.Unknown)
}
