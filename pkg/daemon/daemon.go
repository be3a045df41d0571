// Package daemon is clpd as a library: it loads the configuration, takes the server's lock,
// starts the embedded etcd member, joins the cluster, runs the cluster service and serves the
// local API until its context ends. cmd/clpd is a thin command on top, as etcdmain is on embed.
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"

	"clpkit/pkg/alert"
	"clpkit/pkg/api"
	"clpkit/pkg/cluster"
	"clpkit/pkg/config"
	"clpkit/pkg/pki"
	"clpkit/pkg/resource"
	"clpkit/pkg/status"
	"clpkit/pkg/store"
	"clpkit/pkg/version"
)

// ErrAlreadyRunning says another clpd runs on the same data directory or socket.
var ErrAlreadyRunning = errors.New("another clpd is already running")

// Options are clpd's command-line settings.
type Options struct {
	ConfigPath string
	// Server is this server's name; "" picks it from the host name, or the only server.
	Server string
	// Socket is the API socket; "" means <run_dir>/clpd.sock.
	Socket string
	// Env is the process environment (os.Getenv in production).
	Env func(string) string
	// Environ is the base environment of scripts (os.Environ() in production).
	Environ []string
	Log     *slog.Logger
	// Hostname is os.Hostname in production.
	Hostname func() (string, error)
}

// SelectServer decides which configured server this process is: the one named, else the one
// whose name is the short host name, else the only server of a one-server cluster.
func SelectServer(cfg *config.Config, named string, hostname func() (string, error)) (string, error) {
	if named != "" {
		if _, ok := cfg.Server(named); !ok {
			return "", &config.Error{File: cfg.File, Msg: fmt.Sprintf("no server named %q (servers: %s)", named, serverNames(cfg))}
		}
		return named, nil
	}
	if h, err := hostname(); err == nil {
		if i := strings.IndexByte(h, '.'); i >= 0 {
			h = h[:i]
		}
		if _, ok := cfg.Server(h); ok {
			return h, nil
		}
	}
	if len(cfg.Servers) == 1 {
		return cfg.Servers[0].Name, nil
	}
	return "", &config.Error{File: cfg.File, Msg: fmt.Sprintf("this host's name matches no server (servers: %s); name one with --server", serverNames(cfg))}
}

