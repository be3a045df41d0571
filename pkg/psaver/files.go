package psaver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxPfileSize bounds a pfile. The seed's pfiles are a few hundred bytes; a megabyte holds
// thousands of PENT lines. A larger file, or one that never ends (/dev/zero, a FIFO fed by
// something else), is refused before it is read whole, so that pcheck and padmin stay small.
const MaxPfileSize = 1 << 20

// maxLockFile bounds a lock file of the run directory, which holds a pid and a pfile path.
const maxLockFile = 64 << 10

// TooLargeError is a pfile larger than MaxPfileSize. It is a problem of the pfile (PfileError):
// a reload refused for it makes padmin exit as for any other pfile error.
type TooLargeError struct {
	Path  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return oneLine(fmt.Sprintf("pfile %s is larger than %s", e.Path, sizeText(e.Limit)))
}

// PfileProblem marks the error as a problem of the pfile.
func (e *TooLargeError) PfileProblem() {}

// ReadPfile reads the pfile at path, which may not be larger than MaxPfileSize: a larger one gives
// a *TooLargeError, having read no more than MaxPfileSize+1 bytes of it. Other errors are those of
// os.Open and Read, unwrapped (an *os.PathError).
func ReadPfile(path string) ([]byte, error) {
	b, err := readFileMax(path, MaxPfileSize)
	if errors.Is(err, errTooLarge) {
		return nil, &TooLargeError{Path: path, Limit: MaxPfileSize}
	}
	return b, err
}

var errTooLarge = errors.New("file too large")

// readFileMax reads the file at path, or returns errTooLarge when it holds more than max bytes.
// It reads max+1 bytes at most, whatever the file is.
func readFileMax(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > max {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(b)) > max {
		return nil, errTooLarge
	}
	return b, nil
}

// sizeText writes a limit the way the messages give it: 1 MiB, 64 KiB, 100 bytes.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// oneLine replaces control characters (a newline in a path, say) with '?'.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
