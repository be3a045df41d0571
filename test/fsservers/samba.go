package fsservers

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Samba is an smbd serving two shares on 127.0.0.1 at a port of its own, besides the IPC$ pipe
// share every Samba has (printing is off):
//
//	share     guest ok: anyone, anonymous logons included
//	authonly  valid users = User only
type Samba struct {
	*server
	// Port is the smbd port on 127.0.0.1.
	Port int
	// User and Password log on to authonly. User is an existing system account ("daemon"):
	// Samba maps its users to Unix accounts, and the tests must not add one to the machine.
	User, Password string
	Dir            string
	Conf           string
}

// SambaOptions adjust the server.
type SambaOptions struct {
	// Global holds extra [global] lines, e.g. "server signing = mandatory".
	Global []string
}

// Addr is the address to give clp_sambamon -a.
func (s *Samba) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// StartSamba starts smbd under a directory of the test and waits until it accepts connections.
// It is stopped when the test ends.
func StartSamba(tb testing.TB, o SambaOptions) *Samba {
	tb.Helper()
	RequireRoot(tb)
	smbd := Binary(tb, "smbd", "samba")
	smbpasswd := Binary(tb, "smbpasswd", "samba")
	const account = "daemon"
	if _, err := user.Lookup(account); err != nil {
		tb.Fatalf("the system account %q that the Samba tests log on as is missing: %v", account, err)
	}

	dir := tb.TempDir()
	openDirs(tb, dir)
	for _, d := range []string{"private", "lock", "state", "cache", "run", "ncalrpc", "binddns", "share", "auth"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	s := &Samba{Port: FreePort(tb), User: account, Password: "clpkit-test-pw", Dir: dir, Conf: filepath.Join(dir, "smb.conf")}
	p := func(name string) string { return filepath.Join(dir, name) }
	conf := fmt.Sprintf(`[global]
  server role = standalone server
  smb ports = %d
  interfaces = lo
  bind interfaces only = yes
  disable netbios = yes
  server min protocol = SMB2_02
  security = user
  map to guest = Bad User
  guest account = nobody
  passdb backend = tdbsam:%s
  private dir = %s
  lock directory = %s
  state directory = %s
  cache directory = %s
  pid directory = %s
  ncalrpc dir = %s
  binddns dir = %s
  log file = %s
  max log size = 0
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
%s
[share]
  path = %s
  read only = no
  guest ok = yes
[authonly]
  path = %s
  valid users = %s
`, s.Port, p("private/passdb.tdb"), p("private"), p("lock"), p("state"), p("cache"), p("run"), p("ncalrpc"),
		p("binddns"), p("log.smbd"), indent(o.Global), p("share"), p("auth"), account)
	if err := os.WriteFile(s.Conf, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := run(ctx, []string{smbpasswd, "-c", s.Conf, "-a", "-s", account}, s.Password+"\n"+s.Password+"\n"); err != nil {
		tb.Fatalf("adding the Samba user: %v", err)
	}

	// --no-process-group: smbd stays in the group startServer gives it, so that stopping and
	// freezing reach its children too.
	s.server = startServer(tb, "smbd", []string{smbd, "--foreground", "--no-process-group", "--debug-stdout",
		"--configfile=" + s.Conf}, os.Environ())
	tb.Cleanup(func() {
		if err := s.stop(20 * time.Second); err != nil {
			tb.Error(err)
		}
	})
	s.waitUntil(tb, 30*time.Second, "smbd to accept connections on "+s.Addr(), func() bool { return tcpUp(s.Addr()) })
	return s
}

// Stop stops smbd (SIGTERM) and waits until it is gone.
func (s *Samba) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.stop(20 * time.Second); err != nil {
		tb.Error(err)
	}
}

func indent(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
