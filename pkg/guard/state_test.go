package guard

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const s = time.Second

func TestMayPing(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		now, expiry, timeout time.Duration
		armed, want          bool
	}{
		{"disarmed pings whatever the expiry", 100 * s, 0, 10 * s, false, true},
		{"armed, reset well before expiry", 100 * s, 115 * s, 10 * s, true, true},
		{"armed, reset exactly at expiry", 100 * s, 110 * s, 10 * s, true, true},
		{"armed, reset just after expiry", 100 * s, 110*s - 1, 10 * s, true, false},
		{"armed, expiry passed", 100 * s, 90 * s, s, true, false},
	} {
		if got := mayPing(tc.now, tc.armed, tc.expiry, tc.timeout); got != tc.want {
			t.Errorf("%s: mayPing(%v, %v, %v, %v) = %v", tc.name, tc.now, tc.armed, tc.expiry, tc.timeout, got)
		}
	}
}

func TestStateDeadline(t *testing.T) {
	var st state
	if st.due(1000*s) || func() bool { _, ok := st.wake(0); return ok }() {
		t.Fatal("a disarmed guard is due or wants waking")
	}
	st.arm(Request{Op: OpArm, FenceAt: 10 * s, Expiry: 12 * s, Cgroups: []string{"/cg/a"}})
	for _, tc := range []struct {
		now  time.Duration
		due  bool
		wake time.Duration
	}{
		{5 * s, false, maxSleep}, // long waits are cut, so a resume is noticed
		{9500 * time.Millisecond, false, 500 * time.Millisecond},
		{10*s - 1, false, 1},
		{10 * s, true, 0},
		{11 * s, true, 0},
	} {
		if got := st.due(tc.now); got != tc.due {
			t.Errorf("due(%v) = %v, want %v", tc.now, got, tc.due)
		}
		if got, ok := st.wake(tc.now); !ok || got != tc.wake {
			t.Errorf("wake(%v) = %v, %v; want %v", tc.now, got, ok, tc.wake)
		}
	}
}

func TestStateLogsAndFenced(t *testing.T) {
	var st state
	a := Request{Op: OpArm, FenceAt: 10 * s, Expiry: 12 * s, Cgroups: []string{"/cg/a"}, PGIDs: []int{77}}
	if msg := st.arm(a); !strings.HasPrefix(msg, "armed: fencing at 10.000s") || !strings.Contains(msg, "/cg/a") {
		t.Errorf("first arm logs %q", msg)
	}
	a.FenceAt, a.Expiry = 11*s, 13*s
	if msg := st.arm(a); msg != "" {
		t.Errorf("a renewal with the same targets logs %q, want nothing", msg)
	}
	if st.fenceAt != 11*s || st.expiry != 13*s {
		t.Errorf("a renewal did not move the deadline: %v %v", st.fenceAt, st.expiry)
	}
	a.Cgroups = []string{"/cg/a", "/cg/b"}
	if msg := st.arm(a); !strings.HasPrefix(msg, "re-armed with new targets") {
		t.Errorf("new targets log %q", msg)
	}

	st.done(11*s+5*time.Millisecond, fenceResult{killed: []string{"/cg/a", "/cg/b"}, killedPGIDs: []int{77}})
	r := st.reply(42)
	if !r.OK || r.Armed || !r.Fenced || r.FencedAt != 11*s+5*time.Millisecond || len(r.Killed) != 2 || r.PID != 42 {
		t.Errorf("after a fence the reply is %+v", r)
	}
	if st.due(20 * s) {
		t.Error("a fenced guard is due again")
	}
	// Fenced stays until the next arm or disarm.
	if r := st.reply(42); !r.Fenced {
		t.Error("fenced was forgotten by a status")
	}
	if msg := st.disarm(); msg != "" {
		t.Errorf("disarming a fenced (so disarmed) guard logs %q", msg)
	}
	if r := st.reply(42); r.Fenced || r.Killed == nil || len(r.Killed) != 0 {
		t.Errorf("after a disarm the reply is %+v; want not fenced, killed []", r)
	}
	st.arm(a)
	if msg := st.disarm(); msg != "disarmed: nothing to guard" {
		t.Errorf("disarm logs %q", msg)
	}
}

