package seed000

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"clpkit/test/netlab/probefail"
)

// The test binary doubles as the lab's service and its client: run with SEED000_HELPER set, it is
// one of the programs below instead of the tests (as test/seedsamba's probe is). The scripts and
// the test start it inside the lab hosts.
//
//	serve  -listen ADDR:PORT -counter FILE -name NAME -ready FILE
//	    the counting service, started by a group's start.sh and stopped (SIGTERM) by its stop.sh.
//	daemon -sock PATH -name NAME -state FILE
//	    the same service pre-started on a server outside the cluster (the seed's MFDS, started at
//	    boot on both nodes): idle until a group's start.sh activates it through the socket.
//	ctl    -sock PATH activate ADDR:PORT FILE | deactivate
//	    what those start.sh and stop.sh run.
//	probe  -url URL -id ID [-interval 20ms] [-timeout 300ms]
//	    the seed's client: one request at a time, printing one line per request.
const helperEnv = "SEED000_HELPER"

func helperMain(mode string, args []string) int {
	var err error
	switch mode {
	case "serve":
		err = serveMain(args)
	case "daemon":
		err = daemonMain(args)
	case "ctl":
		err = ctlMain(args)
	case "probe":
		err = probeMain(args)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "seed000 %s: %v\n", mode, err)
		return 1
	}
	return 0
}

// counter is the service's state: a file on the shared disk with one line per request served,
// "VALUE HOST REQUEST", each appended and fsync'ed before the answer leaves. The counter's value is
// the last line's; nothing is kept in memory, so every request reads what the disk holds. Two
// instances writing at once, or a write lost on the way to the other server, would show as a value
// written twice.
type counter struct {
	path string
	name string
	mu   sync.Mutex
}

func (c *counter) next(req string) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(c.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	last, err := lastValue(f)
	if err != nil {
		return 0, err
	}
	v := last + 1
	if _, err := fmt.Fprintf(f, "%d %s %s\n", v, c.name, req); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return v, nil
}

// lastValue reads the value of the file's last line (0 for an empty file). A last line without
// its newline is a torn write, which is an error, not something to repair.
func lastValue(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() == 0 {
		return 0, nil
	}
	off := max(st.Size()-512, 0)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if buf[len(buf)-1] != '\n' {
		return 0, fmt.Errorf("%s: the last line is torn: %q", f.Name(), buf)
	}
	buf = buf[:len(buf)-1]
	if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
		buf = buf[i+1:]
	}
	field, _, _ := bytes.Cut(buf, []byte(" "))
	v, err := strconv.ParseInt(string(field), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: last line %q: %w", f.Name(), buf, err)
	}
	return v, nil
}

func (c *counter) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := c.next(r.URL.Query().Get("req"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%d %s\n", v, c.name)
	})
}

// listen binds addr, retrying for a while: the address may still be on its way.
func listen(addr string) (net.Listener, error) {
	var err error
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			return l, nil
		}
	}
	return nil, fmt.Errorf("listening on %s: %w", addr, err)
}

