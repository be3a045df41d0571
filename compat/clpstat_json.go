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
	servers := make([]status.Server, len(c.Servers))
	for i, s := range c.Servers {
		if s.Heartbeats == nil {
			s.Heartbeats = []status.Heartbeat{}
		}
		servers[i] = s
	}
	groups := make([]status.Group, len(c.Groups))
	for i, g := range c.Groups {
		if g.Servers == nil {
			g.Servers = []string{}
		}
		if g.Resources == nil {
			g.Resources = []status.Resource{}
		}
		groups[i] = g
	}
	monitors := make([]status.Monitor, len(c.Monitors))
	for i, m := range c.Monitors {
		if m.Servers == nil {
			m.Servers = []status.MonitorOnServer{}
		}
		monitors[i] = m
	}
	c.Servers, c.Groups, c.Monitors = servers, groups, monitors
	return c
}
