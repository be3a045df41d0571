package templates_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// scriptCase is one way the cluster (or an operator by hand) runs a script: the CLP_* variables set
// on top of a clean environment that holds only PATH.
type scriptCase struct {
	name string
	env  []string
}

// cases are the runs every script is checked under. The names key the expectation table below.
var cases = []scriptCase{
	// Run by hand, outside the cluster: no CLP_* at all.
	{"no-clp", nil},
	{"start-home", []string{"CLP_EVENT=START", "CLP_DISK=SUCCESS", "CLP_SERVER=HOME"}},
	{"start-other", []string{"CLP_EVENT=START", "CLP_DISK=SUCCESS", "CLP_SERVER=OTHER"}},
	{"failover-home", []string{"CLP_EVENT=FAILOVER", "CLP_DISK=SUCCESS", "CLP_SERVER=HOME"}},
	{"failover-other", []string{"CLP_EVENT=FAILOVER", "CLP_DISK=SUCCESS", "CLP_SERVER=OTHER"}},
	{"start-disk-failure", []string{"CLP_EVENT=START", "CLP_DISK=FAILURE", "CLP_SERVER=HOME"}},
	{"failover-disk-failure", []string{"CLP_EVENT=FAILOVER", "CLP_DISK=FAILURE", "CLP_SERVER=HOME"}},
	// CLP_DISK missing: the seeds test for SUCCESS, so this is the disk-error branch. This is why
	// DESIGN §4 makes the daemon set CLP_DISK=SUCCESS for groups without a disk.
	{"start-no-disk-var", []string{"CLP_EVENT=START", "CLP_SERVER=HOME"}},
	// An event the Linux seeds do not know (RECOVER exists only on Windows) falls to NO_CLP.
	{"unknown-event", []string{"CLP_EVENT=RECOVER", "CLP_DISK=SUCCESS", "CLP_SERVER=HOME"}},
}

type want struct {
	out  string
	code int
}

// expected is read off the seed scripts by hand (seed 000 for mfes, seed 001 §10.1–10.4 for the
// file-server templates). Every seed script ends in "echo EXIT; exit 0" with no other exit, so
// every run prints EXIT last and exits 0, including NO_CLP and the disk-error branches.
var expected = map[string]map[string]want{
	"mfes/start.sh": seedRuns(""),
	"mfes/stop.sh":  seedRuns(""),
	// The seed's monitor loop has no CLP_* branch: it prints nothing and exits 0 once mdump
	// reports the region down, whatever the case. See mfesElsewhere.
	"mfes/monitor.sh": {
		"no-clp":                {"", 0},
		"start-home":            {"", 0},
		"start-other":           {"", 0},
		"failover-home":         {"", 0},
		"failover-other":        {"", 0},
		"start-disk-failure":    {"", 0},
		"failover-disk-failure": {"", 0},
		"start-no-disk-var":     {"", 0},
		"unknown-event":         {"", 0},
	},
	"samba/start.sh":         seedRuns("SAMBA start"),
	"samba/stop.sh":          seedRuns("SAMBA stop"),
	"samba-monitor/start.sh": seedRuns("clp_sambamon start"),
	"samba-monitor/stop.sh":  seedRuns("clp_sambamon stop"),
	"nfs/start.sh":           seedRuns("NFS start"),
	"nfs/stop.sh":            seedRuns("NFS stop"),
	"nfs-monitor/start.sh":   seedRuns("clp_nfsmon start"),
	"nfs-monitor/stop.sh":    seedRuns("clp_nfsmon stop"),
}

// seedRuns are the outcomes of a script that follows the seed's pattern, for each case: the
// start and failover branches print their lines, then the file-server template's service line
// (action, such as "SAMBA start"; none when it is ""), then EXIT; the others print their message
// and EXIT.
func seedRuns(action string) map[string]want {
	if action != "" {
		action += "\n"
	}
	return map[string]want{
		"no-clp":                {"NO_CLP\nEXIT\n", 0},
		"start-home":            {"NORMAL1\nNORMAL2\n" + action + "EXIT\n", 0},
		"start-other":           {"NORMAL1\nON_OTHER1\n" + action + "EXIT\n", 0},
		"failover-home":         {"FAILOVER1\nFAILOVER2\n" + action + "EXIT\n", 0},
		"failover-other":        {"FAILOVER1\nON_OTHER2\n" + action + "EXIT\n", 0},
		"start-disk-failure":    {"ERROR_DISK from START\nEXIT\n", 0},
		"failover-disk-failure": {"ERROR_DISK from FAILOVER\nEXIT\n", 0},
		"start-no-disk-var":     {"ERROR_DISK from START\nEXIT\n", 0},
		"unknown-event":         {"NO_CLP\nEXIT\n", 0},
	}
}