func TestStateExit(t *testing.T) {
	var st state
	if err := st.exit(false, 0); err != nil {
		t.Errorf("exit while disarmed: %v", err)
	}
	st.arm(Request{Op: OpArm, FenceAt: 10 * s, Expiry: 12 * s})
	if err := st.exit(false, 7*s); err == nil || !strings.Contains(err.Error(), "refusing to exit while armed: fencing is due in 3.000s") {
		t.Errorf("exit while armed: %v", err)
	}
	if err := st.exit(true, 7*s); err != nil {
		t.Errorf("forced exit while armed: %v", err)
	}
}

func TestTargetsCheck(t *testing.T) {
	lim := targets{mount: "/sys/fs/cgroup", self: "/sys/fs/cgroup/system.slice/clpd.service", pgid: 500}
	for _, tc := range []struct {
		name string
		lim  targets
		req  Request
		want string // "" for accepted
	}{
		{"a group's cgroup", lim, Request{Cgroups: []string{"/sys/fs/cgroup/clpkit/g1"}, PGIDs: []int{900}}, ""},
		{"a cgroup below the guard's", lim, Request{Cgroups: []string{"/sys/fs/cgroup/system.slice/clpd.service/g1"}}, ""},
		{"a sibling with a common prefix", lim, Request{Cgroups: []string{"/sys/fs/cgroup/system.slice/clpd.service2"}}, ""},
		{"outside the mount", lim, Request{Cgroups: []string{"/sys/fs/cgroupx/g1"}}, "is not below the cgroup v2 mount"},
		{"the guard's own", lim, Request{Cgroups: []string{"/sys/fs/cgroup/system.slice/clpd.service"}}, "holds the guard itself"},
		{"above the guard", lim, Request{Cgroups: []string{"/sys/fs/cgroup/system.slice"}}, "holds the guard itself"},
		{"no v2", targets{}, Request{Cgroups: []string{"/sys/fs/cgroup/g1"}}, "no cgroup v2 mounted"},
		{"no v2, process groups only", targets{}, Request{PGIDs: []int{900}}, ""},
		{"the guard's process group", lim, Request{PGIDs: []int{900, 500}}, "is the guard's own"},
	} {
		checkRefusal(t, tc.name, tc.lim.check(tc.req), tc.want)
	}
}

func TestDecodeRequest(t *testing.T) {
	for _, tc := range []struct {
		line string
		want string // error text, "" for accepted
	}{
		{`{"op":"arm","fence_at_ns":10,"expiry_ns":20,"cgroups":["/sys/fs/cgroup/g"],"pgids":[7]}`, ""},
		{`{"op":"arm","fence_at_ns":10,"expiry_ns":10}`, ""},
		{` {"op":"status"} `, ""},
		{`{"op":"exit","force":true}`, ""},
		{`{"op":"disarm"}`, ""},
		{`{bad`, "malformed request: "},
		{`{"op":"status"} {"op":"status"}`, "more than one JSON value"},
		{`{"op":"arm","fence_at":10,"expiry_ns":20}`, `unknown field "fence_at"`},
		{`{"op":"arm","expiry_ns":20}`, "fence_at_ns must be a positive"},
		{`{"op":"arm","fence_at_ns":10}`, "expiry_ns must be a positive"},
		{`{"op":"arm","fence_at_ns":30,"expiry_ns":20}`, "after expiry_ns"},
		{`{"op":"arm","fence_at_ns":10,"expiry_ns":20,"cgroups":["g1"]}`, "not an absolute, clean"},
		{`{"op":"arm","fence_at_ns":10,"expiry_ns":20,"cgroups":["/a/../b"]}`, "not an absolute, clean"},
		{`{"op":"arm","fence_at_ns":10,"expiry_ns":20,"cgroups":["/"]}`, "not an absolute, clean"},
		{`{"op":"arm","fence_at_ns":10,"expiry_ns":20,"pgids":[1]}`, "process group 1 is not"},
		{`{"op":"arm","fence_at_ns":10,"expiry_ns":20,"pgids":[-5]}`, "process group -5 is not"},
		{`{"fence_at_ns":10}`, `no "op"`},
		{`{"op":"fence"}`, `unknown op "fence"`},
		{`[]`, "malformed request"},
		{`null`, `no "op"`},
	} {
		_, err := DecodeRequest([]byte(tc.line))
		checkRefusal(t, tc.line, err, tc.want)
	}
}

