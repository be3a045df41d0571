package netlab

import (
	"bytes"
	"math/bits"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// groupVar is the variable through which the cluster daemon tells every script it runs (and so
// every process those scripts start) which failover group it belongs to.
const groupVar = "CLP_GROUPNAME="

// Sampler records, at every scan of /proc, on which lab hosts each failover group has live
// processes. A process belongs to the host whose network namespace it is in, and to the group
// named by CLP_GROUPNAME in its environment; processes outside the lab, zombies and processes
// without the variable are ignored.
//
// Times are the scan's start: a process seen by a scan existed at some moment of that scan.
type Sampler struct {
	interval time.Duration
	hostOf   map[uint64]int // namespace inode → host index
	names    []string
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	// Only the scanning goroutine uses these.
	procs map[int]*procEntry // lab processes seen by the last scan, by pid
	gen   uint64
	buf   []byte
	link  []byte

	mu        sync.Mutex
	scans     []time.Time
	groups    map[string]*groupTrack
	costTotal time.Duration
	cpuTotal  time.Duration
	costMax   time.Duration
	procsMax  int
}

// procEntry is what the sampler knows of one lab process. Its environ file stays open, so that
// the next scans read it with one pread, and nothing else: no readlink of its namespace, no open
// and close. That descriptor reads the memory the process had when it was opened: once the
// process exec'd, died or became a zombie, that memory is gone and the read returns nothing, and
// the process is looked at afresh (a reused pid is another process, an exec'd one may have moved
// namespace on its way, as `ip netns exec` does). A process that changes namespace without exec
// is seen where it was at its last exec; ip netns exec and nsenter both exec right after.
type procEntry struct {
	fd    int
	host  int
	group string
	gen   uint64
}

// maxOpenEnvirons bounds the descriptors kept open; past it, processes are read the slow way.
const maxOpenEnvirons = 2048

// groupTrack is a group's host set over time, as the scans at which it changed.
type groupTrack struct {
	changes []change
	cur     uint64
}

type change struct {
	scan  int
	hosts uint64 // bit i: host i
}

// Interval is a stretch of scans, Start to End, during which a group ran on Hosts.
type Interval struct {
	Start, End time.Time
	Hosts      []string
}

// StartSampler starts scanning /proc every interval (10 ms in practice) until Stop or tb's
// cleanup.
func (l *Lab) StartSampler(tb testing.TB, interval time.Duration) *Sampler {
	tb.Helper()
	s := &Sampler{
		interval: interval,
		hostOf:   map[uint64]int{},
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		procs:    map[int]*procEntry{},
		buf:      make([]byte, 16384),
		link:     make([]byte, 64),
		groups:   map[string]*groupTrack{},
	}
	for _, h := range l.hosts {
		s.hostOf[h.inode] = h.index
		s.names = append(s.names, h.Name)
	}
	go s.run()
	tb.Cleanup(s.Stop)
	return s
}

// Stop ends the scans and waits for the last one; the records stay readable.
func (s *Sampler) Stop() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

func (s *Sampler) run() {
	defer close(s.done)
	defer s.closeAll()
	// A thread of its own, so that its CPU clock measures the scans and nothing else.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.scan()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// scan reads /proc once. A process outside the lab costs one readlink of its network namespace, a
// known lab process one read of its environment.
func (s *Sampler) scan() {
	start := time.Now()
	cpu0 := threadCPU()
	s.gen++
	now := map[string]uint64{}
	pids, _ := listPids()
	inLab := 0
	for _, pid := range pids {
		host, group, ok := s.lookup(pid)
		if !ok {
			continue
		}
		inLab++
		if group != "" {
			now[group] |= 1 << host
		}
	}
	for pid, e := range s.procs {
		if e.gen != s.gen {
			s.forget(pid)
		}
	}
	cost, cpu := time.Since(start), threadCPU()-cpu0

	s.mu.Lock()
	defer s.mu.Unlock()
	idx := len(s.scans)
	s.scans = append(s.scans, start)
	for g, hosts := range now {
		tr := s.groups[g]
		if tr == nil {
			tr = &groupTrack{}
			s.groups[g] = tr
		}
		if tr.cur != hosts || len(tr.changes) == 0 {
			tr.changes = append(tr.changes, change{idx, hosts})
			tr.cur = hosts
		}
	}
	for g, tr := range s.groups {
		if _, ok := now[g]; !ok && tr.cur != 0 {
			tr.changes = append(tr.changes, change{idx, 0})
			tr.cur = 0
		}
	}
	s.costTotal += cost
	s.cpuTotal += cpu
	s.costMax = max(s.costMax, cost)
	s.procsMax = max(s.procsMax, inLab)
}

// lookup returns the host and group ("" for none) of process pid; ok is false when pid is not a
// live process in the lab.
func (s *Sampler) lookup(pid int) (host int, group string, ok bool) {
	if e := s.procs[pid]; e != nil {
		if env := s.readEnv(e.fd); len(env) > 0 {
			// The environment of a program image does not change, but the descriptor is read
			// anyway: that read is what tells it is still the same live image.
			if g := groupIn(env); string(g) != e.group {
				e.group = string(g)
			}
			e.gen = s.gen
			return e.host, e.group, true
		}
		s.forget(pid)
	}
	ino, ok := netnsInode(pid, s.link)
	if !ok {
		return 0, "", false // gone, or a zombie (its namespaces are released)
	}
	if host, ok = s.hostOf[ino]; !ok {
		return 0, "", false
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/environ", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, "", false // gone, or became a zombie since the readlink
	}
	env := s.readEnv(fd)
	if len(env) == 0 || len(s.procs) >= maxOpenEnvirons {
		// An empty environment (or one that just went) is no group's; not worth keeping.
		unix.Close(fd)
		return host, string(groupIn(env)), true
	}
	e := &procEntry{fd: fd, host: host, group: string(groupIn(env)), gen: s.gen}
	s.procs[pid] = e
	return host, e.group, true
}

// readEnv reads a whole environ file into the sampler's buffer, growing it if need be.
func (s *Sampler) readEnv(fd int) []byte {
	off := 0
	for {
		n, err := unix.Pread(fd, s.buf[off:], int64(off))
		if err != nil || n <= 0 {
			return s.buf[:off]
		}
		off += n
		if off < len(s.buf) {
			return s.buf[:off]
		}
		s.buf = append(s.buf, make([]byte, len(s.buf))...)
	}
}

// groupIn returns the CLP_GROUPNAME of an environ file's contents, or nothing.
func groupIn(env []byte) []byte {
	for len(env) > 0 {
		var kv []byte
		kv, env, _ = bytes.Cut(env, []byte{0})
		if v, ok := bytes.CutPrefix(kv, []byte(groupVar)); ok {
			return v
		}
	}
	return nil
}

func (s *Sampler) forget(pid int) {
	if e := s.procs[pid]; e != nil {
		unix.Close(e.fd)
		delete(s.procs, pid)
	}
}

// closeAll closes the kept stat files once scanning is over.
func (s *Sampler) closeAll() {
	for pid := range s.procs {
		s.forget(pid)
	}
}

// hostNames turns a host set into names, in lab order.
func (s *Sampler) hostNames(set uint64) []string {
	var out []string
	for set != 0 {
		i := bits.TrailingZeros64(set)
		out = append(out, s.names[i])
		set &^= 1 << i
	}
	return out
}

func (s *Sampler) hostBit(host string) uint64 {
	for i, n := range s.names {
		if n == host {
			return 1 << i
		}
	}
	return 0
}

// at returns group's host set at scan idx (locked).
func (s *Sampler) at(tr *groupTrack, idx int) uint64 {
	if tr == nil || idx < 0 {
		return 0
	}
	i := sort.Search(len(tr.changes), func(i int) bool { return tr.changes[i].scan > idx })
	if i == 0 {
		return 0
	}
	return tr.changes[i-1].hosts
}

// lastScanAtOrBefore returns the index of the last scan at or before t, or -1 (locked).
func (s *Sampler) lastScanAtOrBefore(t time.Time) int {
	return sort.Search(len(s.scans), func(i int) bool { return s.scans[i].After(t) }) - 1
}

// Overlaps returns the maximal intervals during which group had processes on two hosts or more:
// Start is the first scan that saw it, End the first scan that no longer did (or the last scan,
// if it still does), and Hosts every host seen in between.
func (s *Sampler) Overlaps(group string) []Interval {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr := s.groups[group]
	if tr == nil {
		return nil
	}
	var out []Interval
	var open bool
	var cur Interval
	var union uint64
	for _, c := range tr.changes {
		multi := bits.OnesCount64(c.hosts) >= 2
		switch {
		case multi && !open:
			open, cur, union = true, Interval{Start: s.scans[c.scan]}, c.hosts
		case multi:
			union |= c.hosts
		case open:
			cur.End, cur.Hosts = s.scans[c.scan], s.hostNames(union)
			out = append(out, cur)
			open = false
		}
	}
	if open {
		cur.End, cur.Hosts = s.scans[len(s.scans)-1], s.hostNames(union)
		out = append(out, cur)
	}
	return out
}

// HostsAt returns the hosts on which group had processes at the last scan at or before t.
func (s *Sampler) HostsAt(group string, t time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostNames(s.at(s.groups[group], s.lastScanAtOrBefore(t)))
}

// FirstSeen returns the first scan at or after after that saw group on host.
func (s *Sampler) FirstSeen(group, host string, after time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, bit := s.groups[group], s.hostBit(host)
	if tr == nil || bit == 0 {
		return time.Time{}, false
	}
	idx := sort.Search(len(s.scans), func(i int) bool { return !s.scans[i].Before(after) })
	if idx == len(s.scans) {
		return time.Time{}, false
	}
	if s.at(tr, idx)&bit != 0 {
		return s.scans[idx], true
	}
	for _, c := range tr.changes {
		if c.scan > idx && c.hosts&bit != 0 {
			return s.scans[c.scan], true
		}
	}
	return time.Time{}, false
}

// LastSeen returns the last scan at or before before that saw group on host.
func (s *Sampler) LastSeen(group, host string, before time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, bit := s.groups[group], s.hostBit(host)
	idx := s.lastScanAtOrBefore(before)
	if tr == nil || bit == 0 || idx < 0 {
		return time.Time{}, false
	}
	if s.at(tr, idx)&bit != 0 {
		return s.scans[idx], true
	}
	// The host was last present just before the first change after its last presence.
	for i := len(tr.changes) - 1; i >= 0; i-- {
		c := tr.changes[i]
		if c.scan <= idx && c.hosts&bit != 0 {
			return s.scans[tr.changes[i+1].scan-1], true
		}
	}
	return time.Time{}, false
}

// Final returns the hosts on which group had processes at the last scan.
func (s *Sampler) Final(group string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tr := s.groups[group]; tr != nil {
		return s.hostNames(tr.cur)
	}
	return nil
}

// Groups returns every group seen so far, sorted.
func (s *Sampler) Groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for g := range s.groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// Scans is the number of scans so far.
func (s *Sampler) Scans() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.scans)
}

