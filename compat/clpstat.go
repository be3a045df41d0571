// Package compat renders clpkit's typed status model in the byte-exact text formats of the legacy
// CLUSTERPRO commands. Operator scripts grep, cut and awk this text by column, so every width, dot
// and trailing blank here is part of a contract (see the research note, clusterpro-contract.md §2),
// not a matter of taste. The renderers are pure: no I/O besides the writer, no package state.
package compat

import (
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"clpkit/pkg/status"
)

// Frame lines are hard-coded rather than computed: the legacy headers are not centred
// symmetrically (24/27 and 22/23 '='), so any formula would be a guess that happens to fit.
const (
	statusHeader   = " ========================  CLUSTER STATUS  ==========================="
	groupMapHeader = " ======================  GROUPMAP INFORMATION  ======================="
	frameFooter    = " ====================================================================="
	groupMapRule   = "  --------------------------------------------------------------------"
)

// SuspendedNote is shown in the comment column of the local server while its cluster service is
// suspended (clpcl --suspend).
const SuspendedNote = "(cluster suspended)"

// stateWidth is the status column: always ljust(17), even with no comment after it, because
// genw-remote-node.pl matches `: (.+?)\s` after chomp and needs the trailing blank to terminate.
const stateWidth = 17

// StatusOptions selects between the variants of the default status block.
type StatusOptions struct {
	// Long widens the name columns so the colon sits at column 38 instead of 21 (clpstat --long).
	Long bool
	// Local shows the status as this server (c.LocalServer) has it (clpstat --local). Each
	// monitor line gives the monitor's state on this server instead of the cluster-wide state:
	// Online reads Normal, Error, Suspend, Offline and Unknown stay as they are, and no entry for
	// this server reads Unknown. A group that runs on another server (its Current names one) is
	// Offline here, and so are its resources, whatever states the running server reported;
	// its `current` line still names that server.
	Local bool
}

// layout holds the name-field widths of one variant. All three are chosen so that the colon
// lands in the same column on every item line, which is what `awk -F:` and `cut -c` users need.
type layout struct {
	dotted   int // server and group: name, one space, dots
	sub      int // heartbeat, NP, resource and `current` lines, after 6 spaces
	monitor  int // monitor lines, after 4 spaces
	colonCol int // documentation and tests only: where the colon must land
}

// layoutFor builds the layout on each call instead of reading package variables, so that nothing
// global can be changed by a caller or a test.
func layoutFor(o StatusOptions) layout {
	if o.Long {
		return layout{dotted: 34, sub: 32, monitor: 34, colonCol: 38}
	}
	return layout{dotted: 17, sub: 15, monitor: 17, colonCol: 21}
}

// WriteStatus writes the cluster status block of `clpstat`, `clpstat -s`, with o.Local
// `clpstat --local` and with o.Long `clpstat --long`. Items keep slice order, which is
// configuration order.
func WriteStatus(w io.Writer, c status.Cluster, o StatusOptions) error {
	l := layoutFor(o)
	var b strings.Builder
	line := func(parts ...string) {
		for _, p := range parts {
			b.WriteString(p)
		}
		b.WriteByte('\n')
	}

	line(statusHeader)
	line("  Cluster : ", clean(c.Name))

	line("  <server>")
	local := localIndex(c)
	for i, s := range c.Servers {
		mark := " "
		if i == local {
			mark = "*"
		}
		comment := clean(s.Comment)
		if i == local && c.Suspended {
			// The state word stays what scripts compare ("Online"); the comment column, free
			// text already, says the cluster service is suspended here.
			comment = strings.TrimSpace(comment + " " + SuspendedNote)
		}
		line("   ", mark, dotted(s.Name, l.dotted), ": ", stateCol(s.State), comment)
		for _, hb := range s.Heartbeats {
			line("      ", field(hb.Name, l.sub), ": ", stateCol(hb.State), clean(hb.Comment))
		}
	}

	line("  <group>")
	for _, g := range c.Groups {
		elsewhere := o.Local && runsElsewhere(c, g)
		gs := g.State
		if elsewhere {
			gs = status.Offline
		}
		line("    ", dotted(g.Name, l.dotted), ": ", stateCol(gs), clean(g.Comment))
		// `current` is the one value not padded: scripts do `grep current | grep $me` and
		// `awk '{print $3}'`, and the samples end the line right after the server name.
		cur := clean(g.Current)
		if g.Current == "" {
			cur = "None"
		}
		line("      ", field("current", l.sub), ": ", cur)
		for _, r := range g.Resources {
			rs := r.State
			if elsewhere {
				rs = status.Offline
			}
			line("      ", field(r.Name, l.sub), ": ", stateCol(rs), clean(r.Comment))
		}
	}

	// Printed even with no monitors, like every section marker: sed range addresses such as
	// attacker.sh's `/<server>/,/<group>/` only work if the markers are always there.
	line("  <monitor>")
	for _, m := range c.Monitors {
		st := m.State
		if o.Local {
			st = localMonitorState(m, c.LocalServer)
		}
		line("    ", field(m.Name, l.monitor), ": ", stateCol(st), clean(m.Comment))
	}
	line(frameFooter)
	return writeAll(w, b.String())
}

