// Command casstart starts a Micro Focus Enterprise Server region and returns once it is up.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
