// Command mfds starts or stops the Micro Focus Enterprise Server directory server.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
