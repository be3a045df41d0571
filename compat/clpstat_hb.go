package compat

import (
	"io"
	"strconv"
	"strings"

	"clpkit/pkg/status"
)

// Frame lines of `clpstat -n` and `clpstat -p`. Like -m, whose footer and rule they share, no
// verbatim sample of either exists: the layouts are reconstructed (research note §2.4) from the
// scripts that parse them, srvstat.sh and exec_checkNP_stat.sh, and are 66 columns wide.
const (
	heartbeatHeader = " ==================  HEARTBEAT RESOURCE STATUS  =================="
	npHeader        = " =============  NETWORK PARTITION RESOLUTION STATUS  ============="
)

// WitnessHeartbeat is the name of the heartbeat by which a server of a cluster with a witness
// (status.Cluster.Witness) reaches it. It is the cluster's network partition resolution
// resource: a server that still has the witness may go on, one that lost it and the other
// servers must stop.
const WitnessHeartbeat = "witnesshb1"

// Lines that stand for an empty list in -n and -p, so that no section is a bare blank line.
const (
	noHeartbeatLine = "  No heartbeat resource is configured."
	noNPLine        = "  No network partition resolution resource is configured."
)

// WriteHeartbeatStatus writes `clpstat -n`. After the cluster name and the server map of -m
// (`  *server0 : name`, the star on this server only) come, each after a blank line:
//
//	HB0 : leasehb1                    one line per heartbeat resource (heartbeatList)
//	HB1 : witnesshb1
//
//	[on server0 : Online]            one line per server: Online, Offline or Unknown
//	[on server1 : Offline]
//	-----------------------------------------------------------------
//	server0 : o o                    one row per server, one mark per heartbeat, in HB order
//	server1 : x -
//
// (shown without the two blanks that begin every line but the `[on` lines, which have one). A
// mark is o when the heartbeat of that server is Normal, - when its state is not known or the
// server has no such heartbeat, and x otherwise.
//
// The scripts: exec_checkNP_stat.sh finds this server's index (server0) on the starred map
// line, the only line with a server's name, with
//
//	clpstat -n | grep `hostname` | awk '{print $1}' | cut -c 2-
//
// and then looks for another server's `on server` line without Offline; srvstat.sh requires
// every `\[on server` line to say Online, and `grep -c` of those lines counts the servers that
// are, which is why each server has one such line, not one per heartbeat.
func WriteHeartbeatStatus(w io.Writer, c status.Cluster) error {
	var b strings.Builder
	writeMapHead(&b, heartbeatHeader, c)
	b.WriteString("\n")
	hbs := heartbeatList(c)
	if len(hbs) == 0 {
		b.WriteString(noHeartbeatLine + "\n")
	}
	names := make([]string, len(hbs))
	for i, h := range hbs {
		names[i] = h.Name
		b.WriteString("  HB" + strconv.Itoa(i) + " : " + clean(h.Name) + "\n")
	}
	writeServerMatrix(&b, c, names)
	b.WriteString(monitorFooter + "\n")
	return writeAll(w, b.String())
}

// WriteNPStatus writes `clpstat -p`. The server map is that of -n; then, when the cluster has a
// witness, its one network partition resolution resource and the same server lines and rows as
// -n, for the witness heartbeat only (after a blank line, without the leading blanks):
//
//	NP0 : witnesshb1 (witness witness1)
//
//	[on server0 : Online]
//	[on server1 : Online]
//	-----------------------------------------------------------------
//	server0 : o
//	server1 : x
//
// A row's mark is o when that server's witness heartbeat is Normal (the witness answers it),
// - when it is not known, x otherwise; this server's row comes from its own Heartbeats, as
// every row does. Without a witness, noNPLine stands in for all of that.
//
// exec_checkNP_stat.sh decides whether this server may go on with
// `clpstat -p | grep "$ownnode" | grep -v "on server" | grep -v "\*" | grep o`, $ownnode
// being its index (server0): the only lines left are this server's rows, and "server" has no
// o, so only the mark can match.
func WriteNPStatus(w io.Writer, c status.Cluster) error {
	var b strings.Builder
	writeMapHead(&b, npHeader, c)
	b.WriteString("\n")
	if c.Witness == "" {
		b.WriteString(noNPLine + "\n")
	} else {
		b.WriteString("  NP0 : " + WitnessHeartbeat + " (witness " + clean(c.Witness) + ")\n")
		writeServerMatrix(&b, c, []string{WitnessHeartbeat})
	}
	b.WriteString(monitorFooter + "\n")
	return writeAll(w, b.String())
}

// writeServerMatrix writes the part of -n and -p below the resource lines: a blank line, one
// `[on serverN : state]` line per server, the rule, and per server a row with the mark of each
// heartbeat named in names.
func writeServerMatrix(b *strings.Builder, c status.Cluster, names []string) {
	b.WriteString("\n")
	for i, s := range c.Servers {
		b.WriteString(" [on server" + strconv.Itoa(i) + " : " + serverWord(s.State) + "]\n")
	}
	b.WriteString(monitorRule + "\n")
	for i, s := range c.Servers {
		b.WriteString("  server" + strconv.Itoa(i) + " :")
		for _, n := range names {
			b.WriteString(" " + heartbeatMark(s, n))
		}
		b.WriteByte('\n')
	}
}

// heartbeatList gives the heartbeat resources of -n and --hb, in order: this server's
// heartbeats, then those of the other servers that this server does not have, in server order,
// each name once (the first entry of a name gives its comment). The lists are configuration and
// normally the same on every server; taking the others too keeps a resource visible when this
// server is not known or its list is short.
func heartbeatList(c status.Cluster) []status.Heartbeat {
	var out []status.Heartbeat
	seen := map[string]bool{}
	add := func(s status.Server) {
		for _, h := range s.Heartbeats {
			if !seen[h.Name] {
				seen[h.Name] = true
				out = append(out, h)
			}
		}
	}
	local := localIndex(c)
	if local >= 0 {
		add(c.Servers[local])
	}
	for i, s := range c.Servers {
		if i != local {
			add(s)
		}
	}
	return out
}

// heartbeatMark is the mark of s's heartbeat named name in the rows of -n and -p: o Normal
// (Online counts as Normal), - Unknown, no state or no such heartbeat, x anything else, so that
// only a heartbeat known to work reads o.
func heartbeatMark(s status.Server, name string) string {
	for _, h := range s.Heartbeats {
		if h.Name != name {
			continue
		}
		switch h.State {
		case status.Normal, status.Online:
			return "o"
		case status.Unknown, "":
			return "-"
		default:
			return "x"
		}
	}
	return "-"
}

// serverWord is a server's state on the `[on serverN : ...]` lines: Online, Unknown (or no
// state), and Offline for anything else, so that srvstat.sh's `grep Online` and the `grep -v
// Offline` of exec_checkNP_stat.sh only ever see these three words.
func serverWord(s status.State) string {
	switch s {
	case status.Online:
		return string(status.Online)
	case status.Unknown, "":
		return string(status.Unknown)
	default:
		return string(status.Offline)
	}
}
