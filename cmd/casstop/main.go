// Command casstop stops a Micro Focus Enterprise Server region and returns once nothing of it runs.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
