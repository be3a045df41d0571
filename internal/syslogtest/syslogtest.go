// Package syslogtest is a syslog daemon for one test: a unixgram socket standing in for /dev/log,
// so that what pcheck, clpd and the alert sink send to syslog can be read back byte for byte
// without touching the host's logger.
package syslogtest

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
)

// Listen opens a unixgram socket at path (a new one in the test's temporary directory when path is
// "") and delivers each datagram on the returned channel, in order. The socket closes when the test
// ends, and then the channel is closed; datagrams nobody read by then are dropped.
func Listen(t testing.TB, path string) (string, <-chan string) {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "log")
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listening as syslog on %s: %v", path, err)
	}
	ch := make(chan string, 1024)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		defer close(ch)
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			select {
			case ch <- string(buf[:n]):
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		c.Close()
		<-stopped
	})
	return path, ch
}
