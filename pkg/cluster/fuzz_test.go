package cluster

import (
	"encoding/json"
	"os"
	"testing"

	"clpkit/pkg/procwatch"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
)

// The run records a previous clpd left in the run directory are read back by the next one
// (Engine.recover, then machine.adopt). Whatever they hold, a damaged record stops clpd with an
// error naming the file, and one that decodes must leave a machine that keeps every rule of the
// walk (machine_walk_test.go) and shows a status. What other servers publish (the status JSON in
// the store) is fuzzed by FuzzPublished.

// runRecordSeeds are records as clpd writes them, and a few as a crash or a hand could leave them.
func runRecordSeeds(f *testing.F) {
	ev := resource.Event{Event: "START", Server: "HOME", Disk: "SUCCESS", Group: "g1", Priority: 1}
	enc := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	job := func(pid int, kind string) *resource.JobInfo {
		return &resource.JobInfo{Wrapper: procwatch.Identity{PID: pid, Start: 81234}, ScriptPID: pid + 1,
			RCFile: "/run/clpkit/g1.r." + kind + ".rc", Log: "/var/log/clpkit/g1.r.log", Script: "/s/r/" + kind + ".sh"}
	}
	started := enc(groupRecord{Op: recStart, Done: true, Token: 42, Event: ev})
	starting := enc(groupRecord{Op: recStart, Token: 42, Event: ev})
	stopping := enc(groupRecord{Op: recStop, Token: 42, Event: ev})
	online := enc(resourceRecord{State: status.Online, Event: ev})
	asyncOnline := enc(resourceRecord{State: status.Online, Event: ev, Start: job(2000, "start")})
	pending := enc(resourceRecord{State: status.OnlinePending, Event: ev, Start: job(2100, "start")})
	stopPending := enc(resourceRecord{State: status.OfflinePending, Event: ev, Stop: job(2200, "stop")})
	failed := enc(resourceRecord{State: status.OnlineFailure, Event: ev, Detail: "exit status 1"})

	// group record, r1's, r2's, and the bytes that choose what the world does next.
	f.Add(started, online, asyncOnline, []byte{0, 2, 3, 6, 9, 10})
	f.Add(starting, online, pending, []byte{1, 2, 3, 0, 6, 1, 9, 2, 10, 3, 7})
	f.Add(stopping, stopPending, failed, []byte{3, 2, 3, 13, 12, 10})
	f.Add(started, []byte(nil), asyncOnline, []byte("adopt, then walk"))
	f.Add([]byte(nil), online, []byte(nil), []byte{2})
	f.Add([]byte(`{"op":"start","done":false,"token":-1,"event":{}}`), []byte(`{"state":"Bogus","start":{"wrapper":{"pid":-5}}}`), []byte(`{"state":"Offline Pending"}`), []byte{7, 7, 7})
	f.Add([]byte(`null`), []byte(`{}`), []byte(`{"state":""}`), []byte{})
	f.Add([]byte(`{"op":"stop"`), online, online, []byte{})
	f.Add([]byte(`[]`), []byte(`"x"`), []byte(`0`), []byte{})
}

func FuzzRunRecords(f *testing.F) {
	runRecordSeeds(f)
	f.Fuzz(func(t *testing.T, grec, r1, r2, walk []byte) {
		recs := records{dir: t.TempDir()}
		for _, file := range []struct {
			path string
			b    []byte
		}{{recs.groupPath("g1"), grec}, {recs.resPath("g1", "r1"), r1}, {recs.resPath("g1", "r2"), r2}} {
			if len(file.b) == 0 {
				continue // no record
			}
			if err := os.WriteFile(file.path, file.b, 0o600); err != nil {
				t.Fatal(err)
			}
		}

		i := 0
		src := func(n int) int {
			if len(walk) == 0 {
				return 0
			}
			v := int(walk[i%len(walk)]) + i/len(walk)
			i++
			return v % n
		}

		// What Engine.recover reads for g1, but the scripts' fate comes from the walk instead of
		// /proc and the rc files the records name.
		ag := make([]adoptedGroup, 3)
		var g groupRecord
		ok, err := recs.read(recs.groupPath("g1"), &g)
		if err != nil {
			if json.Unmarshal(grec, &groupRecord{}) == nil {
				t.Fatalf("a group record that decodes is refused: %v", err)
			}
			return // clpd refuses to start, naming the file: the operator's to look at
		}
		if ok {
			ag[0].rec = &g
		}
		ag[0].res = make([]*adoptedRes, 2)
		for j, name := range []string{"r1", "r2"} {
			var rr resourceRecord
			ok, err := recs.read(recs.resPath("g1", name), &rr)
			if err != nil {
				return
			}
			if !ok {
				continue
			}
			ar := &adoptedRes{rec: rr}
			for _, p := range []struct {
				info *resource.JobInfo
				job  **adoptedJob
			}{{rr.Start, &ar.start}, {rr.Stop, &ar.stop}} {
				if p.info == nil {
					continue
				}
				aj := &adoptedJob{info: *p.info, alive: src(2) == 0}
				if !aj.alive {
					aj.known = src(2) == 0
					aj.result = resource.Result{Code: src(3) - 1}
				}
				*p.job = aj
			}
			ag[0].res[j] = ar
		}

		w := newWalker(t, src)
		w.calm = src(2) == 0
		m := w.h.m
		acts := m.adopt(w.lease, ag)
		// The scripts the machine now watches are the walk's to end.
		for _, a := range acts {
			if a, ok := a.(actWatch); ok {
				ref := m.jobs[a.job]
				w.running = append(w.running, actSpawn{job: a.job, group: ref.group, res: ref.res, kind: ref.kind})
			}
		}
		_ = m.status(w.h.now)
		for range 120 {
			w.step()
		}
	})
}
