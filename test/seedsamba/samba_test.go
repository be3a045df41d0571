// Package seedsamba runs seed 001's Samba failover group end to end on the two-server lab of
// test/trials: a real smbd on the floating address, clp_sambamon started by an asynchronous exec
// resource (§4.1, §9.2), and a pid monitor of that resource whose recovery target is the group
// with failover threshold 1 (§4.2, §9.3). When smbd fails, clp_sambamon exits, the pid monitor
// notices, and the group fails over: the share is then served by the other server.
package seedsamba

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/pkg/alert"
	"clpkit/pkg/fsprobe"
	"clpkit/test/fsservers"
	"clpkit/test/netlab"
	"clpkit/test/trials"
)

// probeEnv makes the test binary a one-shot SMB probe: "address share". The test runs itself with
// it inside the client's network namespace, so the probe's connection is the client's.
const probeEnv = "SEEDSAMBA_PROBE"

var suite = netlab.NewSuite("seedsamba")

func TestMain(m *testing.M) {
	if v := os.Getenv(probeEnv); v != "" {
		os.Exit(probeMain(v))
	}
	suite.Main(m)
}

func probeMain(v string) int {
	addr, share, _ := strings.Cut(v, " ")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := fsprobe.ProbeSMB(ctx, fsprobe.SMBTarget{Addr: addr, Share: share})
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe %s share %s: %v\n", addr, share, err)
		return 1
	}
	fmt.Printf("ok dialect %#04x guest %v share type %d\n", res.Dialect, res.Guest, res.ShareType)
	return 0
}

const (
	share     = "share"
	smbAddr   = trials.VIP + ":445"
	monitorID = "sambawatch"
)

// The scripts follow the seed's templates (templates/samba, templates/samba-monitor): the same
// CLP_EVENT / CLP_DISK / CLP_SERVER branches and echo lines, with Samba started and stopped where
// the templates leave "SAMBAの起動" and "SAMBAの終了" to the operator. Every run appends its
// CLP_* variables to events.log. Each server keeps its smbd's configuration, state and pid file
// under {{dir}}/<server>/samba; the share's directory, {{dir}}/share, is seen by both, as a shared
// disk would be.
const sambaCommon = `D={{dir}}/$LAB_HOST/samba
echo "$LAB_HOST samba $0 CLP_EVENT=$CLP_EVENT CLP_FACTOR=$CLP_FACTOR CLP_SERVER=$CLP_SERVER CLP_DISK=$CLP_DISK" >> {{dir}}/events.log
`

const sambaStartFunc = `start_samba() {
  for d in private lock state cache run ncalrpc binddns; do mkdir -p "$D/$d" || exit 1; done
  # smbd serves the guest as nobody, who must be able to enter the share's path.
  mkdir -p {{dir}}/share
  chmod 755 "$(dirname {{dir}})" {{dir}} {{dir}}/share
  cat > "$D/smb.conf" <<EOF
[global]
  server role = standalone server
  smb ports = 445
  interfaces = ` + trials.VIP + `
  bind interfaces only = yes
  disable netbios = yes
  server min protocol = SMB2_02
  security = user
  map to guest = Bad User
  guest account = nobody
  passdb backend = tdbsam:$D/private/passdb.tdb
  private dir = $D/private
  lock directory = $D/lock
  state directory = $D/state
  cache directory = $D/cache
  pid directory = $D/run
  ncalrpc dir = $D/ncalrpc
  binddns dir = $D/binddns
  log file = $D/log.smbd
  log level = 2
  max log size = 0
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
[share]
  path = {{dir}}/share
  read only = no
  guest ok = yes
EOF
  smbd -D --configfile="$D/smb.conf" || exit 1
  i=0
  while [ $i -lt 300 ]; do
    if [ -s "$D/run/smbd.pid" ] && [ -n "$(ss -Hltn 'src ` + smbAddr + `')" ]; then return 0; fi
    sleep 0.1
    i=$((i+1))
  done
  echo "smbd did not listen on ` + smbAddr + ` within 30 s" >&2
  exit 1
}
`

const sambaStopFunc = `stop_samba() {
  [ -f "$D/run/smbd.pid" ] || return 0
  pid=$(cat "$D/run/smbd.pid")
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$D/run/smbd.pid"
}
`

