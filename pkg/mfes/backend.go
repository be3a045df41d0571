package mfes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Credentials are casstart's and casstop's /u, /p and /c, or the user and password operands of
// `mfds -s`. The command backend hands them to its commands in the environment, never on a
// command line (any user can read command lines with ps).
type Credentials struct {
	User, Password, Group string
}

// request is one operation on a service, with what the command line asked for.
type request struct {
	creds     Credentials
	startType string
	// wait is casstart's or casstop's /w, handed on to the product's own binaries.
	wait time.Duration
	// immediate is casstop's /i.
	immediate bool
	// pass is what the product's own binary gets unchanged (options only it knows).
	pass []string
	// mode is mfds -s's shutdown mode.
	mode string
}

// backend drives one service. Every method returns once its request is made; whether the service
// then is up or gone is what the Manager watches for, the same way for every backend.
type backend interface {
	start(ctx context.Context, r request) error
	stop(ctx context.Context, r request) error
	// forceStop is the harder stop that casstop escalates to.
	forceStop(ctx context.Context, r request) error
	// running reports whether the service's processes run; why says what was seen, for
	// messages.
	running(ctx context.Context) (bool, string, error)
}

// Environment variables the command backend's commands get.
const (
	EnvName      = "CLPKIT_MFES_NAME"
	EnvAction    = "CLPKIT_MFES_ACTION"
	EnvUser      = "CLPKIT_MFES_USER"
	EnvPassword  = "CLPKIT_MFES_PASSWORD"
	EnvGroup     = "CLPKIT_MFES_GROUP"
	EnvStartType = "CLPKIT_MFES_START_TYPE"
	EnvListener  = "CLPKIT_MFES_LISTENER"
	// envDelegated marks a process started by the Enterprise Server backend: if the product's
	// "casstart" turns out to be ours again, the second one refuses instead of looping.
	envDelegated = "CLPKIT_MFES_DELEGATED"
)

// statusLimit bounds one status command: it is asked many times while casstart waits.
const statusLimit = 10 * time.Second

// commandBackend runs the start, stop, force_stop and status commands of the configuration.
type commandBackend struct {
	m   *Manager
	svc *Service
}

func (b commandBackend) env(action string, r request) []string {
	env := b.m.childEnv()
	env = append(env, EnvName+"="+b.svc.Name, EnvAction+"="+action)
	if b.svc.Address != "" {
		env = append(env, EnvListener+"="+b.svc.Address)
	}
	for _, kv := range []struct{ k, v string }{
		{EnvUser, r.creds.User}, {EnvPassword, r.creds.Password}, {EnvGroup, r.creds.Group}, {EnvStartType, r.startType},
	} {
		if kv.v != "" {
			env = append(env, kv.k+"="+kv.v)
		}
	}
	return env
}

func (b commandBackend) start(ctx context.Context, r request) error {
	return b.m.runLogged(ctx, b.svc, "start", b.svc.Start, []string{"/bin/sh", "-c", b.svc.Start}, b.env("start", r))
}

func (b commandBackend) stop(ctx context.Context, r request) error {
	return b.m.runLogged(ctx, b.svc, "stop", b.svc.Stop, []string{"/bin/sh", "-c", b.svc.Stop}, b.env("stop", r))
}

func (b commandBackend) forceStop(ctx context.Context, r request) error {
	if b.svc.ForceStop != "" {
		return b.m.runLogged(ctx, b.svc, "force_stop", b.svc.ForceStop, []string{"/bin/sh", "-c", b.svc.ForceStop}, b.env("force_stop", r))
	}
	// Without a force_stop command the forced stop is SIGTERM to every process of the service,
	// the children the stop command may have left out included.
	return b.m.signalAll(b.svc, syscall.SIGTERM)
}

func (b commandBackend) running(ctx context.Context) (bool, string, error) {
	if b.svc.Status != "" {
		sctx, cancel := context.WithTimeout(ctx, statusLimit)
		defer cancel()
		cmd := exec.CommandContext(sctx, "/bin/sh", "-c", b.svc.Status)
		cmd.Env = b.env("status", request{})
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return true, "its status command exits 0", nil
		case errors.As(err, &ee) && sctx.Err() == nil:
			return false, fmt.Sprintf("its status command exits %d", ee.ExitCode()), nil
		case ctx.Err() != nil:
			return false, "", ctx.Err()
		default:
			return false, "", fmt.Errorf("status command: %w", err)
		}
	}
	return b.m.processesRun(b.svc)
}

