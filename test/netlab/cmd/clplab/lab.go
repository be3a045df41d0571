package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"clpkit/pkg/procwatch"
)

const (
	// nsPrefix starts the name of every namespace of the lab. The names are fixed, so that cut,
	// mend and down find what up made, and so that only one lab runs on a machine.
	nsPrefix = "clplab-"
	// switchNS holds the bridge br0; each host's eth0 is a veth whose peer, named after the host,
	// is a port of br0. Pulling a cable is setting that port down.
	switchNS = nsPrefix + "switch"
	netnsDir = "/run/netns"

	clusterName = "clplab"
	group       = "failover1"
	vip         = "10.77.0.100"
	webPort     = "8080"
	// cgroupRoot is where the lab's clpd keep their groups' cgroups, below the cgroup v2 mount.
	cgroupRoot = "clplab"
	// markerName is the file that marks DIR as a lab's directory: down removes only such a
	// directory. It holds the directory of the clpkit commands the lab runs.
	markerName = ".clplab"
	diskSize   = 64 << 20
)

// labHost is one network namespace of the lab.
type labHost struct{ name, addr, mac string }

// hosts are the lab's hosts, as in test/netlab: host i has 10.77.0.(10+i).
var hosts = []labHost{
	{"store", "10.77.0.10", "02:00:0a:4d:00:0a"},
	{"server1", "10.77.0.11", "02:00:0a:4d:00:0b"},
	{"server2", "10.77.0.12", "02:00:0a:4d:00:0c"},
	{"client", "10.77.0.13", "02:00:0a:4d:00:0d"},
}

var servers = []string{"server1", "server2"}

// witnessName is the witness's name in the configuration; it runs on the store host.
const witnessName = "witness"

func nsOf(host string) string { return nsPrefix + host }

// hostAddr is the address of a host, or of the server or witness that runs on it.
func hostAddr(name string) string {
	if name == witnessName {
		name = "store"
	}
	for _, h := range hosts {
		if h.name == name {
			return h.addr
		}
	}
	panic("clplab: no host " + name)
}

// allNS lists the lab's namespaces, the switch last (it goes last when they are deleted).
func allNS() []string {
	var names []string
	for _, h := range hosts {
		names = append(names, nsOf(h.name))
	}
	return append(names, switchNS)
}

// lab is a lab's directory and the commands it runs.
type lab struct {
	dir string // absolute
	bin string // the directory of clpd, clpstat, ...
	// dirRemoved: removeDir removed dir.
	dirRemoved bool
}

func (l *lab) path(elem ...string) string {
	return filepath.Join(append([]string{l.dir}, elem...)...)
}

func (l *lab) socket(server string) string { return l.path(server, "run", "clpd.sock") }
func (l *lab) pidFile(name string) string  { return l.path(name + ".pid") }
func (l *lab) logFile(name string) string  { return l.path(name + ".log") }
func (l *lab) self() string                { return l.path("clplab") }

// openLab finds the lab of DIR; the commands are those up recorded, or those next to clplab.
func openLab(dir string) (*lab, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	l := &lab{dir: abs}
	if b, err := os.ReadFile(l.path(markerName)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "bin="); ok {
				l.bin = v
			}
		}
	}
	if l.bin == "" {
		l.bin = defaultBin()
	}
	return l, nil
}

// defaultBin is the directory of this program when clpd is next to it (bin/ after make lab, or
// the test's build directory), else ./bin.
func defaultBin() string {
	if exe, err := os.Executable(); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(exe), "clpd")); err == nil {
			return filepath.Dir(exe)
		}
	}
	abs, _ := filepath.Abs("bin")
	return abs
}

// lookPath finds a tool on PATH, or in the sbin directories that a user's PATH may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found", name)
}

// run runs a tool and returns its standard output; the error carries its standard error.
func run(ctx context.Context, name string, args ...string) (string, error) {
	return runIn(ctx, nil, "", name, args...)
}

