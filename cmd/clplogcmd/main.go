// Command clplogcmd writes a message to the clpkit alert log and to syslog, with the options of
// CLUSTERPRO's clplogcmd. See man/clplogcmd.8.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr, os.Getenv)) }
