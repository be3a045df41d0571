package cluster

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
)

// The machine is tested without processes or a store: each test feeds events at chosen times and
// checks the actions that come out and the state left behind.

const (
	ttl      = time.Second
	interval = 100 * time.Millisecond
)

// testConfig is two servers and three groups: g1 (s1 then s2) with a synchronous r1 and an
// asynchronous r2 that depends on it; g2 (s2 then s1) with one resource; solo (s1 only), which no
// other server could run.
func testConfig() *config.Config {
	res := func(name, mode string, deps ...string) config.Resource {
		return config.Resource{Name: name, Type: "exec", Start: "/s/" + name + "/start.sh", Stop: "/s/" + name + "/stop.sh",
			StartMode: mode, StopMode: config.ModeSync, StartTimeout: 30 * time.Second, StopTimeout: 30 * time.Second,
			ActivationFinalAction: config.ActionStopGroup, DeactivationFinalAction: config.ActionNone, Depends: deps}
	}
	return &config.Config{
		Cluster: config.Cluster{Name: "c1"},
		Timing:  config.Timing{HeartbeatInterval: interval, HeartbeatTimeout: ttl, FenceFraction: 0.5, APITimeout: time.Minute},
		Servers: []config.Server{{Name: "s1"}, {Name: "s2"}},
		Groups: []config.Group{
			{Name: "g1", Servers: []string{"s1", "s2"}, Resources: []config.Resource{res("r1", config.ModeSync), res("r2", config.ModeAsync, "r1")}},
			{Name: "g2", Servers: []string{"s2", "s1"}, Resources: []config.Resource{res("r3", config.ModeSync)}},
			{Name: "solo", Servers: []string{"s1"}, Resources: []config.Resource{res("r4", config.ModeSync)}},
		},
	}
}

type harness struct {
	t   *testing.T
	m   *machine
	now time.Duration
	// out is every action so far; last the actions of the latest step.
	out, last []action
}

func newHarness(t *testing.T, local string) *harness {
	cfg := testConfig()
	m := newMachine(params{local: local, cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond})
	return &harness{t: t, m: m, now: 10 * time.Second}
}

func (h *harness) step(ev event) []action {
	h.t.Helper()
	h.last = h.m.step(h.now, ev)
	h.out = append(h.out, h.last...)
	return h.last
}

// at moves the clock to now+d and ticks.
func (h *harness) at(d time.Duration) []action {
	h.now += d
	return h.step(evTick{})
}

func (h *harness) req(kind reqKind, group string) *request {
	r := &request{kind: kind, group: group, reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	return r
}

// replied returns the answer r got, failing if it got none.
func (h *harness) replied(r *request) reply {
	h.t.Helper()
	for _, a := range h.out {
		if ar, ok := a.(actReply); ok && ar.r == r {
			return reply{err: ar.err, value: ar.value}
		}
	}
	h.t.Fatalf("request %v got no reply; actions: %s", r.kind, dump(h.out))
	return reply{}
}

func (h *harness) pending(r *request) bool {
	for _, a := range h.out {
		if ar, ok := a.(actReply); ok && ar.r == r {
			return false
		}
	}
	return true
}

// find returns the actions of the latest step of type T.
func find[T action](acts []action) []T {
	var out []T
	for _, a := range acts {
		if x, ok := a.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

func one[T action](h *harness, acts []action) T {
	h.t.Helper()
	got := find[T](acts)
	if len(got) != 1 {
		var zero T
		h.t.Fatalf("want one %T, got %d in: %s", zero, len(got), dump(acts))
	}
	return got[0]
}

func none[T action](h *harness, acts []action) {
	h.t.Helper()
	if got := find[T](acts); len(got) != 0 {
		var zero T
		h.t.Fatalf("want no %T, got %d in: %s", zero, len(got), dump(acts))
	}
}

func dump(acts []action) string {
	var b strings.Builder
	for _, a := range acts {
		fmt.Fprintf(&b, "\n  %T %+v", a, a)
	}
	return b.String()
}

func alerts(acts []action) []string {
	var out []string
	for _, a := range find[actAlert](acts) {
		out = append(out, fmt.Sprintf("%s %d %s", a.module, a.id, a.text))
	}
	return out
}

// snap is a read of the store in which s1 holds lease 7 (the lease the harness joins with).
func snap(online []string, owners map[string]store.Owner, markers map[string]store.Marker) store.Snapshot {
	return snapL(7, online, owners, markers)
}

// snapL is snap with s1 on the given lease.
func snapL(lease int64, online []string, owners map[string]store.Owner, markers map[string]store.Marker) store.Snapshot {
	s := store.Snapshot{Servers: map[string]int64{}, Owners: owners, Markers: markers}
	for i, o := range online {
		s.Servers[o] = int64(100 + i)
		if o == "s1" {
			s.Servers[o] = lease
		}
	}
	if s.Owners == nil {
		s.Owners = map[string]store.Owner{}
	}
	if s.Markers == nil {
		s.Markers = map[string]store.Marker{}
	}
	return s
}

// up starts the service and joins with lease 7; the view shows online servers.
func (h *harness) up(online ...string) {
	h.t.Helper()
	r := h.req(reqServiceStart, "")
	j := one[actJoin](h, h.last)
	if j.previous != 0 {
		h.t.Fatalf("first join asks to re-attach lease %x", j.previous)
	}
	h.step(evJoined{lease: store.Lease{ID: 7, TTL: ttl}, sent: h.now})
	if err := h.replied(r).err; err != nil {
		h.t.Fatalf("service start: %v", err)
	}
	h.step(evView{snap: snap(online, nil, nil)})
}

// ack acknowledges every renewal sent in the latest step as sent now.
func (h *harness) ack() {
	for _, r := range find[actRenew](h.last) {
		h.step(evRenewed{lease: r.lease, sent: h.now})
	}
}

// runningG1 is s1 of a two-server cluster with g1 started and the lease renewed since.
func runningG1(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	h.startG1()
	h.ack()
	return h
}

// runStops runs g1's next n stop scripts to their end, each the one spawn of the step before.
func (h *harness) runStops(n int) {
	h.t.Helper()
	for range n {
		sp := one[actSpawn](h, h.last)
		h.step(evSpawned{job: sp.job})
		h.step(evExited{job: sp.job})
		h.step(evReaped{group: 0, res: sp.res})
	}
}

// startGroup takes g1 through a whole start on s1 and returns the request.
func (h *harness) startG1() *request {
	h.t.Helper()
	r := h.req(reqStartGroup, "g1")
	acq := one[actAcquire](h, h.last)
	h.step(evAcquired{group: acq.group, token: 42})
	sp := one[actSpawn](h, h.last)
	if sp.kind != jobStart || sp.res != 0 || sp.token != 42 || sp.ev.Event != "START" || sp.ev.Server != "HOME" {
		h.t.Fatalf("first spawn: %+v", sp)
	}
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 1000}})
	h.step(evExited{job: sp.job, result: resource.Result{Code: 0}})
	sp2 := one[actSpawn](h, h.last)
	if sp2.res != 1 || !sp2.async {
		h.t.Fatalf("second spawn: %+v", sp2)
	}
	h.step(evSpawned{job: sp2.job, info: resource.JobInfo{ScriptPID: 2000}})
	if err := h.replied(r).err; err != nil {
		h.t.Fatalf("start g1: %v", err)
	}
	return r
}

