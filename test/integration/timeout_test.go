package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"clpkit/internal/clustertest"
	"clpkit/pkg/alert"
)

var timeoutGroups = group("slow1", "auto_start = false") +
	execResource("hang", "scripts/hang", "start_timeout = 1") +
	group("bgstop", "auto_start = false") +
	execResource("bg", "scripts/bg", `stop_mode = "async"`)

// TestStartTimeoutAndAsyncStop: a start script that outlives start_timeout is killed with
// everything it started, the resource is Online Failure and the alert log says why; an
// asynchronous stop returns at once while its script goes on.
func TestStartTimeoutAndAsyncStop(t *testing.T) {
	s := setup(t)
	dir := t.TempDir()
	clustertest.Script(t, dir, "scripts/hang/start.sh", "sleep 600 &\necho $! > "+dir+"/hang-child\nwait\n")
	clustertest.Script(t, dir, "scripts/hang/stop.sh", "exit 0\n")
	clustertest.Script(t, dir, "scripts/bg/start.sh", "exit 0\n")
	clustertest.Script(t, dir, "scripts/bg/stop.sh", "while [ ! -e "+dir+"/release ]; do sleep 0.05; done\necho stopped > "+dir+"/bg-stopped\n")
	c := clustertest.New(t, s.bin, dir, timeoutGroups)
	c.Start(t)

	began := time.Now()
	_, se, code := c.Run(t, "clpgrp", "-s", "slow1")
	if code != 1 || se != "Failed to start one or more resources. Check the status of group slow1.\n" {
		t.Fatalf("clpgrp -s slow1: exit %d, %q", code, se)
	}
	if d := time.Since(began); d > 20*time.Second {
		t.Fatalf("the 1 s start timeout took %s to act", d)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "hang-child"))
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	clustertest.WaitFor(t, 5*time.Second, "the start script's child to be killed", func() bool { return clustertest.Gone(child) })
	if line := resourceLine(t, c, "hang"); line != "      hang           : Online Failure   " {
		t.Fatalf("after the timeout: %q", line)
	}
	recs, err := alert.Read(c.AlertLog)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Module == "rc" && r.ID >= 10 && r.ID != 11 {
			got = append(got, strconv.Itoa(r.ID)+" "+r.Level.String()+" "+r.Text)
		}
	}
	want := []string{
		"10 INFO Activating group slow1 has started.",
		"30 INFO Activating hang resource has started.",
		"32 ERR Activating hang resource has failed.(start script killed after timeout)",
		"12 ERR Activating group slow1 has failed.",
		"20 INFO Stopping group slow1 has started.",
		"21 INFO Stopping group slow1 has completed.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("alerts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	c.MustRun(t, "clpgrp", "-s", "bgstop")
	if out := c.MustRun(t, "clpgrp", "-t", "bgstop"); out != "Command succeeded.\n" {
		t.Fatalf("clpgrp -t bgstop: %q", out)
	}
	if line := resourceLine(t, c, "bg"); line != "      bg             : Offline          " {
		t.Fatalf("after an asynchronous stop: %q", line)
	}
	if _, err := os.Stat(filepath.Join(dir, "bg-stopped")); err == nil {
		t.Fatal("the asynchronous stop script finished before it was released: clpgrp waited for it")
	}
	touch(t, filepath.Join(dir, "release"))
	clustertest.WaitFor(t, 5*time.Second, "the asynchronous stop script to finish", func() bool {
		_, err := os.Stat(filepath.Join(dir, "bg-stopped"))
		return err == nil
	})
}
