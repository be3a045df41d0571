package guard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// RefusedError is a request the guard answered with ok:false; Reply still holds its state.
type RefusedError struct {
	Op  string
	Msg string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("clpguard refused %s: %s", e.Op, e.Msg) }

// Client is one connection to a guard. Its methods may be called from several goroutines; they
// take turns. After a failed exchange (a timeout, a broken connection) the connection can no
// longer tell which reply answers which request, so every later call fails: dial again.
type Client struct {
	mu     sync.Mutex
	socket string
	conn   *net.UnixConn
	r      *bufio.Reader
	broken error
}

// Dial connects to the guard on socket.
func Dial(ctx context.Context, socket string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("connecting to clpguard: %w", err)
	}
	uc := c.(*net.UnixConn)
	return &Client{socket: socket, conn: uc, r: bufio.NewReaderSize(uc, 4096)}, nil
}

// Close closes the connection. The guard keeps its state: closing is not disarming.
func (c *Client) Close() error { return c.conn.Close() }

// Arm sets the deadline (fenceAt) and the targets, replacing the previous ones; expiry is the
// earliest instant the lease could expire. Both are CLOCK_BOOTTIME instants (see Now). A
// fenceAt already past makes the guard fence before it answers.
func (c *Client) Arm(ctx context.Context, fenceAt, expiry time.Duration, cgroups []string, pgids []int) (Reply, error) {
	return c.ArmAll(ctx, fenceAt, expiry, cgroups, pgids, nil, nil)
}

// ArmAll is Arm with floating addresses ("prefix@interface") to remove first and shared disks to
// unmount last when it fences.
func (c *Client) ArmAll(ctx context.Context, fenceAt, expiry time.Duration, cgroups []string, pgids []int, addresses []string, mounts []Mount) (Reply, error) {
	return c.do(ctx, Request{Op: OpArm, FenceAt: fenceAt, Expiry: expiry, Cgroups: cgroups, PGIDs: pgids, Addresses: addresses, Mounts: mounts})
}

// Disarm tells the guard there is nothing to guard.
func (c *Client) Disarm(ctx context.Context) (Reply, error) {
	return c.do(ctx, Request{Op: OpDisarm})
}

// Status returns the guard's state; Fenced says it fenced while clpd was away.
func (c *Client) Status(ctx context.Context) (Reply, error) {
	return c.do(ctx, Request{Op: OpStatus})
}

// Exit ends the guard. An armed guard refuses unless force is set.
func (c *Client) Exit(ctx context.Context, force bool) (Reply, error) {
	return c.do(ctx, Request{Op: OpExit, Force: force})
}

func (c *Client) do(ctx context.Context, req Request) (Reply, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return Reply{}, fmt.Errorf("clpguard %s: the connection failed earlier (%v); dial again", req.Op, c.broken)
	}
	rep, err := c.exchange(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		c.broken = err
		_ = c.conn.Close()
		return Reply{}, fmt.Errorf("clpguard %s on %s: %w", req.Op, c.socket, err)
	}
	if !rep.OK {
		return rep, &RefusedError{Op: req.Op, Msg: rep.Error}
	}
	return rep, nil
}

func (c *Client) exchange(ctx context.Context, req Request) (Reply, error) {
	dl, _ := ctx.Deadline() // zero: no deadline
	if err := c.conn.SetDeadline(dl); err != nil {
		return Reply{}, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetDeadline(time.Now()) })
	defer stop()
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, err
	}
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return Reply{}, err
	}
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return Reply{}, err
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return Reply{}, fmt.Errorf("malformed reply %q: %w", line, err)
	}
	return rep, nil
}

// Spawn starts clpguard (bin) on socket, detached from the caller: in a session of its own (no
// terminal signal reaches it), standard input from /dev/null, standard output and error appended
// to logFile. It returns the guard's pid once it answers on socket, or an error when it exits
// first (a *BusyError when another guard holds the socket: status 3) or ctx ends (the guard is
// then killed). A goroutine reaps the guard when it exits, so it never stays a zombie of a living
// caller; when the caller dies first, the guard is re-parented and lives on, which is its purpose.
func Spawn(ctx context.Context, bin, socket, logFile string, extraArgs []string) (int, error) {
	out, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("starting clpguard: %w", err)
	}
	defer out.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return 0, fmt.Errorf("starting clpguard: %w", err)
	}
	defer null.Close()
	cmd := exec.Command(bin, append([]string{"--socket", socket}, extraArgs...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting clpguard: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	gap := 2 * time.Millisecond
	other := 0 // a guard that answered, but not ours
	for {
		// The socket may be another guard's, which ours will find locked (status 3): it is
		// ready only when the pid in the answer is its own.
		if c, err := Dial(ctx, socket); err == nil {
			rep, err := c.Status(ctx)
			_ = c.Close()
			if err == nil && rep.PID == pid {
				return pid, nil
			}
			if err == nil {
				other = rep.PID
			}
		}
		t := time.NewTimer(gap)
		select {
		case err := <-exited:
			t.Stop()
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 3 {
				return 0, &BusyError{Socket: socket, PID: other}
			}
			return 0, fmt.Errorf("clpguard (pid %d) exited before it answered on %s (%v); see %s", pid, socket, err, logFile)
		case <-ctx.Done():
			t.Stop()
			_ = cmd.Process.Kill()
			return 0, fmt.Errorf("clpguard (pid %d) did not answer on %s: %w", pid, socket, ctx.Err())
		case <-t.C:
		}
		gap = min(2*gap, 50*time.Millisecond)
	}
}
