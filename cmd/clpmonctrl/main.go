// Command clpmonctrl suspends and resumes monitor resources, and clears or shows their recovery
// counters.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
