package netlab

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkScan measures one sampler scan of /proc with 300 processes in the lab (on top of the
// machine's own), all of one group per host. It needs root, like every lab.
func BenchmarkScan(b *testing.B) {
	l := New(b, "server1", "server2")
	for _, h := range l.hosts {
		cmd := h.Command("sh", "-c", "i=0; while [ $i -lt 150 ]; do sleep 1000 & i=$((i+1)); done; exec sleep 1000")
		// The test's own environment: the sampler reads every lab process's environment at
		// every scan, so its size is part of the cost.
		cmd.Env = append(os.Environ(), "CLP_GROUPNAME=load"+strconv.Itoa(h.index))
		h.StartCmd(b, cmd)
	}
	s := &Sampler{interval: 10 * time.Millisecond, hostOf: map[uint64]int{}, procs: map[int]*procEntry{},
		buf: make([]byte, 16384), link: make([]byte, 64), groups: map[string]*groupTrack{}}
	for _, h := range l.hosts {
		s.hostOf[h.inode] = h.index
		s.names = append(s.names, h.Name)
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.procsMax < 302 && time.Now().Before(deadline) {
		s.scan()
	}
	b.ResetTimer()
	for b.Loop() {
		s.scan()
	}
	b.ReportMetric(float64(s.procsMax), "labprocs")
	s.closeAll()
}
