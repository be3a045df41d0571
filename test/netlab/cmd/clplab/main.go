// Command clplab runs a two-server clpkit cluster on one machine, so a user sees a failover in
// minutes: `make lab` runs `clplab up .lab`.
//
//	clplab up DIR     network namespaces clplab-store, -server1, -server2 and -client on one
//	                  switch (the namespace clplab-switch), the PKI and one configuration per
//	                  server and for the witness under DIR, a shared disk (an image file on a
//	                  loop device, ext4), then the witness (clpd --witness on the store host)
//	                  and clpd on both servers; it returns once group failover1 (a floating
//	                  address, the disk and an HTTP server) is Online, and prints what to try.
//	clplab cut DIR    pulls the cable of the server that runs failover1, and waits for the
//	                  other server to take it over.
//	clplab mend DIR   plugs every cable back in, and waits for both servers to be Online.
//	clplab down DIR   stops clpd, the witness and everything else in the lab's namespaces,
//	                  unmounts the disk, detaches the loop device, deletes the namespaces and
//	                  DIR. It is idempotent, and `up` runs it when it fails half-way.
//
// The namespaces share the machine's mount namespace (clpd is started with nsenter --net, so it
// sees the cgroup v2 mount), which is why each server mounts the shared disk at its own mount
// point, DIR/<server>/mnt. Two helper modes serve the lab itself: `clplab serve` is the HTTP
// server of the resource web (it counts its requests in a file on the shared disk), and
// `clplab get URL` fetches a URL from inside a namespace.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "up", "cut", "mend", "down":
		if len(args) != 1 || strings.HasPrefix(args[0], "-") {
			usage()
		}
		if missing := checkRequirements(); len(missing) > 0 {
			for _, m := range missing {
				fmt.Fprintf(os.Stderr, "clplab %s: %s\n", cmd, m)
			}
			os.Exit(1)
		}
		switch cmd {
		case "up":
			err = up(args[0])
		case "cut":
			err = onRunningLab(args[0], cut)
		case "mend":
			err = onRunningLab(args[0], mend)
		case "down":
			err = down(args[0], os.Stdout)
		}
	case "serve":
		err = serveMain(args)
	case "get":
		err = getMain(args)
	case "-h", "-help", "--help", "help":
		fmt.Print(usageText)
		return
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "clplab %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

const usageText = `usage: clplab up|cut|mend|down DIR
  up DIR    start a two-server cluster, a witness and a client in network namespaces (state in DIR)
  cut DIR   pull the cable of the server that runs failover1
  mend DIR  plug every cable back in
  down DIR  stop everything, delete the namespaces and DIR (safe to run any time)
`

func usage() {
	fmt.Fprint(os.Stderr, usageText)
	os.Exit(2)
}

// checkRequirements returns every missing requirement, one line each.
func checkRequirements() []string {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "not root: network namespaces, loop devices and mounts need root (run it with sudo)")
	}
	for _, tool := range []struct{ name, pkg string }{
		{"ip", "iproute2"}, {"nsenter", "util-linux"}, {"losetup", "mount"}, {"mkfs.ext4", "e2fsprogs"},
	} {
		if _, err := lookPath(tool.name); err != nil {
			missing = append(missing, fmt.Sprintf("%s is not installed (apt-get install %s)", tool.name, tool.pkg))
		}
	}
	return missing
}
