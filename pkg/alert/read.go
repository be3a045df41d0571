package alert

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxLine bounds one record of the alert log (a message can be long: a script may log a
// command's whole output).
const MaxLine = 1 << 20

// Read parses the alert log at path, oldest record first.
//
// A malformed line does not hide the rest of the log: Read returns every well-formed record and,
// alongside them, an error naming the first malformed line as "path:line: ..." (it wraps
// ErrMalformed). An I/O error is returned as is, with the records read before it.
func Read(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f, path)
}

// parse reads records from r; name prefixes error locations.
func parse(r io.Reader, name string) ([]Record, error) {
	// A line longer than MaxLine is reported as malformed and skipped, rather than read whole:
	// a log that is not one (/dev/zero, a binary file) must not take the memory of the machine.
	// bufio.Scanner would instead stop at the first long line and hide the records after it.
	br := bufio.NewReaderSize(r, MaxLine)
	var (
		recs     []Record
		firstBad error
	)
	for lineNo := 1; ; lineNo++ {
		slice, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if firstBad == nil {
				firstBad = fmt.Errorf("%s:%d: %w: the line is longer than %d KiB", name, lineNo, ErrMalformed, MaxLine>>10)
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return recs, err
			}
			if err != nil {
				break
			}
			continue
		}
		line := string(slice)
		if err != nil && !errors.Is(err, io.EOF) {
			return recs, err
		}
		if line == "" && err != nil {
			break // clean end of file
		}
		// A final line with no newline is a record too (a file copied or edited by hand).
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line != "" {
			rec, perr := ParseLine(line)
			if perr != nil {
				if firstBad == nil {
					firstBad = fmt.Errorf("%s:%d: %w", name, lineNo, perr)
				}
			} else {
				recs = append(recs, rec)
			}
		}
		if err != nil {
			break
		}
	}
	return recs, firstBad
}
