// Package version names the clpkit release, for --version and the CLP_VERSION_* variables.
package version

// Version is the clpkit release.
const Version = "0.1.0"

// Major is the major part of Version.
const Major = "0"
