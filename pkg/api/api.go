// Package api is clpd's local wire: HTTP+JSON on a Unix socket that only root can open. The
// server side serves any Service (the daemon wires pkg/cluster into it), so api never imports
// cluster; the client side is what the thin commands (clpgrp, clpstat, clpcl) use.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"clpkit/pkg/status"
)

// DefaultSocket is where clpd listens unless configured otherwise; CLPKIT_SOCKET overrides it for
// clients.
const DefaultSocket = "/run/clpkit/clpd.sock"

// EnvSocket names clpd's API socket for clients; clpd sets it for every script it runs.
const EnvSocket = "CLPKIT_SOCKET"

// Service is what clpd offers. Errors that are *status.OpError travel with their code.
type Service interface {
	Status(ctx context.Context) (status.Cluster, error)
	// StartGroup starts group (every group when "") on host ("" = the answering server).
	StartGroup(ctx context.Context, r GroupRequest) error
	StopGroup(ctx context.Context, r GroupRequest) error
	MoveGroup(ctx context.Context, r GroupRequest) error
	// Current returns the server running the group, "" when none.
	Current(ctx context.Context, group string) (string, error)
	Cluster(ctx context.Context, r ClusterRequest) ([]ServerResult, error)
	// Monitors runs a clpmonctrl operation on this server's monitors and returns them as they
	// stand afterwards, counters included.
	Monitors(ctx context.Context, r MonitorRequest) ([]status.Monitor, error)
	// Resource runs a clprsc operation; for ResourceCurrent it returns the server running the
	// resource ("" when none).
	Resource(ctx context.Context, r ResourceRequest) (string, error)
	// Members runs a clpmember operation on the embedded store and returns its members as
	// they stand afterwards.
	Members(ctx context.Context, r MemberRequest) ([]Member, error)
	// Rexec carries out a clprexec request other than --failover: run a script of this
	// server's script directory, or notify its message receive monitors.
	Rexec(ctx context.Context, r RexecRequest) (RexecResult, error)
}

// clprexec operations besides --failover.
const (
	RexecScript = "script"
	RexecNotice = "notice"
	RexecClear  = "clear"
)

// RexecRequest is one clprexec --script, --notice or --clear.
type RexecRequest struct {
	Op string `json:"op"`
	// Script is a file name in the answering server's script directory.
	Script string `json:"script,omitempty"`
	// Timeout bounds the script, in seconds (0: 30).
	Timeout int `json:"timeout,omitempty"`
	// Monitor names a message receive monitor; without it, Category (and Keyword) select them.
	Monitor  string `json:"monitor,omitempty"`
	Category string `json:"category,omitempty"`
	Keyword  string `json:"keyword,omitempty"`
	Host     string `json:"host,omitempty"`
}

// RexecResult is what a clprexec request did.
type RexecResult struct {
	// Status is the script's exit status.
	Status int `json:"status"`
	// Monitors is how many message receive monitors took the notice.
	Monitors int `json:"monitors,omitempty"`
}

// Store membership operations (clpmember).
const (
	MemberList   = "list"
	MemberAdd    = "add"
	MemberRemove = "remove"
)

// MemberRequest is one clpmember operation.
type MemberRequest struct {
	Op   string `json:"op"`
	Name string `json:"name,omitempty"`
	// PeerURL is the new member's etcd peer URL; empty takes the one the answering server's
	// configuration gives the server (or witness) Name.
	PeerURL string `json:"peer_url,omitempty"`
	// Force removes the member of a server whose clpd runs.
	Force bool   `json:"force,omitempty"`
	Host  string `json:"host,omitempty"`
}

// Member is one member of the embedded store.
type Member struct {
	// Name is empty for a member added but not started yet.
	Name      string `json:"name"`
	PeerURL   string `json:"peer_url"`
	ClientURL string `json:"client_url,omitempty"`
	Started   bool   `json:"started"`
	Leader    bool   `json:"leader,omitempty"`
	Learner   bool   `json:"learner,omitempty"`
	// Role is what the answering server's configuration makes of it: "server", "witness", or
	// "" when it names no such member.
	Role string `json:"role,omitempty"`
}

