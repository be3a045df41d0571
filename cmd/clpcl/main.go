// Command clpcl starts, stops, restarts, suspends and resumes the cluster service.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
