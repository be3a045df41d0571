package config

import (
	"strconv"
	"strings"
)

// BurntSushi/toml's MetaData knows key positions but does not export them, and even then keys of
// arrays of tables are not told apart per element. So the line of every table header and key is
// found here by a small scanner over the source.
//
// Paths name tables and keys the way the decoded map is walked: "cluster.name", "server[1]",
// "group[0].resource[2].start". An element of an array of tables maps to its [[...]] header line.
// The scanner only has to be right for text the TOML parser accepted; on any other input it must
// merely terminate without panicking, as its answer is then never used.

// LineIndex maps paths to the 1-based line that defines them. It serves every TOML file of the
// suite (pkg/mfes reads mfes.toml with it), so that all point their errors at lines the same way.
type LineIndex map[string]int

// Find returns the line of path, or of the nearest enclosing table or key that has one, so that a
// value written inline (server = [{...}]) is still pointed at its key. 0 means unknown.
func (ix LineIndex) Find(path string) int {
	for path != "" {
		if l, ok := ix[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath drops the last ".key" or "[i]" of path.
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// IndexLines scans src and records the line of every table header and key.
func IndexLines(src string) LineIndex {
	s := &lineScanner{src: src, line: 1, ix: LineIndex{}, arrays: map[string]int{}}
	s.run()
	return s.ix
}

type lineScanner struct {
	src  string
	pos  int
	line int
	ix   LineIndex
	// arrays counts the elements seen so far of each array of tables, by resolved path.
	arrays map[string]int
}

func (s *lineScanner) eof() bool { return s.pos >= len(s.src) }

func (s *lineScanner) peek(off int) byte {
	if s.pos+off < len(s.src) {
		return s.src[s.pos+off]
	}
	return 0
}

// advance moves over one byte, keeping the line count right wherever a newline is passed.
func (s *lineScanner) advance() {
	if s.eof() {
		return
	}
	if s.src[s.pos] == '\n' {
		s.line++
	}
	s.pos++
}

func (s *lineScanner) skipBlank() {
	for !s.eof() && (s.peek(0) == ' ' || s.peek(0) == '\t') {
		s.advance()
	}
}

func (s *lineScanner) skipComment() {
	for !s.eof() && s.peek(0) != '\n' {
		s.advance()
	}
}

func (s *lineScanner) record(path string, line int) {
	if _, ok := s.ix[path]; !ok {
		s.ix[path] = line
	}
}

func (s *lineScanner) run() {
	table := ""
	for !s.eof() {
		switch c := s.peek(0); {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			s.advance()
		case c == '#':
			s.skipComment()
		case c == '[':
			table = s.header()
		default:
			line, start := s.line, s.pos
			parts := s.key()
			if s.peek(0) != '=' || len(parts) == 0 {
				// Not a key/value line: skip it rather than guess.
				if s.pos == start {
					s.advance()
				}
				s.skipComment()
				continue
			}
			s.advance()
			p := table
			for _, part := range parts {
				p = joinPath(p, part)
				s.record(p, line)
			}
			s.value()
		}
	}
}

// header reads "[a.b]" or "[[a.b]]" and returns the resolved path of the table it opens.
func (s *lineScanner) header() string {
	line := s.line
	s.advance()
	array := s.peek(0) == '['
	if array {
		s.advance()
	}
	parts := s.key()
	path := ""
	for i, part := range parts {
		path = joinPath(path, part)
		if i == len(parts)-1 && array {
			// The bare path points messages about the array as a whole at its first header.
			s.record(path, line)
			n := s.arrays[path]
			s.arrays[path] = n + 1
			path += "[" + strconv.Itoa(n) + "]"
		} else if n, ok := s.arrays[path]; ok {
			// A table under an array of tables belongs to its latest element.
			path += "[" + strconv.Itoa(n-1) + "]"
		} else {
			// [a.b] defines a implicitly; point messages about a here unless it has its own line.
			s.record(path, line)
		}
	}
	s.record(path, line)
	s.skipComment()
	return path
}

// key reads a dotted key, stopping at '=', ']' or the end of the line.
func (s *lineScanner) key() []string {
	var parts []string
	for {
		s.skipBlank()
		var part string
		switch s.peek(0) {
		case '"':
			part = s.basicString()
		case '\'':
			part = s.literalString()
		default:
			start := s.pos
			for !s.eof() && !strings.ContainsRune(" \t\r\n.=]#\"'", rune(s.peek(0))) {
				s.advance()
			}
			part = s.src[start:s.pos]
			if part == "" {
				return parts
			}
		}
		parts = append(parts, part)
		s.skipBlank()
		if s.peek(0) != '.' {
			return parts
		}
		s.advance()
	}
}

// basicString reads a one-line "..." string and returns its unescaped content.
func (s *lineScanner) basicString() string {
	start := s.pos
	s.advance()
	for !s.eof() && s.peek(0) != '"' && s.peek(0) != '\n' {
		if s.peek(0) == '\\' {
			s.advance()
		}
		s.advance()
	}
	s.advance()
	raw := s.src[start:min(s.pos, len(s.src))]
	if u, err := strconv.Unquote(raw); err == nil {
		return u
	}
	return strings.Trim(raw, `"`)
}

// literalString reads a one-line '...' string.
func (s *lineScanner) literalString() string {
	s.advance()
	start := s.pos
	for !s.eof() && s.peek(0) != '\'' && s.peek(0) != '\n' {
		s.advance()
	}
	content := s.src[start:s.pos]
	s.advance()
	return content
}

// value skips a value, which may span lines inside arrays, inline tables and multi-line strings.
func (s *lineScanner) value() {
	depth := 0
	for !s.eof() {
		switch c := s.peek(0); {
		case c == '\n':
			if depth == 0 {
				return
			}
			s.advance()
		case c == '#':
			s.skipComment()
		case c == '[' || c == '{':
			depth++
			s.advance()
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
			s.advance()
		case strings.HasPrefix(s.src[s.pos:], `"""`):
			s.multiline(`"""`, true)
		case strings.HasPrefix(s.src[s.pos:], `'''`):
			s.multiline(`'''`, false)
		case c == '"':
			s.basicString()
		case c == '\'':
			s.literalString()
		default:
			s.advance()
		}
	}
}

// multiline skips a multi-line string opened by delim. Up to two extra quotes before the closing
// delimiter are still content, so they are consumed with it.
func (s *lineScanner) multiline(delim string, escapes bool) {
	s.pos += len(delim)
	for !s.eof() {
		if escapes && s.peek(0) == '\\' {
			s.advance()
			s.advance()
			continue
		}
		if strings.HasPrefix(s.src[s.pos:], delim) {
			s.pos += len(delim)
			for i := 0; i < 2 && s.peek(0) == delim[0]; i++ {
				s.pos++
			}
			return
		}
		s.advance()
	}
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
