package resource

import (
	"slices"
	"testing"
)

func TestEnviron(t *testing.T) {
	base := []string{"PATH=/usr/bin", "CLP_EVENT=LEAKED", "ARMS_DISK=LEAKED", "NOTIFY_SOCKET=/run/systemd/notify", "HOME=/root"}
	h := Host{Path: "/usr/local", VersionFull: "0.1.0", VersionMajor: "0", OSName: "Linux", OSVer: "6.1.0"}
	tests := []struct {
		name string
		ev   Event
		want []string
	}{
		{"start", Event{Event: "START", Server: "HOME", Disk: "SUCCESS", Group: "failover1", Resource: "exec1", Priority: 1}, []string{
			"PATH=/usr/bin", "HOME=/root",
			"CLP_EVENT=START", "CLP_SERVER=HOME", "CLP_DISK=SUCCESS", "CLP_GROUPNAME=failover1", "CLP_RESOURCENAME=exec1",
			"CLP_PRIORITY=1", "CLP_PATH=/usr/local", "CLP_VERSION_FULL=0.1.0", "CLP_VERSION_MAJOR=0", "CLP_OSNAME=Linux",
			"CLP_OSVER=6.1.0", "CLP_SCRIPT_PATH=/etc/clpkit/scripts/exec1",
			"ARMS_EVENT=START", "ARMS_SERVER=HOME", "ARMS_DISK=SUCCESS", "ARMS_GROUPNAME=failover1",
		}},
		{"stop of an async start after failover", Event{Event: "FAILOVER", Server: "OTHER", Disk: "SUCCESS", Factor: "GROUPMOVE", Group: "g", Resource: "r", Priority: 2, PID: 4242, ServerPrev: "server1"}, []string{
			"PATH=/usr/bin", "HOME=/root",
			"CLP_EVENT=FAILOVER", "CLP_SERVER=OTHER", "CLP_DISK=SUCCESS", "CLP_FACTOR=GROUPMOVE", "CLP_GROUPNAME=g", "CLP_RESOURCENAME=r",
			"CLP_PRIORITY=2", "CLP_PID=4242", "CLP_SERVER_PREV=server1", "CLP_PATH=/usr/local", "CLP_VERSION_FULL=0.1.0", "CLP_VERSION_MAJOR=0",
			"CLP_OSNAME=Linux", "CLP_OSVER=6.1.0", "CLP_SCRIPT_PATH=/etc/clpkit/scripts/exec1",
			"ARMS_EVENT=FAILOVER", "ARMS_SERVER=OTHER", "ARMS_DISK=SUCCESS", "ARMS_FACTOR=GROUPMOVE", "ARMS_GROUPNAME=g",
		}},
	}
	for _, tt := range tests {
		got := Environ(base, h, tt.ev, "/etc/clpkit/scripts/exec1/start.sh")
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
