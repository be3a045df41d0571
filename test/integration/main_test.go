// Package integration runs real clpd daemons and the real client commands, and asserts what an
// operator or a script sees: exact output, exit statuses, script environments, processes.
package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"clpkit/internal/clustertest"
)

// bin holds the commands built once for the whole package.
type suite struct{ bin string }

func setup(t *testing.T) suite {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the cluster commands require root (they refuse others with 'Log in as root.')")
	}
	return suite{bin: buildOnce(t)}
}

func buildOnce(t *testing.T) string {
	t.Helper()
	dir := binDir()
	if _, err := os.Stat(filepath.Join(dir, "clpd")); err == nil {
		return dir
	}
	return clustertest.Build(t, dir)
}

// binDir is where the package builds the commands; TestMain removes it.
func binDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("clpkit-integration-bin-%d", os.Getpid()))
}

func TestMain(m *testing.M) {
	code := m.Run()
	code = clustertest.CheckLeftovers(os.Stderr, code, binDir())
	_ = os.RemoveAll(binDir())
	os.Exit(code)
}

// dumpScript writes the CLP_*/ARMS_* variables, the working directory and the pid the script got
// into <dir>/dumps/<name>.<n> (n counts runs), then runs tail.
func dumpScript(t *testing.T, dir, rel, name, tail string) string {
	t.Helper()
	body := fmt.Sprintf(`d=%q/dumps; mkdir -p "$d"
n=1; while [ -e "$d/%s.$n" ]; do n=$((n+1)); done
{ env | grep -E '^(CLP|ARMS)_' | LC_ALL=C sort; echo "PWD=$(pwd)"; echo "SELF=$$"; } > "$d/%s.$n.tmp"
mv "$d/%s.$n.tmp" "$d/%s.$n"
%s
`, dir, name, name, name, name, tail)
	return clustertest.Script(t, dir, rel, body)
}

// dumps returns the dump files of name, in run order.
func dumps(t *testing.T, dir, name string) []string {
	t.Helper()
	var out []string
	for n := 1; ; n++ {
		b, err := os.ReadFile(filepath.Join(dir, "dumps", fmt.Sprintf("%s.%d", name, n)))
		if err != nil {
			return out
		}
		out = append(out, string(b))
	}
}

// envLines is the expected dump of a script: the given variables plus the ones that are the same
// for every script of this test run, sorted as `env | sort` sorts them.
func envLines(c *clustertest.Cluster, scriptDir string, vars map[string]string, self string) string {
	osver, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	all := map[string]string{
		"CLP_PATH":          filepath.Dir(c.Bin),
		"CLP_VERSION_FULL":  "0.1.0",
		"CLP_VERSION_MAJOR": "0",
		"CLP_OSNAME":        "Linux",
		"CLP_OSVER":         strings.TrimSpace(string(osver)),
		"CLP_SCRIPT_PATH":   scriptDir,
	}
	for k, v := range vars {
		all[k] = v
	}
	var lines []string
	for k, v := range all {
		lines = append(lines, k+"="+v)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\nPWD=" + scriptDir + "\nSELF=" + self + "\n"
}

// selfOf returns the SELF= value of a dump.
func selfOf(dump string) string {
	for _, l := range strings.Split(dump, "\n") {
		if v, ok := strings.CutPrefix(l, "SELF="); ok {
			return v
		}
	}
	return ""
}

// group is the TOML of a [[group]] table: its name, then its other keys, a line each.
func group(name string, keys ...string) string {
	return fmt.Sprintf("\n[[group]]\nname = %q\n", name) + tomlLines(keys)
}

// execResource is the TOML of an exec [[group.resource]] whose scripts are start.sh and stop.sh
// of the folder scripts (relative to the cluster's directory, or absolute), then its other keys,
// a line each.
func execResource(name, scripts string, keys ...string) string {
	return fmt.Sprintf("\n[[group.resource]]\nname = %q\ntype = \"exec\"\nstart = %q\nstop = %q\n",
		name, scripts+"/start.sh", scripts+"/stop.sh") + tomlLines(keys)
}

func tomlLines(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return strings.Join(keys, "\n") + "\n"
}

// repoPath is the absolute path of rel, a path relative to the module root.
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("../..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// touch creates the empty file path, most often the file a test's script or monitor waits for.
func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
