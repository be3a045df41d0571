package guard

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Watchdog is an open kernel watchdog device (/dev/watchdog, e.g. softdog): once open, the
// machine resets unless it is pinged within its timeout.
type Watchdog struct {
	f       *os.File
	fd      int
	path    string
	timeout time.Duration
}

// OpenWatchdog opens the watchdog device at path, which starts it, sets its timeout (whole
// seconds, at least 1) and pings it once. The driver may round the timeout; Timeout returns
// the one in force. When the timeout cannot be set or read back, the device is closed again
// (disarmed): the guard cannot keep a watchdog whose timeout it does not know.
func OpenWatchdog(path string, timeout time.Duration) (*Watchdog, error) {
	secs := int(timeout / time.Second)
	if secs < 1 || time.Duration(secs)*time.Second != timeout {
		return nil, fmt.Errorf("watchdog %s: the timeout must be a whole number of seconds, at least 1, not %s", path, timeout)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening watchdog: %w", err)
	}
	w := &Watchdog{f: f, fd: int(f.Fd()), path: path}
	if err := unix.IoctlSetPointerInt(w.fd, unix.WDIOC_SETTIMEOUT, secs); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("setting the timeout of watchdog %s to %d s: %w", path, secs, err)
	}
	got, err := unix.IoctlGetInt(w.fd, unix.WDIOC_GETTIMEOUT)
	if err != nil || got < 1 {
		_ = w.Close()
		return nil, fmt.Errorf("reading back the timeout of watchdog %s: %v", path, err)
	}
	w.timeout = time.Duration(got) * time.Second
	if err := w.Ping(); err != nil {
		_ = w.Close()
		return nil, err
	}
	return w, nil
}

// Timeout is the timeout in force.
func (w *Watchdog) Timeout() time.Duration { return w.timeout }

// Interval is how often the guard pings: a quarter of the timeout, so that a ping or two may be
// late without a reset.
func (w *Watchdog) Interval() time.Duration { return max(w.timeout/4, 10*time.Millisecond) }

// Ping keeps the watchdog alive for another timeout. Drivers without the keepalive ioctl are
// pinged by a write, which every driver takes as a ping.
func (w *Watchdog) Ping() error {
	err := unix.IoctlWatchdogKeepalive(w.fd)
	if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		_, err = w.f.Write([]byte{0})
	}
	if err != nil {
		return fmt.Errorf("pinging watchdog %s: %w", w.path, err)
	}
	return nil
}

// Close disarms the watchdog: the magic 'V' before the close tells the driver the close is
// intended. A driver built with nowayout keeps running, and the machine resets after the
// timeout; that is its owner's choice.
func (w *Watchdog) Close() error {
	_, werr := w.f.Write([]byte("V"))
	cerr := w.f.Close()
	if werr != nil {
		return fmt.Errorf("disarming watchdog %s: %w", w.path, werr)
	}
	if cerr != nil {
		return fmt.Errorf("closing watchdog %s: %w", w.path, cerr)
	}
	return nil
}
