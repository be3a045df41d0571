// Command pcheck watches the processes of a ProcessSaver pfile and restarts them.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
