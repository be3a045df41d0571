// Command clp_nfsmon watches an NFS export and exits when the NFS server is unhealthy.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
