package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"clpkit/pkg/status"
)

// Client talks to one clpd: over its Unix socket, or over TCP with the cluster's certificates.
type Client struct {
	base string
	// where names the daemon in "does not answer" messages.
	where string
	hc    *http.Client
	// alive bounds the liveness check (AliveWithin; tests shorten it).
	alive time.Duration
}

// NewClient returns a client of the clpd listening on socket.
func NewClient(socket string) *Client {
	return &Client{base: "http://clpd", where: "on " + socket, alive: AliveWithin, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}}}
}

// NewRemote returns a client of another server's clpd at url (https://address:port), presenting
// this server's certificate and trusting only the cluster CA.
func NewRemote(url string, tc *tls.Config) *Client {
	return &Client{base: strings.TrimSuffix(url, "/"), where: "at " + url, alive: AliveWithin, hc: &http.Client{Transport: &http.Transport{
		TLSClientConfig:   tc,
		DisableKeepAlives: true,
	}}}
}

// errNoRoute is a request clpd has no handler for.
var errNoRoute = errors.New("no such request")

// AliveWithin bounds the liveness check before each request: a clpd that accepts a connection but
// does not answer a ping within it is frozen or starved, and the client says so instead of waiting
// for an operation that cannot progress.
const AliveWithin = 10 * time.Second

// graceAfterAPITimeout is how much longer than clpd's api_timeout a client without a deadline of
// its own waits: clpd answers "timeout" itself at api_timeout, the grace covers the answer.
const graceAfterAPITimeout = 30 * time.Second

// Ping checks that clpd answers, within AliveWithin at most.
//
// A frozen clpd's socket still takes connections (the kernel queues them), so only an answer
// tells it alive.
func (c *Client) Ping(ctx context.Context) (Ping, error) {
	pctx, cancel := context.WithTimeout(ctx, c.alive)
	defer cancel()
	var connected atomic.Bool
	pctx = httptrace.WithClientTrace(pctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }})
	var p Ping
	err := c.request(pctx, http.MethodGet, "/v1/ping", nil, &p)
	if errors.Is(err, errNoRoute) {
		// A clpd older than the ping answered: it is alive.
		return Ping{}, nil
	}
	if err != nil && pctx.Err() != nil && ctx.Err() == nil {
		if !connected.Load() {
			return p, &status.OpError{Code: CodeNoDaemon, Msg: fmt.Sprintf("Could not connect to the server. Check if the cluster service is active. (clpd %s does not answer: no connection within %s)", c.where, c.alive)}
		}
		return p, &status.OpError{Code: CodeNoDaemon, Msg: fmt.Sprintf("Could not connect to the server. Check if the cluster service is active. (clpd %s took the connection but did not answer within %s: it is frozen or starved)", c.where, c.alive)}
	}
	return p, err
}

// do checks that clpd is alive, then makes the request. Without a deadline in ctx, the request
// waits as long as clpd may take (its api_timeout) and a little more, never forever.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	p, err := c.Ping(ctx)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok {
		wait := 30*time.Minute + graceAfterAPITimeout
		if p.APITimeout > 0 {
			wait = time.Duration(p.APITimeout)*time.Second + graceAfterAPITimeout
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	return c.request(ctx, method, path, in, out)
}

func (c *Client) request(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return status.ErrTimeout()
		}
		return &status.OpError{Code: CodeNoDaemon, Msg: "Could not connect to the server. Check if the cluster service is active. (clpd does not answer " + c.where + ")"}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
			if resp.StatusCode == http.StatusNotFound {
				return fmt.Errorf("%w: clpd answered %s", errNoRoute, resp.Status)
			}
			return fmt.Errorf("clpd answered %s", resp.Status)
		}
		return &status.OpError{Code: eb.Code, Msg: eb.Msg}
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return status.ErrTimeout()
		}
		return fmt.Errorf("reading clpd's answer: %w", err)
	}
	return nil
}

// Status returns the cluster status.
func (c *Client) Status(ctx context.Context) (status.Cluster, error) { return c.StatusOf(ctx, "") }

// StatusOf returns the cluster status as server host sees it ("" for the answering server).
func (c *Client) StatusOf(ctx context.Context, host string) (status.Cluster, error) {
	var st status.Cluster
	path := "/v1/status"
	if host != "" {
		path += "?host=" + url.QueryEscape(host)
	}
	err := c.do(ctx, http.MethodGet, path, nil, &st)
	return st, err
}

// StartGroup asks clpd to start a group.
func (c *Client) StartGroup(ctx context.Context, r GroupRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/start", r, nil)
}

// StopGroup asks clpd to stop a group.
func (c *Client) StopGroup(ctx context.Context, r GroupRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/stop", r, nil)
}

// MoveGroup asks clpd to move a group.
func (c *Client) MoveGroup(ctx context.Context, r GroupRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/move", r, nil)
}

// Current returns the server running group, "" when none.
func (c *Client) Current(ctx context.Context, group string) (string, error) {
	var out map[string]string
	err := c.do(ctx, http.MethodGet, "/v1/groups/current?group="+url.QueryEscape(group), nil, &out)
	return out["server"], err
}

// Cluster runs a clpcl operation.
func (c *Client) Cluster(ctx context.Context, r ClusterRequest) ([]ServerResult, error) {
	var out []ServerResult
	err := c.do(ctx, http.MethodPost, "/v1/cluster", r, &out)
	return out, err
}

// Monitors runs a clpmonctrl operation and returns the monitors as they stand afterwards.
func (c *Client) Monitors(ctx context.Context, r MonitorRequest) ([]status.Monitor, error) {
	var out []status.Monitor
	err := c.do(ctx, http.MethodPost, "/v1/monitors", r, &out)
	return out, err
}

// Resource runs a clprsc operation; for ResourceCurrent it returns the server running the
// resource, "" when none.
func (c *Client) Resource(ctx context.Context, r ResourceRequest) (string, error) {
	var out map[string]string
	err := c.do(ctx, http.MethodPost, "/v1/resources", r, &out)
	return out["server"], err
}

// Members runs a clpmember operation and returns the store's members as they stand afterwards.
func (c *Client) Members(ctx context.Context, r MemberRequest) ([]Member, error) {
	var out []Member
	err := c.do(ctx, http.MethodPost, "/v1/members", r, &out)
	return out, err
}

// Rexec carries out a clprexec --script, --notice or --clear.
func (c *Client) Rexec(ctx context.Context, r RexecRequest) (RexecResult, error) {
	var out RexecResult
	err := c.do(ctx, http.MethodPost, "/v1/rexec", r, &out)
	return out, err
}

// Code returns the operation error code of err, or "" when err carries none.
func Code(err error) status.Code {
	var oe *status.OpError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return ""
}
