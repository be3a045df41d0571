package netlab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// toolsPkg is the lab's helper command, built for the test binary that uses the lab.
const toolsPkg = "clpkit/test/netlab/cmd/labhttp"

// toolsDir is where this test binary's tools live: one directory per process, so concurrent test
// binaries (go test runs packages in parallel) never share a half-written file.
func toolsDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("clpkit-netlab-%d", os.Getpid()))
}

// BuildTools builds labhttp once per test binary run and returns the directory holding it. The
// test binary's TestMain should call RemoveTools after m.Run.
func BuildTools(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, err := buildTools(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// RemoveTools removes what BuildTools built for this test binary.
// ToolsDir is where BuildTools puts this test binary's tools (for a leftover check).
func ToolsDir() string { return toolsDir() }

func RemoveTools() error {
	if err := os.RemoveAll(toolsDir()); err != nil {
		return fmt.Errorf("removing the lab tools: %w", err)
	}
	return nil
}

func buildTools(ctx context.Context) (string, error) {
	dir := toolsDir()
	bin := filepath.Join(dir, "labhttp")
	if _, err := os.Stat(bin); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("building the lab tools: %w", err)
	}
	// Built under a private name and renamed into place, so tests that build at the same time
	// never run a half-written binary and need no lock shared between them.
	tmp, err := os.CreateTemp(dir, ".labhttp-*")
	if err != nil {
		return "", fmt.Errorf("building the lab tools: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	// The test binary runs in its package's directory, inside the module, so the import path
	// resolves without knowing where the module lives.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp.Name(), toolsPkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", toolsPkg, err, out)
	}
	if err := os.Rename(tmp.Name(), bin); err != nil {
		return "", fmt.Errorf("building the lab tools: %w", err)
	}
	return dir, nil
}
