package alert

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

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
	// bufio.Reader rather than Scanner: a record has no length limit, and Scanner would stop at
	// its 64 KiB token size on one long message.
	br := bufio.NewReader(r)
	var (
		recs     []Record
		firstBad error
	)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadString('\n')
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
