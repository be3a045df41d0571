// Command clp_sambamon watches a Samba share and exits when Samba is unhealthy.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