// template is the structure of the seed's start.sh and stop.sh: verb is "start" or "stop", what
// the echo lines name, action the command that replaces the template's comment.
func template(verb, what, action string) string {
	return `if [ "$CLP_EVENT" = "START" ]
then
  if [ "$CLP_DISK" = "SUCCESS" ]
  then
    echo "NORMAL1"
    if [ "$CLP_SERVER" = "HOME" ]
    then
      echo "NORMAL2"
    else
      echo "ON_OTHER1"
    fi
    echo "` + what + ` ` + verb + `"
    ` + action + `
  else
    echo "ERROR_DISK from START"
  fi
elif [ "$CLP_EVENT" = "FAILOVER" ]
then
  if [ "$CLP_DISK" = "SUCCESS" ]
  then
    echo "FAILOVER1"
    if [ "$CLP_SERVER" = "HOME" ]
    then
      echo "FAILOVER2"
    else
      echo "ON_OTHER2"
    fi
    echo "` + what + ` ` + verb + `"
    ` + action + `
  else
    echo "ERROR_DISK from FAILOVER"
  fi
else
  echo "NO_CLP"
fi
echo "EXIT"
exit 0
`
}

// The watcher's records live per server (the servers share the machine's /run).
const watchCommon = `export CLPKIT_FSMON_DIR={{dir}}/$LAB_HOST/fsmon
echo "$LAB_HOST sambawatch $0 CLP_EVENT=$CLP_EVENT CLP_FACTOR=$CLP_FACTOR CLP_SERVER=$CLP_SERVER CLP_DISK=$CLP_DISK" >> {{dir}}/events.log
`

// watchCmd probes every second, gives up after two failed probes in a row.
const watchCmd = "clp_sambamon " + monitorID + " -s " + share + " -a " + trials.VIP + " -i 1 -c 2 -r 5"

func scripts() map[string]string {
	return map[string]string{
		"scripts/samba/start.sh":      sambaCommon + sambaStartFunc + template("start", "SAMBA", "start_samba"),
		"scripts/samba/stop.sh":       sambaCommon + sambaStopFunc + template("stop", "SAMBA", "stop_samba"),
		"scripts/sambawatch/start.sh": watchCommon + template("start", "clp_sambamon", watchCmd),
		"scripts/sambawatch/stop.sh":  watchCommon + template("stop", "clp_sambamon", "clp_sambamon "+monitorID+" -stop"),
	}
}

// Seed 001 §9.2: Samba's exec resource, and the watcher's, started asynchronously and depending
// on it; §9.3: a pid monitor of the watcher's resource, recovering by a failover of the group.
const resources = `
[[group.resource]]
name = "samba"
type = "exec"
start = "{{dir}}/scripts/samba/start.sh"
stop = "{{dir}}/scripts/samba/stop.sh"
start_timeout = 60
stop_timeout = 60
depends = ["service"]

[[group.resource]]
name = "sambawatch"
type = "exec"
start = "{{dir}}/scripts/sambawatch/start.sh"
stop = "{{dir}}/scripts/sambawatch/stop.sh"
start_mode = "async"
stop_timeout = 60
depends = ["samba"]
`

const monitors = `
[[monitor]]
name = "pidw1"
type = "pidw"
target = "sambawatch"
recovery_target = "failover1"
failover_threshold = 1
`