func runIn(ctx context.Context, env []string, stdin, name string, args ...string) (string, error) {
	path, err := lookPath(name)
	if err != nil && !filepath.IsAbs(name) {
		return "", err
	}
	if filepath.IsAbs(name) {
		path = name
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(se.String())
		if msg == "" {
			msg = strings.TrimSpace(so.String())
		}
		return so.String(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, oneLine(msg))
	}
	return so.String(), nil
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

// nsExists reports whether the named namespace exists.
func nsExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return err == nil
}

// netUp creates the namespaces, the switch and every host's cable.
func netUp(ctx context.Context) error {
	for _, name := range append([]string{switchNS}, allNS()[:len(hosts)]...) {
		if _, err := run(ctx, "ip", "netns", "add", name); err != nil {
			return err
		}
		// IPv6 off: its link-local chatter is noise in a lab about an IPv4 floating address.
		if _, err := run(ctx, "ip", "netns", "exec", name, "sh", "-c",
			`[ -d /proc/sys/net/ipv6 ] || exit 0
for c in all default lo; do echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6 || exit 1; done`); err != nil {
			return err
		}
	}
	// STP off and no forward delay: a port forwards as soon as its cable is back.
	sw := []string{
		"link set lo up",
		"link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
		"link set br0 up",
	}
	for _, h := range hosts {
		sw = append(sw,
			fmt.Sprintf("link add %s type veth peer name eth0 address %s netns %s", h.name, h.mac, nsOf(h.name)),
			fmt.Sprintf("link set %s master br0 up", h.name))
	}
	if _, err := runIn(ctx, nil, strings.Join(sw, "\n")+"\n", "ip", "-n", switchNS, "-batch", "-"); err != nil {
		return fmt.Errorf("building the switch: %w", err)
	}
	for _, h := range hosts {
		if _, err := runIn(ctx, nil, fmt.Sprintf("link set lo up\naddr add %s/24 dev eth0\nlink set eth0 up\n", h.addr),
			"ip", "-n", nsOf(h.name), "-batch", "-"); err != nil {
			return fmt.Errorf("configuring host %s: %w", h.name, err)
		}
	}
	for _, h := range hosts {
		for {
			out, err := run(ctx, "ip", "-n", nsOf(h.name), "-o", "link", "show", "eth0")
			if err != nil {
				return err
			}
			if strings.Contains(out, "LOWER_UP") {
				break
			}
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				return fmt.Errorf("eth0 of %s has no carrier: %w", h.name, err)
			}
		}
	}
	return nil
}

// cableUp reports whether the host's switch port is up.
func cableUp(ctx context.Context, host string) (bool, error) {
	out, err := run(ctx, "ip", "-n", switchNS, "-o", "link", "show", host)
	if err != nil {
		return false, err
	}
	start, end := strings.IndexByte(out, '<'), strings.IndexByte(out, '>')
	if start < 0 || end < start {
		return false, fmt.Errorf("no flags in %q", out)
	}
	for _, f := range strings.Split(out[start+1:end], ",") {
		if f == "UP" {
			return true, nil
		}
	}
	return false, nil
}

