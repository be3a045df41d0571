package fsprobe_test

import (
	"context"
	"errors"
	"testing"
	"time"
)

// freezer is a server under test that can be stopped in its tracks and let go again.
type freezer interface {
	Freeze()
	Thaw()
}

// testFrozen runs the subtests of a probe against srv while it is frozen. "frozen": the probe's
// deadline, limit, ends it at about that time, with the error wantErr checks. "cancelled": a
// context cancelled 200ms in ends it at once with context.Canceled rather than at its deadline.
func testFrozen(t *testing.T, srv freezer, limit time.Duration, probe func(context.Context) error, wantErr func(*testing.T, error)) {
	t.Run("frozen", func(t *testing.T) {
		srv.Freeze()
		defer srv.Thaw()
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		start := time.Now()
		wantErr(t, probe(ctx))
		if d := time.Since(start); d < limit-100*time.Millisecond || d > 5*time.Second {
			t.Errorf("the probe of a frozen server took %v, want about its %v deadline", d, limit)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		srv.Freeze()
		defer srv.Thaw()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := probe(ctx)
		if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
			t.Fatalf("cancelled probe: %v after %v, want context.Canceled at once", err, time.Since(start))
		}
	})
}