func TestSeed001SambaFailover(t *testing.T) {
	fsservers.RequireRoot(t)
	fsservers.Binary(t, "smbd", "samba")
	bin := suite.Build(t)
	var dir string
	// Registered first, so it runs last, after the lab is gone: nothing this test started may
	// outlive it.
	t.Cleanup(func() {
		if dir == "" {
			return
		}
		if left := ourProcs(dir); len(left) > 0 {
			t.Errorf("processes of the test outlived the lab: %v", left)
			killAll(left)
		}
	})

	c := trials.New(t, bin, trials.Options{Resources: resources, Monitors: monitors, Scripts: scripts()})
	dir = c.Dir()
	t.Cleanup(func() { stopAll(t, c) })

	first := c.WaitSteady(60 * time.Second)
	other := c.Other(first)
	t.Logf("the group runs on %s", first.Name)

	// The watcher runs on the owner and has seen the share.
	waitFor(t, c, 60*time.Second, "clp_sambamon on "+first.Name+" to watch the share", func() bool {
		return hasRecord(first, "sambamon", 2, "The clp_sambamon is going to watch share resource [share].")
	})
	watcher := watcherPID(t, c, first)
	if watcher == 0 || !alive(watcher) {
		t.Fatalf("no clp_sambamon runs on %s (record %d)\n%s", first.Name, watcher, dump(c))
	}
	// The client reaches the share through the floating address.
	waitFor(t, c, 60*time.Second, "the share to answer the client through "+smbAddr, func() bool {
		_, err := probe(c)
		return err == nil
	})
	smbd1 := smbdPID(c, first)
	if smbd1 == 0 || !alive(smbd1) || netnsOf(smbd1) != first.Host.NetnsInode() {
		t.Fatalf("smbd of %s (pid %d) does not run in %s's namespace\n%s", first.Name, smbd1, first.Name, dump(c))
	}
	if n := countLogConnects(c, first); n == 0 {
		t.Errorf("the smbd log of %s shows no tree connect from the client %s", first.Name, c.Client.Addr)
	}

	// smbd fails on the owner: only that server's smbd, by its pid file.
	if err := syscall.Kill(smbd1, syscall.SIGKILL); err != nil {
		t.Fatalf("killing smbd %d on %s: %v", smbd1, first.Name, err)
	}
	t.Logf("killed smbd %d on %s", smbd1, first.Name)

	// Watch the old owner's clpstat as the failover goes on. The monitor's error is brief (the
	// group is released within milliseconds), so it is logged when seen, not required.
	sawError := false
	waitFor(t, c, 120*time.Second, "failover1 to run on "+other.Name, func() bool {
		if st, _, _ := first.Run("clpstat", "--local"); monitorLine(st, "pidw1", "Error") {
			sawError = true
		}
		return c.Owner(trials.Group) == other.Name
	})
	t.Logf("pidw1 in error seen in %s's clpstat during the failover: %v", first.Name, sawError)
	// The old owner shows the group moved to the other server, and its pid monitor off there
	// (it watches the resource where it runs); the other server runs it.
	if st, _, _ := first.Run("clpstat"); !groupOnlineOn(st, trials.Group, other.Name) {
		t.Errorf("clpstat on %s does not show failover1 Online with current %s:\n%s", first.Name, other.Name, st)
	}
	if st, _, _ := first.Run("clpstat", "--local"); !monitorLine(st, "pidw1", "Offline") {
		t.Errorf("clpstat --local on %s does not show pidw1 Offline after the failover:\n%s", first.Name, st)
	}
	waitFor(t, c, 30*time.Second, "clpstat --local on "+other.Name+" to show pidw1 Normal", func() bool {
		st, _, _ := other.Run("clpstat", "--local")
		return monitorLine(st, "pidw1", "Normal")
	})

	// The watcher of the first server ended because Samba failed.
	if alive(watcher) {
		t.Errorf("clp_sambamon %d still runs on %s after smbd was killed", watcher, first.Name)
	}
	if !hasRecord(first, "sambamon", 6, "The clp_sambamon will terminate.") {
		t.Errorf("no sambamon 6 (terminate) in %s's alert log:\n%s", first.Name, first.Alerts())
	}

	// The other server shows the group Online on itself.
	st, _, _ := other.Run("clpstat")
	if !groupOnlineOn(st, trials.Group, other.Name) {
		t.Errorf("clpstat on %s does not show failover1 Online with current %s:\n%s", other.Name, other.Name, st)
	}

	// The share answers the client again, now from the other server.
	waitFor(t, c, 60*time.Second, "the share to answer the client through "+smbAddr+" from "+other.Name, func() bool {
		_, err := probe(c)
		return err == nil && countLogConnects(c, other) > 0
	})
	out, err := probe(c)
	if err != nil {
		t.Fatalf("the share does not answer after the failover: %v\n%s", err, dump(c))
	}
	t.Logf("probe from the client after the failover: %s", strings.TrimSpace(out))
	smbd2 := smbdPID(c, other)
	if smbd2 == 0 || !alive(smbd2) || netnsOf(smbd2) != other.Host.NetnsInode() {
		t.Errorf("smbd of %s (pid %d) does not run in %s's namespace", other.Name, smbd2, other.Name)
	}
	var stale []proc
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if stale = smbdIn(dir, first.Host.NetnsInode()); len(stale) == 0 {
			break
		}
	}
	if len(stale) > 0 {
		t.Errorf("smbd processes still run in %s's namespace after the failover: %v", first.Name, stale)
	}
	if !hasAddr(t, other.Host, trials.VIP) || hasAddr(t, first.Host, trials.VIP) {
		t.Errorf("the floating address is not on %s alone", other.Name)
	}
	waitFor(t, c, 60*time.Second, "clp_sambamon on "+other.Name+" to watch the share", func() bool {
		return hasRecord(other, "sambamon", 2, "The clp_sambamon is going to watch share resource [share].")
	})

	// The first server's alert log tells the monitor's story.
	if !hasRecordPrefix(first, "rm", 9, "Detected an error in monitoring pidw1") {
		t.Errorf("no rm 9 \"Detected an error in monitoring pidw1\" in %s's alert log:\n%s", first.Name, first.Alerts())
	}
	if !hasRecordPrefix(first, "rm", 14, "Recovery target failover1 fails over because an error was detected in monitoring pidw1") {
		t.Errorf("no rm 14 (failover of failover1 for pidw1) in %s's alert log:\n%s", first.Name, first.Alerts())
	}

	// The scripts saw a group failover: the first server stopped the group for it, the other
	// started it as a failover.
	events := readFile(filepath.Join(dir, "events.log"))
	stopLine := first.Name + " samba " + filepath.Join(dir, "scripts/samba/stop.sh")
	startLine := other.Name + " samba " + filepath.Join(dir, "scripts/samba/start.sh")
	if !hasEvent(events, stopLine, "CLP_FACTOR=GROUPFAILOVER") {
		t.Errorf("samba stop.sh on %s did not get CLP_FACTOR=GROUPFAILOVER; events.log:\n%s", first.Name, events)
	}
	if !hasEvent(events, startLine, "CLP_EVENT=FAILOVER") {
		t.Errorf("samba start.sh on %s did not get CLP_EVENT=FAILOVER; events.log:\n%s", other.Name, events)
	}

	// The group never ran on two servers at once.
	waitFor(t, c, 30*time.Second, "the sampler to see failover1 on "+other.Name+" alone", func() bool {
		f := c.Sampler.Final(trials.Group)
		return len(f) == 1 && f[0] == other.Name
	})
	for _, iv := range c.Sampler.Overlaps(trials.Group) {
		t.Errorf("failover1 ran on two hosts at once: %v", iv)
	}
	if t.Failed() {
		t.Logf("events.log:\n%s\n%s", events, dump(c))
	}
}

