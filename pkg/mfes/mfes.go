// Package mfes drives Micro Focus Enterprise Server for clpkit's casstart, casstop, mfds and
// mdump: it starts the directory server (mfds) and regions and waits until they really answer,
// stops them and makes sure nothing of them is left running, and reports a region's state in the
// form the seed's monitor script reads.
//
// Each service (the directory server, or one region) has a backend:
//
//   - the product itself, when an Enterprise Server is installed ($COBDIR, or cobdir in the
//     configuration) and the configuration gives the service no other backend: its own
//     casstart, casstop, mfds and mdump run, and the outcome is checked afterwards;
//   - a systemd unit, driven over D-Bus;
//   - start, stop, force_stop and status shell commands.
//
// Whatever the backend, "up" means the same thing: the service's processes run and its address
// (a region's listener, the directory server's port) accepts TCP connections. "Gone" means no
// process of it runs. Nothing here sleeps for a fixed time: every wait polls, with a deadline.
//
// The configuration is a TOML file, /etc/clpkit/mfes.toml unless $CLPKIT_MFES_CONFIG or the
// commands' --config name another; see Load and man/casstart.8.
package mfes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"clpkit/pkg/alert"
)

// AlertModule is the module name of the alert log records these commands write.
const AlertModule = "mfes"

// Alert log event IDs.
const (
	EventRegionStarted   = 1
	EventRegionFailed    = 2
	EventRegionStopped   = 3
	EventRegionForced    = 4
	EventRegionKilled    = 5
	EventRegionStopError = 6
	EventMFDSStarted     = 7
	EventMFDSFailed      = 8
	EventMFDSStopped     = 9
	EventMFDSStopError   = 10
	EventMFDSForced      = 11
	EventMFDSKilled      = 12
)

// killWait is how long the processes killed with SIGKILL may take to disappear.
const killWait = 5 * time.Second

// Manager carries out the commands' operations. Every field is set by the command; nothing is
// global, so tests may run several side by side.
type Manager struct {
	Config *Config
	// Environ is the environment backend commands start from (os.Environ()).
	Environ []string
	// Notices receives one line for every step an operator should know about (a forced stop,
	// killed processes, an option only the product knows): the command's stderr.
	Notices io.Writer
	// Alert records events in the alert log; nil records nothing.
	Alert *alert.Logger
	// ProcRoot is where processes are read ("/proc").
	ProcRoot string
	// Self is the calling process: it and its ancestors are never taken for the service's.
	Self int
	// Program is the command's name, for notices and logs.
	Program string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) notice(format string, a ...any) {
	if m.Notices != nil {
		fmt.Fprintf(m.Notices, m.Program+": "+format+"\n", a...)
	}
}

func (m *Manager) alert(ctx context.Context, id int, level alert.Level, format string, a ...any) {
	if m.Alert == nil {
		return
	}
	// The alert log is a courtesy to the operator: failing to write it must not turn a region
	// that started into a failed casstart, so the error is dropped.
	_ = m.Alert.Log(context.WithoutCancel(ctx), AlertModule, id, level, fmt.Sprintf(format, a...))
}

// Region returns the service of the region name (compared in upper case).
func (m *Manager) Region(name string) (*Service, error) {
	if s, ok := m.Config.Regions[strings.ToUpper(name)]; ok {
		c := *s
		if c.Kind == KindES {
			if !m.esInstalled() {
				return nil, &ConfigError{File: m.Config.File, Line: s.Line, Msg: fmt.Sprintf("region %s has neither start/stop commands nor a unit, and no Enterprise Server is installed to delegate to (%s)", s.Name, m.cobdirStory())}
			}
			if c.Processes == nil {
				c.Processes = esRegionProcesses(c.Name)
			}
		}
		return &c, nil
	}
	if m.esInstalled() {
		return &Service{Name: name, Kind: KindES, Processes: esRegionProcesses(name), ListenerName: DefaultListenerName, Timeouts: m.Config.Timeouts}, nil
	}
	return nil, &ConfigError{Msg: fmt.Sprintf("region %s is not configured: %s, and no Enterprise Server is installed (%s)", name, m.fileStory("[region."+name+"]"), m.cobdirStory())}
}

