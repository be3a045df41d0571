package psaver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/syslog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/alert"
)

// DefaultSyslogSocket is the local syslog socket.
const DefaultSyslogSocket = "/dev/log"

// EnvSyslogSocket names the environment variable that overrides DefaultSyslogSocket. Tests
// point it at a socket of their own; machines whose syslog listens elsewhere set it too.
const EnvSyslogSocket = "CLPKIT_SYSLOG_SOCKET"

// SyslogSocket returns $CLPKIT_SYSLOG_SOCKET when set, else DefaultSyslogSocket.
func SyslogSocket(env func(string) string) string {
	return envOr(env, EnvSyslogSocket, DefaultSyslogSocket)
}

// Line is one message for the reporter: the text, its syslog priority (facility daemon), and
// the event ID it gets in the clpkit alert log.
type Line struct {
	Priority syslog.Priority
	ID       int
	Text     string
}

// Reporter writes pcheck's and padmin's messages where ProcessSaver wrote them: syslog with the
// tag "pcheck" or "padmin" (log/syslog adds "[PID]", giving the seed's "pcheck[12183]: ..."),
// standard error when it is a terminal, and the clpkit alert log when that file exists (the
// server runs clpd). Without a syslog socket, every message goes to standard error so that none
// is lost.
type Reporter struct {
	tag    string
	pid    int
	stderr io.Writer
	tty    bool
	socket string

	mu       sync.Mutex
	sl       *syslog.Writer
	lastDial time.Time
	al       *alert.Logger
}

// redialEvery is how often a Reporter without syslog tries to connect again: syslog may start
// after pcheck (boot order) or be restarted.
const redialEvery = 30 * time.Second

// NewReporter connects to syslog at socket and returns the Reporter, plus a one-line warning
// ("" when all is well) that the caller prints on stderr.
//
// stderrTTY says whether stderr is a terminal (see IsTerminal). alertPath is the alert log;
// it is used only when the file already exists, so that a server without clpd does not grow a
// /var/log/clpkit of its own. server is the server name written in alert records.
func NewReporter(tag string, socket string, stderr io.Writer, stderrTTY bool, alertPath, server string) (*Reporter, string) {
	r := &Reporter{tag: tag, pid: os.Getpid(), stderr: stderr, tty: stderrTTY, socket: socket, lastDial: time.Now()}
	var warning string
	sl, err := dialSyslog(socket, tag)
	if err != nil {
		warning = fmt.Sprintf("%s: syslog is not available (%v): messages go to standard error", tag, err)
	} else {
		r.sl = sl
	}
	if fi, err := os.Stat(alertPath); err == nil && fi.Mode().IsRegular() {
		r.al = alert.NewLogger(server, time.Now, alert.NewFileSink(alertPath))
	}
	return r, warning
}

// dialSyslog connects as log/syslog does for the local socket, datagram first, but to socket.
func dialSyslog(socket, tag string) (*syslog.Writer, error) {
	w, err := syslog.Dial("unixgram", socket, syslog.LOG_DAEMON|syslog.LOG_INFO, tag)
	if err == nil {
		return w, nil
	}
	// A stream socket answers a datagram connect with EPROTOTYPE; then try a stream.
	if !errors.Is(err, unix.EPROTOTYPE) {
		return nil, err
	}
	return syslog.Dial("unix", socket, syslog.LOG_DAEMON|syslog.LOG_INFO, tag)
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Report writes one message. Failures of a destination are written on stderr: the message
// itself must not be lost along with them.
func (r *Reporter) Report(l Line) { r.report(l, true) }

// Log writes one message to syslog and the alert log only, for a caller that prints the same
// text on stderr itself (an error it exits with).
func (r *Reporter) Log(l Line) { r.report(l, false) }

func (r *Reporter) report(l Line, echo bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	if r.sl == nil && time.Since(r.lastDial) >= redialEvery {
		r.lastDial = time.Now()
		if sl, err := dialSyslog(r.socket, r.tag); err == nil {
			r.sl = sl
		}
	}
	if r.sl != nil {
		if err := writeSyslog(r.sl, l); err != nil {
			errs = append(errs, fmt.Errorf("syslog: %w", err))
		}
	}
	if r.al != nil {
		if err := r.al.Log(context.Background(), r.tag, l.ID, level(l.Priority), l.Text); err != nil {
			errs = append(errs, err)
		}
	}
	if echo && (r.tty || r.sl == nil || len(errs) > 0) {
		fmt.Fprintf(r.stderr, "%s[%d]: %s\n", r.tag, r.pid, l.Text)
	}
	for _, err := range errs {
		fmt.Fprintf(r.stderr, "%s: %v\n", r.tag, err)
	}
}

func writeSyslog(w *syslog.Writer, l Line) error {
	switch l.Priority & 7 {
	case syslog.LOG_EMERG:
		return w.Emerg(l.Text)
	case syslog.LOG_ALERT:
		return w.Alert(l.Text)
	case syslog.LOG_CRIT:
		return w.Crit(l.Text)
	case syslog.LOG_ERR:
		return w.Err(l.Text)
	case syslog.LOG_WARNING:
		return w.Warning(l.Text)
	case syslog.LOG_NOTICE:
		return w.Notice(l.Text)
	case syslog.LOG_DEBUG:
		return w.Debug(l.Text)
	}
	return w.Info(l.Text)
}

func level(p syslog.Priority) alert.Level {
	switch p & 7 {
	case syslog.LOG_EMERG, syslog.LOG_ALERT, syslog.LOG_CRIT, syslog.LOG_ERR:
		return alert.Error
	case syslog.LOG_WARNING:
		return alert.Warning
	}
	return alert.Info
}

// Close closes the syslog connection.
func (r *Reporter) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sl != nil {
		err := r.sl.Close()
		r.sl = nil
		return err
	}
	return nil
}
