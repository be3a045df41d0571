package mfes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"clpkit/pkg/bounded"
)

// The Enterprise Server backend runs the product's own casstart, casstop, mfds and mdump from
// $COBDIR/bin, and then checks the outcome itself: the product's exit codes are not documented
// (research/legacy-tools.md §5.2), and its casstart may return before the region is up.

// esRegionProcesses is what a region's processes look like when the configuration gives no
// pattern: the seed's own clean-up greps `ps -ef` for the region's name and one of these.
func esRegionProcesses(region string) *regexp.Regexp {
	return regexp.MustCompile(`^(\S*/)?(cassi|cascd|casjcp|casmgr|mfcs)\S*(\s.*)?\s(?i:` + regexp.QuoteMeta(region) + `)(\s|$)`)
}

// esMFDSProcesses is the directory server: mfds32 (the seed's) or mfds64.
func esMFDSProcesses() *regexp.Regexp {
	return regexp.MustCompile(`^(\S*/)?mfds(32|64)(\s|$)`)
}

// esInstalled reports whether an Enterprise Server is installed where the configuration (or
// $COBDIR) says.
func (m *Manager) esInstalled() bool {
	if m.Config.COBDir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(m.Config.COBDir, "bin", "casstart"))
	return err == nil
}

// esBin returns the product's binary name, refusing one of ours: with $COBDIR/bin first on PATH
// an operator may have put clpkit's commands there, and delegating to ourselves would loop.
func (m *Manager) esBin(name string) (string, error) {
	if m.Environ != nil && envValue(m.Environ, envDelegated) != "" {
		return "", fmt.Errorf("%s was started by clpkit's %s as the Enterprise Server's own: %s/bin holds clpkit's commands, not Micro Focus's", m.Program, name, m.Config.COBDir)
	}
	p := filepath.Join(m.Config.COBDir, "bin", name)
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("the Enterprise Server has no %s: %w", name, err)
	}
	if self, err := os.Executable(); err == nil {
		if sfi, err := os.Stat(self); err == nil && os.SameFile(fi, sfi) {
			return "", fmt.Errorf("%s is clpkit's %s, not Micro Focus's: point cobdir at the Enterprise Server installation", p, m.Program)
		}
	}
	return p, nil
}

// esCommand returns the argv and environment that run the product's binary: $COBDIR's bin and
// lib first, and the env_file (the seed's /root/ES40SP2) sourced first when there is one.
func (m *Manager) esCommand(bin string, args []string) ([]string, []string) {
	env := m.childEnv()
	cob := m.Config.COBDir
	env = setEnv(env, "COBDIR", cob)
	env = setEnv(env, "PATH", cob+"/bin:"+envValue(env, "PATH"))
	env = setEnv(env, "LD_LIBRARY_PATH", strings.TrimSuffix(cob+"/lib:"+envValue(env, "LD_LIBRARY_PATH"), ":"))
	env = append(env, envDelegated+"=1")
	argv := append([]string{bin}, args...)
	if m.Config.EnvFile != "" {
		argv = append([]string{"/bin/sh", "-c", `. "$0" && exec "$@"`, m.Config.EnvFile}, argv...)
	}
	return argv, env
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

func setEnv(env []string, key, val string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+val)
}

// legacyCreds writes credentials the way the product's binaries take them; shown is the same
// with the password hidden, for the log.
func legacyCreds(c Credentials) (args, shown []string) {
	if c.User != "" {
		args = append(args, "/u"+c.User)
		shown = append(shown, "/u"+c.User)
	}
	if c.Password != "" {
		// The product takes the password on its command line only; this is the one place it
		// appears in a child's arguments, and it is never written to a log.
		args = append(args, "/p"+c.Password)
		shown = append(shown, "/p****")
	}
	if c.Group != "" {
		args = append(args, "/c"+c.Group)
		shown = append(shown, "/c"+c.Group)
	}
	return args, shown
}

// esRegion is a region driven by the product's casstart and casstop.
type esRegion struct {
	m   *Manager
	svc *Service
}

func (b esRegion) run(ctx context.Context, action, name string, args, shown []string) error {
	bin, err := b.m.esBin(name)
	if err != nil {
		return err
	}
	argv, env := b.m.esCommand(bin, args)
	return b.m.runLogged(ctx, b.svc, action, strings.Join(append([]string{bin}, shown...), " "), argv, env)
}

func (b esRegion) start(ctx context.Context, r request) error {
	args := []string{"/r" + b.svc.Name}
	ca, cs := legacyCreds(r.creds)
	args, shown := append(args, ca...), append([]string{"/r" + b.svc.Name}, cs...)
	if r.startType != "" {
		args, shown = append(args, "/s:"+r.startType), append(shown, "/s:"+r.startType)
	}
	w := "/w" + seconds(r.wait)
	args, shown = append(args, w), append(shown, w)
	args, shown = append(args, r.pass...), append(shown, RedactPass(r.pass)...)
	return b.run(ctx, "start", "casstart", args, shown)
}

func (b esRegion) stopWith(ctx context.Context, action string, extra []string, r request) error {
	args := []string{"/r" + b.svc.Name}
	ca, cs := legacyCreds(r.creds)
	args, shown := append(append(args, extra...), ca...), append(append([]string{"/r" + b.svc.Name}, extra...), cs...)
	args, shown = append(args, r.pass...), append(shown, RedactPass(r.pass)...)
	return b.run(ctx, action, "casstop", args, shown)
}

