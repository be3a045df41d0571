package compat

import (
	"testing"
)

// A pfile is read up to a bound: /dev/zero (or a runaway generator's output) is refused with one
// line instead of growing pcheck or padmin until the kernel kills it.
func TestPfileBounded(t *testing.T) {
	for name, load := range map[string]func(string) error{
		"LoadPfileParams": func(p string) error { _, err := LoadPfileParams(p); return err },
		"LoadPfile":       func(p string) error { _, err := LoadPfile(p); return err },
	} {
		err := load("/dev/zero")
		if err == nil {
			t.Fatalf("%s(/dev/zero) succeeded", name)
		}
		t.Logf("%s: %v", name, err)
		if name == "LoadPfileParams" && err.Error() != "pfile /dev/zero is larger than 1 MiB" {
			t.Errorf("%s(/dev/zero) = %q", name, err)
		}
	}
}
