package trials

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRexec: clprexec from one server asks the other, over the cluster's TLS link, to run a
// script of its script directory (waiting for it, and saying how it failed), and notifies the
// active server's message receive monitor, whose error fails the group over.
func TestRexec(t *testing.T) {
	c := New(t, build(t), Options{Embedded: true, Monitors: `
[[monitor]]
name = "mrw1"
type = "mrw"
category = "app"
recovery_target = "failover1"
`})
	active := c.WaitSteady(60 * time.Second)
	other := c.Other(active)

	out := filepath.Join(c.Dir(), "rexec.out")
	dir := filepath.Join(other.Dir, "data", "trnreq")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "check.sh"), []byte("#!/bin/sh\necho \"$CLP_SERVER_NAME\" > "+out+"\nexit 0\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "fail.sh"), []byte("#!/bin/sh\nexit 3\n"), 0o755))

	if so, se, code := active.Run("clprexec", "--script", "check.sh", "-h", other.Host.Addr); code != 0 || so != "Command succeeded.\n" {
		t.Fatalf("clprexec --script check.sh -h %s: exit %d, %q, %q", other.Host.Addr, code, so, se)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != other.Name+"\n" {
		t.Fatalf("the script ran as %q (%v), want on %s", b, err, other.Name)
	}
	want := "The script fail.sh on server " + other.Name + " ended with exit status 3.\n"
	if so, se, code := active.Run("clprexec", "--script", "fail.sh", "-h", other.Name); code != 4 || so != "" || se != want {
		t.Fatalf("clprexec --script fail.sh: exit %d, %q, %q; want 4, %q", code, so, se, want)
	}
	log, _ := os.ReadFile(filepath.Join(other.Dir, "log", "trnreq.log"))
	if !strings.Contains(string(log), "clprexec --script check.sh: exit status 0\n") || !strings.Contains(string(log), "clprexec --script fail.sh: exit status 3\n") {
		t.Fatalf("trnreq.log on %s:\n%s", other.Name, log)
	}

	// A notice of category "app" from the standby: the active server's monitor takes it, and its
	// recovery fails the group over to the standby.
	if so, se, code := other.Run("clprexec", "--notice", "-h", active.Host.Addr, "-k", "app.db"); code != 0 || so != "Command succeeded.\n" {
		t.Fatalf("clprexec --notice: exit %d, %q, %q", code, so, se)
	}
	end := time.Now().Add(30 * time.Second)
	for c.Owner(Group) != other.Name {
		if time.Now().After(end) {
			t.Fatalf("the group did not fail over to %s after the notice\n%s", other.Name, c.dump())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := c.WaitSteady(60 * time.Second); s != other {
		t.Fatalf("the group runs on %s, want %s", s.Name, other.Name)
	}
	if a := active.Alerts(); !strings.Contains(a, "received an error notice (app.db)") {
		t.Fatalf("the alert log of %s does not name the notice:\n%s", active.Name, a)
	}
	if so, se, code := other.Run("clprexec", "--clear", "mrw1", "-h", active.Name); code != 0 || so != "Command succeeded.\n" {
		t.Fatalf("clprexec --clear: exit %d, %q, %q", code, so, se)
	}
	if _, se, code := other.Run("clprexec", "--notice", "mrw9", "-h", active.Name); code != 4 || se != "Specified monitor resource is not registered. (mrw9)\n" {
		t.Fatalf("a notice to no such monitor: exit %d, %q", code, se)
	}
	if ov := c.Sampler.Overlaps(Group); len(ov) > 0 {
		t.Fatalf("the sampler saw the group on two hosts: %v", ov)
	}
}