func (b esRegion) stop(ctx context.Context, r request) error {
	var extra []string
	if r.immediate {
		extra = append(extra, "/i")
	}
	return b.stopWith(ctx, "stop", extra, r)
}

func (b esRegion) forceStop(ctx context.Context, r request) error {
	return b.stopWith(ctx, "force_stop", []string{"/f"}, r)
}

// running asks the product's mdump, and reads its answer as the seed's monitor script does.
// When mdump cannot say (no directory server), the region's processes decide.
func (b esRegion) running(ctx context.Context) (bool, string, error) {
	out, err := b.m.esOutput(ctx, "mdump", "localhost", b.svc.Name)
	if err == nil {
		switch v := ReadDump(out); v {
		case DumpStarted:
			return true, "mdump shows its listener Started", nil
		case DumpListenerDown:
			return true, "mdump shows its listener not Started", nil
		}
	}
	run, why, perr := b.m.processesRun(b.svc)
	if perr != nil {
		return false, "", perr
	}
	return run, why, nil
}

// listenerStarted reports whether the product's mdump shows the region's listener Started: the
// Enterprise Server backend's readiness when the configuration names no listener address.
func (b esRegion) listenerStarted(ctx context.Context) bool {
	out, err := b.m.esOutput(ctx, "mdump", "localhost", b.svc.Name)
	return err == nil && ReadDump(out) == DumpStarted
}

// esOutput runs one of the product's binaries and returns what it printed on stdout.
func (m *Manager) esOutput(ctx context.Context, name string, args ...string) (string, error) {
	bin, err := m.esBin(name)
	if err != nil {
		return "", err
	}
	sctx, cancel := context.WithTimeout(ctx, statusLimit)
	defer cancel()
	argv, env := m.esCommand(bin, args)
	cmd := exec.CommandContext(sctx, argv[0], argv[1:]...)
	cmd.Env = env
	// mdump's answer about one region is a few lines: one that prints on and on is cut off.
	out := &cappedBuffer{limit: maxOutput}
	cmd.Stdout = out
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	if out.over {
		return "", fmt.Errorf("%s printed more than %s", bin, bounded.Size(maxOutput))
	}
	return out.buf.String(), err
}

// maxOutput bounds what is kept of the output of one of the product's binaries.
const maxOutput = 1 << 20

// RealDump runs the product's mdump with args, its output to w, and returns its exit status.
func (m *Manager) RealDump(ctx context.Context, w io.Writer, args []string) (int, error) {
	bin, err := m.esBin("mdump")
	if err != nil {
		return 0, err
	}
	argv, env := m.esCommand(bin, args)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = w
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("running %s: %w", bin, err)
	}
	return 0, nil
}

// esMFDS is the product's directory server.
type esMFDS struct {
	m   *Manager
	svc *Service
}

// start launches the product's mfds in its own session, output to the log, and returns at
// once: the seed's `mfds &` runs it in the foreground of a background job. The Manager then
// waits until its port answers.
func (b esMFDS) start(ctx context.Context, r request) error {
	bin, err := b.m.esBin("mfds")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(b.m.Config.LogDir, 0o755); err != nil {
		return fmt.Errorf("creating the log folder: %w", err)
	}
	path := filepath.Join(b.m.Config.LogDir, "mfds.log")
	logf, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "%s %s: start mfds: %s\n", b.m.now().Format("2006-01-02T15:04:05.000-07:00"), b.m.Program, strings.Join(append([]string{bin}, RedactPass(r.pass)...), " "))
	argv, env := b.m.esCommand(bin, r.pass)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	// Reap it when it ends while we still run; after we exit, init does.
	go func() { _ = cmd.Wait() }()
	return nil
}

func (b esMFDS) stop(ctx context.Context, r request) error {
	bin, err := b.m.esBin("mfds")
	if err != nil {
		return err
	}
	mode := r.mode
	if mode == "" {
		mode = "1"
	}
	args, shown := []string{"-s", mode}, []string{"-s", mode}
	if r.creds.User != "" {
		args, shown = append(args, r.creds.User), append(shown, r.creds.User)
		if r.creds.Password != "" {
			args, shown = append(args, r.creds.Password), append(shown, "****")
		}
	}
	argv, env := b.m.esCommand(bin, args)
	return b.m.runLogged(ctx, b.svc, "stop", strings.Join(append([]string{bin}, shown...), " "), argv, env)
}

func (b esMFDS) forceStop(_ context.Context, _ request) error {
	return b.m.signalAll(b.svc, syscall.SIGTERM)
}

func (b esMFDS) running(_ context.Context) (bool, string, error) {
	return b.m.processesRun(b.svc)
}

// RedactPass hides the values of the passed-through options in a log line: only the product
// knows which of them are secret (/x takes a vault user, for one), so only the option letters
// are shown.
func RedactPass(pass []string) []string {
	out := make([]string, len(pass))
	for i, a := range pass {
		if len(a) > 2 && (a[0] == '/' || a[0] == '-') && a[1] != '-' {
			out[i] = a[:2] + "..."
		} else if looksOption(a) {
			out[i] = a
		} else {
			out[i] = "..."
		}
	}
	return out
}

func looksOption(a string) bool { return len(a) >= 2 && (a[0] == '/' || a[0] == '-') }
