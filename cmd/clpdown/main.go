// Command clpdown stops the cluster service on a server, then shuts the machine down or reboots it.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