// Monitor operations (clpmonctrl).
const (
	MonitorSuspend = "suspend"
	MonitorResume  = "resume"
	MonitorClear   = "clear"
	MonitorShow    = "show"
)

// MonitorRequest is one clpmonctrl operation; no Monitors means every monitor.
type MonitorRequest struct {
	Op       string   `json:"op"`
	Monitors []string `json:"monitors,omitempty"`
	Host     string   `json:"host,omitempty"`
}

// Resource operations (clprsc).
const (
	ResourceStart   = "start"
	ResourceStop    = "stop"
	ResourceCurrent = "current"
)

// ResourceRequest is one clprsc operation.
type ResourceRequest struct {
	Op       string `json:"op"`
	Resource string `json:"resource"`
	Host     string `json:"host,omitempty"`
	// Force also starts the resources it depends on (-s), or stops those that depend on it (-t).
	Force bool `json:"force,omitempty"`
}

// GroupRequest is one clpgrp operation.
type GroupRequest struct {
	Group string `json:"group"`
	Host  string `json:"host,omitempty"`
	Dest  string `json:"dest,omitempty"`
	Force bool   `json:"force,omitempty"`
}

// Cluster operations (clpcl).
const (
	ClusterStart   = "start"
	ClusterStop    = "stop"
	ClusterRestart = "restart"
	ClusterSuspend = "suspend"
	ClusterResume  = "resume"
	// ClusterDown and ClusterDownReboot stop the cluster service and clpd, then shut the
	// machine down or reboot it with the configured commands (clpdown).
	ClusterDown       = "down"
	ClusterDownReboot = "down-reboot"
)

// ClusterRequest is one clpcl operation.
type ClusterRequest struct {
	Op   string `json:"op"`
	All  bool   `json:"all,omitempty"`
	Host string `json:"host,omitempty"`
	// Part says the request is one server's share of an -a operation another server relays:
	// it acts on this server only, and a stop is a cluster shutdown (CLUSTERSHUTDOWN).
	Part bool `json:"part,omitempty"`
}

// ServerResult is the outcome of a cluster operation on one server.
type ServerResult struct {
	Server string          `json:"server"`
	Error  *status.OpError `json:"error,omitempty"`
}

// Ping is clpd's answer to a liveness check.
type Ping struct {
	// APITimeout is how long, in seconds, clpd lets an operation run before it answers that it
	// timed out (its [timing] api_timeout); 0 when it does not say.
	APITimeout int `json:"api_timeout,omitempty"`
}

// ErrInUse is returned by Listen when a live clpd already answers on the socket.
var ErrInUse = errors.New("another clpd is already running")

// CodeNoDaemon is the client-side code for a clpd that does not answer.
const CodeNoDaemon status.Code = "no-daemon"

type errorBody struct {
	Code status.Code `json:"code"`
	Msg  string      `json:"error"`
}

// Relay finds the Service that answers for host: s itself for "" or this server, a client of
// another server's API otherwise; an error for a host that is no server of the cluster.
type Relay func(host string) (Service, error)

