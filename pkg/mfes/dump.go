package mfes

import (
	"fmt"
	"strings"
)

// Dump is what mdump prints about a region: the lines the seed's monitor script reads.
type Dump struct {
	Region string
	// Down is true when the region (or the directory server it is registered in) is not
	// running: mdump prints SERVER_DOWN.
	Down bool
	// ListenerName, Address and ListenerStarted describe the region's listener when it runs.
	ListenerName    string
	Address         string
	ListenerStarted bool
}

// Text renders d. A running region:
//
//	CN: ESSERV1
//	mServerType: MFES
//	mServerStatus: Started
//	CN: Web Services
//	mListenerAddress: tcp:127.0.0.1:9003
//	mListenerStatus: Started
//
// and "mListenerStatus: Stopped" when the listener refuses connections. A region that does not
// run is two lines, "CN: ESSERV1" and "mServerStatus: SERVER_DOWN". The seed's script echoes each
// line unquoted, so no line holds a glob character.
func (d Dump) Text() string {
	if d.Down {
		return fmt.Sprintf("CN: %s\nmServerStatus: SERVER_DOWN\n", d.Region)
	}
	status := "Stopped"
	if d.ListenerStarted {
		status = "Started"
	}
	return fmt.Sprintf("CN: %s\nmServerType: MFES\nmServerStatus: Started\nCN: %s\nmListenerAddress: tcp:%s\nmListenerStatus: %s\n",
		d.Region, d.ListenerName, d.Address, status)
}

// DumpVerdict is what the seed's monitor script concludes from one mdump output.
type DumpVerdict int

const (
	// DumpNothing: no SERVER_DOWN and no status line of the Web Services listener; the
	// script's loop goes on as if all were well.
	DumpNothing DumpVerdict = iota
	// DumpStarted: the Web Services listener's status line says Started (the script's return 0).
	DumpStarted
	// DumpListenerDown: its status line says something else (return 1: the script exits).
	DumpListenerDown
	// DumpServerDown: a line holds SERVER_DOWN (return 3: the script exits).
	DumpServerDown
)

// ReadDump reads mdump output line by line exactly as the seed's mdump_func does: the first
// line holding SERVER_DOWN, or the first "mListenerStatus:" line while the last "CN:" line named
// "Web Services", decides.
func ReadDump(out string) DumpVerdict {
	web := false
	for _, line := range strings.Split(out, "\n") {
		// The script reads with `read line` and tests `echo $line`: blanks collapse, which
		// fgrep's substring tests below do not care about.
		if strings.Contains(line, "SERVER_DOWN") {
			return DumpServerDown
		}
		if strings.Contains(line, "CN:") {
			web = strings.Contains(strings.Join(strings.Fields(line), " "), "Web Services")
		}
		if web && strings.Contains(line, "mListenerStatus:") {
			if strings.Contains(line, "Started") {
				return DumpStarted
			}
			return DumpListenerDown
		}
	}
	return DumpNothing
}
