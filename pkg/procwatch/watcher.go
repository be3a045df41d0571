package procwatch

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrGone is returned by Watcher.Add for a process that has already exited (or whose pid now
// names another process).
var ErrGone = errors.New("process has exited")

// ErrClosed is returned by Watcher.Next once the Watcher is closed.
var ErrClosed = errors.New("watcher is closed")

// Watcher learns of the exit of many processes at once: it holds one pidfd per process in one
// epoll instance, so watching a hundred processes costs one thread blocked in epoll_wait and no
// wake-up at all until one of them exits. Like Wait, it works for processes that are not
// children of the caller and never reaps them.
//
// Add and Remove may be called from any goroutine; Next is called by one goroutine at a time.
type Watcher struct {
	procRoot string
	epfd     int
	// wake is an eventfd in the epoll set (token 0): a cancelled context or Close writes to it to
	// interrupt epoll_wait, since epoll has no other way to be woken.
	wake int

	mu      sync.Mutex
	closed  bool
	next    uint64 // last token handed out; tokens start at 1
	byToken map[uint64]watched
	byID    map[Identity]uint64
	pending []Identity // exits reported by epoll but not yet returned by Next

	// waitMu is held by Next for its whole call, so that Close can wait for it to leave
	// epoll_wait before closing the descriptors it waits on.
	waitMu sync.Mutex
}

type watched struct {
	id Identity
	fd int
}

// NewWatcher returns an empty Watcher; procRoot is normally "/proc". Close releases it.
func NewWatcher(procRoot string) (*Watcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating the process watcher: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("creating the process watcher: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setToken(&ev, 0)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(wake)
		unix.Close(epfd)
		return nil, fmt.Errorf("creating the process watcher: %w", err)
	}
	return &Watcher{
		procRoot: procRoot, epfd: epfd, wake: wake,
		byToken: make(map[uint64]watched), byID: make(map[Identity]uint64),
	}, nil
}

// The epoll data of an event is a token rather than the pidfd itself: after Remove closes a
// pidfd, the kernel may hand the same number to the next Add, and an event epoll_wait had
// already returned for the old one must not be taken for the new process.
func setToken(ev *unix.EpollEvent, tok uint64) {
	ev.Fd = int32(uint32(tok))
	ev.Pad = int32(uint32(tok >> 32))
}

func token(ev unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// Add starts watching the process id. It returns ErrGone when the process has already exited,
// and another error (wrapping the errno, e.g. EMFILE when out of descriptors, ENOSYS on kernels
// before 5.3) when no pidfd can be held for it: the caller must then poll with Alive instead.
// Adding a process that is already watched does nothing.
func (w *Watcher) Add(id Identity) error {
	fd, err := unix.PidfdOpen(id.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrGone
	}
	if err != nil {
		return fmt.Errorf("opening a pidfd for process %d: %w", id.PID, err)
	}
	// The pid may have been reused between the caller's identification and pidfd_open; once the
	// pidfd is held, the check below is final.
	if !Alive(w.procRoot, id) {
		unix.Close(fd)
		return ErrGone
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		unix.Close(fd)
		return ErrClosed
	}
	if _, ok := w.byID[id]; ok {
		unix.Close(fd)
		return nil
	}
	w.next++
	tok := w.next
	// One-shot: an exited process's pidfd stays readable for ever, and it is reported once.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT}
	setToken(&ev, tok)
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		return fmt.Errorf("watching process %d: %w", id.PID, err)
	}
	w.byToken[tok] = watched{id: id, fd: fd}
	w.byID[id] = tok
	return nil
}

// Remove stops watching id; an exit of id that Next has not returned yet is dropped.
func (w *Watcher) Remove(id Identity) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, p := range w.pending {
		if p == id {
			w.pending = append(w.pending[:i], w.pending[i+1:]...)
			break
		}
	}
	tok, ok := w.byID[id]
	if !ok {
		return
	}
	wd := w.byToken[tok]
	delete(w.byID, id)
	delete(w.byToken, tok)
	// Closing the only descriptor of the pidfd also drops it from the epoll set.
	unix.Close(wd.fd)
}

// Len is the number of processes watched.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.byID)
}

// Next blocks until a watched process exits and returns it; the process is no longer watched
// afterwards. It returns ctx's error when ctx ends first, and ErrClosed after Close.
func (w *Watcher) Next(ctx context.Context) (Identity, error) {
	w.waitMu.Lock()
	defer w.waitMu.Unlock()
	stop := context.AfterFunc(ctx, w.interrupt)
	defer stop()
	var events [32]unix.EpollEvent
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return Identity{}, ErrClosed
		}
		if len(w.pending) > 0 {
			id := w.pending[0]
			w.pending = w.pending[1:]
			w.mu.Unlock()
			return id, nil
		}
		w.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return Identity{}, err
		}
		n, err := unix.EpollWait(w.epfd, events[:], -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return Identity{}, fmt.Errorf("waiting for process exits: %w", err)
		}
		w.mu.Lock()
		for _, ev := range events[:n] {
			tok := token(ev)
			if tok == 0 {
				var b [8]byte
				_, _ = unix.Read(w.wake, b[:]) // drain; the loop re-checks ctx and closed
				continue
			}
			wd, ok := w.byToken[tok]
			if !ok {
				continue // removed after epoll_wait returned it
			}
			delete(w.byToken, tok)
			delete(w.byID, wd.id)
			unix.Close(wd.fd)
			w.pending = append(w.pending, wd.id)
		}
		w.mu.Unlock()
	}
}

// interrupt wakes a Next blocked in epoll_wait.
func (w *Watcher) interrupt() {
	one := [8]byte{1} // little-endian 1; eventfd adds it to its counter
	_, _ = unix.Write(w.wake, one[:])
}

// Close stops watching everything and releases the descriptors; a blocked Next returns
// ErrClosed.
func (w *Watcher) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	w.interrupt()
	w.waitMu.Lock() // wait for a Next in progress to leave epoll_wait
	defer w.waitMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	for tok, wd := range w.byToken {
		unix.Close(wd.fd)
		delete(w.byToken, tok)
	}
	clear(w.byID)
	w.pending = nil
	unix.Close(w.wake)
	return unix.Close(w.epfd)
}
