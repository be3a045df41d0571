package alert

import (
	"context"
	"errors"
	"fmt"
	"log/syslog"
	"sync"
)

// ErrNoSyslog is wrapped by DialSyslog when the machine has no local syslog socket, which is
// normal in containers and on CI runners. Callers that treat syslog as optional test for it.
var ErrNoSyslog = errors.New("syslog is not available: no socket at /dev/log, /var/run/syslog or /var/run/log")

// SyslogSink sends records to syslog with facility daemon, the module as tag and a priority
// from the level (INFO → info, WARN → warning, ERR → err).
type SyslogSink struct {
	network, raddr string

	mu sync.Mutex
	// writers holds one connection per module, because log/syslog fixes the tag per connection
	// and the daemon logs for several modules (rc, rm, nm, ...).
	writers map[string]*syslog.Writer
}

// DialSyslog connects to syslog. network and raddr are as for syslog.Dial: both empty means the
// local socket (/dev/log); tests pass "unixgram" and a socket of their own. It fails with
// ErrNoSyslog when there is no local socket, so the caller can decide whether that matters
// (the daemon carries on; clplogcmd --syslog reports it).
func DialSyslog(network, raddr string) (*SyslogSink, error) {
	s := &SyslogSink{network: network, raddr: raddr, writers: make(map[string]*syslog.Writer)}
	// Dial now rather than at the first record, so that a missing socket is known up front.
	// The connection is kept for the module "clpkit".
	if _, err := s.writer("clpkit"); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SyslogSink) writer(module string) (*syslog.Writer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writers == nil {
		return nil, errors.New("syslog: sink is closed")
	}
	if w, ok := s.writers[module]; ok {
		return w, nil
	}
	w, err := syslog.Dial(s.network, s.raddr, syslog.LOG_DAEMON|syslog.LOG_INFO, module)
	if err != nil {
		if s.network == "" {
			// log/syslog says only "Unix syslog delivery error"; say what is missing.
			return nil, ErrNoSyslog
		}
		return nil, fmt.Errorf("syslog: %w", err)
	}
	s.writers[module] = w
	return w, nil
}

// Message is the syslog text of r. The shape "<type: MODULE><event: ID> TEXT" follows, as far as
// we recall it, CLUSTERPRO's own syslog lines, so that existing log filters keyed on the event ID
// keep working; the level travels as the syslog priority, the server as the syslog host.
func (r Record) Message() string {
	return fmt.Sprintf("<type: %s><event: %d> %s", field(r.Module), r.ID, oneLine(r.Text))
}

// Write sends one record.
func (s *SyslogSink) Write(ctx context.Context, r Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w, err := s.writer(field(r.Module))
	if err != nil {
		return err
	}
	msg := r.Message()
	switch r.Level {
	case Warning:
		err = w.Warning(msg)
	case Error:
		err = w.Err(msg)
	default:
		err = w.Info(msg)
	}
	if err != nil {
		return fmt.Errorf("syslog: %w", err)
	}
	return nil
}

// Close closes every connection; later writes fail.
func (s *SyslogSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, w := range s.writers {
		if err := w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.writers = nil
	return errors.Join(errs...)
}