// probe runs the SMB probe from the client's namespace.
func probe(c *trials.Cluster) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	so, se, code, err := c.Client.Run(ctx, "env", probeEnv+"="+smbAddr+" "+share, self)
	if err != nil {
		return so, err
	}
	if code != 0 {
		return so, fmt.Errorf("probe exited with %d: %s", code, strings.TrimSpace(se))
	}
	return so, nil
}

func waitFor(t *testing.T, c *trials.Cluster, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting for %s\nevents.log:\n%s\n%s", d, what, readFile(filepath.Join(c.Dir(), "events.log")), dump(c))
}

func dump(c *trials.Cluster) string {
	var b strings.Builder
	for _, name := range []string{"server1", "server2"} {
		s := c.Servers[name]
		st, se, _ := s.Run("clpstat")
		fmt.Fprintf(&b, "--- %s clpstat:\n%s%s--- %s alerts:\n%s", s.Name, st, se, s.Name, s.Alerts())
		fmt.Fprintf(&b, "--- %s smbd log (tail):\n%s\n", s.Name, tail(readFile(filepath.Join(c.Dir(), s.Name, "samba", "log.smbd")), 30))
	}
	return b.String()
}

func tail(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func records(s *trials.Server) []alert.Record {
	recs, _ := alert.Read(filepath.Join(s.Dir, "log", "alert.log"))
	return recs
}

func hasRecord(s *trials.Server, module string, id int, text string) bool {
	for _, r := range records(s) {
		if r.Module == module && r.ID == id && r.Text == text {
			return true
		}
	}
	return false
}

func hasRecordPrefix(s *trials.Server, module string, id int, prefix string) bool {
	for _, r := range records(s) {
		if r.Module == module && r.ID == id && strings.HasPrefix(r.Text, prefix) {
			return true
		}
	}
	return false
}

func hasEvent(events, prefix, want string) bool {
	for _, l := range strings.Split(events, "\n") {
		if strings.HasPrefix(l, prefix+" ") && strings.Contains(" "+l+" ", " "+want+" ") {
			return true
		}
	}
	return false
}

// groupOnlineOn reports whether clpstat shows the group Online with current = server.
func groupOnlineOn(st, group, server string) bool {
	prefix := "    " + group + " " + strings.Repeat(".", max(16-len(group), 0)) + ": Online"
	i := strings.Index(st, prefix)
	if i < 0 {
		return false
	}
	rest := st[i+len(prefix):]
	j := strings.Index(rest, "current        : ")
	if j < 0 {
		return false
	}
	cur := rest[j+len("current        : "):]
	if k := strings.IndexByte(cur, '\n'); k >= 0 {
		cur = cur[:k]
	}
	return strings.TrimSpace(cur) == server
}

// monitorLine reports whether clpstat's line of the monitor contains word.
func monitorLine(st, name, word string) bool {
	for _, l := range strings.Split(st, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.HasPrefix(f[0], name) && strings.Contains(l, word) {
			return true
		}
	}
	return false
}

func smbdPID(c *trials.Cluster, s *trials.Server) int {
	n, _ := strconv.Atoi(strings.TrimSpace(readFile(filepath.Join(c.Dir(), s.Name, "samba", "run", "smbd.pid"))))
	return n
}

// watcherPID asks clp_sambamon for the pid of the server's watcher.
func watcherPID(t *testing.T, c *trials.Cluster, s *trials.Server) int {
	t.Helper()
	out, se, code := runFsmon(c, s, "-disp")
	if code != 0 {
		t.Logf("clp_sambamon %s -disp on %s: status %d: %s", monitorID, s.Name, code, se)
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

func runFsmon(c *trials.Cluster, s *trials.Server, args ...string) (string, string, int) {
	return s.RunEnv(2*time.Minute, []string{"CLPKIT_FSMON_DIR=" + filepath.Join(c.Dir(), s.Name, "fsmon"),
		"CLPKIT_ALERT_LOG=" + filepath.Join(s.Dir, "log", "alert.log"), "CLPKIT_SERVER=" + s.Name},
		"clp_sambamon", append([]string{monitorID}, args...)...)
}

// countLogConnects counts the tree connects of the client to the share in the server's smbd log
// (log level 2 names the client's address).
func countLogConnects(c *trials.Cluster, s *trials.Server) int {
	n := 0
	for _, l := range strings.Split(readFile(filepath.Join(c.Dir(), s.Name, "samba", "log.smbd")), "\n") {
		if strings.Contains(l, "ipv4:"+c.Client.Addr+":") && strings.Contains(l, "connect to service "+share) {
			n++
		}
	}
	return n
}

func hasAddr(t *testing.T, h *netlab.Host, addr string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, se, code, err := h.Run(ctx, "ip", "-o", "-4", "addr", "show", "dev", "eth0")
	if err != nil || code != 0 {
		t.Errorf("ip addr on %s: %v %s", h.Name, err, se)
		return false
	}
	return strings.Contains(out, " "+addr+"/")
}

// Processes.

func alive(pid int) bool { return !clustertest.Gone(pid) }

func netnsOf(pid int) uint64 {
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil || !strings.HasPrefix(l, "net:[") {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(l, "net:["), "]"), 10, 64)
	return n
}

type proc struct {
	pid  int
	exe  string
	netn uint64
}

func (p proc) String() string { return fmt.Sprintf("%d %s (netns %d)", p.pid, p.exe, p.netn) }

// ourProcs lists the live smbd and clp_sambamon processes of the lab in dir: those whose
// environment or command line names dir.
func ourProcs(dir string) []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		base := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
		if base != "smbd" && base != "clp_sambamon" {
			continue
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(env), dir+"/") || strings.Contains(string(cmdline), dir+"/") {
			out = append(out, proc{pid: pid, exe: exe, netn: netnsOf(pid)})
		}
	}
	return out
}

