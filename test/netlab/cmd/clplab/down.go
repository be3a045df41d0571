package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/cgroup"
	"clpkit/pkg/procwatch"
)

// down stops and removes everything up made, whatever up got to: it is idempotent, and every
// step runs even when an earlier one failed. w gets one line per step taken.
func down(dir string, w io.Writer) error {
	l, err := openLab(dir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	say := func(format string, args ...any) { fmt.Fprintf(w, "clplab: "+format+"\n", args...) }
	var errs []error
	did := false

	// Cables in first: a server that can reach the store stops cleanly.
	if nsExists(switchNS) {
		for _, h := range hosts {
			if up, err := cableUp(ctx, h.name); err == nil && !up {
				_ = setCable(ctx, h.name, true)
			}
		}
	}
	live := map[string]int{}
	for _, name := range append([]string{witnessName}, servers...) {
		if pid := readPid(l.pidFile(name)); pid != 0 && daemonAlive(pid, "clpd") {
			live[name] = pid
		}
	}
	if len(live) > 0 {
		did = true
	}
	// The group is stopped first, so that it does not move from one stopping server to the
	// other.
	if owner := l.findOwner(ctx); owner != "" && live[owner] != 0 {
		say("stopping group failover1 on %s", owner)
		gctx, gcancel := context.WithTimeout(ctx, 40*time.Second)
		if _, err := runIn(gctx, append(cleanEnv(), "CLPKIT_SOCKET="+l.socket(owner)), "",
			filepath.Join(l.bin, "clpgrp"), "-t", group, "--apito", "30"); err != nil {
			say("%v (clpd stops it anyway)", err)
		}
		gcancel()
	}
	var stopping []string
	for _, s := range servers {
		if live[s] != 0 {
			stopping = append(stopping, s)
		}
	}
	if err := stopDaemons(ctx, l, stopping, live, say); err != nil {
		errs = append(errs, err)
	}
	// The witness last: the servers need the store's quorum to leave the cluster.
	if live[witnessName] != 0 {
		if err := stopDaemons(ctx, l, []string{witnessName}, live, say); err != nil {
			errs = append(errs, err)
		}
	}

	// What is left in the namespaces (clpguard outlives clpd; a crashed clpd leaves its groups'
	// processes behind), and the lab's processes whose namespace is gone already.
	if n, err := killLeftovers(ctx, l); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		did = true
		say("stopped %d more processes of the lab (clpguard, web, ...)", n)
	}

	loops, err := l.loopDevices(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	mounts := l.labMounts(loops)
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i]) > len(mounts[j]) })
	for _, mp := range mounts {
		did = true
		if err := unix.Unmount(mp, 0); err != nil {
			if err2 := unix.Unmount(mp, unix.MNT_DETACH); err2 != nil {
				errs = append(errs, fmt.Errorf("unmounting %s: %w", mp, err2))
				continue
			}
			say("unmounted %s lazily (%v)", mp, err)
			continue
		}
		say("unmounted %s", mp)
	}
	for _, dev := range loops {
		did = true
		if _, err := run(ctx, "losetup", "--detach", dev); err != nil {
			errs = append(errs, err)
			continue
		}
		say("detached %s", dev)
	}

	var deleted []string
	for _, name := range allNS() {
		if !nsExists(name) {
			continue
		}
		if _, err := run(ctx, "ip", "netns", "del", name); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, name)
	}
	if len(deleted) > 0 {
		did = true
		say("deleted the namespaces %s", strings.Join(deleted, ", "))
	}

	if err := removeCgroups(ctx); err != nil {
		errs = append(errs, err)
	}

	if err := l.removeDir(); err != nil {
		errs = append(errs, err)
	} else if l.dirRemoved {
		did = true
		say("removed %s", display(l.dir))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if did {
		say("the lab is down")
	} else {
		say("no lab is up; nothing to do")
	}
	return nil
}

