package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"clpkit/pkg/bounded"
)

// Error is a problem in a configuration file. Line is 1-based; 0 when the problem belongs to the
// file as a whole (a missing table, an unreadable file).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Load reads and validates the configuration file at path. Every error it returns is an *Error
// naming the file by its absolute path.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	data, err := bounded.ReadFile(abs, MaxSize)
	if _, ok := errors.AsType[*bounded.TooLargeError](err); ok {
		return nil, &Error{File: abs, Msg: fmt.Sprintf("the configuration is larger than %d KiB: point -c at the cluster's TOML file", MaxSize>>10)}
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{File: abs, Msg: fmt.Sprintf("cannot read the configuration: %v: check the path and its permissions", err)}
	}
	return Parse(abs, data)
}

// MaxSize bounds a configuration file: a real one is a few KiB, and reading /dev/zero or a
// runaway file must end with a clear error, not with the memory of the machine.
const MaxSize = 1 << 20

// Parse decodes and validates a configuration. file names it in errors, and relative paths in it
// are resolved against file's directory. On failure the error is the *Error with the lowest line
// number (problems of the whole file come last), so fixing errors top to bottom converges.
func Parse(file string, data []byte) (*Config, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	p := &parser{file: file, dir: filepath.Dir(abs)}

	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, p.syntaxError(err)
	}
	p.lines = IndexLines(string(data))

	c := p.build(raw)
	c.File = abs
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			return cmp.Compare(sortLine(a.Line), sortLine(b.Line))
		})
		return nil, p.errs[0]
	}
	return c, nil
}

// sortLine puts whole-file problems after located ones: a missing table is often a consequence of a
// mistyped header that has its own, more precise, error.
func sortLine(line int) int {
	if line == 0 {
		return int(^uint(0) >> 1)
	}
	return line
}

func (p *parser) syntaxError(err error) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &Error{File: p.file, Line: pe.Position.Line, Msg: "invalid TOML: " + oneLine(pe.Message)}
	}
	return &Error{File: p.file, Msg: "invalid TOML: " + oneLine(err.Error())}
}

// oneLine keeps messages from the TOML library to one lowercase-led line like ours.
func oneLine(s string) string {
	s = strings.TrimSuffix(strings.Join(strings.Fields(s), " "), ".")
	if s != "" && s[0] >= 'A' && s[0] <= 'Z' {
		s = strings.ToLower(s[:1]) + s[1:]
	}
	return s
}

// parser collects every problem so Parse can report the first by line, not the first found.
type parser struct {
	file  string
	dir   string
	lines LineIndex
	errs  []*Error
	// electionSet: the file sets store.election_timeout (its default depends on the members).
	electionSet  bool
	electionLine int
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// resolve makes a path from the file absolute against the file's directory.
func (p *parser) resolve(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(p.dir, path)
}