// MFDS returns the directory server's service, or nil when there is none to manage: no [mfds]
// table and no Enterprise Server.
func (m *Manager) MFDS() (*Service, error) {
	if s := m.Config.MFDS; s != nil {
		c := *s
		if c.Kind == KindES {
			if !m.esInstalled() {
				return nil, &ConfigError{File: m.Config.File, Line: s.Line, Msg: fmt.Sprintf("[mfds] has neither start/stop commands nor a unit, and no Enterprise Server is installed to delegate to (%s)", m.cobdirStory())}
			}
			if c.Processes == nil {
				c.Processes = esMFDSProcesses()
			}
		}
		return &c, nil
	}
	if m.esInstalled() {
		return &Service{Name: "mfds", Directory: true, Kind: KindES, Address: DefaultMFDSAddress, Processes: esMFDSProcesses(), Timeouts: m.Config.Timeouts}, nil
	}
	return nil, nil
}

func (m *Manager) fileStory(table string) string {
	if m.Config.File == "" {
		return "there is no configuration file (" + DefaultConfig + ", or set " + EnvConfig + ")"
	}
	return m.Config.File + " has no " + table
}

func (m *Manager) cobdirStory() string {
	if m.Config.COBDir == "" {
		return "COBDIR is not set"
	}
	return m.Config.COBDir + "/bin/casstart does not exist"
}

func (m *Manager) backend(svc *Service) backend {
	switch svc.Kind {
	case KindSystemd:
		return systemdBackend{m, svc}
	case KindES:
		if svc.Directory {
			return esMFDS{m, svc}
		}
		return esRegion{m, svc}
	}
	return commandBackend{m, svc}
}

