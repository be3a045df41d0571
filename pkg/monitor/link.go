package monitor

import (
	"context"
	"time"

	"github.com/vishvananda/netlink"

	"clpkit/pkg/fip"
)

// Link is miiw: the network interface must exist, be administratively up and have a carrier.
//
// Netlink sockets belong to the network namespace of the thread that opens them, and Check and
// Watch open theirs from the calling goroutine and never hand a lookup to another goroutine:
// they watch the namespace the caller is in.
type Link struct {
	Interface string

	// pollOnly skips the netlink subscription, so that tests reach the polling a failed
	// subscription falls back to.
	pollOnly bool
}

// linkPoll is how often the link is looked at when no netlink events can be had.
const linkPoll = 500 * time.Millisecond

// Check looks the link up once. It does not run bounded like the other probes: the kernel
// answers a route netlink request synchronously, and moving the request to another goroutine
// could move it to a thread in another network namespace.
func (l Link) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	link, err := fip.LinkByName(l.Interface)
	if err != nil {
		return err
	}
	return fip.CheckLink(link, l.Interface)
}

// Watch follows the link's netlink events and looks the link up again on each, so a change is
// reported as soon as the kernel announces it. When no subscription can be had it polls every
// 500ms instead.
func (l Link) Watch(ctx context.Context, report func(error)) {
	first, healthy := true, false
	emit := func(err error) {
		if ctx.Err() != nil {
			// What a lookup says as Watch is told to stop is not news for the engine.
			return
		}
		if first || (err == nil) != healthy {
			report(err)
		}
		first, healthy = false, err == nil
	}
	for ctx.Err() == nil {
		if l.pollOnly {
			l.poll(ctx, emit)
			return
		}
		updates := make(chan netlink.LinkUpdate, 64)
		done := make(chan struct{})
		// An error from the subscription may mean events were lost (a full socket buffer):
		// the link is then looked at again rather than trusted to be as last seen.
		lost := make(chan struct{}, 1)
		err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
			ErrorCallback: func(error) {
				select {
				case lost <- struct{}{}:
				default:
				}
			},
		})
		if err != nil {
			close(done)
			l.poll(ctx, emit)
			return
		}
		// Subscribed before the first look, so no change can fall between the two.
		emit(l.Check(ctx))
		broken := l.follow(ctx, updates, lost, emit)
		close(done)
		// netlink's reader goroutine ends once it has delivered what it holds.
		for range updates {
		}
		if !broken {
			return
		}
		// The subscription ended on its own; subscribe again, but not in a tight loop.
		t := time.NewTimer(linkPoll)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// follow re-checks the link on every event until ctx ends (false) or the subscription ends (true).
func (l Link) follow(ctx context.Context, updates <-chan netlink.LinkUpdate, lost <-chan struct{}, emit func(error)) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case _, ok := <-updates:
			if !ok {
				return true
			}
		case <-lost:
		}
		if ctx.Err() != nil {
			return false
		}
		emit(l.Check(ctx))
	}
}

func (l Link) poll(ctx context.Context, emit func(error)) {
	emit(l.Check(ctx))
	every(ctx, linkPoll, func() bool {
		emit(l.Check(ctx))
		return true
	})
}