func isSmbd(pid int) bool {
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return filepath.Base(exe) == "smbd"
}

func smbdIn(dir string, netns uint64) []proc {
	var out []proc
	for _, p := range ourProcs(dir) {
		if p.netn == netns && strings.HasSuffix(p.exe, "/smbd") {
			out = append(out, p)
		}
	}
	return out
}

func killAll(ps []proc) {
	for _, p := range ps {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// stopAll stops clpd on both servers (the standby first, so that the group does not move), which
// stops the group; then stops whatever of the group's smbd and clp_sambamon is left, by their pid
// files and records, and checks that none is left.
func stopAll(t *testing.T, c *trials.Cluster) {
	t.Logf("at the end: %d smbd and clp_sambamon processes of the lab run", len(ourProcs(c.Dir())))
	owner := c.Owner(trials.Group)
	order := []*trials.Server{c.Servers["server1"], c.Servers["server2"]}
	if owner == "server1" {
		order[0], order[1] = order[1], order[0]
	}
	for _, s := range order {
		if s.Running() {
			s.Stop()
		}
	}
	for _, s := range order {
		if _, se, code := runFsmon(c, s, "-stop", "10"); code != 0 {
			t.Errorf("clp_sambamon %s -stop on %s: status %d: %s", monitorID, s.Name, code, se)
		}
		if pid := smbdPID(c, s); pid != 0 && alive(pid) && isSmbd(pid) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			for end := time.Now().Add(20 * time.Second); alive(pid) && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	var left []proc
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if left = ourProcs(c.Dir()); len(left) == 0 {
			return
		}
	}
	t.Errorf("smbd or clp_sambamon processes left after the group stopped: %v", left)
	killAll(left)
}