func serverNames(cfg *config.Config) string {
	var n []string
	for _, s := range cfg.Servers {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

// RunWitness runs the witness of a two-server cluster until ctx ends: only its member of the
// embedded store, no groups, no API (clpd --witness).
func RunWitness(ctx context.Context, o Options) error {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	if cfg.Witness == nil {
		return &config.Error{File: cfg.File, Msg: "no [witness] table: clpd --witness runs the witness it declares; add [witness] with name and address"}
	}
	if err := os.MkdirAll(cfg.Paths.DataDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", cfg.Paths.DataDir, err)
	}
	if err := os.MkdirAll(cfg.Paths.LogDir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", cfg.Paths.LogDir, err)
	}
	unlock, err := lock(filepath.Join(cfg.Paths.DataDir, "clpd.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	if err := pki.Check(pki.ServerFiles(cfg.TLS.Dir, cfg.Witness.Name)); err != nil {
		return fmt.Errorf("the witness's certificate: %w: create the cluster's certificates with clpd --make-certs and copy %s here", err, cfg.TLS.Dir)
	}
	if err := checkSpace(cfg.Paths.DataDir); err != nil {
		return err
	}
	m, err := startMember(ctx, cfg, *cfg.Witness, o.Log)
	if err != nil {
		return err
	}
	defer m.Close()
	notify("READY=1")
	notify("STATUS=witness " + cfg.Witness.Name + " of cluster " + cfg.Cluster.Name)
	o.Log.Info("the witness runs", "witness", cfg.Witness.Name, "cluster", cfg.Cluster.Name, "peer", cfg.Witness.EtcdPeerURL)
	select {
	case <-ctx.Done():
	case <-m.Stopped():
		return errMemberStopped(cfg)
	}
	notify("STOPPING=1")
	return nil
}

// Run runs clpd until ctx ends, then stops this server's groups and returns.
func Run(ctx context.Context, o Options) error {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return err
	}
	local, err := SelectServer(cfg, o.Server, o.Hostname)
	if err != nil {
		return err
	}
	for _, d := range []string{cfg.Paths.DataDir, cfg.Paths.LogDir, cfg.Paths.RunDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	unlock, err := lock(filepath.Join(cfg.Paths.DataDir, "clpd.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	socket := o.Socket
	if socket == "" {
		socket = filepath.Join(cfg.Paths.RunDir, "clpd.sock")
	}
	ln, err := api.Listen(socket)
	if errors.Is(err, api.ErrInUse) {
		return fmt.Errorf("%w on %s", ErrAlreadyRunning, socket)
	}
	if err != nil {
		return err
	}
	defer os.Remove(socket)
	defer ln.Close()

	alertPath := o.Env(alert.EnvPath)
	if alertPath == "" {
		alertPath = filepath.Join(cfg.Paths.LogDir, "alert.log")
	}
	alerts := alert.NewStandard(alertPath, local, time.Now)
	defer alerts.Close()
	note := func(module string, id int, level, text string) {
		lv, err := alert.ParseLevel(level)
		if err != nil {
			lv = alert.Info
		}
		if err := alerts.Log(context.WithoutCancel(ctx), module, id, lv, text); err != nil {
			o.Log.Warn("writing alert", "err", err)
		}
	}

	notify("STATUS=starting the coordination store")
	st, closeStore, memberStopped, err := openStore(ctx, cfg, local, o.Log)
	if errors.Is(err, ErrDataDirFull) {
		note("pm", 11, "ERROR", err.Error())
	}
	if err != nil {
		return err
	}
	defer closeStore()

	if cfg.Store.Mode != "external" {
		go watchSpace(ctx, cfg.Paths.DataDir, func(short bool, msg string) {
			if short {
				o.Log.Error(msg)
				note("pm", 11, "ERROR", msg)
				return
			}
			o.Log.Info(msg)
			note("pm", 12, "INFO", msg)
		})
	}

	fence, err := setUpFencing(ctx, cfg, local, o)
	if err != nil {
		return err
	}
	defer fence.close()

	// The engine runs on a context of its own: when clpd is told to stop, its groups must still be
	// stopped with working scripts and a working store.
	life, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	host := hostInfo()
	// Commands a script runs reach this cluster, whatever the environment clpd was started with.
	host.Cluster = []string{api.EnvSocket + "=" + socket, alert.EnvPath + "=" + alertPath, alert.EnvServer + "=" + local}
	eng, err := cluster.New(cluster.Deps{
		Config: cfg, Local: local, Store: st, Alert: note, Log: o.Log,
		Host: host, Environ: o.Environ, ProcRoot: "/proc",
		Containment: fence.containment, Guard: fence.guard, GuardFenced: fence.guardFenced,
		SuspendFile: filepath.Join(cfg.Paths.DataDir, "suspended"),
	})
	if err != nil {
		return err
	}
	ran := make(chan error, 1)
	go func() { ran <- eng.Run(life) }()
	if cfg.Witness != nil {
		if tc, err := pki.ClientConfig(pki.ServerFiles(cfg.TLS.Dir, local)); err == nil {
			go probeWitness(life, eng, cfg.Witness.EtcdClientURL, tc)
		}
	}
	notify("STATUS=joining cluster " + cfg.Cluster.Name)
	go func() {
		// The store may not answer yet (a server that boots while the network is down): the
		// engine keeps trying; clpd serves its API meanwhile.
		if err := eng.StartService(life); err != nil {
			o.Log.Warn("starting the cluster service", "err", err)
		}
	}()

	svc := &service{eng: eng, cfg: cfg, local: local, store: st,
		scriptEnv: append(append([]string(nil), o.Environ...), append(host.Cluster, "CLP_SERVER_NAME="+local)...)}
	if len(cfg.Servers) > 1 {
		if tc, err := pki.ClientConfig(pki.ServerFiles(cfg.TLS.Dir, local)); err == nil {
			svc.peerTLS = tc
		} else {
			// An external store without TLS needs no certificates; only -h and clpcl -a do.
			o.Log.Warn("no cluster certificates: commands cannot reach the other servers (-h, clpcl -a) until clpd --make-certs has made them", "err", err)
		}
	}
	hs := &http.Server{Handler: api.Handler(svc, svc.relay), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.Log.Error("API server", "err", err)
		}
	}()
	if svc.peerTLS != nil {
		// The other servers' requests (-h, clpcl -a) come over TCP with the cluster's
		// certificates; they are this server's to answer, never relayed further.
		ps, err := servePeers(cfg, local, svc, o.Log)
		if err != nil {
			return err
		}
		defer ps.Close()
	}
	notify("READY=1")
	notify("STATUS=running: server " + local + " of cluster " + cfg.Cluster.Name)
	go watchdog(life)
	o.Log.Info("clpd is running", "server", local, "cluster", cfg.Cluster.Name, "socket", socket)

	var serr error
	select {
	case <-ctx.Done():
		notify("STOPPING=1")
		notify("STATUS=stopping groups")
		o.Log.Info("stopping groups")
		// Stopping the groups takes as long as their stop scripts do; systemd's TimeoutStopSec
		// bounds it, not clpd.
		serr = eng.StopService(life, cluster.FactorServerShutdown, true)
		if err := <-ran; serr == nil {
			serr = err
		}
	case <-eng.Done():
		// A final action stopped the cluster service.
		serr = <-ran
	case <-memberStopped:
		// Without its member this server has no store: its lease runs out and the engine
		// fences its groups, as for a cut cable; clpd then stops, saying why, rather than run
		// on as a server that can never rejoin.
		err := errMemberStopped(cfg)
		o.Log.Error("the store member stopped", "err", err)
		note("pm", 10, "ERROR", err.Error())
		serr = eng.StopService(life, cluster.FactorServerShutdown, true)
		if rerr := <-ran; serr == nil {
			serr = rerr
		}
		serr = errors.Join(err, serr)
	case err := <-ran:
		serr = err
	}
	abandon()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	fence.release(serr == nil)
	return serr
}

// openStore starts the embedded member (or reaches the external store) with the cluster's
// certificates and connects to it.
func openStore(ctx context.Context, cfg *config.Config, local string, log *slog.Logger) (st *store.Store, closeAll func(), stopped <-chan struct{}, err error) {
	srv, _ := cfg.Server(local)
	files := pki.ServerFiles(cfg.TLS.Dir, local)
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	endpoints := cfg.Store.Endpoints
	useTLS := true
	if cfg.Store.Mode != "external" {
		if err := ensurePKI(cfg, local); err != nil {
			return nil, nil, nil, err
		}
		if err := checkSpace(cfg.Paths.DataDir); err != nil {
			return nil, nil, nil, err
		}
		m, err := startMember(ctx, cfg, *srv, log)
		if err != nil {
			return nil, nil, nil, err
		}
		closers = append(closers, m.Close)
		stopped = m.Stopped()
		endpoints = []string{srv.EtcdClientURL}
	} else {
		useTLS = false
		for _, e := range endpoints {
			if strings.HasPrefix(e, "https://") {
				useTLS = true
			}
		}
		if !useTLS {
			log.Warn("the external store takes clients without certificates: any local user can change it; use https:// endpoints and [tls] dir", "endpoints", strings.Join(endpoints, ","))
		}
	}
	o := store.Options{Endpoints: endpoints, Cluster: cfg.Cluster.Name}
	if useTLS {
		tc, err := pki.ClientConfig(files)
		if err != nil {
			closeAll()
			return nil, nil, nil, fmt.Errorf("the store's client certificate: %w", err)
		}
		o.TLS = tc
	}
	st, err = store.Connect(ctx, o)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	closers = append(closers, func() { st.Close() })
	return st, closeAll, stopped, nil
}

// errMemberStopped says this server's store member stopped on its own while clpd ran: most
// often, its data directory filled up; else it was removed from the store.
func errMemberStopped(cfg *config.Config) error {
	if err := checkSpace(cfg.Paths.DataDir); errors.Is(err, ErrDataDirFull) {
		return fmt.Errorf("this server's store member stopped: %w", err)
	}
	return fmt.Errorf("this server's store member stopped (see %s): a member removed with clpmember remove stops for good; to bring the server back, run `clpmember add` for it on a running server, remove %s here and start clpd again",
		filepath.Join(cfg.Paths.LogDir, "etcd", "etcd.log"), filepath.Join(cfg.Paths.DataDir, "etcd"))
}

// startMember starts the embedded member of srv. On a first start (an empty data directory) of a
// store of several members, it asks the other members what the store is: a server added with
// clpmember add joins the running store as its learner and is promoted to a voting member once it
// has caught up; a server the store does not list is refused with the command that adds it.
func startMember(ctx context.Context, cfg *config.Config, srv config.Server, log *slog.Logger) (*store.Member, error) {
	mc := memberConfig(cfg, srv)
	var learner uint64
	var others []string
	if _, err := os.Stat(filepath.Join(mc.Dir, "member")); errors.Is(err, os.ErrNotExist) && mc.NoWait {
		tc, err := pki.ClientConfig(mc.TLS)
		if err != nil {
			return nil, fmt.Errorf("the store's client certificate: %w", err)
		}
		for _, m := range cfg.StoreMembers() {
			if m.Name != srv.Name {
				others = append(others, m.EtcdClientURL)
			}
		}
		remote, err := store.Discover(ctx, others, tc, 3*time.Second)
		if err != nil {
			return nil, err
		}
		if mc, err = store.Join(mc, remote); err != nil {
			return nil, err
		}
		if mc.Existing {
			others = others[:0]
			for _, m := range remote {
				if m.HasPeer(mc.PeerURL) {
					learner = m.ID
				} else if m.Started() {
					others = append(others, m.ClientURLs...)
				}
			}
			log.Info("joining the running store", "member", srv.Name, "members", mc.InitialCluster)
		}
	}
	m, err := store.StartMember(ctx, mc)
	if err != nil {
		return nil, err
	}
	if mc.Existing {
		go promote(ctx, mc, others, learner, log)
	}
	return m, nil
}

// promote makes this server's new member a voting member of the store, through the others, once
// it has caught up with them.
func promote(ctx context.Context, mc store.MemberConfig, endpoints []string, id uint64, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tc, err := pki.ClientConfig(mc.TLS)
	if err != nil {
		log.Error("promoting the store member", "err", err)
		return
	}
	st, err := store.Connect(ctx, store.Options{Endpoints: endpoints, TLS: tc})
	if err != nil {
		log.Error("promoting the store member", "err", err)
		return
	}
	defer st.Close()
	if err := st.Promote(ctx, id); err != nil {
		log.Error("the store member stays a learner: it does not vote, and this server's clpd cannot use the store; see etcd/etcd.log in the log dir, then clpmember remove and add it again", "member", mc.Name, "err", err)
		return
	}
	log.Info("the store member votes", "member", mc.Name)
}

// memberConfig is the embedded etcd member of server (or of the witness): the configuration's
// servers and witness are its initial cluster.
func memberConfig(cfg *config.Config, srv config.Server) store.MemberConfig {
	election := cfg.Store.ElectionTimeout
	members := cfg.StoreMembers()
	var initial []string
	for _, m := range members {
		initial = append(initial, m.Name+"="+m.EtcdPeerURL)
	}
	return store.MemberConfig{
		Name: srv.Name, Dir: filepath.Join(cfg.Paths.DataDir, "etcd"),
		ClientURL: srv.EtcdClientURL, PeerURL: srv.EtcdPeerURL,
		InitialCluster: strings.Join(initial, ","),
		LogFile:        filepath.Join(cfg.Paths.LogDir, "etcd", "etcd.log"),
		TLS:            pki.ServerFiles(cfg.TLS.Dir, srv.Name),
		TickMs:         uint(election.Milliseconds() / 10), ElectionMs: uint(election.Milliseconds()),
		NoWait: len(members) > 1,
	}
}

// ensurePKI creates the cluster CA and this server's certificate for a one-server embedded store
// whose [tls] dir names nothing yet; a cluster of several servers shares one CA, made once with
// clpd --make-certs and copied to every server.
func ensurePKI(cfg *config.Config, local string) error {
	files := pki.ServerFiles(cfg.TLS.Dir, local)
	if err := pki.Check(files); err == nil {
		return nil
	}
	if len(cfg.Servers) > 1 {
		if _, err := os.Stat(files.Cert); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s has no certificate for server %s: create the cluster's certificates on one server with `clpd --make-certs -c %s` and copy %s to every server",
				cfg.TLS.Dir, local, cfg.File, cfg.TLS.Dir)
		}
		return pki.Check(files)
	}
	if err := pki.EnsureCA(cfg.TLS.Dir, cfg.Cluster.Name); err != nil {
		return err
	}
	return pki.EnsureServer(cfg.TLS.Dir, local, certHosts(cfg, local))
}

// certHosts are the names a server's certificate must cover: its address and its listeners.
func certHosts(cfg *config.Config, server string) []string {
	s, ok := cfg.Server(server)
	if !ok && cfg.Witness != nil && cfg.Witness.Name == server {
		s, ok = cfg.Witness, true
	}
	if !ok {
		return nil
	}
	hosts := []string{s.Address}
	for _, u := range []string{s.EtcdClientURL, s.EtcdPeerURL} {
		if pu, err := url.Parse(u); err == nil && pu.Hostname() != "" {
			hosts = append(hosts, pu.Hostname())
		}
	}
	return hosts
}

// MakeCerts creates the cluster CA (unless there is one) and a certificate for every server of
// the configuration in its [tls] dir: clpd --make-certs.
func MakeCerts(cfg *config.Config) ([]string, error) {
	if err := pki.EnsureCA(cfg.TLS.Dir, cfg.Cluster.Name); err != nil {
		return nil, err
	}
	var made []string
	all := cfg.Servers
	if cfg.Witness != nil {
		all = append(append([]config.Server(nil), all...), *cfg.Witness)
	}
	for _, s := range all {
		if err := pki.EnsureServer(cfg.TLS.Dir, s.Name, certHosts(cfg, s.Name)); err != nil {
			return made, err
		}
		made = append(made, pki.ServerFiles(cfg.TLS.Dir, s.Name).Cert)
	}
	return made, nil
}

// lock takes the data directory's lock, so two clpd of one configuration never run at once.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (pid %s) with data dir %s", ErrAlreadyRunning, strings.TrimSpace(string(pid)), filepath.Dir(path))
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("%d\n", os.Getpid())), 0)
	return func() { f.Close() }, nil
}

