// Command labhttp is the netlab's helper inside a lab host's network namespace. It has three
// modes:
//
//	labhttp -listen ADDR:PORT -name NAME [-bind-retry]
//	    serves every HTTP request with the body NAME+"\n", until killed. With -bind-retry it
//	    retries the bind every 10 ms, so it can be started before its (floating) address exists.
//	labhttp -probe URL [-interval 10ms] [-timeout 100ms] [-for 10m]
//	    starts one GET of URL every interval, each on a fresh connection with its own timeout,
//	    and prints one line per attempt on stdout, in the order they finish:
//	        <start unix-nanos> <end unix-nanos> ok <body's first line>
//	        <start unix-nanos> <end unix-nanos> fail <reason>
//	    It stops after -for, and when stdout is gone (its reader died).
//	labhttp -ping ADDR [-timeout 1s]
//	    sends one ICMP echo request and exits 0 when the reply came within the timeout, 1 if
//	    not (so the lab needs no ping binary).
//
// A separate process does this because a Go program cannot safely move some of its threads into
// another network namespace: the process is started inside the namespace instead.
package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"clpkit/test/netlab/probefail"
)

func main() {
	listen := flag.String("listen", "", "serve HTTP on ADDR:PORT")
	name := flag.String("name", "", "the name every answer carries")
	bindRetry := flag.Bool("bind-retry", false, "retry the bind every 10ms until the address exists")
	probe := flag.String("probe", "", "poll this URL and print one line per attempt")
	interval := flag.Duration("interval", 10*time.Millisecond, "time between probe attempts")
	timeout := flag.Duration("timeout", 100*time.Millisecond, "timeout of one probe attempt or ping")
	bound := flag.Duration("for", 10*time.Minute, "stop probing after this long")
	ping := flag.String("ping", "", "send one ICMP echo request to this address")
	flag.Parse()

	var err error
	switch {
	case *listen != "":
		err = serve(*listen, *name, *bindRetry)
	case *probe != "":
		err = probeLoop(*probe, *interval, *timeout, *bound)
	case *ping != "":
		err = pingOnce(*ping, *timeout)
	default:
		err = errors.New("one of -listen, -probe or -ping is required")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "labhttp:", err)
		os.Exit(1)
	}
}

func serve(addr, name string, retry bool) error {
	var l net.Listener
	for {
		var err error
		l, err = net.Listen("tcp", addr)
		if err == nil {
			break
		}
		// EADDRNOTAVAIL is the expected error while a floating address is elsewhere; any error
		// is retried, since the address may also be half-configured.
		if !retry {
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	body := []byte(name + "\n")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	if err := srv.Serve(l); err != nil {
		return fmt.Errorf("serving on %s: %w", addr, err)
	}
	return nil
}

func probeLoop(url string, interval, timeout, bound time.Duration) error {
	// A fresh connection per attempt: a client that reconnects sees where the address lives
	// now, instead of waiting on a connection to a server that is gone.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	var mu sync.Mutex
	var writeErr error
	emit := func(start, end time.Time, result string) {
		mu.Lock()
		defer mu.Unlock()
		if writeErr != nil {
			return
		}
		_, writeErr = fmt.Fprintf(os.Stdout, "%d %d %s\n", start.UnixNano(), end.UnixNano(), result)
	}
	failed := func() error { mu.Lock(); defer mu.Unlock(); return writeErr }

	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var wg sync.WaitGroup
	// Attempts overlap, so a request hanging on a dead server does not delay noticing the
	// first answer of the new one by more than interval.
	for {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			result := attempt(ctx, client, url, timeout)
			emit(start, time.Now(), result)
		}()
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
		}
		if err := failed(); err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("writing results: %w", err)
		}
	}
}

func attempt(parent context.Context, client *http.Client, url string, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "fail " + probefail.OneLine(err.Error())
	}
	resp, err := client.Do(req)
	if err != nil {
		return "fail " + probefail.Reason(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "fail " + probefail.Reason(err)
	}
	if resp.StatusCode != http.StatusOK {
		return "fail status " + resp.Status
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if first == "" {
		return "fail empty answer"
	}
	return "ok " + first
}

func pingOnce(addr string, timeout time.Duration) error {
	dst, err := net.ResolveIPAddr("ip4", addr)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", addr, err)
	}
	c, err := net.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		return fmt.Errorf("opening a raw ICMP socket: %w", err)
	}
	defer c.Close()
	var token [8]byte
	if _, err := rand.Read(token[:]); err != nil {
		return fmt.Errorf("making an echo token: %w", err)
	}
	id := uint16(os.Getpid())
	msg := make([]byte, 8+len(token))
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], id)
	binary.BigEndian.PutUint16(msg[6:], 1)
	copy(msg[8:], token[:])
	binary.BigEndian.PutUint16(msg[2:], checksum(msg))
	start := time.Now()
	if err := c.SetDeadline(start.Add(timeout)); err != nil {
		return fmt.Errorf("setting the deadline: %w", err)
	}
	if _, err := c.WriteTo(msg, dst); err != nil {
		return fmt.Errorf("sending an echo request to %s: %w", addr, err)
	}
	buf := make([]byte, 1500)
	for {
		// The raw socket sees every ICMP message of the namespace; only our own reply counts.
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("no echo reply from %s within %s: %w", addr, timeout, err)
		}
		r := buf[:n]
		if n >= 8+len(token) && r[0] == 0 && binary.BigEndian.Uint16(r[4:]) == id &&
			string(r[8:8+len(token)]) == string(token[:]) && from.(*net.IPAddr).IP.Equal(dst.IP) {
			fmt.Printf("reply from %s in %s\n", addr, time.Since(start).Round(time.Microsecond))
			return nil
		}
	}
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
