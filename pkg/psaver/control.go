package psaver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"clpkit/pkg/bounded"
	"clpkit/pkg/peercred"
)

// The commands padmin sends.
const (
	CmdShow   = "show"
	CmdStop   = "stop"
	CmdStart  = "start"
	CmdReload = "reload"
)

// Request is one padmin command: a JSON line on the control socket.
type Request struct {
	Command string `json:"command"`
	// Pfile is the pfile padmin was given (absolute). pcheck refuses a request for another file:
	// two pfiles may carry the same IPCKEY, and padmin must not act on the wrong pcheck.
	Pfile string `json:"pfile"`
}

// Response is pcheck's answer: a JSON line.
type Response struct {
	// Error is one line saying why the command was refused or failed; "" on success.
	Error string `json:"error,omitempty"`
	// PfileError is set when Error is a pfile problem found by reload (padmin exits 2).
	PfileError bool `json:"pfile_error,omitempty"`
	// State is the state after the command.
	State *Snapshot `json:"state,omitempty"`
	// PID and Pfile name the pcheck that answered.
	PID   int    `json:"pid"`
	Pfile string `json:"pfile"`
}

// PfileError marks an error of Server.Load as a problem of the pfile's content, so that padmin
// can tell it from pcheck refusing the command.
type PfileError interface {
	error
	PfileProblem()
}

// maxRequest bounds a request line.
const maxRequest = 64 << 10

// maxResponse bounds an answer line: the state of a pfile of MaxPfileSize, many times over.
const maxResponse = 64 << 20

// Server answers padmin on a control socket.
type Server struct {
	Engine *Engine
	// Pfile is the pfile pcheck runs on.
	Pfile string
	// PID is pcheck's pid.
	PID int
	// Load re-reads the pfile for reload.
	Load func() (Config, error)
	// Allowed reports whether a peer uid may send commands; nil allows root and our own uid.
	Allowed func(uid uint32) bool
}

// Serve answers connections on ln until ctx ends. Each connection carries one request.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	stop := context.AfterFunc(ctx, func() { _ = ln.SetDeadline(time.Now()) })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accepting padmin connections: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			s.serveConn(ctx, c)
		}()
	}
}

func (s *Server) allowed(uid uint32) bool {
	if s.Allowed != nil {
		return s.Allowed(uid)
	}
	return uid == 0 || int(uid) == os.Geteuid()
}

func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	resp := Response{PID: s.PID, Pfile: s.Pfile}
	write := func() { _ = json.NewEncoder(c).Encode(resp) }

	// The request is read before the peer is judged, so that a refused client gets its answer
	// rather than a broken pipe; it is bounded, so that no client can make pcheck hold much.
	line, err := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	if err != nil {
		return
	}
	uid, err := peercred.UID(c)
	if err != nil || !s.allowed(uid) {
		resp.Error = "permission denied: only root may control pcheck"
		write()
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		resp.Error = "malformed request: " + err.Error()
		write()
		return
	}
	if !samePfile(req.Pfile, s.Pfile) {
		resp.Error = fmt.Sprintf("this IPCKEY belongs to pcheck (pid %d) for %s, not %s", s.PID, s.Pfile, req.Pfile)
		write()
		return
	}
	var snap Snapshot
	switch req.Command {
	case CmdShow:
		snap, err = s.Engine.Snapshot(ctx)
	case CmdStop:
		snap, err = s.Engine.SetMonitor(ctx, false)
	case CmdStart:
		snap, err = s.Engine.SetMonitor(ctx, true)
	case CmdReload:
		var cfg Config
		cfg, err = s.Load()
		if err != nil {
			var pe PfileError
			resp.PfileError = errors.As(err, &pe)
			break
		}
		snap, err = s.Engine.Reload(ctx, cfg)
	default:
		err = fmt.Errorf("unknown command %q", req.Command)
	}
	if err != nil {
		resp.Error = err.Error()
	} else {
		resp.State = &snap
	}
	write()
}

func samePfile(a, b string) bool {
	if a == b {
		return true
	}
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// ErrNotRunning is returned by Call when nothing listens on the socket.
var ErrNotRunning = errors.New("no pcheck is running")

// Call sends one request to the pcheck listening on socket and returns its answer. It fails
// with an error wrapping ErrNotRunning when no pcheck listens there, and os.ErrPermission when
// the socket may not be used by this user.
func Call(ctx context.Context, socket string, req Request) (Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
			return Response{}, fmt.Errorf("%w (nothing listens on %s)", ErrNotRunning, socket)
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			return Response{}, fmt.Errorf("connecting to %s: %w", socket, os.ErrPermission)
		}
		return Response{}, fmt.Errorf("connecting to pcheck: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return Response{}, err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Response{}, fmt.Errorf("sending the command to pcheck: %w", err)
	}
	line, err := bufio.NewReader(io.LimitReader(c, maxResponse)).ReadBytes('\n')
	if err != nil {
		if len(line) >= maxResponse {
			return Response{}, fmt.Errorf("pcheck's answer is larger than %s", bounded.Size(maxResponse))
		}
		if ctx.Err() != nil {
			return Response{}, fmt.Errorf("pcheck did not answer: %w", ctx.Err())
		}
		return Response{}, fmt.Errorf("reading pcheck's answer: %w", err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("reading pcheck's answer: %w", err)
	}
	return resp, nil
}
