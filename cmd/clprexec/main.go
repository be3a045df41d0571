// Command clprexec asks a server of the cluster to fail a group over (CLUSTERPRO's
// clprexec --failover).
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
