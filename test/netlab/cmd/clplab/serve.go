package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serveMain is the web resource: clplab serve -listen ADDR:PORT -name NAME -counter FILE
// [-pidfile FILE]. Every GET of / adds one to the number in FILE (on the shared disk, written
// through and renamed into place, so a failover finds the last count) and answers with it and
// NAME; /healthz answers without counting. It exits 0 on SIGTERM or SIGINT.
func serveMain(args []string) error {
	fl := flag.NewFlagSet("clplab serve", flag.ContinueOnError)
	listen := fl.String("listen", "", "serve HTTP on ADDR:PORT")
	name := fl.String("name", "", "the server name every answer carries")
	counter := fl.String("counter", "", "the file that counts the requests")
	pidfile := fl.String("pidfile", "", "write this process's pid here while it runs")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *listen == "" || *name == "" || *counter == "" {
		return errors.New("-listen, -name and -counter are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// The floating address is added before web starts; retrying covers a slow start anyway.
	var l net.Listener
	for end := time.Now().Add(10 * time.Second); ; {
		var err error
		if l, err = net.Listen("tcp", *listen); err == nil {
			break
		}
		if time.Now().After(end) || ctx.Err() != nil {
			return fmt.Errorf("listening on %s: %w", *listen, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if *pidfile != "" {
		if err := os.WriteFile(*pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return err
		}
		defer os.Remove(*pidfile)
	}
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "ok %s\n", *name)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		n, err := bump(*counter)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "%s: the counter on the shared disk: %v\n", *name, err)
			return
		}
		fmt.Fprintf(w, "Hello from %s: request %d (the counter lives on the shared disk)\n", *name, n)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

// bump adds one to the number in path (none yet counts as 0) and writes it back durably.
func bump(path string) (int, error) {
	n := 0
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		if n, err = strconv.Atoi(s); err != nil {
			return 0, fmt.Errorf("%s holds %q, not a number", path, s)
		}
	}
	n++
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(f, "%d\n", n); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return n, nil
}

// getMain is clplab get URL: one GET, the body on standard output, an error unless 200 OK.
func getMain(args []string) error {
	fl := flag.NewFlagSet("clplab get", flag.ContinueOnError)
	timeout := fl.Duration("timeout", 2*time.Second, "give up after this long")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return errors.New("usage: clplab get [-timeout d] URL")
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := client.Get(fl.Arg(0))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	os.Stdout.Write(b)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", fl.Arg(0), resp.Status)
	}
	return nil
}