// mfesElsewhere are the runs of the mfes templates that call casstart, casstop, mfds and mdump,
// which need the built commands and a running region: test/integration/mfes_test.go makes them,
// with the same CLP_* cases and the same expected stdout, against a real stand-in region.
// TestRun makes the others (no command is reached in them).
var mfesElsewhere = map[string][]string{
	"mfes/start.sh":   {"start-home", "start-other", "failover-home", "failover-other"},
	"mfes/stop.sh":    {"start-home", "start-other", "failover-home", "failover-other"},
	"mfes/monitor.sh": {"no-clp", "start-home", "start-other", "failover-home", "failover-other", "start-disk-failure", "failover-disk-failure", "start-no-disk-var", "unknown-event"},
}

// fsmonElsewhere are the runs of the file-server monitor templates that reach clp_sambamon or
// clp_nfsmon, which need the built commands and a real smbd or nfs-ganesha: the watcher that
// start.sh runs stays in the foreground until stop.sh stops it. TestMonitorTemplates in
// test/integration/fsmon_test.go makes them, with the same cases and expected stdout.
var fsmonElsewhere = map[string][]string{
	"samba-monitor/start.sh": {"start-home", "start-other", "failover-home", "failover-other"},
	"samba-monitor/stop.sh":  {"start-home", "start-other", "failover-home", "failover-other"},
	"nfs-monitor/start.sh":   {"start-home", "start-other", "failover-home", "failover-other"},
	"nfs-monitor/stop.sh":    {"start-home", "start-other", "failover-home", "failover-other"},
}

// serviceCall is the call of the service command that each file-server service template makes in
// the runs that start or stop the service (seed 001 §10.1 and §10.3: "/sbin/service smb|nfs
// start|stop", with the service's current Debian name): the stub's argv, blank-separated. Every
// other run calls nothing. TestRun puts a stub service and systemctl first on PATH, so nothing is
// started on the host.
var serviceCall = map[string]string{
	"samba/start.sh": "service smbd start",
	"samba/stop.sh":  "service smbd stop",
	"nfs/start.sh":   "service nfs-server start",
	"nfs/stop.sh":    "service nfs-server stop",
}

// serviceCases are the cases in which the templates reach their service line.
var serviceCases = []string{"start-home", "start-other", "failover-home", "failover-other"}

// stubServiceCommands writes service and systemctl into a new directory: each appends its name and
// arguments, one line per call, to the file "calls" there and exits 0. It returns the directory.
func stubServiceCommands(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"service", "systemctl"} {
		script := "#!/bin/sh\necho \"" + name + " $*\" >> \"" + filepath.Join(dir, "calls") + "\"\nexit 0\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestServiceVariable: samba/ and nfs/ name their service once, in SERVICE before the first
// branch, so that an operator whose system names it otherwise edits one line per script.
func TestServiceVariable(t *testing.T) {
	dir := templatesDir(t)
	for name := range serviceCall {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		sets, firstIf, set := 0, 0, 0
		for i, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "SERVICE=") {
				sets++
				set = i
			}
			if firstIf == 0 && strings.HasPrefix(line, "if ") {
				firstIf = i
			}
		}
		if sets != 1 || set > firstIf {
			t.Errorf("%s: %d SERVICE= lines (line %d), want one before the first if (line %d)", name, sets, set+1, firstIf+1)
		}
	}
}

// mfesRestored are the command lines restored into the mfes templates (README.md, "Removed
// lines"); TestMFESMatchesSeed pins them, and the whole of monitor.sh, to seed 000.
var mfesRestored = map[string][]string{
	"mfes/start.sh": {"[ -r /root/ES40SP2 ] && . /root/ES40SP2", "mfds &", "sleep 15", "casstart /rESSERV1"},
	"mfes/stop.sh":  {"[ -r /root/ES40SP2 ] && . /root/ES40SP2", "casstop /rESSERV1", "killall -9 mfds32"},
}

