// Command clpstat prints the cluster status in CLUSTERPRO's layout, or as JSON.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
