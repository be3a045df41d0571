package mfes

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// Every file the package reads is read through bounded.ReadFile or readPrefix, so that a path named
// by mistake (/dev/zero, a log, a FIFO someone writes to for ever) cannot fill memory.

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