// TestMFESMatchesSeed compares the mfes templates with the verbatim copies of seed 000's scripts
// in testdata/mfes/seed000 (lines 243-290, 304-351 and 716-767 of the seed): they differ only by
// the repairs README.md lists.
func TestMFESMatchesSeed(t *testing.T) {
	dir := templatesDir(t)
	repairs := map[string]func(string) string{
		"start.sh": func(s string) string {
			return strings.ReplaceAll(s, "source /root/ES40SP2\n", "[ -r /root/ES40SP2 ] && . /root/ES40SP2\n")
		},
		"stop.sh": func(s string) string {
			s = strings.ReplaceAll(s, "source /root/ES40SP2\n", "[ -r /root/ES40SP2 ] && . /root/ES40SP2\n")
			return strings.ReplaceAll(s, "killall -9 mfd32\n", "killall -9 mfds32\n")
		},
		"monitor.sh": func(s string) string {
			return "#!/bin/sh\n" + strings.TrimSuffix(s, ";;\n")
		},
	}
	for name, repair := range repairs {
		seed, err := os.ReadFile(filepath.Join(dir, "..", "testdata", "mfes", "seed000", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "mfes", name))
		if err != nil {
			t.Fatal(err)
		}
		if want := repair(string(seed)); string(got) != want {
			t.Errorf("mfes/%s is not seed 000's script with the README's repairs:\n got %q\nwant %q", name, got, want)
		}
	}
}

// scriptNames returns the keys of expected, sorted, so subtests run in a stable order.
func scriptNames() []string {
	names := make([]string, 0, len(expected))
	for name := range expected {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// templatesDir is the absolute path of this folder (go test runs in the package directory).
func templatesDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEveryScriptHasExpectations fails when a template is added without a row in the table, or a
// row names a script that is not there.
func TestEveryScriptHasExpectations(t *testing.T) {
	dir := templatesDir(t)
	found, err := filepath.Glob(filepath.Join(dir, "*", "*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	onDisk := map[string]bool{}
	for _, p := range found {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			t.Fatal(err)
		}
		onDisk[filepath.ToSlash(rel)] = true
	}
	for name := range onDisk {
		if _, ok := expected[name]; !ok {
			t.Errorf("%s has no row in the expectation table", name)
		}
	}
	for _, name := range scriptNames() {
		if !onDisk[name] {
			t.Errorf("the expectation table names %s, which does not exist", name)
		}
		if len(expected[name]) != len(cases) {
			t.Errorf("%s: %d expectations for %d cases", name, len(expected[name]), len(cases))
		}
	}
}

// shellLine is what a non-comment, non-blank line of a template other than mfes/ may be: the
// seed's if/elif tests on CLP_*, then/else/fi, an echo of a literal, an exit, and the seed's
// commands as README.md's "Commands" lists them. A command added to a template is added here and
// to that table.
var shellLine = regexp.MustCompile(`^(` +
	`(if|elif) \[ "\$CLP_(EVENT|DISK|SERVER)" = "[A-Z]+" \]` +
	`|then|else|fi` +
	`|echo "[A-Za-z0-9_ ]*"` +
	`|exit [0-9]+` +
	`|clp_sambamon sambawatch -(s XXXX|stop)|clp_nfsmon nfswatch -(d XXXX|stop)` + // seed 001 §10.2, §10.4
	`|SERVICE=(smbd|nfs-server)|service "\$SERVICE" (start|stop)` + // seed 001 §10.1, §10.3
	`)$`)

// TestScriptFiles checks the repaired files themselves: shebang, permissions, LF endings, no
// leftover extraction junk, and no command but those README.md lists.
func TestScriptFiles(t *testing.T) {
	dir := templatesDir(t)
	for _, name := range scriptNames() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, filepath.FromSlash(name))
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if perm := fi.Mode().Perm(); perm != 0o755 {
				t.Errorf("mode %v, want 0755", perm)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			if !strings.HasPrefix(text, "#!/bin/sh\n") {
				t.Errorf("first line is not #!/bin/sh")
			}
			if strings.Contains(text, "\r") {
				t.Errorf("contains CR: line endings must be LF")
			}
			if !strings.HasSuffix(text, "\n") {
				t.Errorf("does not end in a newline")
			}
			for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
				n := i + 1
				if strings.TrimRight(line, " \t") != line {
					t.Errorf("line %d: trailing blanks", n)
				}
				trimmed := strings.TrimLeft(line, " ")
				if strings.Contains(line, "\t") {
					t.Errorf("line %d: tab (the seeds indent with spaces)", n)
				}
				if trimmed == "" || strings.HasPrefix(trimmed, "#") {
					continue // comments may be Japanese; banners must keep their '#'
				}
				if name == "mfes/monitor.sh" || slices.Contains(mfesRestored[name], trimmed) {
					continue // seed 000's commands, pinned by TestMFESMatchesSeed
				}
				if !shellLine.MatchString(trimmed) {
					t.Errorf("line %d: %q is not a seed shell line (external command or extraction damage?)", n, line)
				}
			}
		})
	}
}

