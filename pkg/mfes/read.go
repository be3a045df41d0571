package mfes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// Every file the package reads is read through readLimited or readPrefix, so that a path named
// by mistake (/dev/zero, a log, a FIFO someone writes to for ever) cannot fill memory.

// tooLargeError is readLimited's answer for a file longer than its limit.
type tooLargeError struct {
	path  string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s", e.path, size(e.limit))
}

// readLimited reads the whole file at path, or returns a *tooLargeError when it holds more
// than limit bytes; it never reads more than limit+1 of them.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &tooLargeError{path: path, limit: limit}
	}
	return b, nil
}

// readPrefix reads at most limit bytes of the file at path: for /proc files, whose length the
// kernel bounds, and of which the first bytes are all the kit needs.
func readPrefix(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// size writes a limit the way the messages give it: "1 MiB", "4 KiB", "512 bytes".
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// errOutputTooLarge is what cappedBuffer's Write returns once its limit is reached.
var errOutputTooLarge = errors.New("output too large")

// cappedBuffer keeps at most limit bytes of what a child prints; beyond that Write fails, which
// ends the copy (and os/exec closes the child's pipe: the child gets EPIPE or SIGPIPE), and
// over is set.
type cappedBuffer struct {
	buf   bytes.Buffer
	limit int
	over  bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.limit - c.buf.Len(); len(p) > room {
		c.over = true
		c.buf.Write(p[:room])
		return room, errOutputTooLarge
	}
	return c.buf.Write(p)
}
