package monitor

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestProcess(t *testing.T) {
	// A copy of sleep with a name no other process has.
	name := "clpmt-sleep-" + randHex(4)
	bin := filepath.Join(t.TempDir(), name)
	copyFile(t, "/bin/sleep", bin, 0o755)
	cmd := exec.Command(bin, "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	cases := []struct {
		name string
		p    Process
		want string
	}{
		{name: "by name", p: Process{Name: name}},
		{name: "by path", p: Process{Name: bin}},
		{name: "by name and command line", p: Process{Name: name, Cmdline: "100"}},
		{name: "wrong command line", p: Process{Name: name, Cmdline: "catalina"},
			want: fmt.Sprintf(`no process named %s with "catalina" in its command line`, name)},
		{name: "wrong name", p: Process{Name: name + "x"}, want: fmt.Sprintf("no process named %sx", name)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Check(ctxFor(t, 5*time.Second))
			wantCheck(t, err, c.want)
		})
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	err := Process{Name: name, Cmdline: "100"}.Check(ctxFor(t, 5*time.Second))
	if want := fmt.Sprintf(`no process named %s with "100" in its command line`, name); err == nil || err.Error() != want {
		t.Fatalf("after the kill Check = %v, want %q", err, want)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
