// Command clprsc starts and stops one group resource, and names the server running one.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
