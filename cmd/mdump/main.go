// Command mdump prints a Micro Focus Enterprise Server region's state the way the seed's monitor
// script reads it.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
