package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// takeoverTimeout bounds the wait for the other server to take the group over: a lease of 1 s,
// etcd's expiry sweep, the address's ARP probe and the scripts take a few seconds.
const takeoverTimeout = time.Minute

// onRunningLab runs cmd (cut or mend) on the lab in dir, which must be up, within a bound that
// covers a takeover.
func onRunningLab(dir string, cmd func(context.Context, *lab) error) error {
	l, err := openLab(dir)
	if err != nil {
		return err
	}
	if !nsExists(switchNS) {
		return errors.New("no lab is up (make lab starts one)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), takeoverTimeout+30*time.Second)
	defer cancel()
	return cmd(ctx, l)
}

// cut pulls the cable of the server that runs the group, then waits for the other to take it
// over.
func cut(ctx context.Context, l *lab) error {
	for _, s := range servers {
		if up, err := cableUp(ctx, s); err != nil {
			return err
		} else if !up {
			return fmt.Errorf("%s's cable is cut already; %s plugs it back in", s, l.makeCommand("mend"))
		}
	}
	owner := l.findOwner(ctx)
	if owner == "" {
		return errors.New("group failover1 is Online nowhere: nothing to cut (bin/clpstat shows why)")
	}
	other := servers[0]
	if owner == other {
		other = servers[1]
	}
	if err := setCable(ctx, owner, false); err != nil {
		return err
	}
	cutAt := time.Now()
	fmt.Printf("clplab: cut %s's cable (ip -n %s link set %s down); %s fences itself, %s takes failover1 over once %s's lease expires\n",
		owner, switchNS, owner, owner, other, owner)
	for {
		if st, err := l.status(ctx, other); err == nil && st.owner() == other && st.resourcesOnline() {
			break
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("%s did not take failover1 over within %s; see %s and %s",
				other, takeoverTimeout, display(l.path(other, "log", "alert.log")), display(l.logFile(other)))
		}
	}
	fmt.Printf("clplab: failover1 is Online on %s, %.1f s after the cut\n", other, time.Since(cutAt).Seconds())
	fmt.Printf("  CLPKIT_SOCKET=%s %s   # the cluster as %s sees it now\n", l.socket(other), l.command("clpstat"), other)
	fmt.Printf("  %s   # plugs the cable back in; failover1 stays on %s\n", l.makeCommand("mend"), other)
	return nil
}

// mend plugs every cable back in, then waits until both servers see each other Online.
func mend(ctx context.Context, l *lab) error {
	var mended []string
	for _, h := range hosts {
		up, err := cableUp(ctx, h.name)
		if err != nil {
			return err
		}
		if !up {
			if err := setCable(ctx, h.name, true); err != nil {
				return err
			}
			mended = append(mended, h.name)
		}
	}
	if len(mended) == 0 {
		fmt.Println("clplab: every cable is plugged in already")
	} else {
		fmt.Printf("clplab: plugged %s back in; waiting for both servers to be Online\n", strings.Join(mended, " and "))
	}
	for {
		ok := true
		for _, s := range servers {
			st, err := l.status(ctx, s)
			if err != nil || !st.serverOnline("server1") || !st.serverOnline("server2") {
				ok = false
				break
			}
		}
		if ok {
			break
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return fmt.Errorf("the servers did not see each other Online within %s", takeoverTimeout)
		}
	}
	owner := l.findOwner(ctx)
	if owner == "" {
		fmt.Println("clplab: both servers are Online; failover1 runs nowhere")
		return nil
	}
	fmt.Printf("clplab: both servers are Online; failover1 runs on %s (no automatic failback)\n", owner)
	fmt.Printf("  CLPKIT_SOCKET=%s %s -m failover1   # moves it back\n", l.socket(owner), l.command("clpgrp"))
	return nil
}
