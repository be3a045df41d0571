package guard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/peercred"
)

// BusyError says that another guard already holds the socket.
type BusyError struct {
	Socket string
	PID    int // the other guard, 0 when unknown
}

func (e *BusyError) Error() string {
	who := "another clpguard"
	if e.PID > 0 {
		who = fmt.Sprintf("another clpguard (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s already guards %s", who, e.Socket)
}

// Listener is a guard's socket and the lock that makes it the only guard on that socket.
type Listener struct {
	ln     *net.UnixListener
	lock   *os.File
	socket string
	info   os.FileInfo // the socket file, so that Close removes it only while it is ours
}

// LockPath is the lock file of the guard on socket.
func LockPath(socket string) string { return socket + ".lock" }

// Listen takes the lock of socket for this process (pid) and listens on socket. The lock is an
// flock(2) on socket+".lock", so a guard killed with SIGKILL leaves nothing that blocks the next
// one; the lock file records the holder's pid for the message of a *BusyError. The socket has
// mode 0600 from the moment it can be reached: it is bound in a new directory of mode 0700 next
// to socket, restricted, then renamed into place (replacing one left by a killed guard), so
// there is no moment when another user could connect, and the process umask is left alone.
func Listen(socket string, pid int) (*Listener, error) {
	l := &Listener{socket: socket}
	ok := false
	defer func() {
		if !ok {
			l.release()
		}
	}()
	lp := LockPath(socket)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the guard's lock: %w", err)
	}
	l.lock = f
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := os.ReadFile(lp)
			other, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			return nil, &BusyError{Socket: socket, PID: other}
		}
		return nil, fmt.Errorf("locking %s: %w", lp, err)
	}
	// The lock file is never removed: unlinking it could let two guards lock two different files
	// of the same name. Each holder rewrites its content.
	if err := f.Truncate(0); err != nil {
		return nil, fmt.Errorf("writing %s: %w", lp, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0); err != nil {
		return nil, fmt.Errorf("writing %s: %w", lp, err)
	}

	// The temporary name must fit sun_path (108 bytes) as the final one does: keep it short.
	dir, err := os.MkdirTemp(filepath.Dir(socket), ".g")
	if err != nil {
		return nil, fmt.Errorf("creating the guard's socket: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("creating the guard's socket: %w", err)
	}
	l.ln = ln
	// The file is renamed, so closing the listener must not unlink by the old name; Close
	// removes the socket itself.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		return nil, fmt.Errorf("restricting the guard's socket: %w", err)
	}
	if err := os.Rename(tmp, socket); err != nil {
		return nil, fmt.Errorf("creating the guard's socket %s: %w", socket, err)
	}
	if l.info, err = os.Lstat(socket); err != nil {
		return nil, fmt.Errorf("creating the guard's socket %s: %w", socket, err)
	}
	ok = true
	return l, nil
}

// Close stops listening, removes the socket if it is still the one Listen made, and releases
// the lock (last, so that no other guard can have made a socket of that name meanwhile).
func (l *Listener) Close() error {
	var err error
	if l.ln != nil {
		err = l.ln.Close()
		if fi, serr := os.Lstat(l.socket); serr == nil && l.info != nil && os.SameFile(fi, l.info) {
			if rerr := os.Remove(l.socket); rerr != nil && err == nil {
				err = rerr
			}
		}
	}
	l.release()
	return err
}

func (l *Listener) release() {
	if l.ln != nil {
		_ = l.ln.Close()
	}
	if l.lock != nil {
		_ = l.lock.Close()
	}
}

// requestTimeout bounds how long one request may wait for the engine, which may be fencing.
const requestTimeout = 30 * time.Second

// writeTimeout bounds writing a reply to a client that does not read.
const writeTimeout = 5 * time.Second

// Serve answers connections on l until ctx ends or the engine stops, then waits for the
// connections' goroutines. A connection carries any number of requests, one per line, each
// answered by one line; a connection that drops changes nothing (that is the very case of a clpd
// killed while armed). Only root and the guard's own user may talk to it. A failure to accept
// is logged and retried.
func Serve(ctx context.Context, l *Listener, e *Engine) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { _ = l.ln.SetDeadline(time.Now()) })
	defer stop()
	go func() {
		select {
		case <-e.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	lastErr := ""
	for {
		c, err := l.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Out of descriptors or memory, most likely, and for a while only: the guard must
			// not end over it, since its deadline holds whether clpd can reach it or not.
			if msg := err.Error(); msg != lastErr {
				lastErr = msg
				e.opts.Log(fmt.Sprintf("accepting connections on %s: %v; retrying", l.socket, err))
			}
			t := time.NewTimer(100 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			continue
		}
		lastErr = ""
		wg.Go(func() {
			defer c.Close()
			serveConn(ctx, c, e)
		})
	}
}

func serveConn(ctx context.Context, c *net.UnixConn, e *Engine) {
	// Ending ctx stops reading, not writing: the reply to an accepted exit is still delivered.
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	write := func(r Reply) bool {
		b, _ := json.Marshal(r)
		_ = c.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := c.Write(append(b, '\n'))
		return err == nil
	}
	refuse := func(msg string) bool {
		// A refused request still tells the client the state, when the engine can say it.
		r, err := doRequest(ctx, e, Request{Op: OpStatus})
		if err != nil {
			r = Reply{}
		}
		r.OK, r.Error = false, msg
		return write(r)
	}
	if uid, err := peercred.UID(c); err != nil || (uid != 0 && int(uid) != os.Geteuid()) {
		refuse("permission denied: only root may talk to clpguard")
		return
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), MaxRequest)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines (a human typing) are not requests
		}
		req, err := DecodeRequest(line)
		if err != nil {
			if !refuse(err.Error()) {
				return
			}
			continue
		}
		r, err := doRequest(ctx, e, req)
		if err != nil {
			if !refuse(err.Error()) {
				return
			}
			continue
		}
		if !write(r) {
			return
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		// The rest of the line cannot be told from the next request: answer, then hang up.
		refuse(fmt.Sprintf("request longer than %d bytes", MaxRequest))
	}
}

func doRequest(ctx context.Context, e *Engine, req Request) (Reply, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancel()
	return e.Do(ctx, req)
}