func setCable(ctx context.Context, host string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	_, err := run(ctx, "ip", "-n", switchNS, "link", "set", host, state)
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// status is the part of `clpstat -o json` (docs/clpstat-json.md) the lab reads.
type status struct {
	Cluster struct {
		LocalServer string `json:"local_server"`
		Servers     []struct {
			Name  string `json:"name"`
			State string `json:"state"`
		} `json:"servers"`
		Groups []struct {
			Name      string `json:"name"`
			State     string `json:"state"`
			Current   string `json:"current"`
			Resources []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"resources"`
		} `json:"groups"`
	} `json:"cluster"`
}

// status asks the server's clpd for the cluster's status.
func (l *lab) status(ctx context.Context, server string) (*status, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := runIn(ctx, append(cleanEnv(), "CLPKIT_SOCKET="+l.socket(server)), "",
		filepath.Join(l.bin, "clpstat"), "-o", "json")
	if err != nil {
		return nil, err
	}
	var st status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("reading clpstat -o json of %s: %w", server, err)
	}
	return &st, nil
}

// owner is where the group is Online in st ("" when nowhere).
func (st *status) owner() string {
	for _, g := range st.Cluster.Groups {
		if g.Name == group && g.State == "Online" {
			return g.Current
		}
	}
	return ""
}

// serverOnline reports whether st shows the server Online.
func (st *status) serverOnline(name string) bool {
	for _, s := range st.Cluster.Servers {
		if s.Name == name {
			return s.State == "Online"
		}
	}
	return false
}

// resourcesOnline reports whether every resource of the group is Online in st.
func (st *status) resourcesOnline() bool {
	for _, g := range st.Cluster.Groups {
		if g.Name == group {
			for _, r := range g.Resources {
				if r.State != "Online" {
					return false
				}
			}
			return len(g.Resources) > 0
		}
	}
	return false
}

// findOwner asks both servers where the group runs; "" when none says it is Online.
func (l *lab) findOwner(ctx context.Context) string {
	for _, s := range servers {
		if st, err := l.status(ctx, s); err == nil {
			if o := st.owner(); o != "" {
				return o
			}
		}
	}
	return ""
}

// cleanEnv is this process's environment without what would confuse clpd or the commands, with
// a PATH that has the sbin directories (and first, when given, dir).
func cleanEnv(dir ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CLPKIT_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") ||
			strings.HasPrefix(kv, "WATCHDOG_") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+strings.Join(append(dir, "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"), ":"))
}

// daemonAlive reports whether pid is a live (not zombie) process named comm.
func daemonAlive(pid int, comm string) bool {
	st, err := procwatch.Stat("/proc", pid)
	return err == nil && st.Comm == comm && !st.Exited()
}

// readPid reads a pid file; 0 when there is none.
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// tail returns the last n lines of a file, indented.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// mountinfoEntry is one line of /proc/self/mountinfo.
type mountinfoEntry struct{ mountPoint, source string }

func mountinfo() ([]mountinfoEntry, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountinfo(f)
}

// parseMountinfo reads the lines proc(5) documents:
// "36 35 98:0 /root /mnt opts [optional...] - fstype source superopts".
func parseMountinfo(r io.Reader) ([]mountinfoEntry, error) {
	var out []mountinfoEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i, w := range f {
			if w == "-" && i >= 6 {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || len(f) < sep+3 {
			continue
		}
		out = append(out, mountinfoEntry{mountPoint: unescapeOctal(f[4]), source: unescapeOctal(f[sep+2])})
	}
	return out, sc.Err()
}

// unescapeOctal undoes the \ooo escapes of mountinfo (a space is \040).
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// labMounts lists the mount points below the lab's directory, or of its loop devices.
func (l *lab) labMounts(loops []string) []string {
	mi, err := mountinfo()
	if err != nil {
		return nil
	}
	var mps []string
	for _, m := range mi {
		if under(m.mountPoint, l.dir) || contains(loops, m.source) {
			mps = append(mps, m.mountPoint)
		}
	}
	return mps
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// loopDevices lists the loop devices whose backing file is in the lab's directory.
func (l *lab) loopDevices(ctx context.Context) ([]string, error) {
	out, err := run(ctx, "losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE")
	if err != nil {
		return nil, err
	}
	var devs []string
	for _, line := range strings.Split(out, "\n") {
		name, back, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		back = strings.TrimSuffix(unescapeOctal(back), " (deleted)")
		if under(back, l.dir) {
			devs = append(devs, name)
		}
	}
	return devs, nil
}

// shq quotes s for sh.
func shq(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
