// Package bounded reads files that must not cost the machine its memory: a configuration, a pfile,
// a pidfile or a lock file named by a path that an operator (or a mistake) may point at /dev/zero
// or a runaway log. Each reader of the kit says in its own words what the file was for; this
// package only guarantees the bound and names the limit the same way everywhere.
package bounded

import (
	"fmt"
	"io"
	"os"
)

// TooLargeError is a file holding more than its limit.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %s", e.Path, Size(e.Limit))
}

// ReadFile reads the whole file at path, or returns a *TooLargeError when it holds more than limit
// bytes. It never reads more than limit+1 bytes, whatever the file is (a device, a FIFO that keeps
// writing); a regular file larger than limit is refused before any read. Errors of open and read
// are *os.PathError.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: path, Limit: limit}
	}
	return b, nil
}

// Size writes a limit the way the kit's messages give it: "1 MiB", "64 KiB", "100 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
