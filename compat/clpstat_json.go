package compat

import (
	"bytes"
	"encoding/json"
	"io"

	"clpkit/pkg/status"
)

// JSONSchema names the document layout written by WriteJSON. Consumers switch on it, so it only
// changes when a field is removed, renamed or changes meaning; additions keep v1. The contract is
// written down in docs/clpstat-json.md.
const JSONSchema = "clpkit.status/v1"

// jsonDocument is the envelope. The schema comes first so a reader can check it before the
// (possibly large) cluster object; encoding/json keeps struct field order, which keeps the output
// stable for diffing.
type jsonDocument struct {
	Schema  string         `json:"schema"`
	Cluster status.Cluster `json:"cluster"`
}

// WriteJSON writes `clpstat -o json`: the cluster under a versioned envelope, indented by two
// spaces, with a trailing newline.
func WriteJSON(w io.Writer, c status.Cluster) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// The readers are jq and scripts, not browsers; \u003c in a comment would only confuse them.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonDocument{Schema: JSONSchema, Cluster: withEmptyLists(c)}); err != nil {
		return err
	}
	return writeAll(w, buf.String())
}

// withEmptyLists returns a copy of c whose nil slices are empty, so every list in the document is
// always an array and `jq '.cluster.groups[]'` never meets null. It copies rather than mutates
// because the slices are shared with the caller.
func withEmptyLists(c status.Cluster) status.Cluster {
	c.Servers = copyEach(c.Servers, func(s *status.Server) { s.Heartbeats = nonNil(s.Heartbeats) })
	c.Groups = copyEach(c.Groups, func(g *status.Group) {
		g.Servers = nonNil(g.Servers)
		g.Resources = nonNil(g.Resources)
	})
	c.Monitors = copyEach(c.Monitors, func(m *status.Monitor) { m.Servers = nonNil(m.Servers) })
	return c
}

// copyEach returns a copy of s, empty rather than nil, with fix applied to each element.
func copyEach[T any](s []T, fix func(*T)) []T {
	out := make([]T, len(s))
	for i := range s {
		out[i] = s[i]
		fix(&out[i])
	}
	return out
}

// nonNil returns s, or an empty slice for nil.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
