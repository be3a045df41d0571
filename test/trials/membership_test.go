package trials

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"clpkit/pkg/pki"
)

// TestMembership: a running two-server cluster with a witness grows by a third server and
// shrinks again with clpmember, while its group keeps running on exactly one server. A server the
// store was not told of is refused with the command that fixes it, and a removed server's clpd
// stops and stays stopped.
func TestMembership(t *testing.T) {
	c := New(t, build(t), Options{Embedded: true})
	active := c.WaitSteady(60 * time.Second)
	s1 := c.Servers["server1"]

	so, se, code := s1.Run("clpmember")
	if code != 0 || strings.Count(so, " voting") != 3 || strings.Count(so, ",leader") != 1 || !strings.HasPrefix(so, "NAME ") ||
		!strings.Contains(so, "\nserver1  server   voting") || !strings.Contains(so, "\nstore    witness  voting") {
		t.Fatalf("clpmember: exit %d, stderr %q:\n%s", code, se, so)
	}

	// The third server lives on the lab's client host.
	h3 := c.Client
	must(t, pki.EnsureServer(filepath.Join(c.Dir(), "pki"), "server3", []string{h3.Addr}))
	s3 := &Server{Name: "server3", Host: h3, Dir: filepath.Join(c.Dir(), "server3"), c: c, Cgroup: strings.Replace(s1.Cgroup, "server1", "server3", 1)}
	s3.Config = filepath.Join(s3.Dir, "cluster.toml")
	s3.Socket = filepath.Join(s3.Dir, "run", "clpd.sock")
	for _, d := range []string{"data", "log", "run"} {
		must(t, os.MkdirAll(filepath.Join(s3.Dir, d), 0o755))
	}
	base, err := os.ReadFile(s1.Config)
	must(t, err)
	cfg := strings.Replace(string(base), s1.Cgroup, s3.Cgroup, 1)
	cfg = strings.Replace(cfg, "\n[[group]]", "\n[[server]]\nname = \"server3\"\naddress = \""+h3.Addr+"\"\n\n[[group]]", 1)
	must(t, os.WriteFile(s3.Config, []byte(cfg), 0o644))
	peer := "https://" + h3.Addr + ":2380"

	// Not added yet: clpd refuses to start, and says how to add it.
	if out, code := s3.startFails(t); code == 0 || !strings.Contains(out, "server3 (peer URL "+peer+") is not a member of the running store") ||
		!strings.Contains(out, "run `clpmember add server3` first") {
		t.Fatalf("clpd of a server not added: exit %d:\n%s", code, out)
	}

	if _, se, code := s1.Run("clpmember", "add", "server3"); code != 4 || !strings.Contains(se, "Server server3 is not in the configuration of server server1") {
		t.Fatalf("clpmember add without a peer URL server1 knows: exit %d, %q", code, se)
	}
	so, se, code = s1.Run("clpmember", "add", "server3", "--peer-url", peer)
	if code != 0 || !strings.Contains(so, "\n-        -        added          "+peer+"  -\n") ||
		!strings.HasSuffix(so, "Command succeeded. Start clpd on server3 with a configuration that declares it: it joins the store.\n") {
		t.Fatalf("clpmember add: exit %d, stderr %q:\n%s", code, se, so)
	}
	if _, se, code := s1.Run("clpmember", "add", "server4", "--peer-url", "https://10.77.0.99:2380"); code != 4 || !strings.Contains(se, "has not joined yet") {
		t.Fatalf("a second add before the first joined: exit %d, %q", code, se)
	}
	// Its data directory is left empty by the refused start.
	if _, err := os.Stat(filepath.Join(s3.Dir, "data", "etcd", "member")); err == nil {
		t.Fatal("the refused start left a member directory behind")
	}

	s3.Start()
	t.Cleanup(func() {
		if s3.Running() {
			s3.Stop()
		}
	})
	end := time.Now().Add(60 * time.Second)
	for {
		so, _, _ = s1.Run("clpmember")
		if strings.Count(so, " voting") == 4 && strings.Contains(so, "\nserver3  -        voting") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("server3 did not become a voting member within 60 s:\n%s\n--- clpd on server3:\n%s", so, s3.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Its clpd joins the cluster once its member votes (a learner serves no lease).
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st, se, code := s3.Run("clpstat")
		if code == 0 && strings.Contains(st, "*server3 .........: Online ") && strings.Count(st, ".........: Online ") == 3 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("server3 is not Online within 30 s: exit %d, %q:\n%s\n--- clpd:\n%s", code, se, st, s3.Output())
		}
	}
	if s := c.WaitSteady(30 * time.Second); s != active {
		t.Fatalf("the group moved from %s to %s while a server joined", active.Name, s.Name)
	}

	// Removing: not a running server's member without --force, never one's own.
	if _, se, code := s1.Run("clpmember", "remove", "server3"); code != 4 || !strings.Contains(se, "Server server3 is running its cluster service") {
		t.Fatalf("clpmember remove of a running server: exit %d, %q", code, se)
	}
	if _, se, code := s1.Run("clpmember", "remove", "server1"); code != 4 || !strings.Contains(se, "cannot remove its own store member") {
		t.Fatalf("clpmember remove of its own member: exit %d, %q", code, se)
	}
	so, se, code = s1.Run("clpmember", "remove", "server3", "--force")
	// The members as they stand afterwards (server3's row gone), then the next step.
	if code != 0 || strings.Contains(so, "\nserver3 ") || strings.Count(so, " voting") != 3 ||
		!strings.HasSuffix(so, "Command succeeded. Remove server3 from every server's configuration.\n") {
		t.Fatalf("clpmember remove --force: exit %d, stderr %q:\n%s", code, se, so)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s3.proc.Wait(ctx); ctx.Err() != nil {
		t.Fatalf("the removed server's clpd still runs after 60 s:\n%s", s3.Output())
	} else if !strings.Contains(s3.Output(), "this server's store member stopped") {
		t.Fatalf("the removed server's clpd exited (%v) without saying why:\n%s", err, s3.Output())
	}
	if out, code := s3.startFails(t); code == 0 || !strings.Contains(out, "this server's store member stopped") {
		t.Fatalf("clpd restarted on a removed member's data: exit %d:\n%s", code, out)
	}
	if s := c.WaitSteady(30 * time.Second); s != active {
		t.Fatalf("the group moved from %s to %s while a server left", active.Name, s.Name)
	}
	if ov := c.Sampler.Overlaps(Group); len(ov) > 0 {
		t.Fatalf("the sampler saw the group on two hosts: %v", ov)
	}
}

// startFails runs clpd of s in the foreground and returns what it printed and its exit status;
// one that is still running after 60 s fails the test.
func (s *Server) startFails(t *testing.T) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+s.Host.NS, "--", filepath.Join(s.c.bin, "clpd"),
		"-c", s.Config, "--server", s.Name, "--socket", s.Socket)
	cmd.Env = append(os.Environ(), "PATH="+s.c.tools+":"+s.c.bin+":/usr/sbin:/usr/bin:/sbin:/bin")
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("clpd on %s still ran after 60 s:\n%s", s.Name, out)
	}
	return string(out), cmd.ProcessState.ExitCode()
}
