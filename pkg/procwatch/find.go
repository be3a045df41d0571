package procwatch

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Spec names the processes that count as one watched program, the way a ProcessSaver pfile
// entry does: a program and substrings of the command line.
type Spec struct {
	// Program is compared with argv[0] of each process. When it holds a '/', a process also
	// matches when its executable (/proc/PID/exe) is the file Program names once its symbolic
	// links are resolved: /usr/bin/java is an alternatives link, and a JVM started through its
	// real path (as catalina.sh does with $JAVA_HOME/bin/java) must still be found. Without a
	// '/', Program also matches the base name of argv[0].
	Program string
	// Include lists strings that must all occur in the command line (argv joined by blanks, as
	// ps shows it).
	Include []string
	// Exclude lists strings none of which may occur in the command line.
	Exclude []string
}

// Process is one process as /proc shows it.
type Process struct {
	Identity
	Argv []string
	// Exe is where /proc/PID/exe points, without the " (deleted)" the kernel appends once the
	// binary was replaced (a package upgrade). It is filled only when it was needed to decide a
	// match, so it may be "" for a process that matched by argv[0].
	Exe string
}

// CommandLine is argv joined by blanks, the string include and exclude strings are looked for in.
func (p Process) CommandLine() string { return strings.Join(p.Argv, " ") }

// matcher is a Spec prepared for one scan: the program's resolved path is computed once per
// scan, not once per process, and again on every scan because the link may be repointed.
type matcher struct {
	spec Spec
	real string // Program with symbolic links resolved; "" when it has no '/' or cannot be resolved
}

func newMatcher(s Spec) matcher {
	m := matcher{spec: s}
	if strings.Contains(s.Program, "/") {
		if r, err := filepath.EvalSymlinks(s.Program); err == nil {
			m.real = r
		}
	}
	return m
}

// program reports whether argv0 (and, when needed, the executable read by exe) is the program.
func (m matcher) program(argv0 string, exe func() string) bool {
	p := m.spec.Program
	if p == "" {
		return false
	}
	if argv0 == p {
		return true
	}
	if !strings.Contains(p, "/") {
		return filepath.Base(argv0) == p
	}
	return m.real != "" && exe() == m.real
}

// strings reports whether the command line passes the include and exclude filters.
func (m matcher) strings(cmdline string) bool {
	for _, s := range m.spec.Include {
		if !strings.Contains(cmdline, s) {
			return false
		}
	}
	for _, s := range m.spec.Exclude {
		if strings.Contains(cmdline, s) {
			return false
		}
	}
	return true
}

// Find makes one pass over procRoot (normally "/proc") and returns, for each spec, the oldest
// running process that matches it (the zero Identity when none does). Oldest means the earliest
// start time, then the lowest pid: when a daemon and its workers share a command line, the
// daemon started first is the one to watch. Zombies and kernel threads never match.
//
// One pass serves every spec, so a pcheck with a hundred entries reads each process's command
// line once, not a hundred times.
func Find(procRoot string, specs []Spec) ([]Identity, error) {
	best := make([]Identity, len(specs))
	err := scan(procRoot, specs, func(i int, p Process) {
		b := best[i]
		if b.PID == 0 || p.Start < b.Start || (p.Start == b.Start && p.PID < b.PID) {
			best[i] = p.Identity
		}
	})
	return best, err
}

// List returns every running process that matches spec, oldest first (see Find).
func List(procRoot string, spec Spec) ([]Process, error) {
	var out []Process
	err := scan(procRoot, []Spec{spec}, func(_ int, p Process) { out = append(out, p) })
	slices.SortFunc(out, func(a, b Process) int {
		if a.Start != b.Start {
			if a.Start < b.Start {
				return -1
			}
			return 1
		}
		return a.PID - b.PID
	})
	return out, err
}

// scan calls found(i, p) for every live process p that specs[i] matches.
func scan(procRoot string, specs []Spec, found func(int, Process)) error {
	d, err := os.Open(procRoot)
	if err != nil {
		return fmt.Errorf("listing processes: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("listing processes in %s: %w", procRoot, err)
	}
	ms := make([]matcher, len(specs))
	for i, s := range specs {
		ms[i] = newMatcher(s)
	}
	buf := make([]byte, 0, 4096)
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		dir := procRoot + "/" + name
		buf, err = readInto(dir+"/cmdline", buf)
		// A process may exit at any moment of the scan; an unreadable or empty command line
		// (kernel thread, zombie) is simply not a candidate.
		if err != nil || len(buf) == 0 {
			continue
		}
		argv := splitArgv(buf)
		var cmdline string
		exe, exeRead := "", false
		readExe := func() string {
			if !exeRead {
				exeRead = true
				if l, err := os.Readlink(dir + "/exe"); err == nil {
					exe = strings.TrimSuffix(l, " (deleted)")
				}
			}
			return exe
		}
		var p *Process
		for i, m := range ms {
			if !m.program(argv[0], readExe) {
				continue
			}
			if cmdline == "" {
				cmdline = strings.Join(argv, " ")
			}
			if !m.strings(cmdline) {
				continue
			}
			if p == nil {
				st, err := Stat(procRoot, pid)
				if err != nil || st.Exited() {
					break
				}
				p = &Process{Identity: Identity{PID: pid, Start: st.Start}, Argv: argv}
			}
			p.Exe = exe
			found(i, *p)
		}
	}
	return nil
}

// splitArgv splits a /proc/PID/cmdline (NUL-terminated strings) into argv. A process that
// rewrote its command line (setproctitle) may have no NULs: it is then one argument.
func splitArgv(b []byte) []string {
	b = bytes.TrimSuffix(b, []byte{0})
	parts := bytes.Split(b, []byte{0})
	argv := make([]string, len(parts))
	for i, p := range parts {
		argv[i] = string(p)
	}
	return argv
}

// readInto reads a whole (small, /proc) file into buf[:0], growing it as needed, so that a
// scan over hundreds of processes reuses one buffer.
func readInto(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf[:0], err
	}
	defer f.Close()
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if n == 0 {
			return buf, nil
		}
	}
}
