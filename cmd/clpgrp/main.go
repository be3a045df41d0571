// Command clpgrp starts, stops and moves failover groups, and names the server running one.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
