package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// FileSink appends records to the alert log file.
type FileSink struct {
	path string
}

// NewFileSink returns a sink that appends to the file at path. Nothing is opened yet: the file
// (and its directory) is created by the first write, so a tool that fails before logging leaves
// no trace.
func NewFileSink(path string) *FileSink { return &FileSink{path: path} }

// Path returns the file the sink writes to.
func (s *FileSink) Path() string { return s.path }

// Write appends r as one line. Errors name the file and the OS error, e.g.
// "cannot write alert log /var/log/clpkit/alert.log: permission denied".
func (s *FileSink) Write(ctx context.Context, r Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	line := append([]byte(r.Line()), '\n')
	if err := s.append(line); err != nil {
		return s.wrap(err)
	}
	return nil
}

// wrap names the file once: an *fs.PathError about the file itself already carries the path, so
// only its OS error is kept; an error about something else (the directory) is kept whole.
func (s *FileSink) wrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == s.path {
		err = pe.Err
	}
	return fmt.Errorf("cannot write alert log %s: %w", s.path, err)
}

func (s *FileSink) append(line []byte) error {
	f, err := s.open()
	if err != nil {
		return err
	}
	werr := writeOnce(f, line)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// open opens the log for appending, creating the directory (0755) and the file (0644) when
// missing. The mode is set explicitly on a file we create, because a restrictive umask (cron,
// some service managers) would otherwise hide the log from operators and from clpstat.
func (s *FileSink) open() (*os.File, error) {
	const flags = os.O_WRONLY | os.O_APPEND
	f, err := os.OpenFile(s.path, flags, 0)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	dir := filepath.Dir(s.path)
	if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		_ = os.Chmod(dir, 0o755) // best effort: the umask may have narrowed it
	}
	// O_EXCL tells us whether this process created the file; another writer may win the race,
	// and then we simply append to its file.
	f, err = os.OpenFile(s.path, flags|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return os.OpenFile(s.path, flags, 0)
	}
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// writeOnce writes b with exactly one write(2). os.File.Write would retry a short write with a
// second call, and between the two another process's record could land in the middle of ours;
// O_APPEND makes each single write(2) land whole at the end of the file.
func writeOnce(f *os.File, b []byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var (
		n    int
		werr error
	)
	if err := rc.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), b)
			if werr != syscall.EINTR {
				return true
			}
		}
	}); err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	if n != len(b) {
		return fmt.Errorf("wrote %d of %d bytes: %w", n, len(b), io.ErrShortWrite)
	}
	return nil
}
