package guard

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Clock returns the time since boot on CLOCK_BOOTTIME. Every process of the machine reads the
// same CLOCK_BOOTTIME, so clpd can hand the guard a deadline as a plain number, and the clock
// keeps counting while the machine is suspended: a deadline passes during a suspend rather than
// after it, which errs on the safe side for fencing. Tests of pure logic pass a fake one.
type Clock func() time.Duration

// Now reads CLOCK_BOOTTIME.
func Now() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		// Only a kernel older than 2.6.39 lacks CLOCK_BOOTTIME; nothing here can run without a
		// clock shared with clpd.
		panic("guard: reading CLOCK_BOOTTIME: " + err.Error())
	}
	return time.Duration(ts.Nano())
}

// seconds writes a CLOCK_BOOTTIME instant or a span for the log: "1234.567s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