// runsElsewhere reports whether g runs on a server other than this one: its Current names a
// server and that is not c.LocalServer. With no known local server nothing is elsewhere.
func runsElsewhere(c status.Cluster, g status.Group) bool {
	return c.LocalServer != "" && g.Current != "" && g.Current != c.LocalServer
}

// writeMapHead writes the head of -m, -n and -p: the frame's header, the cluster's name and the
// server map.
func writeMapHead(b *strings.Builder, header string, c status.Cluster) {
	b.WriteString(header + "\n")
	b.WriteString("  Cluster : " + clean(c.Name) + "\n")
	// Two blanks, then '*' or a blank, as reconstructed in §2.4 (the -g map has three blanks).
	// Either way `awk '{print $1}' | cut -c 2-` yields the index on the local line.
	writeServerMap(b, c, "  ")
}

// writeServerMap writes the "*server0 : name" map of -g and -m after indent: '*' marks the local
// server, the others keep a blank there so all indices line up.
func writeServerMap(b *strings.Builder, c status.Cluster, indent string) {
	local := localIndex(c)
	for i, s := range c.Servers {
		mark := " "
		if i == local {
			mark = "*"
		}
		b.WriteString(indent + mark + "server" + strconv.Itoa(i) + " : " + clean(s.Name) + "\n")
	}
}

// WriteGroupMap writes `clpstat -g`: a server index map, then one row per server listing the
// groups currently on it with a state mark. Groups whose Current is empty or names no configured
// server appear on no row, because the legacy map only shows where groups are running.
func WriteGroupMap(w io.Writer, c status.Cluster) error {
	var b strings.Builder
	b.WriteString(groupMapHeader + "\n")
	b.WriteString("  Cluster : " + clean(c.Name) + "\n")

	// grpstat.sh recovers the local index with `awk -F: '{print $1}' | sed "s/ //g" | cut -c 2-`,
	// which strips exactly one leading character: the '*'.
	writeServerMap(&b, c, "   ")
	b.WriteString("\n" + groupMapRule + "\n")

	rows := make([][]string, len(c.Servers))
	for _, g := range c.Groups {
		if g.Current == "" {
			continue
		}
		if i := serverIndex(c, g.Current); i >= 0 {
			rows[i] = append(rows[i], clean(g.Name)+groupMark(g.State))
		}
	}
	for i, s := range c.Servers {
		smark := "[x]"
		if s.State == status.Online {
			smark = "[o]"
		}
		b.WriteString("    server" + strconv.Itoa(i) + " " + smark + " : ")
		// Each entry carries its own trailing space (the verbatim row is 31 bytes), so
		// `grep "name\[o\] "` style matches work on the last entry too.
		for _, e := range rows[i] {
			b.WriteString(e + " ")
		}
		b.WriteByte('\n')
	}
	b.WriteString(frameFooter + "\n")
	return writeAll(w, b.String())
}

