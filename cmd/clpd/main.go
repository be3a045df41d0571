// Command clpd is the clpkit cluster daemon: one per server.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
