package procwatch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestMatcher covers the matching rules on fixed inputs, without processes.
func TestMatcher(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		real    string // resolved program path
		argv0   string
		exe     string
		cmdline string
		want    bool
	}{
		{name: "argv0 equal", spec: Spec{Program: "/usr/bin/java"}, argv0: "/usr/bin/java", cmdline: "/usr/bin/java -x", want: true},
		{name: "exe equal to resolved program", spec: Spec{Program: "/usr/bin/java"}, real: "/usr/lib/jvm/j17/bin/java",
			argv0: "/usr/lib/jvm/j17/bin/java", exe: "/usr/lib/jvm/j17/bin/java", want: true},
		{name: "exe differs", spec: Spec{Program: "/usr/bin/java"}, real: "/usr/lib/jvm/j17/bin/java",
			argv0: "java", exe: "/usr/lib/jvm/j11/bin/java", want: false},
		{name: "unresolvable program never matches by exe", spec: Spec{Program: "/no/such/java"},
			argv0: "java", exe: "", want: false},
		{name: "base name without slash", spec: Spec{Program: "java"}, argv0: "/usr/bin/java", want: true},
		{name: "base name is not a suffix match", spec: Spec{Program: "ava"}, argv0: "/usr/bin/java", want: false},
		{name: "path program does not match base name", spec: Spec{Program: "/opt/java"}, argv0: "java", want: false},
		{name: "empty program", spec: Spec{}, argv0: "", want: false},
		{name: "all includes", spec: Spec{Program: "j", Include: []string{"apache", "tomcat"}}, argv0: "j",
			cmdline: "j -Dcatalina.home=/usr/local/tomcat org.apache.catalina.startup.Bootstrap", want: true},
		{name: "one include missing", spec: Spec{Program: "j", Include: []string{"apache", "tomcat"}}, argv0: "j",
			cmdline: "j org.apache.Foo", want: false},
		{name: "include across arguments", spec: Spec{Program: "j", Include: []string{"Bootstrap start"}}, argv0: "j",
			cmdline: "j Bootstrap start", want: true},
		{name: "exclude hit", spec: Spec{Program: "j", Include: []string{"tomcat"}, Exclude: []string{"grep", "probe"}}, argv0: "j",
			cmdline: "j tomcat probe", want: false},
		{name: "exclude miss", spec: Spec{Program: "j", Exclude: []string{"grep"}}, argv0: "j", cmdline: "j tomcat", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := matcher{spec: tt.spec, real: tt.real}
			got := m.program(tt.argv0, func() string { return tt.exe }) && m.strings(tt.cmdline)
			if got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSplitArgv(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"/usr/bin/java\x00-Dx=1\x00start\x00", []string{"/usr/bin/java", "-Dx=1", "start"}},
		{"nginx: master process\x00", []string{"nginx: master process"}},
		{"a\x00\x00b\x00", []string{"a", "", "b"}},
		{"no-nul", []string{"no-nul"}},
	}
	for _, tt := range tests {
		if got := splitArgv([]byte(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("splitArgv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// perl returns the perl interpreter with its links resolved; the tests use it as a "java" that
// takes any arguments and sleeps.
func perl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl is not installed (.ci/run installs it)")
	}
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startProc starts path with argv (argv[0] included) and kills it at the end of the test.
func startProc(t *testing.T, path string, argv ...string) *exec.Cmd {
	t.Helper()
	// A process group of its own: `sh -c "sleep ..."` forks its sleep, which killing the shell
	// alone would leave running after the tests.
	cmd := &exec.Cmd{Path: path, Args: argv, SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	// Start times have a resolution of one clock tick (10 ms): keep the order of start times
	// the order of the calls.
	time.Sleep(30 * time.Millisecond)
	return cmd
}

func ident(t *testing.T, cmd *exec.Cmd) Identity {
	t.Helper()
	id, err := Identify("/proc", cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestFindAmongLookAlikes finds a Tomcat-like process among processes that share its program,
// some of its strings, or all of them plus an excluded one.
func TestFindAmongLookAlikes(t *testing.T) {
	pl := perl(t)
	dir := t.TempDir()
	java := filepath.Join(dir, "usr", "bin", "java")
	if err := os.MkdirAll(filepath.Dir(java), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(pl, java); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("pwtest%d", os.Getpid())
	sleepForever := []string{"-e", "sleep 100000", "--"}
	args := func(argv0 string, words ...string) []string {
		return append(append([]string{argv0}, sleepForever...), append(words, tag)...)
	}
	noTomcat := startProc(t, java, args(java, "org.apache.httpd")...)
	target := startProc(t, java, args(java, "-Dcatalina.home=/usr/local/tomcat", "org.apache.catalina.startup.Bootstrap", "start")...)
	probe := startProc(t, java, args(java, "apache", "tomcat", "probe")...)
	shell := startProc(t, "/bin/sh", "sh", "-c", "sleep 100000", "sh", "apache", "tomcat", tag)
	younger := startProc(t, java, args(java, "apache", "tomcat")...)
	// argv[0] is plain "perl": it matches through /proc/PID/exe, which is where the link points.
	viaExe := startProc(t, pl, args("perl", "apache", "tomcat")...)
	// A zombie with the same command line: exited, not yet reaped.
	zombie := &exec.Cmd{Path: java, Args: args(java, "apache", "tomcat")}
	if err := zombie.Start(); err != nil {
		t.Fatal(err)
	}
	_ = zombie.Process.Signal(syscall.SIGKILL)
	t.Cleanup(func() { _ = zombie.Wait() })
	// The kill is delivered asynchronously: wait until the process is a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if st, err := Stat("/proc", zombie.Process.Pid); err == nil && st.State == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed process did not become a zombie")
		}
		time.Sleep(5 * time.Millisecond)
	}

	spec := Spec{Program: java, Include: []string{"apache", "tomcat", tag}, Exclude: []string{"probe"}}
	got, err := List("/proc", spec)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range got {
		pids = append(pids, p.PID)
	}
	want := []int{target.Process.Pid, younger.Process.Pid, viaExe.Process.Pid}
	if !slices.Equal(pids, want) {
		t.Fatalf("List = %v, want target, younger, viaExe = %v (noTomcat %d, probe %d, shell %d, zombie %d)",
			pids, want, noTomcat.Process.Pid, probe.Process.Pid, shell.Process.Pid, zombie.Process.Pid)
	}
	if got[0].Argv[0] != java || got[0].CommandLine() != java+" -e sleep 100000 -- -Dcatalina.home=/usr/local/tomcat org.apache.catalina.startup.Bootstrap start "+tag {
		t.Errorf("target argv %q", got[0].Argv)
	}

	specs := []Spec{
		spec,
		// Program without a slash matches the base name of argv[0].
		{Program: "sh", Include: []string{tag, "apache"}},
		// /bin/sh is a link (to dash on Debian): the shell matches through its executable.
		{Program: "/bin/sh", Include: []string{tag, "apache"}},
		// Only the probe has "probe".
		{Program: java, Include: []string{tag, "probe"}},
		// Nothing matches.
		{Program: java, Include: []string{tag, "no-such-string"}},
	}
	ids, err := Find("/proc", specs)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs := []Identity{ident(t, target), ident(t, shell), ident(t, shell), ident(t, probe), {}}
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("Find = %v, want %v", ids, wantIDs)
	}
}

func TestFindBadProcRoot(t *testing.T) {
	if _, err := Find(filepath.Join(t.TempDir(), "missing"), []Spec{{Program: "x"}}); err == nil {
		t.Fatal("Find on a missing proc root succeeded")
	}
}
