package proctest

import (
	"os/exec"
	"path/filepath"
	"testing"
)

func TestCopyProgram(t *testing.T) {
	dst := CopyProgram(t, "true", filepath.Join(t.TempDir(), "bin", "my-true"))
	if err := exec.Command(dst).Run(); err != nil {
		t.Fatalf("the copy of true does not run: %v", err)
	}
	t.Run("missing", func(t *testing.T) {
		CopyProgram(t, "no-such-program-here", filepath.Join(t.TempDir(), "x"))
		t.Error("a missing program did not skip the test")
	})
}
