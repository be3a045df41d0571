package guard

import (
	"net/netip"
	"strings"

	"bytes"
	"clpkit/pkg/fip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// The requests clpd sends, one JSON object per line; the guard answers each with one Reply line.
const (
	// OpArm sets (replaces) the deadline and the targets.
	OpArm = "arm"
	// OpDisarm says there is nothing to guard: clpd runs no group that could run elsewhere.
	OpDisarm = "disarm"
	// OpStatus only asks for the state.
	OpStatus = "status"
	// OpExit ends the guard; refused while armed unless Force is set.
	OpExit = "exit"
)

// Request is one request line.
type Request struct {
	Op string `json:"op"`
	// FenceAt is the CLOCK_BOOTTIME instant at which the guard kills the targets unless a newer
	// arm (or a disarm) comes first. One already past means: fence now.
	FenceAt time.Duration `json:"fence_at_ns,omitempty"`
	// Expiry is the earliest CLOCK_BOOTTIME instant at which the lease could expire in the store;
	// the kernel watchdog is kept alive only while it would fire before it.
	Expiry time.Duration `json:"expiry_ns,omitempty"`
	// Cgroups are absolute cgroup v2 directories; each is killed whole (cgroup.kill).
	Cgroups []string `json:"cgroups,omitempty"`
	// PGIDs are process groups, killed with kill(-pgid): the fallback where there is no
	// cgroup v2.
	PGIDs []int `json:"pgids,omitempty"`
	// Addresses are floating addresses to remove first of all, "prefix@interface"
	// ("10.77.0.100/24@eth0"): a fenced server must stop answering on them at once.
	Addresses []string `json:"addresses,omitempty"`
	// Mounts are shared disks to unmount once the kills are done: a fenced server must not keep
	// a file system mounted that another server is about to mount. A busy one is detached.
	Mounts []Mount `json:"mounts,omitempty"`
	// Force lets exit end an armed guard.
	Force bool `json:"force,omitempty"`
}

// Mount is a shared disk the guard unmounts when it fences.
type Mount struct {
	Device     string `json:"device"`
	MountPoint string `json:"mount_point"`
}

// Reply is the answer to every request, and the guard's state after it.
type Reply struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Armed bool   `json:"armed"`
	// FenceAt and Expiry are those of the arm in force, 0 when disarmed.
	FenceAt time.Duration `json:"fence_at_ns"`
	Expiry  time.Duration `json:"expiry_ns"`
	// Fenced says the guard fenced because the deadline passed; it stays set, with what was
	// killed, until the next arm or disarm, so that a clpd that comes back learns of it.
	Fenced   bool          `json:"fenced"`
	FencedAt time.Duration `json:"fenced_at_ns"`
	// WasFenced, in the answer to an arm or a disarm, says the guard had fenced before it: the
	// clpd that sends it thought it was in charge, and learns that its groups were killed.
	WasFenced bool `json:"was_fenced,omitempty"`
	// Killed lists the cgroups fenced: each was killed and found empty (or did not exist).
	Killed []string `json:"killed"`
	// KilledPGIDs lists the process groups signalled.
	KilledPGIDs []int `json:"killed_pgids,omitempty"`
	// Failed lists the targets that could not be fenced, each with the reason.
	Failed []string `json:"failed,omitempty"`
	// PID is the guard's process id.
	PID int `json:"pid"`
}

// MaxRequest bounds a request line; a thousand cgroup paths fit.
const MaxRequest = 1 << 20

// DecodeRequest reads one request line and checks what can be checked without the machine:
// the operation, and for arm both instants (positive, fencing no later than the expiry) and the
// targets (absolute clean cgroup paths, process groups above 1). Unknown fields are refused:
// a misspelt "fence_at" must not read as a deadline of 0, which would mean "fence now".
func DecodeRequest(line []byte) (Request, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var req Request
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("malformed request: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, errors.New("malformed request: more than one JSON value on the line")
	}
	switch req.Op {
	case OpDisarm, OpStatus, OpExit:
		return req, nil
	case OpArm:
		return req, checkArm(req)
	case "":
		return Request{}, errors.New(`malformed request: no "op" (arm, disarm, status or exit)`)
	default:
		return Request{}, fmt.Errorf("unknown op %q: the guard knows arm, disarm, status and exit", req.Op)
	}
}

func checkArm(req Request) error {
	switch {
	case req.FenceAt <= 0:
		return errors.New("arm: fence_at_ns must be a positive CLOCK_BOOTTIME instant")
	case req.Expiry <= 0:
		return errors.New("arm: expiry_ns must be a positive CLOCK_BOOTTIME instant")
	case req.FenceAt > req.Expiry:
		return fmt.Errorf("arm: fence_at_ns (%s) is after expiry_ns (%s): the guard would fence after the lease could expire",
			seconds(req.FenceAt), seconds(req.Expiry))
	}
	for _, a := range req.Addresses {
		if _, err := ParseAddress(a); err != nil {
			return fmt.Errorf("arm: %w", err)
		}
	}
	for _, p := range req.Cgroups {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
			return fmt.Errorf("arm: cgroup %q is not an absolute, clean cgroup directory path", p)
		}
	}
	for _, m := range req.Mounts {
		if !filepath.IsAbs(m.MountPoint) || filepath.Clean(m.MountPoint) != m.MountPoint || m.MountPoint == "/" || !filepath.IsAbs(m.Device) {
			return fmt.Errorf("arm: mount %q on %q is not an absolute device on an absolute, clean mount point other than /", m.Device, m.MountPoint)
		}
	}
	for _, g := range req.PGIDs {
		// kill(-1) would signal every process, kill(0) our own group.
		if g <= 1 {
			return fmt.Errorf("arm: process group %d is not a process group that may be killed", g)
		}
	}
	return nil
}

// ParseAddress reads an address target, "prefix@interface".
func ParseAddress(s string) (fip.Address, error) {
	p, iface, ok := strings.Cut(s, "@")
	if !ok || iface == "" {
		return fip.Address{}, fmt.Errorf("address %q is not prefix@interface, like 10.77.0.100/24@eth0", s)
	}
	prefix, err := netip.ParsePrefix(p)
	if err != nil {
		return fip.Address{}, fmt.Errorf("address %q: %w", s, err)
	}
	return fip.Address{Prefix: prefix, Interface: iface}, nil
}
