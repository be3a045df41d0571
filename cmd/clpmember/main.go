// Command clpmember lists, adds and removes the members of the cluster's embedded store.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