func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("listen", "", "ADDR:PORT")
	path := fs.String("counter", "", "the counter file")
	name := fs.String("name", "", "the host name in every answer")
	ready := fs.String("ready", "", "written once listening, removed at exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	l, err := listen(*addr)
	if err != nil {
		return err
	}
	c := &counter{path: *path, name: *name}
	srv := &http.Server{Handler: c.handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	if err := os.WriteFile(*ready, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	<-sigs
	// The requests under way finish (their writes are the disk's last); nothing new starts.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = srv.Shutdown(ctx)
	_ = os.Remove(*ready)
	return err
}

// daemon is the pre-started service: one per server, activated by the group that owns the
// floating address and the disk.
type daemon struct {
	name, state string
	mu          sync.Mutex
	srv         *http.Server
	done        chan struct{}
}

func daemonMain(args []string) error {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	sock := fs.String("sock", "", "the control socket")
	name := fs.String("name", "", "the host name in every answer")
	state := fs.String("state", "", "exists while the service is active")
	if err := fs.Parse(args); err != nil {
		return err
	}
	_ = os.Remove(*sock)
	_ = os.Remove(*state)
	l, err := net.Listen("unix", *sock)
	if err != nil {
		return err
	}
	d := &daemon{name: *name, state: *state}
	for {
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		go d.control(conn)
	}
}

func (d *daemon) control(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return
	}
	var reply error
	switch f := strings.Fields(line); {
	case len(f) == 3 && f[0] == "activate":
		reply = d.activate(f[1], f[2])
	case len(f) == 1 && f[0] == "deactivate":
		reply = d.deactivate()
	default:
		reply = fmt.Errorf("unknown command %q", strings.TrimSpace(line))
	}
	if reply != nil {
		fmt.Fprintf(conn, "error %v\n", reply)
		return
	}
	fmt.Fprintln(conn, "ok")
}

// activate starts serving; the state file exists from before the first bind to after the last
// answer, so that what the test samples covers the service's whole active life.
func (d *daemon) activate(addr, path string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.srv != nil {
		if err := d.stopLocked(); err != nil {
			return err
		}
	}
	if err := os.WriteFile(d.state, []byte(addr+" "+path+"\n"), 0o644); err != nil {
		return err
	}
	l, err := listen(addr)
	if err != nil {
		_ = os.Remove(d.state)
		return err
	}
	c := &counter{path: path, name: d.name}
	d.srv = &http.Server{Handler: c.handler(), ReadHeaderTimeout: 5 * time.Second}
	d.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) { _ = srv.Serve(l); close(done) }(d.srv, d.done)
	return nil
}

func (d *daemon) deactivate() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.srv == nil {
		return nil
	}
	return d.stopLocked()
}

func (d *daemon) stopLocked() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := d.srv.Shutdown(ctx)
	<-d.done
	d.srv = nil
	if rerr := os.Remove(d.state); err == nil {
		err = rerr
	}
	return err
}

func ctlMain(args []string) error {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	sock := fs.String("sock", "", "the daemon's control socket")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := net.DialTimeout("unix", *sock, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintln(conn, strings.Join(fs.Args(), " ")); err != nil {
		return err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(reply) != "ok" {
		return errors.New(strings.TrimSpace(reply))
	}
	return nil
}

// probeMain is the client: one GET at a time on a fresh connection, started every interval (or
// as soon as the previous one ended, if later), each carrying its own request id. It prints
//
//	SEQ START-NS END-NS ok VALUE HOST
//	SEQ START-NS END-NS fail REASON
//
// and stops when its output is gone.
func probeMain(args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	url := fs.String("url", "", "the service")
	id := fs.String("id", "c", "the client's name, the prefix of its request ids")
	interval := fs.Duration("interval", 20*time.Millisecond, "time between the starts of two requests")
	timeout := fs.Duration("timeout", 300*time.Millisecond, "timeout of one request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}, Timeout: *timeout}
	out := bufio.NewWriter(os.Stdout)
	for seq := 1; ; seq++ {
		start := time.Now()
		result := get(client, fmt.Sprintf("%s?req=%s-%d", *url, *id, seq))
		fmt.Fprintf(out, "%d %d %d %s\n", seq, start.UnixNano(), time.Now().UnixNano(), result)
		if err := out.Flush(); err != nil {
			return nil
		}
		time.Sleep(time.Until(start.Add(*interval)))
	}
}

func get(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		return "fail " + probefail.Reason(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "fail reading: " + probefail.OneLine(err.Error())
	}
	body := strings.TrimSpace(string(b))
	if resp.StatusCode != http.StatusOK {
		return "fail status " + strconv.Itoa(resp.StatusCode) + " " + probefail.OneLine(body)
	}
	if f := strings.Fields(body); len(f) != 2 {
		return "fail answer " + probefail.OneLine(body)
	}
	return "ok " + body
}