// lock takes the service's lock file in the state folder, so that a casstart and a casstop (or
// the seed's `mfds &` and casstart's own check) never drive one service at the same time. It
// waits, polling, until ctx ends.
func (m *Manager) lock(ctx context.Context, svc *Service) (func(), error) {
	if err := os.MkdirAll(m.Config.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the state folder: %w", err)
	}
	name := "region." + strings.ToUpper(svc.Name) + ".lock"
	if svc.Directory {
		name = "mfds.lock"
	}
	path := filepath.Join(m.Config.StateDir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("another casstart, casstop or mfds still works on %s (lock %s)", svc.Name, path)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// probe reports whether address accepts a TCP connection now.
func probe(ctx context.Context, address string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	return c.Close()
}

// up reports whether svc is up: a region's processes run and its listener accepts connections;
// the directory server accepts connections on its address.
func (m *Manager) up(ctx context.Context, svc *Service, b backend) (bool, string) {
	if !svc.Directory {
		run, why, err := b.running(ctx)
		if err != nil {
			return false, err.Error()
		}
		if !run {
			return false, why
		}
	}
	if svc.Address != "" {
		if err := probe(ctx, svc.Address); err != nil {
			if svc.Directory {
				return false, fmt.Sprintf("nothing answers on %s", svc.Address)
			}
			return false, fmt.Sprintf("it runs, but its %q listener %s does not accept connections", svc.ListenerName, svc.Address)
		}
		return true, ""
	}
	if es, ok := b.(esRegion); ok && !es.listenerStarted(ctx) {
		return false, fmt.Sprintf("it runs, but mdump does not show its %q listener Started", svc.ListenerName)
	}
	return true, ""
}

// gone reports whether nothing of svc runs: its backend says it does not run, no process of it
// is left (tr keeps in view the processes seen before that are still exiting, whose sockets may
// still accept connections), and (the directory server) nothing answers on its address.
func (m *Manager) gone(ctx context.Context, svc *Service, b backend, tr *tracker) (bool, string) {
	// The processes first, whatever the backend says: tr must see them while they still show
	// their command lines.
	left, err := m.remaining(svc, tr)
	if err != nil {
		return false, err.Error()
	}
	run, why, err := b.running(ctx)
	if err != nil {
		return false, err.Error()
	}
	if run {
		return false, why
	}
	if len(left) > 0 {
		return false, processes(left) + " still " + verb(left, "runs", "run")
	}
	if svc.Directory && probe(ctx, svc.Address) == nil {
		return false, "something still answers on " + svc.Address
	}
	return true, ""
}

// Polling. A check of processes (a scan of /proc, a status command, a D-Bus call, mdump) costs
// milliseconds of CPU, a connection attempt to a port on this server some microseconds. poll
// runs the costly checks first every 10 ms, then less often up to every 200 ms, so that a
// service that takes a minute costs a few hundred of them; waitUp adds the cheap one, a probe of
// the address every few milliseconds, and runs the costly check as soon as the address starts
// accepting connections: a region that starts listening after two seconds is seen up within
// some 20 ms of it, not up to 200 ms later.
const (
	pollFirst  = 10 * time.Millisecond
	pollMax    = 200 * time.Millisecond
	probeFirst = 2 * time.Millisecond
	probeMax   = 16 * time.Millisecond
)

// poll calls check until it reports true or ctx ends, at the intervals described above. It
// returns the last reason check gave.
func poll(ctx context.Context, check func() (bool, string)) (bool, string) {
	interval := pollFirst
	for {
		ok, why := check()
		if ok {
			return true, ""
		}
		select {
		case <-ctx.Done():
			return false, why
		case <-time.After(interval):
		}
		interval = min(interval*2, pollMax)
	}
}

// waitUp waits until svc is up (see up) or ctx ends, and returns the last reason it was not.
// Without an address to probe it is poll of up.
func (m *Manager) waitUp(ctx context.Context, svc *Service, b backend) (bool, string) {
	check := func() (bool, string) { return m.up(ctx, svc, b) }
	if svc.Address == "" {
		return poll(ctx, check)
	}
	var (
		why       string
		next      time.Time // when the costly check is due
		interval  = pollFirst
		probeGap  = probeFirst
		accepting bool
	)
	for {
		was := accepting
		accepting = probe(ctx, svc.Address) == nil
		// The costly check runs on its own schedule, and at once when the address starts
		// accepting connections (not again while it only goes on accepting: a port another
		// program holds must not turn the wait into a busy loop).
		if (accepting && !was) || !time.Now().Before(next) {
			ok, w := check()
			if ok {
				return true, ""
			}
			why = w
			next = time.Now().Add(interval)
			interval = min(interval*2, pollMax)
		}
		select {
		case <-ctx.Done():
			return false, why
		case <-time.After(probeGap):
		}
		probeGap = min(probeGap*2, probeMax)
	}
}

// StartOptions are casstart's.
type StartOptions struct {
	// Wait is /w: how long casstart may take; 0 means the region's start timeout.
	Wait      time.Duration
	StartType string
	Creds     Credentials
	// Pass holds options only the product's casstart knows.
	Pass []string
}

// StartRegion makes sure the directory server is up, starts the region unless it runs, and
// returns nil once the region is up (see up), within o.Wait.
func (m *Manager) StartRegion(ctx context.Context, name string, o StartOptions) error {
	svc, err := m.Region(name)
	if err != nil {
		return err
	}
	wait := o.Wait
	if wait <= 0 {
		wait = svc.Timeouts.Start
	}
	if len(o.Pass) > 0 && svc.Kind != KindES {
		m.notice("ignored %s: options only Micro Focus's own casstart knows (region %s has the %s backend)", strings.Join(RedactPass(o.Pass), " "), svc.Name, svc.Kind)
	}
	err = m.startRegion(ctx, svc, wait, o)
	if err != nil {
		m.alert(ctx, EventRegionFailed, alert.Error, "Starting region %s has failed. (%v)", svc.Name, err)
		return err
	}
	return nil
}

func (m *Manager) startRegion(ctx context.Context, svc *Service, wait time.Duration, o StartOptions) error {
	began := m.now()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	unlock, err := m.lock(ctx, svc)
	if err != nil {
		return fmt.Errorf("region %s was not started within %s: %w", svc.Name, wait, err)
	}
	defer unlock()
	if err := m.ensureMFDS(ctx, nil); err != nil {
		return fmt.Errorf("region %s was not started: %w", svc.Name, err)
	}
	b := m.backend(svc)
	if ok, _ := m.up(ctx, svc, b); ok {
		return nil
	}
	// A region that runs but does not listen yet is still starting (a casstart before ours
	// timed out, or it was started by hand): starting it again would not help.
	if run, _, err := b.running(ctx); err != nil {
		return fmt.Errorf("region %s: %w", svc.Name, err)
	} else if !run {
		dl, _ := ctx.Deadline()
		r := request{creds: o.Creds, startType: o.StartType, pass: o.Pass, wait: time.Until(dl)}
		if err := b.start(ctx, r); err != nil {
			return fmt.Errorf("region %s was not started: %w", svc.Name, err)
		}
	}
	if ok, why := m.waitUp(ctx, svc, b); !ok {
		if why == "" {
			why = "it did not answer"
		}
		return fmt.Errorf("region %s did not start within %s: %s", svc.Name, wait, why)
	}
	m.alert(ctx, EventRegionStarted, alert.Info, "Region %s has started in %s.", svc.Name, m.now().Sub(began).Round(time.Millisecond))
	return nil
}

// ensureMFDS starts the directory server unless it answers, and waits until it does. pass is
// what the product's mfds gets.
func (m *Manager) ensureMFDS(ctx context.Context, pass []string) error {
	svc, err := m.MFDS()
	if err != nil || svc == nil {
		return err
	}
	b := m.backend(svc)
	if ok, _ := m.up(ctx, svc, b); ok {
		return nil
	}
	unlock, err := m.lock(ctx, svc)
	if err != nil {
		return fmt.Errorf("the directory server (mfds) is not up: %w", err)
	}
	defer unlock()
	// Someone else may have started it while we waited for the lock.
	if ok, _ := m.up(ctx, svc, b); ok {
		return nil
	}
	began := m.now()
	run, _, err := b.running(ctx)
	if err != nil {
		return fmt.Errorf("the directory server (mfds): %w", err)
	}
	if !run {
		if err := b.start(ctx, request{pass: pass}); err != nil {
			m.alert(ctx, EventMFDSFailed, alert.Error, "Starting mfds has failed. (%v)", err)
			return fmt.Errorf("the directory server (mfds) was not started: %w", err)
		}
	}
	if ok, why := m.waitUp(ctx, svc, b); !ok {
		err := fmt.Errorf("the directory server (mfds) did not answer in time: %s", why)
		m.alert(ctx, EventMFDSFailed, alert.Error, "Starting mfds has failed. (%v)", err)
		return err
	}
	m.alert(ctx, EventMFDSStarted, alert.Info, "mfds has started in %s.", m.now().Sub(began).Round(time.Millisecond))
	return nil
}

// StartMFDS is the mfds command: the directory server is up when it returns nil.
func (m *Manager) StartMFDS(ctx context.Context, pass []string) error {
	svc, err := m.MFDS()
	if err != nil {
		return err
	}
	if svc == nil {
		return &ConfigError{Msg: fmt.Sprintf("no directory server is configured: %s, and no Enterprise Server is installed (%s)", m.fileStory("[mfds]"), m.cobdirStory())}
	}
	if len(pass) > 0 && svc.Kind != KindES {
		m.notice("ignored %s: options only Micro Focus's own mfds knows (the directory server has the %s backend)", strings.Join(RedactPass(pass), " "), svc.Kind)
		pass = nil
	}
	ctx, cancel := context.WithTimeout(ctx, svc.Timeouts.Start)
	defer cancel()
	return m.ensureMFDS(ctx, pass)
}

// StopOptions are casstop's (and mfds -s's).
type StopOptions struct {
	// Wait is /w: how long the stop may take before casstop forces it; 0 means the service's
	// stop timeout.
	Wait time.Duration
	// Force is /f: force at once.
	Force bool
	// Immediate is /i; the product's casstop knows it, other backends treat it as /f.
	Immediate bool
	Creds     Credentials
	Pass      []string
	// Mode is mfds -s's.
	Mode string
}

// StopRegion stops the region and returns nil once nothing of it runs: the stop, then (after
// o.Wait) the forced stop, then (after the force timeout) SIGKILL to every process of it.
func (m *Manager) StopRegion(ctx context.Context, name string, o StopOptions) error {
	svc, err := m.Region(name)
	if err != nil {
		return err
	}
	if len(o.Pass) > 0 && svc.Kind != KindES {
		m.notice("ignored %s: options only Micro Focus's own casstop knows (region %s has the %s backend)", strings.Join(RedactPass(o.Pass), " "), svc.Name, svc.Kind)
	}
	if o.Immediate && svc.Kind != KindES {
		o.Force = true
	}
	return m.stop(ctx, svc, "region "+svc.Name, o, stopEvents{EventRegionStopped, EventRegionForced, EventRegionKilled, EventRegionStopError})
}

// StopMFDS is `mfds -s mode`: mode 2 stops the running regions first, then the directory server;
// mode 1 only the directory server.
func (m *Manager) StopMFDS(ctx context.Context, o StopOptions) error {
	svc, err := m.MFDS()
	if err != nil {
		return err
	}
	if svc == nil {
		return &ConfigError{Msg: fmt.Sprintf("no directory server is configured: %s, and no Enterprise Server is installed (%s)", m.fileStory("[mfds]"), m.cobdirStory())}
	}
	if len(o.Pass) > 0 && svc.Kind != KindES {
		m.notice("ignored %s: options only Micro Focus's own mfds knows (the directory server has the %s backend)", strings.Join(RedactPass(o.Pass), " "), svc.Kind)
	}
	// The product's mfds -s 2 stops its regions itself; for the other backends that is ours.
	if o.Mode == "2" && svc.Kind != KindES {
		names := make([]string, 0, len(m.Config.Regions))
		for n := range m.Config.Regions {
			names = append(names, n)
		}
		sort.Strings(names)
		var errs []error
		for _, n := range names {
			ro := StopOptions{Creds: o.Creds}
			if err := m.StopRegion(ctx, n, ro); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return m.stop(ctx, svc, "the directory server (mfds)", o, stopEvents{EventMFDSStopped, EventMFDSForced, EventMFDSKilled, EventMFDSStopError})
}

// stopEvents are the alert IDs of one kind of service's stop.
type stopEvents struct{ stopped, forced, killed, failed int }

// stop is casstop's escalation for any service.
func (m *Manager) stop(ctx context.Context, svc *Service, what string, o StopOptions, ev stopEvents) error {
	wait := o.Wait
	if wait <= 0 {
		wait = svc.Timeouts.Stop
	}
	// The lock waits as long as the whole stop may take: a casstart still waiting for the
	// region holds it that long at most.
	lctx, lcancel := context.WithTimeout(ctx, wait+svc.Timeouts.Force+killWait)
	defer lcancel()
	unlock, err := m.lock(lctx, svc)
	if err != nil {
		m.alert(ctx, ev.failed, alert.Error, "Stopping %s has failed. (%v)", what, err)
		return fmt.Errorf("%s was not stopped: %w", what, err)
	}
	defer unlock()
	b := m.backend(svc)
	// From here on, a process seen as the service's counts until it has exited for good.
	tr := newTracker()
	if ok, _ := m.gone(ctx, svc, b, tr); ok {
		return nil
	}
	r := request{creds: o.Creds, pass: o.Pass, wait: wait, immediate: o.Immediate, mode: o.Mode}
	waitGone := func(ctx context.Context) (bool, string) {
		return poll(ctx, func() (bool, string) { return m.gone(ctx, svc, b, tr) })
	}
	// limit bounds a stop request and the wait for its effect together (/w for the first).
	attempt := func(limit time.Duration, stop func(context.Context, request) error, how string) (bool, string) {
		actx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		if err := stop(actx, r); err != nil {
			m.notice("%s: %s%v", what, how, err)
		}
		return waitGone(actx)
	}
	stopped := func() error {
		m.alert(ctx, ev.stopped, alert.Info, "Stopping %s has completed.", what)
		return nil
	}
	if !o.Force {
		ok, why := attempt(wait, b.stop, "")
		if ok {
			return stopped()
		}
		m.notice("%s did not stop within %s (%s): forcing it to stop", what, wait, why)
		m.alert(ctx, ev.forced, alert.Warning, "%s did not stop within %s (%s); forcing it to stop.", capital(what), wait, why)
	}
	if ok, _ := attempt(svc.Timeouts.Force, b.forceStop, "forced stop: "); ok {
		return stopped()
	}
	if _, ok := b.(systemdBackend); ok {
		// The unit's cgroup holds processes the pattern may not know.
		if err := b.forceStop(ctx, r); err != nil {
			m.notice("%s: %v", what, err)
		}
	}
	left, err := m.remaining(svc, tr)
	if err != nil {
		return fmt.Errorf("%s was not stopped: %w", what, err)
	}
	if len(left) > 0 {
		m.notice("%s is still running after the forced stop: killing %s", what, processes(left))
		m.alert(ctx, ev.killed, alert.Warning, "Killed %s of %s, which still ran after the forced stop.", processes(left), what)
		if err := m.signalEach(left, syscall.SIGKILL); err != nil {
			m.notice("%s: %v", what, err)
		}
	}
	kctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	if ok, why := waitGone(kctx); !ok {
		err := fmt.Errorf("%s is still running: %s", what, why)
		m.alert(ctx, ev.failed, alert.Error, "Stopping %s has failed. (%v)", what, err)
		return err
	}
	return stopped()
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Status is mdump for the command and systemd backends: the region's state, from its backend,
// with SERVER_DOWN when it does not run or the directory server does not answer. why says, for
// a region that is down, what was seen.
func (m *Manager) Status(ctx context.Context, svc *Service) (Dump, string) {
	d := Dump{Region: svc.Name, ListenerName: svc.ListenerName, Address: svc.Address}
	if ds, err := m.MFDS(); err != nil {
		d.Down = true
		return d, err.Error()
	} else if ds != nil {
		if err := probe(ctx, ds.Address); err != nil {
			d.Down = true
			return d, fmt.Sprintf("the directory server (mfds) does not answer on %s", ds.Address)
		}
	}
	run, why, err := m.backend(svc).running(ctx)
	if err != nil {
		d.Down = true
		return d, err.Error()
	}
	if !run {
		d.Down = true
		return d, fmt.Sprintf("region %s does not run: %s", svc.Name, why)
	}
	d.ListenerStarted = probe(ctx, svc.Address) == nil
	return d, ""
}

// IsLocal reports whether host names this server, as mdump's host must for the command and
// systemd backends (their regions are this server's). hostname is os.Hostname.
func IsLocal(ctx context.Context, host string, hostname func() (string, error)) bool {
	switch strings.ToLower(host) {
	case "", "localhost", "localhost.localdomain", "127.0.0.1", "::1":
		return true
	}
	if h, err := hostname(); err == nil {
		short, _, _ := strings.Cut(h, ".")
		if strings.EqualFold(host, h) || strings.EqualFold(host, short) {
			return true
		}
	}
	ips := []net.IP{net.ParseIP(host)}
	if ips[0] == nil {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return false
		}
		ips = ips[:0]
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	local, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if ip.IsLoopback() {
			return true
		}
		for _, a := range local {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return true
			}
		}
	}
	return false
}

// Close releases what the Manager holds (the alert log's syslog connection).
func (m *Manager) Close() error {
	if m.Alert == nil {
		return nil
	}
	return m.Alert.Close()
}

// ExitStatus is the exit status the commands give for err: 0 for nil, 3 for a configuration
// problem (*ConfigError), 1 for anything else (the service did not start or stop).
func ExitStatus(err error) int {
	var ce *ConfigError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ce):
		return 3
	}
	return 1
}

// Open loads the configuration (see ConfigPath) and returns the Manager of the command program,
// which writes its notices to notices. env is os.Getenv in production.
func Open(configFlag string, env func(string) string, notices io.Writer, program string) (*Manager, error) {
	path, explicit := ConfigPath(configFlag, env)
	cfg, err := Load(path, explicit, env("COBDIR"))
	if err != nil {
		return nil, err
	}
	return &Manager{
		Config:   cfg,
		Environ:  os.Environ(),
		Notices:  notices,
		Alert:    NewAlertLogger(env),
		ProcRoot: "/proc",
		Self:     os.Getpid(),
		Program:  program,
	}, nil
}

// NewAlertLogger returns the logger the commands record events with: the alert log file and
// syslog when the alert log exists (or $CLPKIT_ALERT_LOG names one), else syslog alone when this
// machine has one, else nil. These tools also run where clpd never did, and must not create
// /var/log/clpkit there.
func NewAlertLogger(env func(string) string) *alert.Logger {
	server, err := alert.ServerName(env, os.Hostname)
	if err != nil {
		server = "-"
	}
	path := alert.Path(env)
	if _, err := os.Stat(path); err == nil || env(alert.EnvPath) != "" {
		return alert.NewStandard(path, server, nil)
	}
	if s, err := alert.DialSyslog("", ""); err == nil {
		return alert.NewLogger(server, nil, s)
	}
	return nil
}