// TestSyntax runs sh -n and dash -n on every script.
func TestSyntax(t *testing.T) {
	dir := templatesDir(t)
	for _, shell := range []string{"sh", "dash"} {
		t.Run(shell, func(t *testing.T) {
			bin, err := exec.LookPath(shell)
			if err != nil {
				if shell == "sh" {
					t.Fatalf("no sh on PATH: %v", err)
				}
				t.Skipf("dash is not installed (Debian and Ubuntu ship it as /bin/sh); sh -n still ran")
			}
			for _, name := range scriptNames() {
				path := filepath.Join(dir, filepath.FromSlash(name))
				out, err := exec.Command(bin, "-n", path).CombinedOutput()
				if err != nil || len(out) != 0 {
					t.Errorf("%s -n %s: err=%v output=%q", shell, name, err, out)
				}
			}
		})
	}
}

// TestRun runs every script under every case the way the cluster does (DESIGN §4): by its own
// shebang, working directory = the script's folder, stdin = /dev/null, a clean environment with
// only PATH plus the case's CLP_* variables. It also runs the script under dash and bash
// explicitly when they are installed, because /bin/sh is dash on Debian and bash on RHEL.
// Stdout and the exit code must match the table exactly, and nothing may go to stderr.
func TestRun(t *testing.T) {
	dir := templatesDir(t)
	type runner struct {
		name string
		argv func(path string) []string
	}
	runners := []runner{{"shebang", func(p string) []string { return []string{p} }}}
	for _, shell := range []string{"dash", "bash"} {
		if bin, err := exec.LookPath(shell); err == nil {
			runners = append(runners, runner{shell, func(p string) []string { return []string{bin, p} }})
		} else {
			t.Logf("%s is not installed: runs under it skipped", shell)
		}
	}
	for _, name := range scriptNames() {
		path := filepath.Join(dir, filepath.FromSlash(name))
		for _, c := range cases {
			w, ok := expected[name][c.name]
			if !ok {
				t.Errorf("%s: no expectation for case %s", name, c.name)
				continue
			}
			if slices.Contains(mfesElsewhere[name], c.name) || slices.Contains(fsmonElsewhere[name], c.name) {
				continue
			}
			for _, r := range runners {
				t.Run(name+"/"+c.name+"/"+r.name, func(t *testing.T) {
					t.Parallel()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					argv := r.argv(path)
					cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
					cmd.Dir = filepath.Dir(path)
					stubs := stubServiceCommands(t)
					cmd.Env = append([]string{"PATH=" + stubs + ":/usr/local/bin:/usr/bin:/bin"}, c.env...)
					var stdout, stderr bytes.Buffer
					cmd.Stdout = &stdout
					cmd.Stderr = &stderr
					err := cmd.Run()
					code := 0
					if err != nil {
						var ee *exec.ExitError
						if !errors.As(err, &ee) {
							t.Fatalf("run: %v", err)
						}
						code = ee.ExitCode()
					}
					if got := stdout.String(); got != w.out {
						t.Errorf("stdout:\n got %q\nwant %q", got, w.out)
					}
					if code != w.code {
						t.Errorf("exit code %d, want %d", code, w.code)
					}
					if stderr.Len() != 0 {
						t.Errorf("stderr not empty: %q", stderr.String())
					}
					wantCalls := ""
					if call, ok := serviceCall[name]; ok && slices.Contains(serviceCases, c.name) {
						wantCalls = call + "\n"
					}
					calls, err := os.ReadFile(filepath.Join(stubs, "calls"))
					if err != nil && !errors.Is(err, os.ErrNotExist) {
						t.Fatal(err)
					}
					if string(calls) != wantCalls {
						t.Errorf("service calls:\n got %q\nwant %q", calls, wantCalls)
					}
				})
			}
		}
	}
}