// groupMark maps a group state to the one-letter flag of the group map. Only [o] is verified;
// [e] and [p] are recalled from the reference guide. Anything else (Offline with a Current set,
// Unknown, vocabulary we do not know) gets [-] so that `grep "name\[o\]"` can never mistake it
// for running.
func groupMark(s status.State) string {
	switch {
	case s == status.Online:
		return "[o]"
	case s.Failed():
		return "[e]"
	case s.Pending():
		return "[p]"
	default:
		return "[-]"
	}
}

// localIndex returns the position of the first server named c.LocalServer, or -1. Only one
// server is ever starred: attacker.sh counts lines up to the first '*' and clparping's genw.sh
// takes every line with a '*', so a second star on a duplicated name would corrupt both. An
// empty LocalServer stars nothing, otherwise it would star a server with an empty name.
func localIndex(c status.Cluster) int {
	if c.LocalServer == "" {
		return -1
	}
	return serverIndex(c, c.LocalServer)
}

func serverIndex(c status.Cluster, name string) int {
	for i, s := range c.Servers {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// dotted renders the server/group name field: the name cut to width-1, one space, then dots to
// the width. Sample D shows the legacy cut: `container-recovery` becomes `container-recove `,
// with the separating space kept and no dots.
func dotted(name string, width int) string {
	n := cut(clean(name), width-1)
	return n + " " + strings.Repeat(".", width-1-utf8.RuneCountInString(n))
}

// field renders a plain name column: ljust(width), and names that would fill the field are cut
// to one less than the width. No legacy sample shows an over-long resource or monitor name, so
// this is our decision: the colon stays in its column (what every `cut -c` and fixed-offset
// parser needs) and keeps one blank before it, as cut group names do, because a published SNMP
// agent script parses resource lines with `^\s{6}(\S.*?)\s.*:\s(.*?)\s*$`, which needs a blank
// after the name.
func field(name string, width int) string {
	n := cut(clean(name), width-1)
	return n + strings.Repeat(" ", width-utf8.RuneCountInString(n))
}

// stateCol renders the status column. Longer states are not cut (they are a closed vocabulary
// and all fit); the padding still follows them. An empty state prints as Unknown: a blank column
// would make `awk -F: '{print $2}'` yield only spaces and would let the perl idiom capture the
// comment as the status, while Unknown is the legacy word for "no information".
func stateCol(s status.State) string {
	v := clean(string(s))
	if v == "" {
		v = string(status.Unknown)
	}
	if n := utf8.RuneCountInString(v); n < stateWidth {
		v += strings.Repeat(" ", stateWidth-n)
	}
	return v
}

// cut shortens s to at most n runes. The legacy tool cuts bytes, which is the same thing for the
// ASCII names it accepts; for anything else cutting runes never splits a UTF-8 sequence. Widths
// are counted in runes too (not display cells), so the colon is always at the same rune column.
// An invalid byte counts as one rune here and in utf8.RuneCountInString alike, and is kept as is.
func cut(s string, n int) string {
	if n <= 0 {
		return ""
	}
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}

// clean replaces control characters with '?'. Names and comments come from configuration and
// from the daemon, and a newline or tab inside one would let it forge whole lines (a fake `*`
// local-server line, a fake `current`) in text that scripts trust line by line. Invalid UTF-8
// bytes are passed through untouched because the consumers are byte-oriented.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if unicode.IsControl(r) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteByte(s[i])
		case unicode.IsControl(r):
			b.WriteByte('?')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// writeAll writes the whole rendering in one call, so a failing writer gets at most one partial
// write, and turns a silent short write into an error as io.Writer's contract asks.
func writeAll(w io.Writer, s string) error {
	n, err := io.WriteString(w, s)
	if err == nil && n < len(s) {
		err = io.ErrShortWrite
	}
	return err
}
