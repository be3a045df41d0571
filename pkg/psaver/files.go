package psaver

import (
	"errors"
	"fmt"
	"strings"

	"clpkit/pkg/bounded"
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
	return oneLine(fmt.Sprintf("pfile %s is larger than %s", e.Path, bounded.Size(e.Limit)))
}

// PfileProblem marks the error as a problem of the pfile.
func (e *TooLargeError) PfileProblem() {}

// ReadPfile reads the pfile at path, which may not be larger than MaxPfileSize: a larger one gives
// a *TooLargeError, having read no more than MaxPfileSize+1 bytes of it. Other errors are those of
// os.Open and Read, unwrapped (an *os.PathError).
func ReadPfile(path string) ([]byte, error) {
	b, err := bounded.ReadFile(path, MaxPfileSize)
	if _, ok := errors.AsType[*bounded.TooLargeError](err); ok {
		return nil, &TooLargeError{Path: path, Limit: MaxPfileSize}
	}
	return b, err
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
