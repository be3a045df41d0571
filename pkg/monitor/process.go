package monitor

import (
	"context"
	"fmt"
	"time"

	"clpkit/pkg/procwatch"
)

// Process is psw: some running process must have program Name (compared with argv[0] as
// procwatch does) and, when Cmdline is set, hold it in its command line.
type Process struct {
	Name     string
	Cmdline  string
	ProcRoot string // "" means /proc
}

// Check scans /proc once. The scan runs bounded because reading a process's command line
// blocks while that process's memory map is locked, as it is for one stuck in the kernel.
func (p Process) Check(ctx context.Context) error {
	return bounded(ctx, p.check, func(d time.Duration) error {
		return timeoutf("looking for process %s did not finish within %s", p.Name, d)
	})
}

func (p Process) check() error {
	spec := procwatch.Spec{Program: p.Name}
	if p.Cmdline != "" {
		spec.Include = []string{p.Cmdline}
	}
	found, err := procwatch.List(procRoot(p.ProcRoot), spec)
	if err != nil {
		return fmt.Errorf("looking for process %s: %w", p.Name, err)
	}
	if len(found) > 0 {
		return nil
	}
	if p.Cmdline != "" {
		return fmt.Errorf("no process named %s with %q in its command line", p.Name, p.Cmdline)
	}
	return fmt.Errorf("no process named %s", p.Name)
}