// checkRefusal fails the test unless err is what want says: none for "", else an error whose
// text contains want. what names the case.
func checkRefusal(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: refused: %v", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: %v, want an error containing %q", what, err, want)
	}
}

// The engine on a fake clock, with nothing to kill: an arm already past fences before the
// reply, exit is refused while armed, and an accepted exit ends Run.
func TestEngineFakeClock(t *testing.T) {
	now := 100 * s
	var logged []string
	e := New(Options{Now: func() time.Duration { return now }, PID: 7, Log: func(m string) { logged = append(logged, m) }})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- e.Run(ctx) }()

	r, err := e.Do(ctx, Request{Op: OpArm, FenceAt: 200 * s, Expiry: 210 * s})
	if err != nil || !r.OK || !r.Armed || r.FenceAt != 200*s || r.PID != 7 {
		t.Fatalf("arm: %+v, %v", r, err)
	}
	if r, err := e.Do(ctx, Request{Op: OpExit}); err != nil || r.OK || !strings.Contains(r.Error, "refusing to exit while armed: fencing is due in 100.000s") || !r.Armed {
		t.Fatalf("exit while armed: %+v, %v", r, err)
	}
	r, err = e.Do(ctx, Request{Op: OpArm, FenceAt: 99 * s, Expiry: 210 * s})
	if err != nil || !r.OK || r.Armed || !r.Fenced || r.FencedAt != 100*s {
		t.Fatalf("an arm already past: %+v, %v; want fenced before the reply", r, err)
	}
	// The next arm tells its sender that the guard had fenced, once; the one after does not.
	if r, err := e.Do(ctx, Request{Op: OpArm, FenceAt: 300 * s, Expiry: 310 * s}); err != nil || !r.OK || !r.WasFenced || r.Fenced {
		t.Fatalf("the arm after a fence: %+v, %v; want was_fenced", r, err)
	}
	if r, err := e.Do(ctx, Request{Op: OpArm, FenceAt: 300 * s, Expiry: 310 * s}); err != nil || !r.OK || r.WasFenced {
		t.Fatalf("a second arm: %+v, %v; want no was_fenced", r, err)
	}
	if r, err := e.Do(ctx, Request{Op: OpDisarm}); err != nil || !r.OK || r.WasFenced {
		t.Fatalf("disarm: %+v, %v", r, err)
	}
	if r, err := e.Do(ctx, Request{Op: OpArm, FenceAt: 200 * s, Expiry: 210 * s, Cgroups: []string{"/sys/fs/cgroup/g"}}); err != nil || r.OK || !strings.Contains(r.Error, "no cgroup v2 mounted") {
		t.Fatalf("an arm naming a cgroup without a v2 mount: %+v, %v", r, err)
	}
	if r, err := e.Do(ctx, Request{Op: OpExit}); err != nil || !r.OK {
		t.Fatalf("exit when disarmed: %+v, %v", r, err)
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := e.Do(ctx, Request{Op: OpStatus}); !errors.Is(err, ErrStopped) {
		t.Errorf("Do after Run: %v, want ErrStopped", err)
	}
	if all := strings.Join(logged, "\n"); !strings.Contains(all, "deadline 99.000s passed (now 100.000s") || !strings.Contains(all, "exiting on request") {
		t.Errorf("log:\n%s", all)
	}
}