func TestStartGroupHappyPath(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	h.startG1()
	want := []string{
		"pm 1 Starting the cluster daemon...",
		"rc 10 Activating group g1 has started.",
		"rc 30 Activating r1 resource has started.",
		"rc 31 Activating r1 resource has completed.",
		"rc 30 Activating r2 resource has started.",
		"rc 31 Activating r2 resource has completed.",
		"rc 11 Activating group g1 has completed.",
	}
	if got := alerts(h.out); !reflect.DeepEqual(got, want) {
		t.Fatalf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	marks := find[actMark](h.out)
	if len(marks) != 2 || marks[0].marker.State != store.MarkerStarting || marks[1].marker.State != store.MarkerOnline {
		t.Fatalf("marks: %s", dump(h.out))
	}
	st := h.m.status(h.now)
	if st.Groups[0].State != status.Online || st.Groups[0].Current != "s1" || st.Groups[0].Resources[1].PID != 2000 {
		t.Fatalf("status: %+v", st.Groups[0])
	}
	// The guard is armed for g1 (it could run on s2) at lastAck + 0.75 TTL.
	g := find[actGuard](h.out)
	last := g[len(g)-1]
	if !last.armed || !reflect.DeepEqual(last.groups, []int{0}) || last.fenceAt != h.m.lease.lastAck+750*time.Millisecond || last.expiry != h.m.lease.lastAck+ttl {
		t.Fatalf("guard: %+v", last)
	}
	// A second start is refused with the legacy text.
	r := h.req(reqStartGroup, "g1")
	if err := h.replied(r).err; err == nil || err.Error() != status.ErrAlreadyStarted().Msg {
		t.Fatalf("second start: %v", err)
	}
}

func TestRenewalsMoveTheDeadline(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	joinedAt := h.m.lease.lastAck
	acts := h.at(interval)
	one[actRenew](h, acts)
	sent := h.now
	// An acknowledgement that arrives late still counts from its send time.
	h.now += 300 * time.Millisecond
	h.step(evRenewed{lease: 7, sent: sent})
	if h.m.lease.lastAck != sent {
		t.Fatalf("lastAck = %v, want the send time %v", h.m.lease.lastAck, sent)
	}
	// An older acknowledgement arriving later does not move it back.
	h.step(evRenewed{lease: 7, sent: joinedAt})
	if h.m.lease.lastAck != sent {
		t.Fatalf("an older ack moved lastAck to %v", h.m.lease.lastAck)
	}
	// A renewal of another lease is ignored.
	h.step(evRenewed{lease: 99, sent: h.now})
	if h.m.lease.lastAck != sent {
		t.Fatal("a renewal of another lease moved the deadline")
	}
	// An acknowledgement that comes back after the fencing deadline proves nothing: the fence
	// has already happened.
	h.now = sent + 600*time.Millisecond
	h.step(evRenewed{lease: 7, sent: sent + 50*time.Millisecond})
	if h.m.svc != svcFencing && h.m.svc != svcRejoining {
		t.Fatalf("svc = %v after the deadline passed", h.m.svc)
	}
}

// Lease loss during a start: the script that runs is killed with its whole group, the caller
// hears why, nothing more is started, cleanup runs within the guard's budget, then the server
// rejoins with a new lease.
func TestFenceDuringStart(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	r := h.req(reqStartGroup, "g1")
	h.step(evAcquired{group: 0, token: 42})
	sp := one[actSpawn](h, h.last)
	h.step(evSpawned{job: sp.job, info: resource.JobInfo{ScriptPID: 1000}})
	deadline := h.m.fenceAt()
	// Renewals go out but no acknowledgement comes back.
	for h.now+interval < deadline {
		none[actKill](h, h.at(interval))
	}
	acts := h.at(deadline - h.now)
	k := one[actKill](h, acts)
	if k.group != 0 || k.notAfter != h.m.lease.lastAck+750*time.Millisecond {
		t.Fatalf("kill: %+v", k)
	}
	for _, a := range find[actKill](acts) {
		if a.group == 2 {
			t.Fatal("the solo group (no other server can run it) was fenced")
		}
	}
	if err := h.replied(r).err; err == nil || !strings.Contains(err.Error(), "lost its lease") {
		t.Fatalf("the caller of the start got %v", err)
	}
	if !strings.Contains(strings.Join(alerts(acts), "\n"), "rc 5 Server s1 could not renew its lease in time: stopping its groups to keep them from running twice.") {
		t.Fatalf("alerts: %v", alerts(acts))
	}
	// The start script's exit (killed) changes nothing.
	h.step(evExited{job: sp.job, result: resource.Result{Code: -1, Killed: true}})
	none[actSpawn](h, h.last)
	// Killed 30 ms later: r1 was active, so its stop script cleans up, bounded by the guard's
	// deadline minus the margin.
	h.now += 30 * time.Millisecond
	acts = h.step(evKilled{group: 0})
	stop := one[actSpawn](h, acts)
	if stop.kind != jobStop || stop.res != 0 || stop.ev.Factor != FactorServerShutdown || stop.token != 0 {
		t.Fatalf("cleanup spawn: %+v", stop)
	}
	if budget := h.m.guardAt() - h.now - cleanupMargin; stop.timeout != budget {
		t.Fatalf("cleanup timeout %v, want the budget %v", stop.timeout, budget)
	}
	h.step(evSpawned{job: stop.job})
	acts = h.step(evExited{job: stop.job, result: resource.Result{}})
	if h.m.svc != svcRejoining {
		t.Fatalf("svc = %v after the fence", h.m.svc)
	}
	rv := one[actRevoke](h, acts)
	if rv.lease != 7 {
		t.Fatalf("revoke %+v", rv)
	}
	acts = h.step(evRevoked{lease: 7})
	one[actJoin](h, acts)
	h.step(evJoined{lease: store.Lease{ID: 8, TTL: ttl}, sent: h.now})
	if h.m.svc != svcUp {
		t.Fatalf("svc = %v after rejoin", h.m.svc)
	}
	if got := h.m.status(h.now).Groups[0]; got.State != status.Offline {
		t.Fatalf("g1 after the fence: %+v", got)
	}
}

// Without budget left for cleanup (the kill took too long), no stop script runs.
func TestFenceWithoutBudgetSkipsCleanup(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	h.startG1()
	h.at(h.m.fenceAt() - h.now)
	h.now = h.m.guardAt() - 60*time.Millisecond
	acts := h.step(evKilled{group: 0})
	none[actSpawn](h, acts)
	one[actRevoke](h, acts)
}

// Lease loss during a stop: the stop's caller hears of it, the group is killed.
func TestFenceDuringStop(t *testing.T) {
	h := runningG1(t)
	r := h.req(reqStopGroup, "g1")
	stop := one[actSpawn](h, h.last)
	if stop.kind != jobStop || stop.res != 1 || stop.ev.PID != 2000 || stop.ev.Factor != FactorGroupStop {
		t.Fatalf("stop spawn: %+v", stop)
	}
	h.step(evSpawned{job: stop.job})
	acts := h.at(h.m.fenceAt() - h.now)
	one[actKill](h, acts)
	if err := h.replied(r).err; err == nil {
		t.Fatal("the stop's caller got success although the server was fenced")
	}
	// The stop script's own exit after the kill is ignored.
	h.step(evExited{job: stop.job, result: resource.Result{Code: -1}})
	none[actRelease](h, h.last)
}

// Lease loss during a move: the mover's caller hears of it.
func TestFenceDuringMove(t *testing.T) {
	h := runningG1(t)
	r := &request{kind: reqMoveGroup, group: "g1", dest: "s2", reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	if got := alerts(h.last); len(got) == 0 || got[0] != "rc 50 Moving group g1 has started." {
		t.Fatalf("alerts: %v", got)
	}
	stop := one[actSpawn](h, h.last)
	h.step(evSpawned{job: stop.job})
	h.step(evExited{job: stop.job})
	one[actReap](h, h.last)
	h.step(evReaped{group: 0, res: 1})
	stop = one[actSpawn](h, h.last)
	h.step(evSpawned{job: stop.job})
	h.step(evExited{job: stop.job})
	h.step(evReaped{group: 0, res: 0})
	rel := one[actRelease](h, h.last)
	if rel.marker == nil || rel.marker.State != store.MarkerMoving || rel.marker.Target != "s2" || rel.token != 42 {
		t.Fatalf("release: %+v", rel)
	}
	h.step(evReleased{group: 0, token: 42})
	if !h.pending(r) {
		t.Fatal("the move answered before the destination started the group")
	}
	// The destination's start is under way when this server loses its lease.
	h.step(evView{snap: snap([]string{"s1", "s2"}, map[string]store.Owner{"g1": {Server: "s2", Token: 50}}, map[string]store.Marker{"g1": {Server: "s2", State: store.MarkerStarting}})})
	if !h.pending(r) {
		t.Fatal("answered while the destination is starting")
	}
	h.at(h.m.fenceAt() - h.now)
	if err := h.replied(r).err; err == nil {
		t.Fatal("the move's caller got success although this server was fenced")
	}
}

func TestMoveCompletes(t *testing.T) {
	h := runningG1(t)
	r := &request{kind: reqMoveGroup, group: "g1", reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	h.runStops(2)
	h.step(evReleased{group: 0, token: 42})
	h.step(evView{snap: snap([]string{"s1", "s2"}, map[string]store.Owner{"g1": {Server: "s2", Token: 50}}, map[string]store.Marker{"g1": {Server: "s2", State: store.MarkerOnline}})})
	if err := h.replied(r).err; err != nil {
		t.Fatalf("move: %v", err)
	}
	if got := alerts(h.last); !reflect.DeepEqual(got, []string{"rc 51 Moving group g1 has completed."}) {
		t.Fatalf("alerts: %v", got)
	}
	st := h.m.status(h.now).Groups[0]
	if st.Current != "s2" {
		t.Fatalf("status after move: %+v", st)
	}
}

// A request while the service stops is refused; the shutdown stops groups in reverse order, then
// revokes the lease and the daemon may exit.
func TestRequestDuringShutdown(t *testing.T) {
	h := runningG1(t)
	stop := &request{kind: reqServiceStop, factor: FactorServerShutdown, exiting: true, reply: make(chan reply, 1)}
	h.step(evRequest{r: stop})
	first := one[actSpawn](h, h.last)
	if first.res != 1 || first.ev.Factor != FactorServerShutdown {
		t.Fatalf("first stop: %+v", first)
	}
	r := h.req(reqStartGroup, "g2")
	if err := h.replied(r).err; err == nil || !strings.Contains(err.Error(), "stopping") {
		t.Fatalf("start during shutdown: %v", err)
	}
	h.step(evSpawned{job: first.job})
	h.step(evExited{job: first.job})
	h.step(evReaped{group: 0, res: 1})
	sp := one[actSpawn](h, h.last)
	h.step(evSpawned{job: sp.job})
	h.step(evExited{job: sp.job})
	h.step(evReaped{group: 0, res: 0})
	rel := one[actRelease](h, h.last)
	if rel.marker == nil || rel.marker.State != store.MarkerOrphaned {
		t.Fatalf("release on shutdown: %+v", rel)
	}
	acts := h.step(evReleased{group: 0, token: 42})
	one[actRevoke](h, acts)
	acts = h.step(evRevoked{lease: 7})
	one[actShutdown](h, acts)
	if err := h.replied(stop).err; err != nil {
		t.Fatalf("service stop: %v", err)
	}
	if got := alerts(acts); got[len(got)-1] != "pm 2 Shutting down the cluster daemon..." {
		t.Fatalf("alerts: %v", got)
	}
}

// A second service start while the first join is in flight does not join twice.
func TestSecondServiceStart(t *testing.T) {
	h := newHarness(t, "s1")
	a := h.req(reqServiceStart, "")
	one[actJoin](h, h.last)
	b := h.req(reqServiceStart, "")
	none[actJoin](h, h.last)
	h.at(time.Second)
	none[actJoin](h, h.last)
	h.step(evJoined{lease: store.Lease{ID: 7}, sent: h.now})
	if h.replied(a).err != nil || h.replied(b).err != nil {
		t.Fatal("both callers should hear the service started")
	}
	c := h.req(reqServiceStart, "")
	if h.replied(c).err != nil {
		t.Fatal("start of a running service")
	}
	none[actJoin](h, h.out[len(h.out)-1:])
}

// A failed join is retried; the callers wait.
func TestJoinRetried(t *testing.T) {
	h := newHarness(t, "s1")
	a := h.req(reqServiceStart, "")
	h.step(evJoined{err: errors.New("store down")})
	if !h.pending(a) {
		t.Fatal("caller answered on a failed join")
	}
	none[actJoin](h, h.at(100*time.Millisecond))
	one[actJoin](h, h.at(200*time.Millisecond))
}

// The store says the lease is gone: fence at once, without waiting for the deadline.
func TestLeaseGoneFencesAtOnce(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	h.startG1()
	acts := h.step(evRenewed{lease: 7, sent: h.now, gone: true, err: store.ErrLeaseGone})
	one[actKill](h, acts)
}

// No start script may be spawned close to the fencing deadline.
func TestNoSpawnNearDeadline(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	h.now = h.m.fenceAt() - spawnMargin
	h.req(reqStartGroup, "g1")
	acts := h.step(evAcquired{group: 0, token: 42})
	none[actSpawn](h, acts)
}

func TestSuspend(t *testing.T) {
	h := runningG1(t)
	s := &request{kind: reqSuspend, from: "s1", reply: make(chan reply, 1)}
	h.step(evRequest{r: s})
	if h.replied(s).err != nil || !h.m.suspended {
		t.Fatal("suspend failed")
	}
	if one[actSuspend](h, h.last).on != true {
		t.Fatal("suspend not persisted")
	}
	if got := alerts(h.last); !reflect.DeepEqual(got, []string{"pm 35 Received a request to suspend the cluster daemon from s1."}) {
		t.Fatalf("alerts: %v", got)
	}
	for _, k := range []reqKind{reqStartGroup, reqStopGroup} {
		r := h.req(k, "g1")
		if err := h.replied(r).err; err == nil || err.(*status.OpError).Code != status.CodeSuspended {
			t.Fatalf("request %v while suspended: %v", k, err)
		}
	}
	// g2 is orphaned by s2: not taken over while suspended.
	h.step(evView{snap: snap([]string{"s1"}, map[string]store.Owner{"g1": {Server: "s1", Token: 42}}, map[string]store.Marker{"g2": {Server: "s2", State: store.MarkerOnline}})})
	none[actAcquire](h, h.last)
	// r2's asynchronous script dies: marked failed, nothing run until resume.
	var async jobID
	for id, ref := range h.m.jobs {
		if ref.group == 0 && ref.res == 1 {
			async = id
		}
	}
	acts := h.step(evExited{job: async, result: resource.Result{Code: 1}})
	none[actSpawn](h, acts)
	if h.m.groups[0].res[1].state != status.OnlineFailure {
		t.Fatal("failure not shown while suspended")
	}
	res := &request{kind: reqResume, from: "s1", reply: make(chan reply, 1)}
	acts = h.step(evRequest{r: res})
	if h.replied(res).err != nil || h.m.suspended {
		t.Fatal("resume failed")
	}
	// On resume: the failed resource is cleaned up (its stop with the dead pid) and g2 is taken over.
	stops := find[actSpawn](acts)
	if len(stops) != 1 || stops[0].kind != jobStop || stops[0].ev.PID != 2000 {
		t.Fatalf("after resume: %s", dump(acts))
	}
	acq := one[actAcquire](h, acts)
	if acq.group != 1 {
		t.Fatalf("takeover: %+v", acq)
	}
}

func TestTakeovers(t *testing.T) {
	tests := []struct {
		name   string
		online []string
		marker store.Marker
		// event is what g2 is started with here, "" when this server must not start it.
		event string
	}{
		{"orphaned by its server", []string{"s1"}, store.Marker{Server: "s2", State: store.MarkerOrphaned}, "FAILOVER"},
		{"its server's lease expired while it ran", []string{"s1"}, store.Marker{Server: "s2", State: store.MarkerOnline}, "FAILOVER"},
		{"moved here", []string{"s1", "s2"}, store.Marker{Server: "s2", State: store.MarkerMoving, Target: "s1"}, "START"},
		{"moved elsewhere", []string{"s1", "s2"}, store.Marker{Server: "s1", State: store.MarkerMoving, Target: "s2"}, ""},
		{"lost by this server while the other is up", []string{"s1", "s2"}, store.Marker{Server: "s1", State: store.MarkerOnline}, ""},
		{"lost by this server and nobody else is up", []string{"s1"}, store.Marker{Server: "s1", State: store.MarkerOnline}, "FAILOVER"},
		{"moved to a server that went down", []string{"s1"}, store.Marker{Server: "s2", State: store.MarkerMoving, Target: "s3"}, "FAILOVER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, "s1")
			h.up(tt.online...)
			acts := h.step(evView{snap: snap(tt.online, nil, map[string]store.Marker{"g2": tt.marker})})
			acqs := find[actAcquire](acts)
			if tt.event == "" {
				if len(acqs) != 0 {
					t.Fatalf("took g2 over: %s", dump(acts))
				}
				return
			}
			if len(acqs) != 1 || acqs[0].group != 1 {
				t.Fatalf("takeover: %s", dump(acts))
			}
			acts = h.step(evAcquired{group: 1, token: 9})
			sp := one[actSpawn](h, acts)
			if sp.ev.Event != tt.event || sp.ev.ServerPrev != tt.marker.Server || sp.ev.Server != "OTHER" || sp.ev.Priority != 2 {
				t.Fatalf("spawn event: %+v", sp.ev)
			}
		})
	}
}

// Owner keys of groups running elsewhere are never taken.
func TestNoTakeoverOfOwnedGroup(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	acts := h.step(evView{snap: snap([]string{"s1", "s2"}, map[string]store.Owner{"g2": {Server: "s2", Token: 3}}, map[string]store.Marker{"g2": {Server: "s2", State: store.MarkerOnline}})})
	none[actAcquire](h, acts)
	r := h.req(reqStartGroup, "g2")
	if err := h.replied(r).err; err == nil || err.(*status.OpError).Code != status.CodeStartedOther {
		t.Fatalf("start of a group owned elsewhere: %v", err)
	}
	r = &request{kind: reqStartGroup, group: "g2", force: true, reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	if err := h.replied(r).err; err == nil || !strings.Contains(err.Error(), "-f cannot start it here") {
		t.Fatalf("forced start of a group owned elsewhere: %v", err)
	}
}

// Auto-start: the first Online server of the policy starts the group, once per service start.
func TestAutoStart(t *testing.T) {
	cfg := testConfig()
	for i := range cfg.Groups {
		cfg.Groups[i].AutoStart = true
	}
	h := newHarness(t, "s1")
	h.m = newMachine(params{local: "s1", cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond})
	r := h.req(reqServiceStart, "")
	h.step(evJoined{lease: store.Lease{ID: 7}, sent: h.now})
	h.replied(r)
	// A view from before the join (s1 not in it) decides nothing.
	none[actAcquire](h, h.step(evView{snap: snap([]string{"s2"}, nil, nil)}))
	acts := h.step(evView{snap: snap([]string{"s1", "s2"}, nil, nil)})
	var groups []int
	for _, a := range find[actAcquire](acts) {
		groups = append(groups, a.group)
	}
	// g1 and solo have s1 first; g2 has s2 first and s2 is Online.
	if !reflect.DeepEqual(groups, []int{0, 2}) {
		t.Fatalf("auto-started %v", groups)
	}
}

// A restarted daemon whose lease is still alive adopts what runs; one whose lease expired kills
// what the previous daemon left, without scripts.
func TestAdoption(t *testing.T) {
	left := func() []adoptedGroup {
		ag := make([]adoptedGroup, 3)
		ag[0] = adoptedGroup{
			rec: &groupRecord{Op: recStart, Done: true, Token: 42, Event: resource.Event{Event: "START", Group: "g1"}},
			res: []*adoptedRes{
				{rec: resourceRecord{State: status.Online}},
				{rec: resourceRecord{State: status.Online}, start: &adoptedJob{info: resource.JobInfo{ScriptPID: 2000}, alive: true}},
			},
		}
		return ag
	}
	t.Run("lease alive", func(t *testing.T) {
		h := newHarness(t, "s1")
		acts := h.m.adopt(7, left())
		w := one[actWatch](h, acts)
		if w.info.ScriptPID != 2000 {
			t.Fatalf("watch: %+v", w)
		}
		if st := h.m.status(h.now).Groups[0]; st.State != status.Online {
			t.Fatalf("before the join: %+v", st)
		}
		r := h.req(reqServiceStart, "")
		if j := one[actJoin](h, h.last); j.previous != 7 {
			t.Fatalf("join: %+v", j)
		}
		acts = h.step(evJoined{lease: store.Lease{ID: 7}, sent: h.now, reattached: true})
		h.replied(r)
		none[actSpawn](h, acts)
		none[actKill](h, acts)
		if h.m.groups[0].token != 42 {
			t.Fatal("token lost")
		}
		r2 := h.req(reqStartGroup, "g1")
		if err := h.replied(r2).err; err == nil || err.Error() != status.ErrAlreadyStarted().Msg {
			t.Fatalf("start of an adopted group: %v", err)
		}
	})
	t.Run("lease gone", func(t *testing.T) {
		h := newHarness(t, "s1")
		h.m.adopt(7, left())
		h.req(reqServiceStart, "")
		acts := h.step(evJoined{lease: store.Lease{ID: 8}, sent: h.now, reattached: false})
		k := one[actKill](h, acts)
		if k.group != 0 {
			t.Fatalf("kill: %+v", k)
		}
		acts = h.step(evKilled{group: 0})
		none[actSpawn](h, acts)
		h.step(evView{snap: snap([]string{"s1", "s2"}, nil, nil)})
		if st := h.m.status(h.now).Groups[0]; st.State != status.Offline {
			t.Fatalf("after the kill: %+v", st)
		}
	})
	t.Run("async died meanwhile", func(t *testing.T) {
		h := newHarness(t, "s1")
		ag := left()
		ag[0].res[1].start.alive = false
		h.m.adopt(7, ag)
		h.req(reqServiceStart, "")
		acts := h.step(evJoined{lease: store.Lease{ID: 7}, sent: h.now, reattached: true})
		sp := one[actSpawn](h, acts)
		if sp.kind != jobStop || sp.res != 1 || sp.ev.PID != 2000 {
			t.Fatalf("cleanup of the dead service: %+v", sp)
		}
		if !strings.Contains(strings.Join(alerts(acts), "\n"), "rc 32 Resource r2 has failed.(asynchronous start script ended while clpd was not running)") {
			t.Fatalf("alerts: %v", alerts(acts))
		}
	})
}

// A group that only this server can run is not killed by a fence: it keeps running and is owned
// again on the next lease.
func TestSoloGroupSurvivesFence(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	r := h.req(reqStartGroup, "solo")
	h.step(evAcquired{group: 2, token: 5})
	sp := one[actSpawn](h, h.last)
	h.step(evSpawned{job: sp.job})
	h.step(evExited{job: sp.job})
	h.replied(r)
	acts := h.at(h.m.fenceAt() - h.now)
	none[actKill](h, acts)
	one[actRevoke](h, acts)
	h.step(evRevoked{lease: 7})
	acts = h.step(evJoined{lease: store.Lease{ID: 8}, sent: h.now})
	acq := one[actAcquire](h, acts)
	if acq.group != 2 || acq.lease != 8 {
		t.Fatalf("re-own: %+v", acq)
	}
	h.step(evAcquired{group: 2, token: 11})
	if h.m.groups[2].token != 11 || h.m.status(h.now).Groups[2].State != status.Online {
		t.Fatal("solo group not owned again")
	}
}

// A start that fails for good runs the final action (stop the group) and the caller hears once
// the group has stopped, with the failure states kept for the operator.
func TestStartFailureFinalAction(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	r := h.req(reqStartGroup, "g1")
	h.step(evAcquired{group: 0, token: 42})
	sp := one[actSpawn](h, h.last)
	h.step(evSpawned{job: sp.job})
	acts := h.step(evExited{job: sp.job, result: resource.Result{Code: -1, Killed: true}})
	if !h.pending(r) {
		t.Fatal("answered before the final action ran")
	}
	want := []string{
		"rc 32 Activating r1 resource has failed.(start script killed after timeout)",
		"rc 12 Activating group g1 has failed.",
		"rc 20 Stopping group g1 has started.",
	}
	if got := alerts(acts); !reflect.DeepEqual(got, want) {
		t.Fatalf("alerts: %v", got)
	}
	rel := one[actRelease](h, acts)
	if rel.marker != nil {
		t.Fatalf("a failed group is released with its marker cleared, got %+v", rel.marker)
	}
	h.step(evReleased{group: 0, token: 42})
	if err := h.replied(r).err; err == nil || err.Error() != status.ErrStartFailed("g1").Msg {
		t.Fatalf("start reply: %v", err)
	}
	if st := h.m.status(h.now).Groups[0]; st.State != status.OnlineFailure || st.Resources[0].State != status.OnlineFailure {
		t.Fatalf("status: %+v", st)
	}
}

// A server cut off from the store shows the others Unknown, not Offline.
func TestStatusWhenCutOff(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	h.step(evView{snap: snap([]string{"s1", "s2"}, map[string]store.Owner{"g2": {Server: "s2", Token: 3}}, nil)})
	if st := h.m.status(h.now); st.Servers[1].State != status.Online || st.Groups[1].Current != "s2" {
		t.Fatalf("connected: %+v", st)
	}
	h.step(evViewFailed{err: errors.New("timeout")})
	st := h.m.status(h.now)
	if st.Servers[1].State != status.Unknown || st.Servers[1].Heartbeats[0].State != status.Unknown || st.Groups[1].State != status.Unknown {
		t.Fatalf("cut off: %+v", st)
	}
	if st.Servers[0].State != status.Online {
		t.Fatalf("this server while it still holds its lease: %v", st.Servers[0].State)
	}
}

// The guard reports that it killed the groups while this daemon thought it ran them (the daemon
// was frozen, or came back just too late): the daemon fences, hands the groups over with a fresh
// lease, and starts nothing on the old one.
func TestGuardFencedBehindOurBack(t *testing.T) {
	h := runningG1(t)
	acts := h.step(evGuardFenced{})
	one[actKill](h, acts)
	if h.m.svc != svcFencing {
		t.Fatalf("svc = %v", h.m.svc)
	}
	if !strings.Contains(strings.Join(alerts(acts), "\n"), "rc 5 The guard killed the groups of server s1 while clpd did not answer") {
		t.Fatalf("alerts: %v", alerts(acts))
	}
}

// A daemon told to exit (SIGTERM) while its cluster service is already down exits at once.
func TestExitWhileDown(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1", "s2")
	h.step(evRequest{r: &request{kind: reqServiceStop, reply: make(chan reply, 1)}})
	one[actRevoke](h, h.last)
	h.step(evRevoked{lease: 7})
	if h.m.svc != svcDown {
		t.Fatalf("svc = %v", h.m.svc)
	}
	r := &request{kind: reqServiceStop, exiting: true, factor: FactorServerShutdown, reply: make(chan reply, 1)}
	acts := h.step(evRequest{r: r})
	one[actShutdown](h, acts)
	if h.replied(r).err != nil {
		t.Fatal("the exit's stop was refused")
	}
}

// Auto-start happens once per service start: a fence and rejoin does not start again a group the
// operator stopped.
func TestNoAutoStartAfterRejoin(t *testing.T) {
	cfg := testConfig()
	cfg.Groups[0].AutoStart = true
	h := newHarness(t, "s1")
	h.m = newMachine(params{local: "s1", cfg: cfg, ttl: ttl, interval: interval, fenceFrac: 0.5, guardFrac: 0.75, retry: 200 * time.Millisecond})
	h.up("s1", "s2")
	acq := one[actAcquire](h, h.last)
	if acq.group != 0 {
		t.Fatalf("auto-start: %+v", acq)
	}
	h.step(evAcquired{group: 0, elsewhere: true, err: store.ErrOwnedElsewhere})
	// The operator has g1 stopped; the server is fenced and rejoins.
	h.at(h.m.fenceAt() - h.now)
	h.step(evRevoked{lease: 7})
	h.step(evJoined{lease: store.Lease{ID: 8}, sent: h.now})
	acts := h.step(evView{snap: snapL(8, []string{"s1", "s2"}, nil, nil)})
	none[actAcquire](h, acts)
}

// clpcl -t -a while the join is still under way leaves with CLUSTERSHUTDOWN: the groups are not
// handed over.
func TestClusterStopDuringJoin(t *testing.T) {
	h := newHarness(t, "s1")
	h.req(reqServiceStart, "")
	r := &request{kind: reqServiceStop, factor: FactorClusterShutdown, reply: make(chan reply, 1)}
	h.step(evRequest{r: r})
	h.step(evJoined{lease: store.Lease{ID: 7}, sent: h.now})
	if h.m.svc != svcLeaving || h.m.leaveFactor != FactorClusterShutdown {
		t.Fatalf("svc %v, factor %q", h.m.svc, h.m.leaveFactor)
	}
}

// A server outside a group's policy may not start it (CLUSTERPRO's "Invalid server").
func TestStartOutsidePolicy(t *testing.T) {
	h := newHarness(t, "s2")
	r := h.req(reqServiceStart, "")
	h.step(evJoined{lease: store.Lease{ID: 7}, sent: h.now})
	h.replied(r)
	r = h.req(reqStartGroup, "solo")
	if err := h.replied(r).err; err == nil || err.Error() != status.ErrInvalidServer("s2").Msg {
		t.Fatalf("start of a group outside the policy: %v", err)
	}
}

// A restarted daemon whose lease expired keeps a group no other server may run: it is adopted
// and owned again, not killed.
func TestSoloGroupAdoptedOnNewLease(t *testing.T) {
	h := newHarness(t, "s1")
	ag := make([]adoptedGroup, 3)
	ag[2] = adoptedGroup{
		rec: &groupRecord{Op: recStart, Done: true, Token: 5, Event: resource.Event{Event: "START", Group: "solo"}},
		res: []*adoptedRes{{rec: resourceRecord{State: status.Online}}},
	}
	h.m.adopt(7, ag)
	h.req(reqServiceStart, "")
	acts := h.step(evJoined{lease: store.Lease{ID: 8}, sent: h.now})
	none[actKill](h, acts)
	acq := one[actAcquire](h, acts)
	if acq.group != 2 || acq.lease != 8 {
		t.Fatalf("re-own: %+v", acq)
	}
	if st := h.m.status(h.now).Groups[2]; st.State != status.Online {
		t.Fatalf("solo after the restart: %+v", st)
	}
}

// A takeover that loses the race for the owner key writes no failover alerts.
func TestLostTakeoverRaceIsQuiet(t *testing.T) {
	h := newHarness(t, "s1")
	h.up("s1")
	acts := h.step(evView{snap: snap([]string{"s1"}, nil, map[string]store.Marker{"g2": {Server: "s2", State: store.MarkerOnline}})})
	one[actAcquire](h, acts)
	if a := alerts(acts); len(a) != 0 {
		t.Fatalf("alerts before the owner key is taken: %v", a)
	}
	acts = h.step(evAcquired{group: 1, elsewhere: true, err: store.ErrOwnedElsewhere})
	if a := alerts(acts); len(a) != 0 {
		t.Fatalf("alerts after losing the race: %v", a)
	}
}

// A release that finds the owner key no longer this server's (someone deleted it, or the lease
// ended meanwhile) ends the stop: there is nothing left to release, and it is not retried.
func TestReleaseOfALostGroup(t *testing.T) {
	h := runningG1(t)
	r := h.req(reqStopGroup, "g1")
	h.runStops(2)
	one[actRelease](h, h.last)
	h.step(evReleased{group: 0, token: 42, fenced: true, err: store.ErrFenced})
	if err := h.replied(r).err; err != nil {
		t.Fatalf("stop: %v", err)
	}
	none[actRelease](h, h.at(time.Second))
	if h.m.groups[0].token != 0 || h.m.groups[0].op != nil {
		t.Fatalf("group after the release: token %d, op %+v", h.m.groups[0].token, h.m.groups[0].op)
	}
}