// childEnv is the environment of a backend's child: ours, minus any credentials we inherited.
func (m *Manager) childEnv() []string {
	out := make([]string, 0, len(m.Environ)+8)
	for _, kv := range m.Environ {
		if strings.HasPrefix(kv, "CLPKIT_MFES_") && !strings.HasPrefix(kv, EnvConfig+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// runLogged runs argv to its end (or ctx's), in its own process group (a timeout kills all of
// it), with stdin from /dev/null and its output appended to the service's log, after a header
// line that says what ran. shown is what the header shows of the command: never a password.
// On failure the error quotes the last line the command printed.
func (m *Manager) runLogged(ctx context.Context, svc *Service, action, shown string, argv []string, env []string) error {
	if err := os.MkdirAll(m.Config.LogDir, 0o755); err != nil {
		return fmt.Errorf("creating the log folder: %w", err)
	}
	path := filepath.Join(m.Config.LogDir, strings.ToLower(svc.Name)+".log")
	logf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "%s %s: %s %s: %s\n", m.now().Format("2006-01-02T15:04:05.000-07:00"), m.Program, action, svc.Name, shown)
	off, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	// Output goes to a file, not a pipe: a start command that leaves a daemon holding its
	// stdout must not keep us waiting, nor kill the daemon with SIGPIPE later.
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if err == nil {
		return nil
	}
	tail := lastLine(path, off)
	if tail != "" {
		tail = ": " + tail
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("the %s command did not finish in time%s (log %s)", action, tail, path)
	case errors.As(err, &ee):
		return fmt.Errorf("the %s command exited with status %d%s (log %s)", action, ee.ExitCode(), tail, path)
	}
	return fmt.Errorf("the %s command could not run: %w", action, err)
}

// maxTail is how much of a command's output lastLine reads: the end of it, where the reason of a
// failure is.
const maxTail = 64 << 10

// lastLine returns the last non-blank line written to path after offset, cut to 200 bytes. It
// reads at most the last maxTail bytes, however much the command wrote.
func lastLine(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > maxTail {
		offset = fi.Size() - maxTail
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTail))
	if err != nil {
		return ""
	}
	last := ""
	for _, l := range strings.Split(string(b), "\n") {
		if t := strings.TrimSpace(l); t != "" {
			last = t
		}
	}
	if len(last) > 200 {
		last = last[:200] + "..."
	}
	return last
}

// processesRun reports whether any process of svc runs: its pidfile's or a match of its
// processes pattern.
func (m *Manager) processesRun(svc *Service) (bool, string, error) {
	left, err := m.leftovers(svc)
	if err != nil {
		return false, "", err
	}
	if len(left) > 0 {
		return true, processes(left) + " " + verb(left, "runs", "run"), nil
	}
	return false, "no process of it runs", nil
}

// leftovers returns every process of svc: the pidfile's and the pattern's, in pid order.
func (m *Manager) leftovers(svc *Service) ([]proc, error) {
	procs, err := scan(m.ProcRoot)
	if err != nil {
		return nil, err
	}
	out := matching(procs, svc.Processes, m.Self)
	p, ok, err := pidfileProc(m.ProcRoot, svc.Pidfile)
	if err != nil {
		return nil, err
	}
	if ok && !ancestors(procs, m.Self)[p.id.PID] {
		found := false
		for _, q := range out {
			found = found || q.id == p.id
		}
		if !found {
			out = append(out, p)
			slices.SortFunc(out, func(a, b proc) int { return a.id.PID - b.id.PID })
		}
	}
	return out, nil
}

// remaining is leftovers with, when tr follows the stop, every process seen before as svc's
// that has not exited for good yet (see tracker).
func (m *Manager) remaining(svc *Service, tr *tracker) ([]proc, error) {
	left, err := m.leftovers(svc)
	if err != nil || tr == nil {
		return left, err
	}
	return tr.add(m.ProcRoot, left), nil
}

// signalAll sends sig to every process of svc.
func (m *Manager) signalAll(svc *Service, sig syscall.Signal) error {
	left, err := m.leftovers(svc)
	if err != nil {
		return err
	}
	return m.signalEach(left, sig)
}

// signalEach sends sig to each of procs.
func (m *Manager) signalEach(procs []proc, sig syscall.Signal) error {
	var errs []error
	for _, p := range procs {
		if err := signal(m.ProcRoot, p, sig); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// seconds writes d as the whole seconds legacy options take, at least 1.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}