func notify(state string) { _, _ = daemon.SdNotify(false, state) }

// watchdog pings systemd at half its watchdog interval, when one is configured.
func watchdog(ctx context.Context) {
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil || every == 0 {
		return
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			notify("WATCHDOG=1")
		}
	}
}

// hostInfo gives the CLP_PATH, CLP_VERSION_* and CLP_OS* values.
func hostInfo() resource.Host {
	h := resource.Host{VersionFull: version.Version, VersionMajor: version.Major, OSName: "Linux"}
	if exe, err := os.Executable(); err == nil {
		h.Path = filepath.Dir(filepath.Dir(exe))
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.OSVer = unix.ByteSliceToString(u.Release[:])
	}
	return h
}

// service adapts the engine to the API: it resolves "all groups" and -h, which are request
// concerns, not cluster ones.
type service struct {
	eng   *cluster.Engine
	cfg   *config.Config
	local string
	// peerTLS presents this server's certificate to the other servers' API (nil: one server).
	peerTLS *tls.Config
	store   *store.Store
	// scriptEnv is the environment of clprexec --script's scripts.
	scriptEnv []string
}

// relay finds who answers a request for host: this server, or another server's API.
func (s *service) relay(host string) (api.Service, error) {
	if host == "" || host == s.local {
		return s, nil
	}
	srv, ok := s.cfg.Server(host)
	if !ok {
		return nil, status.ErrInvalidServer(host)
	}
	if s.peerTLS == nil {
		return nil, errNoPeerTLS(host, s.cfg)
	}
	return api.NewRemote(srv.APIURL, s.peerTLS), nil
}

