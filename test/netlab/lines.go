package netlab

import (
	"bytes"
	"slices"
	"sync"
)

// Lines is the stdout of a helper process that reports one record per line (a prober, a
// client): it parses each line as soon as it is complete and keeps the records in order, and
// the lines that did not parse. It is safe to read while the process writes.
type Lines[T any] struct {
	parse func(string) (T, error)

	mu      sync.Mutex
	records []T
	bad     []string
	partial []byte
}

// NewLines returns an empty Lines that parses each line with parse.
func NewLines[T any](parse func(line string) (T, error)) *Lines[T] {
	return &Lines[T]{parse: parse}
}

// Write takes the output as it comes, in pieces that need not end at a line's end.
func (l *Lines[T]) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		r, err := l.parse(line)
		if err != nil {
			l.bad = append(l.bad, line)
			continue
		}
		l.records = append(l.records, r)
	}
}

// All returns a copy of every record so far.
func (l *Lines[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}

// Bad returns the lines that did not parse.
func (l *Lines[T]) Bad() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.bad)
}

// View calls fn with the records so far without copying them, for a search that runs every few
// milliseconds over a long record; fn must neither keep nor change them.
func (l *Lines[T]) View(fn func([]T)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fn(l.records)
}
