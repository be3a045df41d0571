package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"clpkit/pkg/pki"
)

// upTimeout bounds the wait for the cluster: three etcd members form a store, both servers join,
// one starts the group.
const upTimeout = 2 * time.Minute

// up starts the lab in dir. When anything fails, down undoes what was done.
func up(dir string) error {
	for _, name := range allNS() {
		if nsExists(name) {
			return errors.New("a lab is already up; make lab-stop first (namespace " + name + " exists)")
		}
	}
	l, err := openLab(dir)
	if err != nil {
		return err
	}
	l.bin = defaultBin()
	for _, c := range []string{"clpd", "clpguard", "clpstat"} {
		if _, err := os.Stat(filepath.Join(l.bin, c)); err != nil {
			return fmt.Errorf("%s is not built in %s: run make build (or make lab) first", c, l.bin)
		}
	}
	if entries, err := os.ReadDir(l.dir); err == nil && len(entries) > 0 {
		if _, err := os.Stat(l.path(markerName)); err != nil {
			return fmt.Errorf("%s exists and is not a lab directory (it has no %s); choose another", l.dir, markerName)
		}
		fmt.Printf("clplab: removing what an earlier lab left in %s\n", display(l.dir))
		if err := down(dir, io.Discard); err != nil {
			return err
		}
	}
	// Ctrl-C while the lab starts undoes what was done, as any other failure does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := l.up(ctx); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted")
		}
		fmt.Fprintf(os.Stderr, "clplab up: %v\nclplab up: undoing what was done:\n", err)
		if derr := down(dir, os.Stderr); derr != nil {
			fmt.Fprintf(os.Stderr, "clplab up: the clean-up failed too: %v\n", derr)
		}
		return errors.New("the lab did not start")
	}
	return nil
}