func errNoPeerTLS(host string, cfg *config.Config) *status.OpError {
	return &status.OpError{Code: status.CodeInvalidServer, Msg: "Could not connect to server " + host + ": this server has no cluster certificates in " + cfg.TLS.Dir + "; create them with clpd --make-certs and copy them to every server."}
}

// probeWitness tells the engine, every second, whether the witness's store member answers this
// server (clpstat shows it as the witness heartbeat).
func probeWitness(ctx context.Context, eng *cluster.Engine, url string, tc *tls.Config) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}, Timeout: 500 * time.Millisecond}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, known := false, false
	for {
		ok := false
		if resp, err := hc.Get(strings.TrimSuffix(url, "/") + "/health"); err == nil {
			resp.Body.Close()
			ok = true
		}
		if !known || ok != last {
			eng.SetWitness(ok)
			last, known = ok, true
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// servePeers serves the API to the other servers on this server's api_url, to holders of a
// certificate from the cluster CA only.
func servePeers(cfg *config.Config, local string, svc *service, log *slog.Logger) (*http.Server, error) {
	srv, _ := cfg.Server(local)
	u, err := url.Parse(srv.APIURL)
	if err != nil {
		return nil, fmt.Errorf("api_url %q: %w", srv.APIURL, err)
	}
	tc, err := pki.ServerConfig(pki.ServerFiles(cfg.TLS.Dir, local))
	if err != nil {
		return nil, fmt.Errorf("the certificate of the API for the other servers: %w", err)
	}
	ln, err := tls.Listen("tcp", u.Host, tc)
	if err != nil {
		return nil, fmt.Errorf("listening for the other servers on %s: %w", u.Host, err)
	}
	hs := &http.Server{Handler: api.Handler(svc, nil), ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("API server for the other servers", "err", err)
		}
	}()
	return hs, nil
}

// APITimeout is how long clpd lets an operation run (clients learn it with a ping).
func (s *service) APITimeout() time.Duration { return s.cfg.Timing.APITimeout }

func (s *service) Status(ctx context.Context) (status.Cluster, error) {
	st, err := s.eng.Status(ctx)
	st.Taken = time.Now()
	return st, err
}

// checkHost accepts requests meant for this server (the handler relays the others).
func (s *service) checkHost(host string) error {
	if host == "" || host == s.local {
		return nil
	}
	return status.ErrInvalidServer(host)
}

func (s *service) eachGroup(ctx context.Context, r api.GroupRequest, op func(context.Context, string) error, skip status.Code) error {
	if err := s.checkHost(r.Host); err != nil {
		return err
	}
	// The configured api_timeout bounds how long a client is kept waiting; the operation itself
	// goes on to its end.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.APITimeout)
	defer cancel()
	if r.Group != "" {
		return op(ctx, r.Group)
	}
	for _, g := range s.cfg.Groups {
		if err := op(ctx, g.Name); err != nil && api.Code(err) != skip {
			return err
		}
	}
	return nil
}

func (s *service) StartGroup(ctx context.Context, r api.GroupRequest) error {
	return s.eachGroup(ctx, r, func(ctx context.Context, g string) error { return s.eng.StartGroup(ctx, g, r.Force) }, status.CodeAlreadyStarted)
}

func (s *service) StopGroup(ctx context.Context, r api.GroupRequest) error {
	return s.eachGroup(ctx, r, s.eng.StopGroup, status.CodeAlreadyStopped)
}

func (s *service) MoveGroup(ctx context.Context, r api.GroupRequest) error {
	return s.eachGroup(ctx, r, func(ctx context.Context, g string) error { return s.eng.MoveGroup(ctx, g, r.Dest) }, status.CodeAlreadyStopped)
}

func (s *service) Current(ctx context.Context, group string) (string, error) {
	return s.eng.Current(ctx, group)
}

func (s *service) Monitors(ctx context.Context, r api.MonitorRequest) ([]status.Monitor, error) {
	if err := s.checkHost(r.Host); err != nil {
		return nil, err
	}
	for _, n := range r.Monitors {
		if _, ok := s.cfg.Monitor(n); !ok {
			return nil, status.ErrInvalidMonitor(n)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.APITimeout)
	defer cancel()
	switch r.Op {
	case api.MonitorSuspend, api.MonitorResume, api.MonitorClear:
		if err := s.eng.MonitorControl(ctx, r.Op, r.Monitors); err != nil {
			return nil, err
		}
	case api.MonitorShow:
	default:
		return nil, &status.OpError{Code: status.CodeInternal, Msg: "unknown monitor operation " + r.Op}
	}
	st, err := s.eng.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []status.Monitor
	for _, m := range st.Monitors {
		if len(r.Monitors) > 0 && !slices.Contains(r.Monitors, m.Name) {
			continue
		}
		// The answering server's entry comes first: its counters are the ones clpmonctrl shows.
		slices.SortStableFunc(m.Servers, func(a, b status.MonitorOnServer) int {
			return cmpBool(a.Server != s.local, b.Server != s.local)
		})
		out = append(out, m)
	}
	return out, nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func (s *service) Resource(ctx context.Context, r api.ResourceRequest) (string, error) {
	if err := s.checkHost(r.Host); err != nil {
		return "", err
	}
	if _, _, ok := s.cfg.Resource(r.Resource); !ok {
		return "", status.ErrInvalidResource(r.Resource)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.APITimeout)
	defer cancel()
	switch r.Op {
	case api.ResourceStart:
		return "", s.eng.StartResource(ctx, r.Resource, r.Force)
	case api.ResourceStop:
		return "", s.eng.StopResource(ctx, r.Resource, r.Force)
	case api.ResourceCurrent:
		st, err := s.eng.Status(ctx)
		if err != nil {
			return "", err
		}
		for _, g := range st.Groups {
			for _, rs := range g.Resources {
				if rs.Name == r.Resource && rs.State != status.Offline && rs.State != status.Unknown {
					return g.Current, nil
				}
			}
		}
		return "", nil
	}
	return "", &status.OpError{Code: status.CodeInternal, Msg: "unknown resource operation " + r.Op}
}

func (s *service) Cluster(ctx context.Context, r api.ClusterRequest) ([]api.ServerResult, error) {
	if err := s.checkHost(r.Host); err != nil {
		return nil, err
	}
	factor := cluster.FactorServerShutdown
	if r.All || r.Part {
		factor = cluster.FactorClusterShutdown
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.APITimeout)
	defer cancel()
	var err error
	switch r.Op {
	case api.ClusterStart:
		err = s.eng.StartService(ctx)
	case api.ClusterStop:
		err = s.eng.StopService(ctx, factor, false)
	case api.ClusterRestart:
		if err = s.eng.StopService(ctx, factor, false); err == nil {
			err = s.eng.StartService(ctx)
		}
	case api.ClusterDown, api.ClusterDownReboot:
		err = s.eng.Down(ctx, r.Op == api.ClusterDownReboot)
	case api.ClusterSuspend:
		err = s.eng.Suspend(ctx, true, s.local)
	case api.ClusterResume:
		err = s.eng.Suspend(ctx, false, s.local)
	default:
		return nil, &status.OpError{Code: status.CodeInternal, Msg: "unknown cluster operation " + r.Op}
	}
	res := api.ServerResult{Server: s.local}
	if err != nil {
		var oe *status.OpError
		if !errors.As(err, &oe) {
			oe = &status.OpError{Code: status.CodeInternal, Msg: err.Error()}
		}
		res.Error = oe
	}
	out := []api.ServerResult{res}
	if r.All && !r.Part {
		// Every server is named in the answer, so an operator sees which were not reached
		// instead of a success that covers only this one.
		for _, sv := range s.cfg.Servers {
			if sv.Name == s.local {
				continue
			}
			sr := api.ServerResult{Server: sv.Name}
			var rs []api.ServerResult
			err := error(errNoPeerTLS(sv.Name, s.cfg))
			if s.peerTLS != nil {
				rs, err = api.NewRemote(sv.APIURL, s.peerTLS).Cluster(ctx, api.ClusterRequest{Op: r.Op, All: true, Part: true})
			}
			switch {
			case err != nil:
				var oe *status.OpError
				if !errors.As(err, &oe) {
					oe = &status.OpError{Code: status.CodeInternal, Msg: err.Error()}
				}
				sr.Error = oe
			case len(rs) > 0:
				sr.Error = rs[0].Error
			}
			out = append(out, sr)
		}
	}
	return out, nil
}

// Members changes or lists the embedded store's members (clpmember).
func (s *service) Members(ctx context.Context, r api.MemberRequest) ([]api.Member, error) {
	if err := s.checkHost(r.Host); err != nil {
		return nil, err
	}
	if s.cfg.Store.Mode == "external" {
		return nil, &status.OpError{Code: status.CodeRefused, Msg: "The store is external: change its members with etcdctl member add/remove."}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timing.APITimeout)
	defer cancel()
	var ms []store.MemberInfo
	var err error
	switch r.Op {
	case api.MemberList:
		ms, err = s.store.Members(ctx)
	case api.MemberAdd:
		peer := r.PeerURL
		if peer == "" {
			m, ok := s.storeMember(r.Name)
			if !ok {
				return nil, &status.OpError{Code: status.CodeInvalidServer, Msg: fmt.Sprintf("Server %s is not in the configuration of server %s (%s): give its etcd peer URL with --peer-url.", r.Name, s.local, s.cfg.File)}
			}
			peer = m.EtcdPeerURL
		}
		if u, perr := url.Parse(peer); perr != nil || u.Scheme != "https" || u.Host == "" {
			return nil, &status.OpError{Code: status.CodeRefused, Msg: fmt.Sprintf("The peer URL %q is not https://<address>:<port>: the store's members speak only TLS.", peer)}
		}
		ms, err = s.store.AddMember(ctx, peer)
	case api.MemberRemove:
		if r.Name == s.local {
			return nil, &status.OpError{Code: status.CodeRefused, Msg: "Server " + s.local + " cannot remove its own store member: run clpmember remove on another server."}
		}
		if !r.Force {
			snap, serr := s.store.Snapshot(ctx)
			if serr != nil {
				return nil, serr
			}
			if _, up := snap.Servers[r.Name]; up {
				return nil, &status.OpError{Code: status.CodeRefused, Msg: "Server " + r.Name + " is running its cluster service: its member would stop and its groups fail over. Stop it first (clpcl -t -h " + r.Name + "), or use --force."}
			}
		}
		ms, err = s.store.RemoveMember(ctx, r.Name)
	default:
		return nil, &status.OpError{Code: status.CodeInternal, Msg: "unknown member operation " + r.Op}
	}
	if err != nil {
		if errors.Is(err, store.ErrMember) {
			return nil, &status.OpError{Code: status.CodeRefused, Msg: err.Error()}
		}
		return nil, err
	}
	out := make([]api.Member, 0, len(ms))
	for _, m := range ms {
		am := api.Member{Name: m.Name, Started: m.Started(), Leader: m.Leader, Learner: m.Learner}
		if len(m.PeerURLs) > 0 {
			am.PeerURL = m.PeerURLs[0]
		}
		if len(m.ClientURLs) > 0 {
			am.ClientURL = m.ClientURLs[0]
		}
		for _, c := range s.cfg.Servers {
			if m.HasPeer(c.EtcdPeerURL) {
				am.Role = "server"
			}
		}
		if w := s.cfg.Witness; w != nil && m.HasPeer(w.EtcdPeerURL) {
			am.Role = "witness"
		}
		out = append(out, am)
	}
	return out, nil
}

// storeMember is the server or witness named name in the configuration.
func (s *service) storeMember(name string) (config.Server, bool) {
	for _, m := range s.cfg.StoreMembers() {
		if m.Name == name {
			return m, true
		}
	}
	return config.Server{}, false
}

// Rexec carries out clprexec --script, --notice and --clear on this server.
func (s *service) Rexec(ctx context.Context, r api.RexecRequest) (api.RexecResult, error) {
	if err := s.checkHost(r.Host); err != nil {
		return api.RexecResult{}, err
	}
	switch r.Op {
	case api.RexecScript:
		return s.runScript(ctx, r)
	case api.RexecNotice, api.RexecClear:
		n, err := s.eng.Notice(r.Monitor, r.Category, r.Keyword, r.Op == api.RexecClear)
		return api.RexecResult{Monitors: n}, err
	}
	return api.RexecResult{}, &status.OpError{Code: status.CodeInternal, Msg: "unknown clprexec operation " + r.Op}
}

// runScript runs a script of the script directory for clprexec --script. Another server's request
// runs it as root here: only a file root owns and alone may change, in that one directory, is run.
func (s *service) runScript(ctx context.Context, r api.RexecRequest) (api.RexecResult, error) {
	dir := s.cfg.Paths.ScriptDir
	refuse := func(format string, a ...any) (api.RexecResult, error) {
		return api.RexecResult{}, &status.OpError{Code: status.CodeRefused, Msg: fmt.Sprintf(format, a...)}
	}
	name := r.Script
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return refuse("The script %q is not a file name: clprexec --script runs a file of %s on server %s, named without a directory.", name, dir, s.local)
	}
	path := filepath.Join(dir, name)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return refuse("The script %s does not exist on server %s: place it in %s there.", name, s.local, dir)
	case err != nil:
		return refuse("The script %s on server %s cannot be checked: %v.", path, s.local, err)
	case !fi.Mode().IsRegular():
		return refuse("The script %s on server %s is not a regular file.", path, s.local)
	case fi.Mode()&0o022 != 0:
		return refuse("The script %s on server %s may be changed by others than its owner (mode %04o): make it chmod 0755 or stricter.", path, s.local, fi.Mode().Perm())
	case fi.Mode()&0o100 == 0:
		return refuse("The script %s on server %s is not executable: chmod 0755 it.", path, s.local)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return refuse("The script %s on server %s is owned by uid %d, not by the user clpd runs as: chown it.", path, s.local, st.Uid)
	}
	timeout := 30 * time.Second
	if r.Timeout > 0 {
		timeout = time.Duration(r.Timeout) * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, min(timeout, s.cfg.Timing.APITimeout))
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Dir = dir
	cmd.Env = s.scriptEnv
	// Its own process group, killed whole at the timeout: a script's children must not outlive
	// the request that started them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	logPath := filepath.Join(s.cfg.Paths.LogDir, "trnreq.log")
	out, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return api.RexecResult{}, fmt.Errorf("opening %s: %w", logPath, err)
	}
	defer out.Close()
	fmt.Fprintf(out, "%s clprexec --script %s: started\n", time.Now().Format(time.RFC3339), name)
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	ended := fmt.Sprintf("exit status %d", code)
	if ctx.Err() != nil {
		ended = fmt.Sprintf("killed at its timeout (%s)", min(timeout, s.cfg.Timing.APITimeout))
	}
	fmt.Fprintf(out, "%s clprexec --script %s: %s\n", time.Now().Format(time.RFC3339), name, ended)
	switch {
	case ctx.Err() != nil:
		return api.RexecResult{Status: code}, &status.OpError{Code: status.CodeScriptFailed, Msg: fmt.Sprintf("The script %s on server %s was %s.", name, s.local, ended)}
	case code == -1 && err != nil:
		return api.RexecResult{Status: code}, &status.OpError{Code: status.CodeScriptFailed, Msg: fmt.Sprintf("The script %s on server %s could not run: %v.", name, s.local, err)}
	case code != 0:
		return api.RexecResult{Status: code}, &status.OpError{Code: status.CodeScriptFailed, Msg: fmt.Sprintf("The script %s on server %s ended with exit status %d.", name, s.local, code)}
	}
	return api.RexecResult{}, nil
}
