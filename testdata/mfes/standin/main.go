// Command standin is the stand-in for a Micro Focus Enterprise Server region (or its directory
// server) in clpkit's tests and benchmarks: a small real service that listens on a loopback port,
// can be slow to start, can ignore SIGTERM, and can leave child processes behind, so that casstart,
// casstop, mfds and mdump are exercised against real processes through their command backend.
//
//	standin -listen 127.0.0.1:9003 -pidfile /run/esserv1.pid -tag ESSERV1 -daemon
//
// Every connection it accepts is answered with "ready\n" and appended to -log as one line, so a
// test can count how often a monitor probed it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "standin:", err)
		os.Exit(1)
	}
}

type options struct {
	listen     string
	delay      time.Duration
	pidfile    string
	log        string
	ignoreTerm bool
	children   int
	child      bool
	daemon     bool
	crashAfter time.Duration
}

func run(args []string) error {
	var o options
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "", "TCP address to listen on (none: never listens)")
	fs.DurationVar(&o.delay, "delay", 0, "wait this long before listening")
	fs.StringVar(&o.pidfile, "pidfile", "", "write the pid here at start")
	fs.StringVar(&o.log, "log", "", "append one line per accepted connection")
	fs.BoolVar(&o.ignoreTerm, "ignore-term", false, "ignore SIGTERM, SIGINT and SIGHUP")
	fs.IntVar(&o.children, "children", 0, "start this many child processes that only sleep")
	fs.BoolVar(&o.child, "child", false, "be one of those children")
	fs.BoolVar(&o.daemon, "daemon", false, "detach into a new session and return at once")
	fs.DurationVar(&o.crashAfter, "crash-after", 0, "exit with status 1 after this long")
	fs.String("tag", "", "ignored: makes the command line unique for a test's process pattern")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.daemon {
		return detach(args)
	}
	if o.ignoreTerm {
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	}
	if o.child {
		select {}
	}
	return serve(o, args)
}

// detach starts the same command line without -daemon in its own session, with stdio on
// /dev/null, and returns without waiting: like an init script, the caller learns nothing about
// readiness, which is what casstart must find out by itself.
func detach(args []string) error {
	var rest []string
	for _, a := range args {
		if a != "-daemon" && a != "--daemon" {
			rest = append(rest, a)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, rest...)
	cmd.Args[0] = os.Args[0] // keep the name it was started by (mfds32, casmgr, ...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	return cmd.Process.Release()
}

func serve(o options, args []string) error {
	if o.pidfile != "" {
		if err := os.WriteFile(o.pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return err
		}
	}
	var kids []*exec.Cmd
	for i := 0; i < o.children; i++ {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		// The children keep the parent's arguments (its -tag above all), so the region's process
		// pattern finds them too, as it finds a real region's cassi/cascd/casmgr processes.
		cmd := exec.Command(self, append([]string{"-child"}, stripValue(args, "children")...)...)
		cmd.Args[0] = os.Args[0]
		if err := cmd.Start(); err != nil {
			return err
		}
		kids = append(kids, cmd)
	}
	term := make(chan os.Signal, 1)
	if !o.ignoreTerm {
		signal.Notify(term, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	}
	var crash <-chan time.Time
	if o.crashAfter > 0 {
		crash = time.After(o.crashAfter)
	}
	if o.listen != "" {
		select {
		case <-time.After(o.delay):
		case <-term:
			return shutdown(o, kids)
		}
		l, err := net.Listen("tcp", o.listen)
		if err != nil {
			return err
		}
		go accept(l, o.log)
	}
	select {
	case <-term:
		return shutdown(o, kids)
	case <-crash:
		os.Exit(1)
	}
	return nil
}

func shutdown(o options, kids []*exec.Cmd) error {
	for _, k := range kids {
		_ = k.Process.Signal(syscall.SIGTERM)
		_ = k.Wait()
	}
	if o.pidfile != "" {
		if err := os.Remove(o.pidfile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func accept(l net.Listener, log string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		if log != "" {
			if f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
				_, _ = f.WriteString("accept\n")
				_ = f.Close()
			}
		}
		_, _ = c.Write([]byte("ready\n"))
		_ = c.Close()
	}
}

// stripValue removes -name and its value (or -name=value) from args.
func stripValue(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "-" + name, "--" + name:
			i++
			continue
		}
		if strings.HasPrefix(a, "-"+name+"=") || strings.HasPrefix(a, "--"+name+"=") {
			continue
		}
		out = append(out, a)
	}
	return out
}