func (l *lab) up(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, upTimeout+time.Minute)
	defer cancel()
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(l.path(markerName), []byte("bin="+l.bin+"\n"), 0o644); err != nil {
		return err
	}
	// A copy of this program serves the web resource: bin/ may be rebuilt or cleaned meanwhile.
	if err := copySelf(l.self()); err != nil {
		return err
	}

	fmt.Println("clplab: namespaces clplab-store, clplab-server1, clplab-server2 and clplab-client on the switch clplab-switch (10.77.0.0/24)")
	if err := netUp(ctx); err != nil {
		return err
	}

	pkiDir := l.path("pki")
	if err := pki.EnsureCA(pkiDir, clusterName); err != nil {
		return err
	}
	for _, s := range append([]string{witnessName}, servers...) {
		if err := pki.EnsureServer(pkiDir, s, []string{hostAddr(s)}); err != nil {
			return err
		}
	}

	dev, err := l.makeDisk(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("clplab: shared disk %s (ext4 on %s), mounted by the active server at %s\n", dev, l.path("disk.img"), l.path("<server>", "mnt"))

	if err := l.writeScripts(); err != nil {
		return err
	}
	for _, name := range append([]string{witnessName}, servers...) {
		for _, d := range []string{"data", "log", "run", "mnt"} {
			if name == witnessName && d == "mnt" {
				continue
			}
			if err := os.MkdirAll(l.path(name, d), 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(l.path(name, "cluster.toml"), []byte(l.config(name, dev)), 0o644); err != nil {
			return err
		}
		args := []string{"--check", "-c", l.path(name, "cluster.toml")}
		if name != witnessName {
			args = append(args, "--server", name)
		}
		if _, err := runIn(ctx, cleanEnv(), "", filepath.Join(l.bin, "clpd"), args...); err != nil {
			return fmt.Errorf("the configuration of %s: %w", name, err)
		}
	}

	fmt.Println("clplab: starting the witness (clpd --witness on clplab-store) and clpd on server1 and server2")
	if err := l.start(witnessName, "store", "-c", l.path(witnessName, "cluster.toml"), "--witness"); err != nil {
		return err
	}
	for _, s := range servers {
		if err := l.start(s, s, "-c", l.path(s, "cluster.toml"), "--server", s, "--socket", l.socket(s)); err != nil {
			return err
		}
	}
	fmt.Println("clplab: waiting for group failover1 to be Online")
	owner, err := l.waitReady(ctx, upTimeout)
	if err != nil {
		return err
	}
	fmt.Print(l.instructions(owner))
	return nil
}

// copySelf copies this program's executable to path.
func copySelf(path string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	in, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// makeDisk makes the shared disk: a sparse image file on a loop device, with ext4 on it.
func (l *lab) makeDisk(ctx context.Context) (string, error) {
	img := l.path("disk.img")
	f, err := os.OpenFile(img, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	if err := f.Truncate(diskSize); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	out, err := run(ctx, "losetup", "--find", "--show", img)
	if err != nil {
		return "", fmt.Errorf("attaching the shared disk's image to a loop device: %w", err)
	}
	dev := strings.TrimSpace(out)
	if _, err := run(ctx, "mkfs.ext4", "-q", "-F", "-L", "clplab", dev); err != nil {
		return "", err
	}
	return dev, nil
}

// writeScripts writes the web resource's scripts. The start script becomes the HTTP server
// (exec), so the pid monitor watches the server itself.
func (l *lab) writeScripts() error {
	dir := l.path("scripts", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	start := fmt.Sprintf(`#!/bin/sh
# The resource web of group failover1: an HTTP server on the floating address that names the
# server it runs on and counts the requests in a file on the shared disk. It runs as long as the
# resource is Online (start_mode = "async"); the pid monitor webw watches it.
exec %s serve -listen %s:%s -name "$CLPKIT_SERVER" -counter %s/"$CLPKIT_SERVER"/mnt/counter -pidfile %s
`, shq(l.self()), vip, webPort, shq(l.dir), shq(l.path("web.pid")))
	stop := `#!/bin/sh
# Stops the web server: CLP_PID, the start script's process, is the server itself. Waits up to
# 5 s for it to exit, so that the disk it writes on can be unmounted next.
[ -n "$CLP_PID" ] || exit 0
kill "$CLP_PID" 2>/dev/null
i=0
while kill -0 "$CLP_PID" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
exit 0
`
	if err := os.WriteFile(filepath.Join(dir, "start.sh"), []byte(start), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "stop.sh"), []byte(stop), 0o755)
}

// config is the cluster configuration as name (a server or the witness) reads it: the same
// cluster everywhere, with the server's own directories and mount point.
func (l *lab) config(name, dev string) string {
	return fmt.Sprintf(`# The clplab cluster, as %[1]s reads it (test/netlab/cmd/clplab writes it; man clpd).
[cluster]
name = %[2]q

# The store runs on the servers (an etcd member in each clpd) and on the witness, clpd --witness
# on the store host: two votes of three survive the loss of either server.
[witness]
name = %[3]q
address = %[4]q

[tls]
dir = %[5]q

[paths]
data_dir = "data"
log_dir = "log"
run_dir = "run"
cgroup = %[6]q

[[server]]
name = "server1"
address = %[7]q

[[server]]
name = "server2"
address = %[8]q

[[group]]
name = %[9]q
servers = ["server1", "server2"]

[[group.resource]]
name = "fip1"
type = "fip"
address = "%[10]s/24"
interface = "eth0"

# One loop device, which both servers see as two machines see a shared disk. The namespaces
# share one mount namespace, so each server has its own mount point.
[[group.resource]]
name = "disk1"
type = "disk"
device = %[11]q
mount_point = %[12]q
fstype = "ext4"

[[group.resource]]
name = "web"
type = "exec"
start = %[13]q
stop = %[14]q
start_mode = "async"
depends = ["fip1", "disk1"]

# web's process ends: restart it once on this server, then fail the group over.
[[monitor]]
name = "webw"
type = "pid"
target = "web"
recovery_target = "web"
restart_threshold = 1
failover_threshold = 1
final_action = "stop-group"
`, name, clusterName, witnessName, hostAddr("store"), l.path("pki"), cgroupRoot+"/"+name,
		hostAddr("server1"), hostAddr("server2"), group, vip, dev, l.path(name, "mnt"),
		l.path("scripts", "web", "start.sh"), l.path("scripts", "web", "stop.sh"))
}

// start starts clpd with args in the host's network namespace, in a session of its own, its
// output in DIR/<name>.log and its pid in DIR/<name>.pid. nsenter --net, not ip netns exec: clpd
// must see the machine's mounts, the cgroup v2 mount among them. nsenter execs clpd, so the pid
// is clpd's.
func (l *lab) start(name, host string, args ...string) error {
	nsenter, err := lookPath("nsenter")
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(l.logFile(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(nsenter, append([]string{"--net=" + filepath.Join(netnsDir, nsOf(host)), "--",
		filepath.Join(l.bin, "clpd")}, args...)...)
	cmd.Env = cleanEnv(l.bin) // the scripts find clpgrp, clplogcmd and the others
	cmd.Dir = l.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting clpd for %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	if err := os.WriteFile(l.pidFile(name), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return err
	}
	// Reap it should it exit while up still runs; after that, it is the machine's.
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// Until nsenter has entered the namespace and exec'd clpd, the process is named nsenter.
	for end := time.Now().Add(10 * time.Second); !daemonAlive(pid, "clpd"); {
		select {
		case <-exited:
			return fmt.Errorf("clpd of %s exited at once; the end of %s:\n%s", name, l.logFile(name), tail(l.logFile(name), 15))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(end) {
			return fmt.Errorf("nsenter did not start clpd of %s within 10 s", name)
		}
	}
	return nil
}

// waitReady waits until both servers answer and are Online, the group is Online on one of them
// with every resource, and the service answers the client through the floating address.
func (l *lab) waitReady(ctx context.Context, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	why := "starting"
	for {
		for _, name := range append([]string{witnessName}, servers...) {
			if pid := readPid(l.pidFile(name)); pid == 0 || !daemonAlive(pid, "clpd") {
				return "", fmt.Errorf("clpd of %s exited; the end of %s:\n%s", name, l.logFile(name), tail(l.logFile(name), 15))
			}
		}
		owner, w := l.ready(ctx)
		if owner != "" {
			return owner, nil
		}
		why = w
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			var b strings.Builder
			for _, s := range servers {
				fmt.Fprintf(&b, "\n--- the end of %s:\n%s\n--- the end of %s:\n%s", l.logFile(s), tail(l.logFile(s), 10),
					l.path(s, "log", "alert.log"), tail(l.path(s, "log", "alert.log"), 10))
			}
			return "", fmt.Errorf("the cluster was not ready within %s (%s)%s", d, why, b.String())
		}
	}
}

// ready returns the owner once the cluster is steady, or "" and what is missing.
func (l *lab) ready(ctx context.Context) (string, string) {
	owner := ""
	for _, s := range servers {
		st, err := l.status(ctx, s)
		if err != nil {
			return "", s + " does not answer clpstat"
		}
		for _, o := range servers {
			if !st.serverOnline(o) {
				return "", s + " does not see " + o + " Online"
			}
		}
		o := st.owner()
		if o == "" || (owner != "" && o != owner) {
			return "", s + " does not see failover1 Online"
		}
		if o == s && !st.resourcesOnline() {
			return "", "the resources of failover1 are not all Online on " + s
		}
		owner = o
	}
	if _, err := l.fetch(ctx, "/healthz"); err != nil {
		return "", "the client gets no answer from http://" + vip + ":" + webPort + "/"
	}
	return owner, ""
}

// fetch gets a path of the web service from the client host.
func (l *lab) fetch(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return run(ctx, "nsenter", "--net="+filepath.Join(netnsDir, nsOf("client")), "--",
		l.self(), "get", "http://"+vip+":"+webPort+path)
}

// display shows a path relative to the working directory when it is below it.
func display(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// command is how the user names one of the clpkit commands.
func (l *lab) command(name string) string { return display(filepath.Join(l.bin, name)) }

// makeCommand is how the user runs a subcommand: make lab-<x> for the Makefile's lab in .lab,
// else clplab itself.
func (l *lab) makeCommand(sub string) string {
	wd, _ := os.Getwd()
	if _, err := os.Stat(filepath.Join(wd, "Makefile")); err == nil && l.dir == filepath.Join(wd, ".lab") {
		return "make lab-" + map[string]string{"cut": "cut", "mend": "mend", "down": "stop"}[sub]
	}
	return display(filepath.Join(l.bin, "clplab")) + " " + sub + " " + display(l.dir)
}

// instructions is what up prints once the cluster is ready.
func (l *lab) instructions(owner string) string {
	other := servers[0]
	if owner == other {
		other = servers[1]
	}
	var b strings.Builder
	line := func(cmd, comment string) {
		if comment == "" {
			fmt.Fprintf(&b, "  %s\n", cmd)
			return
		}
		fmt.Fprintf(&b, "  %-34s # %s\n", cmd, comment)
	}
	fmt.Fprintf(&b, "\nThe lab is up: failover1 (address %s, shared disk %s, web) is Online on %s.\n",
		vip, display(l.path(owner, "mnt")), owner)
	fmt.Fprintf(&b, "Hosts: witness 10.77.0.10 (clplab-store), server1 10.77.0.11, server2 10.77.0.12, client 10.77.0.13\n\n")
	b.WriteString("Try, as root, from this directory:\n")
	line("export CLPKIT_SOCKET="+l.socket(owner), "")
	line(l.command("clpstat"), "the cluster as "+owner+" sees it")
	line(l.command("clpstat")+" -h "+other, "as "+other+" sees it")
	line(l.command("clpgrp")+" -m failover1", "move the group to "+other)
	line("kill $(cat "+display(l.path("web.pid"))+")", "web ends: the pid monitor restarts it; again: failover")
	b.WriteString("In a second terminal, the service as the client sees it (the counter is on the shared disk):\n")
	line("while :; do ip netns exec clplab-client curl -s -m 1 http://"+vip+":"+webPort+"/ || echo no answer; sleep 0.5; done", "")
	b.WriteString("Then:\n")
	line(l.makeCommand("cut"), "pull the active server's cable: the other takes over")
	line(l.makeCommand("mend"), "plug it back in")
	line(l.makeCommand("down"), "stop everything, remove the namespaces, the disk and "+display(l.dir))
	fmt.Fprintf(&b, "Logs: %s (clpd), %s (events)\n", display(l.logFile("<server>")), display(l.path("<server>", "log", "alert.log")))
	return b.String()
}
