package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// DefaultPath is where the alert log lives when CLPKIT_ALERT_LOG is not set.
const DefaultPath = "/var/log/clpkit/alert.log"

// EnvPath names the environment variable that overrides DefaultPath. Tests and per-test clusters
// set it so that they never touch /var/log.
const EnvPath = "CLPKIT_ALERT_LOG"

// EnvServer names the environment variable that overrides the server name written in records
// (the short host name otherwise). Per-test clusters run several "servers" on one host.
const EnvServer = "CLPKIT_SERVER"

// Path returns the alert log path: $CLPKIT_ALERT_LOG when set and not empty, else DefaultPath.
// env is os.Getenv in production; it is a parameter so tests need not touch the process
// environment.
func Path(env func(string) string) string {
	if p := env(EnvPath); p != "" {
		return p
	}
	return DefaultPath
}

// ServerName returns the name this server writes in its records: $CLPKIT_SERVER when set, else
// the host name up to its first dot (CLUSTERPRO shows short names, and scripts compare them with
// `hostname`). hostname is os.Hostname in production.
func ServerName(env func(string) string, hostname func() (string, error)) (string, error) {
	if s := env(EnvServer); s != "" {
		return s, nil
	}
	h, err := hostname()
	if err != nil {
		return "", fmt.Errorf("cannot get the host name (set %s): %w", EnvServer, err)
	}
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	if h == "" {
		return "", fmt.Errorf("the host name is empty (set %s)", EnvServer)
	}
	return h, nil
}

// Sink is a destination for records. Write must be safe for concurrent use; a Sink that holds
// resources also implements io.Closer, and Logger.Close closes it.
type Sink interface {
	Write(ctx context.Context, r Record) error
}

// Logger stamps records with the time and the server name and hands them to every sink.
type Logger struct {
	server string
	now    func() time.Time
	sinks  []Sink
}

// NewLogger returns a Logger that writes to sinks. now is the clock (time.Now in production; nil
// means time.Now), server the name written in every record (see ServerName).
func NewLogger(server string, now func() time.Time, sinks ...Sink) *Logger {
	if now == nil {
		now = time.Now
	}
	return &Logger{server: server, now: now, sinks: append([]Sink(nil), sinks...)}
}

// NewStandard returns the logger the daemon uses: the alert log file at path (see Path), plus
// syslog when this machine has a local syslog socket. Without one (containers, CI) syslog is left
// out silently: the file still holds every record, and a daemon must not fail for want of syslog.
func NewStandard(path, server string, now func() time.Time) *Logger {
	sinks := []Sink{NewFileSink(path)}
	if s, err := DialSyslog("", ""); err == nil {
		sinks = append(sinks, s)
	}
	return NewLogger(server, now, sinks...)
}

// Log writes one record to every sink. A failing sink does not stop the others (the file must
// get the record even when syslog is broken); the errors of all failing sinks are joined.
func (l *Logger) Log(ctx context.Context, module string, id int, level Level, text string) error {
	if !level.Valid() {
		return fmt.Errorf("alert: invalid level %d", int(level))
	}
	return l.Write(ctx, Record{Time: l.now(), Server: l.server, Module: module, ID: id, Level: level, Text: text})
}

// Write sends a record built by the caller (for example one relayed from another server, with
// its own time and server) to every sink.
func (l *Logger) Write(ctx context.Context, r Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var errs []error
	for _, s := range l.sinks {
		if err := s.Write(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes every sink that holds resources.
func (l *Logger) Close() error {
	var errs []error
	for _, s := range l.sinks {
		if c, ok := s.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
