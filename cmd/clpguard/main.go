// Command clpguard fences this server's groups when clpd cannot: clpd arms it with a deadline,
// and if the deadline passes without a newer one, clpguard kills the groups' cgroups itself.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
