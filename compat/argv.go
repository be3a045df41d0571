package compat

import "strings"

// Reorder moves positional arguments after the flags, keeping their order, so a flag parser that
// stops at the first positional (Go's flag package, urfave/cli) still sees every flag of a legacy
// command line such as `clpgrp -s failover1 -h server1`. takesValue reports whether a flag (as
// written, e.g. "-h" or "--apito") consumes the next argument. "--" ends the flags: it and what
// follows stay at the end. Glued values ("--apito=30") are single arguments already.
func Reorder(args []string, takesValue func(flag string) bool) []string {
	flags := make([]string, 0, len(args))
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if !strings.Contains(a, "=") && takesValue(a) && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(flags, pos...)
}
