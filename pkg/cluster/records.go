package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"clpkit/pkg/resource"
	"clpkit/pkg/status"
)

// Operations a group record can say were under way.
const (
	recStart = "start"
	recStop  = "stop"
)

// groupRecord is what survives a daemon crash about a group: the operation last begun on this
// server, whether it finished, and the event its scripts were given.
type groupRecord struct {
	Op    string         `json:"op"`
	Done  bool           `json:"done"`
	Event resource.Event `json:"event"`
	Token int64          `json:"token"`
}

// resourceRecord is what survives about a resource that is not cleanly Offline: its state, the
// event its start received (its stop gets the same), and the script job it may still be running.
type resourceRecord struct {
	State  status.State   `json:"state"`
	Event  resource.Event `json:"event"`
	Detail string         `json:"detail,omitempty"`
	// Start is the running start script: of a pending resource, or of an asynchronous one.
	Start *resource.JobInfo `json:"start,omitempty"`
	// Stop is the running stop script of a resource going Offline.
	Stop *resource.JobInfo `json:"stop,omitempty"`
}

// records persists run state under dir (in the run directory: a reboot clears it, and after a
// reboot nothing of the old run state can still be running).
type records struct{ dir string }

func (r records) groupPath(g string) string { return filepath.Join(r.dir, g+".group.json") }
func (r records) resPath(g, res string) string {
	return filepath.Join(r.dir, g+"."+res+".resource.json")
}

func (r records) write(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("writing run state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing run state: %w", err)
	}
	return nil
}

func (r records) read(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading run state: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("run state %s is damaged: %w", path, err)
	}
	return true, nil
}

func (r records) remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("clearing run state: %w", err)
	}
	return nil
}
