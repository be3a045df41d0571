// Package version names the clpkit release, for --version and the CLP_VERSION_* variables.
package version

import "runtime/debug"

// Version is the clpkit release: CLP_VERSION_FULL of every script, and what --version prints.
const Version = "0.1.0"

// Major is the major part of Version: CLP_VERSION_MAJOR.
const Major = "0"

// String is what --version prints after the command's name: Version, and the commit the binary
// was built from when the build recorded one (go build in a git checkout does; "+dirty" when the
// tree had uncommitted changes), so an operator can tell two builds of one release apart.
func String() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return Version
	}
	return Version + " (" + rev + dirty + ")"
}
