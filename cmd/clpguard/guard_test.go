package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/cgroup"
	"clpkit/pkg/guard"
	"clpkit/pkg/procwatch"
)

// TestGuard builds clpguard once and runs it as a real process in every subtest, against real
// cgroups holding real double-forked daemons. Timing assertions are generous on purpose: a
// process must be alive 100 ms before its deadline and gone within 2 s after it.
func TestGuard(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("clpguard kills cgroups and sets oom_score_adj: not root")
	}
	bin := cmdtest.Build(t, "clpguard")
	for _, tc := range []struct {
		name string
		f    func(*testing.T, string)
	}{
		{"fences at the deadline", testFence},
		{"renewals keep the groups alive", testRenew},
		{"disarm", testDisarm},
		{"a dropped connection still fences", testDropped},
		{"a deadline already past fences at once", testPast},
		{"process groups", testPGIDs},
		{"a second guard exits 3", testSecond},
		{"exit", testExit},
		{"forced exit", testForcedExit},
		{"SIGTERM does not fence", testSIGTERM},
		{"bad requests", testBadRequests},
		{"concurrent clients", testConcurrent},
		{"Spawn", testSpawn},
		{"no watchdog device", testNoWatchdog},
		{"protects itself", testProtect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, bin)
		})
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"clpguard", "--version"}, 0, "clpguard (clpkit) ", ""},
		{[]string{"clpguard"}, 2, "", "clpguard: --socket path is required (see clpguard --help)\n"},
		{[]string{"clpguard", "--socket", "/x", "extra"}, 2, "", "clpguard: unexpected argument \"extra\" (see clpguard --help)\n"},
		{[]string{"clpguard", "--socket", "/x", "--watchdog", "/dev/watchdog"}, 2, "", "clpguard: --watchdog needs --watchdog-timeout seconds (see clpguard --help)\n"},
		{[]string{"clpguard", "--socket", "/x", "--watchdog-timeout", "3"}, 2, "", "clpguard: --watchdog-timeout needs --watchdog device (see clpguard --help)\n"},
		{[]string{"clpguard", "--socket", "/x", "--watchdog", "/w", "--watchdog-timeout", "0"}, 2, "", "clpguard: --watchdog-timeout takes a number of seconds from 1 to 65535, not 0.\n"},
		{[]string{"clpguard", "--socket", "/x", "--watchdog", "/w", "--watchdog-timeout", "4294967297"}, 2, "", "clpguard: --watchdog-timeout takes a number of seconds from 1 to 65535, not 4294967297.\n"},
		{[]string{"clpguard", "--bogus"}, 2, "", "clpguard: option --bogus is not supported yet\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr, os.Getenv)
		if code != tc.code || !strings.HasPrefix(stdout.String(), tc.stdout) || stderr.String() != tc.stderr {
			t.Errorf("%q: status %d, stdout %q, stderr %q; want %d, %q..., %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

// guardProc is one clpguard process of a test.
type guardProc struct {
	cmd    *exec.Cmd
	socket string
	log    string
	stderr bytes.Buffer
	done   chan struct{} // closed once it has exited
	err    error         // its exit, once done
}

// startGuard runs clpguard on a socket of its own and waits until it answers. The guard is
// killed when the test ends, if it is still running.
func startGuard(t *testing.T, bin string, args ...string) *guardProc {
	t.Helper()
	dir := t.TempDir()
	g := &guardProc{socket: filepath.Join(dir, "guard.sock"), log: filepath.Join(dir, "guard.log"), done: make(chan struct{})}
	g.start(t, bin, args...)
	return g
}

func (g *guardProc) start(t *testing.T, bin string, args ...string) {
	t.Helper()
	g.cmd = exec.Command(bin, append([]string{"--socket", g.socket, "--log", g.log}, args...)...)
	g.cmd.Stderr = &g.stderr
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		_ = g.cmd.Process.Kill()
		<-g.done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := guard.Dial(ctx, g.socket)
		if err == nil {
			rep, err := c.Status(ctx)
			c.Close()
			if err == nil && rep.PID == g.cmd.Process.Pid {
				cancel()
				return
			}
		}
		cancel()
		select {
		case <-g.done:
			t.Fatalf("clpguard exited at start: %v, stderr %q, log:\n%s", g.err, g.stderr.String(), g.logText())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("clpguard did not answer within 10 s; log:\n%s", g.logText())
		}
	}
}

func (g *guardProc) logText() string {
	b, _ := os.ReadFile(g.log)
	return string(b)
}

// client connects to the guard; the connection is closed when the test ends.
func (g *guardProc) client(t *testing.T) *guard.Client {
	t.Helper()
	c, err := guard.Dial(ctx5(t), g.socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exitCode waits up to 5 s for the guard to exit and returns its status.
func (g *guardProc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-g.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("clpguard did not exit within 5 s; log:\n%s", g.logText())
	}
	var ee *exec.ExitError
	if errors.As(g.err, &ee) {
		return ee.ExitCode()
	}
	if g.err != nil {
		t.Fatal(g.err)
	}
	return 0
}

func (g *guardProc) running() bool {
	select {
	case <-g.done:
		return false
	default:
		return true
	}
}

// ctx5 is a context for one request.
func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testCgroup makes a cgroup for this test alone, <v2 mount>/clpkit-test-<random>, and kills and
// removes it when the test ends.
func testCgroup(t *testing.T) cgroup.Cgroup {
	t.Helper()
	mount, err := cgroup.FindV2("/proc")
	if errors.Is(err, cgroup.ErrNoV2) {
		t.Skip("no cgroup v2 mounted")
	}
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cg := cgroup.Cgroup{Path: filepath.Join(mount, "clpkit-test-"+hex.EncodeToString(b[:]))}
	if err := cg.Ensure(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cg.Kill(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := cg.Remove(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return cg
}

// guarded is what most tests start from: a cgroup of the test's own with two daemons in it, and
// a clpguard started from bin.
func guarded(t *testing.T, bin string) (cgroup.Cgroup, []procwatch.Identity, *guardProc) {
	t.Helper()
	cg := testCgroup(t)
	return cg, daemons(t, cg), startGuard(t, bin)
}

// daemons starts, in cg, a shell that leaves two sleeps behind, one in a session of its own,
// and returns them once the shell has exited.
func daemons(t *testing.T, cg cgroup.Cgroup) []procwatch.Identity {
	t.Helper()
	f, err := cg.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sh := exec.Command("sh", "-c", "setsid sleep 1000 & sleep 1001 & exit 0")
	sh.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	if err := sh.Run(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := cg.Procs()
		if err != nil {
			t.Fatal(err)
		}
		if len(pids) >= 2 {
			var ids []procwatch.Identity
			for _, p := range pids {
				if id, err := procwatch.Identify("/proc", p); err == nil {
					ids = append(ids, id)
				}
			}
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %v, want two sleeps", cg.Path, pids)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allAlive(ids []procwatch.Identity) bool {
	for _, id := range ids {
		if !procwatch.Alive("/proc", id) {
			return false
		}
	}
	return true
}

func noneAlive(ids []procwatch.Identity) bool {
	for _, id := range ids {
		if procwatch.Alive("/proc", id) {
			return false
		}
	}
	return true
}

// sleepUntil sleeps until the CLOCK_BOOTTIME instant at.
func sleepUntil(at time.Duration) {
	if d := at - guard.Now(); d > 0 {
		time.Sleep(d)
	}
}

// aliveBefore checks, shortly before fenceAt, that the processes still run: when the check
// comes 100 ms or more before the deadline (the test may be slowed by a loaded machine, and
// then it proves nothing either way).
func aliveBefore(t *testing.T, ids []procwatch.Identity, fenceAt time.Duration) {
	t.Helper()
	sleepUntil(fenceAt - 150*time.Millisecond)
	before := guard.Now()
	alive := allAlive(ids)
	if before < fenceAt-100*time.Millisecond && !alive {
		t.Fatalf("processes killed %s before the deadline", fenceAt-before)
	}
}

// goneBy waits until none of ids runs, failing at the CLOCK_BOOTTIME instant limit.
func goneBy(t *testing.T, ids []procwatch.Identity, limit time.Duration, g *guardProc) {
	t.Helper()
	for !noneAlive(ids) {
		if guard.Now() > limit {
			t.Fatalf("processes still alive %s after the limit; log:\n%s", guard.Now()-limit, g.logText())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func arm(t *testing.T, c *guard.Client, fenceAt time.Duration, cgroups []string, pgids []int) guard.Reply {
	t.Helper()
	rep, err := c.Arm(ctx5(t), fenceAt, fenceAt+2*time.Second, cgroups, pgids)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func status(t *testing.T, g *guardProc) guard.Reply {
	t.Helper()
	rep, err := g.client(t).Status(ctx5(t))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func testFence(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	c := g.client(t)
	fenceAt := guard.Now() + 300*time.Millisecond
	if rep := arm(t, c, fenceAt, []string{cg.Path}, nil); !rep.Armed || rep.FenceAt != fenceAt || rep.Fenced {
		t.Fatalf("arm: %+v", rep)
	}
	aliveBefore(t, ids, fenceAt)
	goneBy(t, ids, fenceAt+2*time.Second, g)

	rep := status(t, g)
	if rep.Armed || !rep.Fenced || rep.FencedAt < fenceAt || !slices.Equal(rep.Killed, []string{cg.Path}) || len(rep.Failed) > 0 {
		t.Errorf("status after the deadline: %+v", rep)
	}
	if pop, err := cg.Populated(); err != nil || pop {
		t.Errorf("Populated = %v, %v after the fence", pop, err)
	}
	if log := g.logText(); !strings.Contains(log, "fenced cgroup "+cg.Path+": killed 2 process(es), now empty") {
		t.Errorf("the log does not say what was killed:\n%s", log)
	}
	// Fenced stays until the next arm or disarm.
	if rep := status(t, g); !rep.Fenced {
		t.Errorf("a second status forgot the fence: %+v", rep)
	}
	if rep, err := c.Disarm(ctx5(t)); err != nil || rep.Fenced || rep.Armed {
		t.Errorf("disarm after a fence: %+v, %v", rep, err)
	}
}

func testRenew(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	c := g.client(t)
	end := guard.Now() + time.Second
	var late time.Duration // how far past the deadline in force a renewal was sent
	prev := time.Duration(0)
	for guard.Now() < end {
		sent := guard.Now()
		if prev > 0 && sent > prev {
			late = max(late, sent-prev)
		}
		prev = sent + 300*time.Millisecond
		arm(t, c, prev, []string{cg.Path}, nil)
		time.Sleep(100 * time.Millisecond)
	}
	if !allAlive(ids) {
		if late > 0 {
			// The guard was right to fence: this test, not the guard, missed a deadline.
			t.Skipf("the machine is too loaded for this test: a renewal came %s after the deadline", late)
		}
		t.Fatalf("processes killed while the deadline kept moving; log:\n%s", g.logText())
	}
	if rep, err := c.Disarm(ctx5(t)); err != nil || rep.Fenced {
		t.Fatalf("disarm: %+v, %v", rep, err)
	}
	// One line for the first arm, none for the renewals.
	if n := strings.Count(g.logText(), "armed: fencing at"); n != 1 {
		t.Errorf("%d arm lines in the log, want 1:\n%s", n, g.logText())
	}
}

func testDisarm(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	c := g.client(t)
	fenceAt := guard.Now() + time.Second
	arm(t, c, fenceAt, []string{cg.Path}, nil)
	if rep, err := c.Disarm(ctx5(t)); err != nil || rep.Armed {
		t.Fatalf("disarm: %+v, %v", rep, err)
	}
	if late := guard.Now() - fenceAt; late >= 0 {
		t.Skipf("the machine is too loaded for this test: the disarm came %s after the deadline", late)
	}
	sleepUntil(fenceAt + 500*time.Millisecond)
	if !allAlive(ids) {
		t.Fatalf("a disarmed guard killed; log:\n%s", g.logText())
	}
	if rep := status(t, g); rep.Armed || rep.Fenced {
		t.Errorf("status: %+v", rep)
	}
}

// The clpd-SIGKILL case: a connection arms, then vanishes without reading the reply.
func testDropped(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	conn, err := net.Dial("unix", g.socket)
	if err != nil {
		t.Fatal(err)
	}
	fenceAt := guard.Now() + 300*time.Millisecond
	line, _ := json.Marshal(guard.Request{Op: guard.OpArm, FenceAt: fenceAt, Expiry: fenceAt + 2*time.Second, Cgroups: []string{cg.Path}})
	if _, err := conn.Write(append(line, '\n')); err != nil {
		t.Fatal(err)
	}
	// Let the request arrive before the connection goes; a connection closed with the request
	// unread is the other case, and changes nothing either.
	time.Sleep(20 * time.Millisecond)
	conn.Close()
	aliveBefore(t, ids, fenceAt)
	goneBy(t, ids, fenceAt+2*time.Second, g)
	if rep := status(t, g); !rep.Fenced || !slices.Contains(rep.Killed, cg.Path) {
		t.Errorf("status: %+v", rep)
	}
}

func testPast(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	rep := arm(t, g.client(t), guard.Now()-time.Millisecond, []string{cg.Path}, nil)
	if rep.Armed || !rep.Fenced || !slices.Equal(rep.Killed, []string{cg.Path}) {
		t.Fatalf("the reply to an arm already past is %+v; want fenced", rep)
	}
	if !noneAlive(ids) {
		t.Fatal("the reply came before the processes were dead")
	}
}

// Without cgroup v2, clpd names process groups; the guard kills them whole.
func testPGIDs(t *testing.T, bin string) {
	sh := exec.Command("sh", "-c", "sleep 1000 & sleep 1001 & wait")
	cmdtest.StartGroup(t, sh)
	pgid := sh.Process.Pid
	var ids []procwatch.Identity
	deadline := time.Now().Add(5 * time.Second)
	for len(ids) < 3 {
		ids = groupMembers(t, pgid)
		if time.Now().After(deadline) {
			t.Fatalf("process group %d has %d processes, want 3", pgid, len(ids))
		}
		time.Sleep(5 * time.Millisecond)
	}
	g := startGuard(t, bin)
	fenceAt := guard.Now() + 300*time.Millisecond
	arm(t, g.client(t), fenceAt, nil, []int{pgid})
	aliveBefore(t, ids, fenceAt)
	goneBy(t, ids, fenceAt+2*time.Second, g)
	if rep := status(t, g); !rep.Fenced || !slices.Equal(rep.KilledPGIDs, []int{pgid}) {
		t.Errorf("status: %+v", rep)
	}
	if log := g.logText(); !strings.Contains(log, "fenced process group "+strconv.Itoa(pgid)+": SIGKILL sent to 3 process(es)") {
		t.Errorf("log:\n%s", log)
	}
}

// groupMembers lists the live processes of process group pgid.
func groupMembers(t *testing.T, pgid int) []procwatch.Identity {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var ids []procwatch.Identity
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			if id, err := procwatch.Identify("/proc", pid); err == nil && procwatch.Alive("/proc", id) {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func testSecond(t *testing.T, bin string) {
	g := startGuard(t, bin)
	out, err := exec.Command(bin, "--socket", g.socket).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("a second guard: %v, want exit status 3", err)
	}
	want := "clpguard: another clpguard (pid " + strconv.Itoa(g.cmd.Process.Pid) + ") already guards " + g.socket + "\n"
	if string(out) != want {
		t.Errorf("a second guard said %q, want %q", out, want)
	}
	if rep := status(t, g); rep.PID != g.cmd.Process.Pid {
		t.Errorf("the first guard no longer answers: %+v", rep)
	}
}

func testExit(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	c := g.client(t)
	if fi, err := os.Stat(g.socket); err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("the socket: %v, %v; want a socket of mode 0600", fi.Mode(), err)
	}
	arm(t, c, guard.Now()+time.Hour, []string{cg.Path}, nil)
	_, err := c.Exit(ctx5(t), false)
	var refused *guard.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Msg, "refusing to exit while armed") {
		t.Fatalf("exit while armed: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if !g.running() {
		t.Fatal("the guard exited while armed")
	}
	if _, err := c.Disarm(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.Exit(ctx5(t), false); err != nil || !rep.OK {
		t.Fatalf("exit when disarmed: %+v, %v", rep, err)
	}
	if code := g.exitCode(t); code != 0 {
		t.Fatalf("exit status %d, want 0; log:\n%s", code, g.logText())
	}
	// It removes its socket and nothing else: the lock stays, the cgroup and its processes too.
	if _, err := os.Lstat(g.socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket is still there: %v", err)
	}
	if _, err := os.Stat(guard.LockPath(g.socket)); err != nil {
		t.Errorf("the lock file is gone: %v", err)
	}
	if !allAlive(ids) {
		t.Error("exiting killed the processes")
	}
	if _, err := os.Stat(cg.Path); err != nil {
		t.Errorf("the cgroup is gone: %v", err)
	}
	if log := g.logText(); !strings.Contains(log, "exiting on request") || !strings.HasSuffix(log, "exited\n") {
		t.Errorf("log:\n%s", log)
	}
	// The next guard starts on the same socket.
	g2 := &guardProc{socket: g.socket, log: g.log, done: make(chan struct{})}
	g2.start(t, bin)
}

func testForcedExit(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	c := g.client(t)
	arm(t, c, guard.Now()+time.Hour, []string{cg.Path}, nil)
	if rep, err := c.Exit(ctx5(t), true); err != nil || !rep.OK {
		t.Fatalf("forced exit: %+v, %v", rep, err)
	}
	if code := g.exitCode(t); code != 0 {
		t.Fatalf("exit status %d, want 0", code)
	}
	if !allAlive(ids) {
		t.Error("a forced exit killed the processes")
	}
	if log := g.logText(); !strings.Contains(log, "exit forced while armed") {
		t.Errorf("log:\n%s", log)
	}
}

func testSIGTERM(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	fenceAt := guard.Now() + time.Second
	arm(t, g.client(t), fenceAt, []string{cg.Path}, nil)
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := g.exitCode(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	if late := guard.Now() - fenceAt; late >= 0 {
		t.Skipf("the machine is too loaded for this test: the guard ended %s after the deadline", late)
	}
	sleepUntil(fenceAt + 300*time.Millisecond)
	if !allAlive(ids) {
		t.Error("SIGTERM fenced")
	}
	log := g.logText()
	if !strings.Contains(log, "SIGTERM received: exiting without fencing") || !strings.Contains(log, "stopping while armed") {
		t.Errorf("log:\n%s", log)
	}
}

func testBadRequests(t *testing.T, bin string) {
	g := startGuard(t, bin)
	conn, err := net.Dial("unix", g.socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	ask := func(line string) guard.Reply {
		t.Helper()
		if _, err := conn.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		b, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var rep guard.Reply
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("reply %q: %v", b, err)
		}
		return rep
	}
	for _, tc := range []struct{ line, want string }{
		{`{bad`, "malformed request: "},
		{`{"op":"arm","fence_at":1,"expiry_ns":2}`, `unknown field "fence_at"`},
		{`{"op":"arm","fence_at_ns":5,"expiry_ns":2}`, "after expiry_ns"},
		{`{"op":"arm","fence_at_ns":1,"expiry_ns":2,"cgroups":["/sys/fs/cgroup/../etc"]}`, "not an absolute, clean"},
		{`{"op":"reboot"}`, `unknown op "reboot"`},
	} {
		rep := ask(tc.line)
		if rep.OK || !strings.Contains(rep.Error, tc.want) || rep.PID != g.cmd.Process.Pid || rep.Armed {
			t.Errorf("%s: %+v, want ok:false with %q", tc.line, rep, tc.want)
		}
	}
	if rep := ask(`{"op":"status"}`); !rep.OK || rep.Error != "" || rep.Killed == nil {
		t.Errorf("status after bad requests, on the same connection: %+v", rep)
	}
	// An arm naming the guard's own cgroup, or one above it, is refused.
	mount, err := cgroup.FindV2("/proc")
	if err == nil {
		self, _ := cgroup.Self("/proc") // the guard runs in the test's cgroup
		own := filepath.Join(mount, self)
		if own != mount {
			line, _ := json.Marshal(guard.Request{Op: guard.OpArm, FenceAt: guard.Now() + time.Hour, Expiry: guard.Now() + time.Hour, Cgroups: []string{own}})
			if rep := ask(string(line)); rep.OK || !strings.Contains(rep.Error, "holds the guard itself") {
				t.Errorf("an arm naming the guard's own cgroup: %+v", rep)
			}
		}
		line, _ := json.Marshal(guard.Request{Op: guard.OpArm, FenceAt: guard.Now() + time.Hour, Expiry: guard.Now() + time.Hour, Cgroups: []string{"/tmp/x"}})
		if rep := ask(string(line)); rep.OK || !strings.Contains(rep.Error, "is not below the cgroup v2 mount") {
			t.Errorf("an arm naming a directory outside the cgroup tree: %+v", rep)
		}
	}
	if !g.running() {
		t.Fatal("bad requests ended the guard")
	}
}

func testConcurrent(t *testing.T, bin string) {
	cg, ids, g := guarded(t, bin)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 8 {
		c := g.client(t)
		wg.Go(func() {
			for range 20 {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := c.Arm(ctx, guard.Now()+5*time.Second, guard.Now()+7*time.Second, []string{cg.Path}, nil)
				if err == nil {
					_, err = c.Status(ctx)
				}
				cancel()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := g.client(t).Disarm(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if !allAlive(ids) {
		t.Error("processes died during the renewals")
	}
}

func testSpawn(t *testing.T, bin string) {
	dir := t.TempDir()
	socket, log := filepath.Join(dir, "guard.sock"), filepath.Join(dir, "guard.log")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pid, err := guard.Spawn(ctx, bin, socket, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("the spawned guard's session is %d (%v), want its own (%d)", sid, err, pid)
	}
	c, err := guard.Dial(ctx, socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if rep, err := c.Status(ctx); err != nil || rep.PID != pid {
		t.Fatalf("status: %+v, %v; want pid %d", rep, err, pid)
	}
	// A second one finds the first.
	_, err = guard.Spawn(ctx, bin, socket, log, nil)
	var busy *guard.BusyError
	if !errors.As(err, &busy) || busy.PID != pid {
		t.Errorf("a second Spawn: %v, want a *BusyError naming pid %d", err, pid)
	}
	if _, err := c.Exit(ctx, false); err != nil {
		t.Fatal(err)
	}
	// Spawn reaps it: no zombie is left behind.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the spawned guard was not reaped within 5 s of its exit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), "another clpguard (pid "+strconv.Itoa(pid)+") already guards") {
		t.Errorf("the log of the second guard:\n%s", b)
	}
}

func testNoWatchdog(t *testing.T, bin string) {
	missing := filepath.Join(t.TempDir(), "watchdog")
	g := startGuard(t, bin, "--watchdog", missing, "--watchdog-timeout", "2")
	want := "no kernel watchdog: " + missing + " does not exist; fencing relies on clpguard alone"
	if log := g.logText(); strings.Count(log, "no kernel watchdog") != 1 || !strings.Contains(log, want) {
		t.Errorf("log:\n%s\nwant one line with %q", log, want)
	}
}

func testProtect(t *testing.T, bin string) {
	g := startGuard(t, bin)
	pid := strconv.Itoa(g.cmd.Process.Pid)
	if b, err := os.ReadFile("/proc/" + pid + "/oom_score_adj"); err != nil || strings.TrimSpace(string(b)) != "-1000" {
		if !strings.Contains(g.logText(), "oom_score_adj") {
			t.Errorf("oom_score_adj is %q (%v), and the log does not say why", b, err)
		}
	}
	st, err := procwatch.Stat("/proc", g.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if st.Nice != guard.Nice {
		if !strings.Contains(g.logText(), "scheduling priority") {
			t.Errorf("nice is %v, and the log does not say why", st.Nice)
		}
	}
}

// The real device is used only where one exists and the run asks for it: opening it arms a reset
// of the machine should the test process die.
func TestWatchdogDevice(t *testing.T) {
	if _, err := os.Stat("/dev/watchdog"); err != nil {
		t.Skip("no /dev/watchdog here")
	}
	if os.Getenv("CLPKIT_TEST_WATCHDOG") == "" {
		t.Skip("/dev/watchdog exists; set CLPKIT_TEST_WATCHDOG=1 to let the test open it")
	}
	if os.Geteuid() != 0 {
		t.Skip("the watchdog needs root: not root")
	}
	g := startGuard(t, cmdtest.Build(t, "clpguard"), "--watchdog", "/dev/watchdog", "--watchdog-timeout", "30")
	if _, err := g.client(t).Exit(ctx5(t), false); err != nil {
		t.Fatal(err)
	}
	if code := g.exitCode(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	log := g.logText()
	if !strings.Contains(log, "watchdog /dev/watchdog, timeout 30s") || !strings.Contains(log, "watchdog /dev/watchdog disarmed") {
		t.Errorf("log:\n%s", log)
	}
}