// MaxGap is the longest time between the starts of two consecutive scans. Far above the interval,
// it says the sampler itself was starved, and short stretches may have gone unseen.
func (s *Sampler) MaxGap() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gap time.Duration
	for i := 1; i < len(s.scans); i++ {
		gap = max(gap, s.scans[i].Sub(s.scans[i-1]))
	}
	return gap
}

// ScanStats is what the scans cost: their number, the mean and longest time of one scan (wall
// clock: on a busy machine it includes waiting for a CPU), the mean CPU time of one scan (what a
// scan costs, whatever the load), the most lab processes one scan saw, and MaxGap.
type ScanStats struct {
	Scans       int
	Mean, Max   time.Duration
	MeanCPU     time.Duration
	MaxLabProcs int
	MaxGap      time.Duration
}

// Stats returns the sampler's cost so far.
func (s *Sampler) Stats() ScanStats {
	gap := s.MaxGap()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ScanStats{Scans: len(s.scans), Max: s.costMax, MaxLabProcs: s.procsMax, MaxGap: gap}
	if n := len(s.scans); n > 0 {
		st.Mean = s.costTotal / time.Duration(n)
		st.MeanCPU = s.cpuTotal / time.Duration(n)
	}
	return st
}

// threadCPU is the calling thread's CPU time.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