// Handler serves s. Requests that name a host are answered by relay(host) (nil: only "" is
// served), with the host cleared, so the server that answers treats them as its own.
func Handler(s Service, relay Relay) http.Handler {
	pick := func(host string) (Service, error) {
		if host == "" {
			return s, nil
		}
		if relay == nil {
			return nil, &status.OpError{Code: status.CodeInvalidServer, Msg: "This server does not relay requests: send them to " + host + " itself."}
		}
		return relay(host)
	}
	mux := http.NewServeMux()
	// ping is answered by the HTTP server alone, never the cluster loop: a client tells a clpd
	// that is frozen (SIGSTOP, swapped out) from one busy with a long operation by it, and learns
	// how long an operation may take there.
	mux.HandleFunc("GET /v1/ping", func(w http.ResponseWriter, r *http.Request) {
		var p Ping
		if l, ok := s.(interface{ APITimeout() time.Duration }); ok {
			p.APITimeout = int(l.APITimeout() / time.Second)
		}
		reply(w, p, nil)
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		svc, err := pick(r.URL.Query().Get("host"))
		if err != nil {
			reply(w, nil, err)
			return
		}
		st, err := svc.Status(r.Context())
		reply(w, st, err)
	})
	group := func(f func(Service, context.Context, GroupRequest) error) http.HandlerFunc {
		return route(pick, func(q *GroupRequest) *string { return &q.Host }, func(svc Service, ctx context.Context, q GroupRequest) (any, error) {
			return struct{}{}, f(svc, ctx, q)
		})
	}
	mux.HandleFunc("POST /v1/groups/start", group(Service.StartGroup))
	mux.HandleFunc("POST /v1/groups/stop", group(Service.StopGroup))
	mux.HandleFunc("POST /v1/groups/move", group(Service.MoveGroup))
	mux.HandleFunc("GET /v1/groups/current", func(w http.ResponseWriter, r *http.Request) {
		svc, err := pick(r.URL.Query().Get("host"))
		if err != nil {
			reply(w, nil, err)
			return
		}
		cur, err := svc.Current(r.Context(), r.URL.Query().Get("group"))
		reply(w, map[string]string{"server": cur}, err)
	})
	mux.HandleFunc("POST /v1/cluster", route(pick, func(q *ClusterRequest) *string { return &q.Host }, func(svc Service, ctx context.Context, q ClusterRequest) (any, error) {
		return svc.Cluster(ctx, q)
	}))
	mux.HandleFunc("POST /v1/monitors", route(pick, func(q *MonitorRequest) *string { return &q.Host }, func(svc Service, ctx context.Context, q MonitorRequest) (any, error) {
		return svc.Monitors(ctx, q)
	}))
	mux.HandleFunc("POST /v1/resources", route(pick, func(q *ResourceRequest) *string { return &q.Host }, func(svc Service, ctx context.Context, q ResourceRequest) (any, error) {
		cur, err := svc.Resource(ctx, q)
		return map[string]string{"server": cur}, err
	}))
	mux.HandleFunc("POST /v1/rexec", route(pick, func(q *RexecRequest) *string { return &q.Host }, func(svc Service, ctx context.Context, q RexecRequest) (any, error) {
		return svc.Rexec(ctx, q)
	}))
	mux.HandleFunc("POST /v1/members", route(pick, func(q *MemberRequest) *string { return &q.Host }, func(svc Service, ctx context.Context, q MemberRequest) (any, error) {
		return svc.Members(ctx, q)
	}))
	return mux
}

// route serves a request whose JSON body may name a host: the Service that answers for the host
// gets it, with the host cleared.
func route[Req any](pick func(string) (Service, error), host func(*Req) *string, f func(Service, context.Context, Req) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if !decode(w, r, &req) {
			return
		}
		h := host(&req)
		svc, err := pick(*h)
		if err != nil {
			reply(w, nil, err)
			return
		}
		*h = ""
		v, err := f(svc, r.Context(), req)
		reply(w, v, err)
	}
}

// decode reads a request body of at most 1 MiB; a bad one is answered here.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		reply(w, nil, &status.OpError{Code: status.CodeInternal, Msg: "bad request: " + err.Error()})
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		var oe *status.OpError
		if !errors.As(err, &oe) {
			oe = &status.OpError{Code: status.CodeInternal, Msg: err.Error()}
		}
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(errorBody{Code: oe.Code, Msg: oe.Msg})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

// Listen opens the socket at path for root only, replacing a stale socket file but refusing to
// take over one a live clpd still answers on.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating socket dir: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%w on %s", ErrInUse, path)
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("restricting %s to root: %w", path, err)
	}
	return l, nil
}