// stopDaemons sends SIGTERM to the named clpd and waits for them to exit (they stop their groups
// first), then SIGKILLs what is left after a minute.
func stopDaemons(ctx context.Context, l *lab, names []string, pids map[string]int, say func(string, ...any)) error {
	if len(names) == 0 {
		return nil
	}
	what := "clpd on " + strings.Join(names, " and ")
	if len(names) == 1 && names[0] == witnessName {
		what = "the witness"
	}
	say("stopping %s", what)
	for _, n := range names {
		_ = unix.Kill(pids[n], unix.SIGCONT)
		_ = unix.Kill(pids[n], unix.SIGTERM)
	}
	end := time.Now().Add(time.Minute)
	for {
		var left []string
		for _, n := range names {
			if daemonAlive(pids[n], "clpd") {
				left = append(left, n)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(end) || ctx.Err() != nil {
			for _, n := range left {
				_ = unix.Kill(pids[n], unix.SIGKILL)
			}
			say("clpd of %s did not exit within a minute of SIGTERM: killed", strings.Join(left, ", "))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range names {
		_ = os.Remove(l.pidFile(n))
	}
	return nil
}

// killLeftovers ends every process in the lab's namespaces, and every process of the lab's
// binaries that names the lab's directory: SIGTERM first (clpguard then exits without fencing),
// SIGKILL after 3 s. It returns how many there were.
func killLeftovers(ctx context.Context, l *lab) (int, error) {
	inodes := map[uint64]bool{}
	for _, name := range allNS() {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(netnsDir, name), &st); err == nil {
			inodes[st.Ino] = true
		}
	}
	first, err := signalLeftovers(l, inodes, unix.SIGTERM)
	if err != nil || first == 0 {
		return first, err
	}
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		if n, _ := signalLeftovers(l, inodes, 0); n == 0 {
			return first, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		n, err := signalLeftovers(l, inodes, unix.SIGKILL)
		if err != nil || n == 0 {
			return first, err
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return first, fmt.Errorf("%d processes of the lab survive SIGKILL", n)
		}
	}
}

// signalLeftovers sends sig (0: none) to the lab's leftover processes and returns how many it
// found. A pid file descriptor makes sure a pid reused meanwhile is never signalled. Zombies
// have no namespace and no command line, so they are not counted.
func signalLeftovers(l *lab, inodes map[uint64]bool, sig unix.Signal) (int, error) {
	spare := map[int]bool{}
	for pid := os.Getpid(); pid > 1; {
		spare[pid] = true
		pid = parentOf(pid)
	}
	exes := map[string]bool{filepath.Join(l.bin, "clpd"): true, filepath.Join(l.bin, "clpguard"): true, l.self(): true}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	n := 0
	buf := make([]byte, 64)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || spare[pid] {
			continue
		}
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		ours := false
		if k, err := unix.Readlink("/proc/"+e.Name()+"/ns/net", buf); err == nil {
			s := string(buf[:k])
			if ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(s, "net:["), "]"), 10, 64); err == nil && inodes[ino] {
				ours = true
			}
		}
		if !ours {
			exe, _ := os.Readlink("/proc/" + e.Name() + "/exe")
			if exes[exe] {
				cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
				ours = strings.Contains(string(cmdline), l.dir+"/")
			}
		}
		if ours && unix.PidfdSendSignal(fd, sig, nil, 0) == nil {
			n++
		}
		unix.Close(fd)
	}
	return n, nil
}

// parentOf returns the parent of pid, 0 when unknown.
func parentOf(pid int) int {
	st, err := procwatch.Stat("/proc", pid)
	if err != nil {
		return 0
	}
	return st.PPID
}

// removeCgroups removes the lab's cgroups (clpd removes its empty ones when it exits cleanly).
func removeCgroups(ctx context.Context) error {
	mount, err := cgroup.FindV2("/proc")
	if err != nil {
		return nil // no cgroup v2: clpd made none
	}
	c := cgroup.Cgroup{Path: filepath.Join(mount, cgroupRoot)}
	if _, err := os.Stat(c.Path); err != nil {
		return nil
	}
	if err := c.Kill(ctx); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return c.Remove(ctx)
}

// removeDir removes the lab's directory: only one that up made (it has the marker) or an empty
// one, and only once nothing is mounted below it.
func (l *lab) removeDir() error {
	entries, err := os.ReadDir(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(l.path(markerName)); err != nil && len(entries) > 0 {
		return fmt.Errorf("%s is not a lab directory (it has no %s): left as it is", l.dir, markerName)
	}
	if m := l.labMounts(nil); len(m) > 0 {
		return fmt.Errorf("%s is not removed: %s is still mounted", l.dir, strings.Join(m, ", "))
	}
	if err := os.RemoveAll(l.dir); err != nil {
		return err
	}
	l.dirRemoved = true
	return nil
}
