package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// table is one TOML table being decoded by hand. Decoding into map[string]any instead of structs
// lets every wrong type and unknown key be reported with its own line, all of them rather than
// only the first the decoder trips on.
type table struct {
	p *parser
	m map[string]any
	// path locates the table in the line index ("group[0].resource[1]").
	path string
	// name prefixes keys in messages ("group.resource"), header is how the table is written.
	name   string
	header string
	keys   []string
	line   int
}

func (p *parser) table(m map[string]any, path, name, header string, keys []string) *table {
	return &table{p: p, m: m, path: path, name: name, header: header, keys: keys, line: p.lines.Find(path)}
}

// section opens the file's [name] table, knowing keys, and reports the keys it does not know;
// false when the file has no such table.
func (p *parser) section(top *table, name string, keys []string) (*table, bool) {
	m, ok := top.sub(name)
	if !ok {
		return nil, false
	}
	t := p.table(m, name, name, "["+name+"]", keys)
	t.checkUnknown()
	return t, true
}

func (t *table) keyLine(key string) int { return t.p.lines.Find(joinPath(t.path, key)) }

func (t *table) keyName(key string) string { return joinPath(t.name, key) }

func (t *table) errorf(key string, format string, args ...any) {
	line := t.line
	if key != "" {
		line = t.keyLine(key)
	}
	t.p.errorf(line, format, args...)
}

// checkUnknown reports keys the table does not accept; sorted so the report is deterministic.
func (t *table) checkUnknown() {
	var unknown []string
	for k := range t.m {
		if !slices.Contains(t.keys, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		where := "in " + t.header
		if t.header == "" {
			where = "at the top level"
		}
		t.errorf(k, "unknown key %q %s: accepted keys are %s", k, where, strings.Join(t.keys, ", "))
	}
}

// typeName describes a decoded TOML value for "must be X, not Y" messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date or time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("a %T", v)
}

func (t *table) wrongType(key, want string, v any) {
	t.errorf(key, "%s must be %s, not %s", t.keyName(key), want, typeName(v))
}

// Accessors return ok=false both when the key is absent and when its value is unusable; in the
// latter case the problem is already reported, so callers only add "is required" when !t.has(key).

func (t *table) has(key string) bool {
	_, ok := t.m[key]
	return ok
}

func (t *table) str(key string) (string, bool) {
	v, ok := t.m[key]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(key, "a string", v)
	}
	return s, ok
}

func (t *table) boolean(key string) (bool, bool) {
	v, ok := t.m[key]
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		t.wrongType(key, "true or false", v)
	}
	return b, ok
}

// intRange reads an integer that must lie in [lo, hi].
func (t *table) intRange(key string, lo, hi int) (int, bool) {
	v, ok := t.m[key]
	if !ok {
		return 0, false
	}
	n, ok := v.(int64)
	if !ok {
		t.wrongType(key, fmt.Sprintf("an integer from %d to %d", lo, hi), v)
		return 0, false
	}
	if n < int64(lo) || n > int64(hi) {
		t.errorf(key, "%s %d is out of range: use %d to %d", t.keyName(key), n, lo, hi)
		return 0, false
	}
	return int(n), true
}

// strList reads an array of strings; an empty array reads as nil.
func (t *table) strList(key string) ([]string, bool) {
	v, ok := t.m[key]
	if !ok {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		t.wrongType(key, "an array of strings", v)
		return nil, false
	}
	var out []string
	for _, e := range arr {
		s, ok := e.(string)
		if !ok {
			t.errorf(key, "%s must contain only strings, not %s", t.keyName(key), typeName(e))
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// enum reads a string that must be one of allowed.
func (t *table) enum(key string, allowed ...string) (string, bool) {
	s, ok := t.str(key)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		t.errorf(key, "%s %q is not valid: use %s", t.keyName(key), s, orList(allowed))
		return "", false
	}
	return s, true
}

// orList renders `"a", "b" or "c"`.
func orList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// duration reads a positive duration written as a Go duration string or whole seconds.
func (t *table) duration(key string) (time.Duration, bool) {
	v, ok := t.m[key]
	if !ok {
		return 0, false
	}
	const hint = `use a duration like "1.5s", "500ms" or "30m", or a whole number of seconds`
	var d time.Duration
	switch x := v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			t.errorf(key, "%s %q is not a valid duration: %s", t.keyName(key), x, hint)
			return 0, false
		}
		if d <= 0 {
			t.errorf(key, "%s %q is not positive: %s", t.keyName(key), x, hint)
			return 0, false
		}
	case int64:
		if x <= 0 {
			t.errorf(key, "%s %d is not positive: %s", t.keyName(key), x, hint)
			return 0, false
		}
		if x > math.MaxInt64/int64(time.Second) {
			t.errorf(key, "%s %d is out of range: use at most %d seconds", t.keyName(key), x, math.MaxInt64/int64(time.Second))
			return 0, false
		}
		d = time.Duration(x) * time.Second
	default:
		t.wrongType(key, `a duration string like "1s" or an integer number of seconds`, v)
		return 0, false
	}
	return d, true
}

// sub reads a single table ([name]).
func (t *table) sub(key string) (map[string]any, bool) {
	v, ok := t.m[key]
	if !ok {
		return nil, false
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.errorf(key, "%s must be a table ([%s]), not %s", t.keyName(key), t.keyName(key), typeName(v))
	}
	return m, ok
}

// subArray reads an array of tables, written either as [[name]] or inline as name = [{...}].
func (t *table) subArray(key string) ([]map[string]any, bool) {
	v, ok := t.m[key]
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case []map[string]any:
		return x, true
	case []any:
		out := make([]map[string]any, 0, len(x))
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				t.errorf(key, "%s must contain only tables, not %s", t.keyName(key), typeName(e))
				return nil, false
			}
			out = append(out, m)
		}
		return out, true
	}
	t.errorf(key, "%s must be an array of tables ([[%s]]), not %s", t.keyName(key), t.keyName(key), typeName(v))
	return nil, false
}
