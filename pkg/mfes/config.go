package mfes

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"clpkit/pkg/bounded"
	"clpkit/pkg/config"
)

// DefaultConfig is the configuration file the commands read when neither --config nor
// $CLPKIT_MFES_CONFIG names one.
const DefaultConfig = "/etc/clpkit/mfes.toml"

// EnvConfig names the environment variable that overrides DefaultConfig.
const EnvConfig = "CLPKIT_MFES_CONFIG"

// Defaults of the settings a configuration may leave out.
const (
	DefaultStateDir     = "/run/clpkit/mfes"
	DefaultLogDir       = "/var/log/clpkit/mfes"
	DefaultStartTimeout = 2 * time.Minute
	DefaultStopTimeout  = time.Minute
	DefaultForceTimeout = 15 * time.Second
	// DefaultMFDSAddress is where Micro Focus's directory server listens: the mfcobol port the
	// seed adds to /etc/services.
	DefaultMFDSAddress = "127.0.0.1:86"
	// DefaultListenerName is the listener the seed's monitor script looks for in mdump's output.
	DefaultListenerName = "Web Services"
	maxTimeout          = 24 * time.Hour
	// MaxConfigSize bounds the configuration file: a few kilobytes describe any installation,
	// and a path named by mistake (/dev/zero, a log) must not fill memory.
	MaxConfigSize = 1 << 20
)

// Kind is how a service (the directory server or a region) is driven.
type Kind int

const (
	// KindCommand runs the configured start, stop, force_stop and status commands.
	KindCommand Kind = iota
	// KindSystemd drives a systemd unit over D-Bus.
	KindSystemd
	// KindES delegates to the binaries of an installed Micro Focus Enterprise Server.
	KindES
)

func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "command"
	case KindSystemd:
		return "systemd"
	case KindES:
		return "Enterprise Server"
	}
	return "unknown"
}

// Timeouts bound the three phases of starting and stopping a service.
type Timeouts struct {
	// Start is how long casstart (and mfds) wait for the service to be up: casstart's /w.
	Start time.Duration
	// Stop is how long casstop waits after the stop before it forces: casstop's /w.
	Stop time.Duration
	// Force is how long the forced stop may take before the leftover processes are killed.
	Force time.Duration
}

// Service is the directory server (Name "mfds") or one region, and how to drive it.
type Service struct {
	// Name is "mfds" or the region's name as the configuration writes it.
	Name string
	// Directory is true for the directory server (mfds), false for a region.
	Directory bool
	Kind      Kind
	// Unit is the systemd unit (KindSystemd).
	Unit string
	// Start, Stop, ForceStop and Status are shell command lines (KindCommand). Status exits 0
	// while the service runs; ForceStop and Status may be empty.
	Start, Stop, ForceStop, Status string
	// Pidfile, when set, names a file holding the main process's pid.
	Pidfile string
	// Processes matches the command lines (arguments joined by one blank) of every process that
	// belongs to the service; casstop kills what still matches after the forced stop.
	Processes *regexp.Regexp
	// Address is where the service must accept TCP connections to count as up: the directory
	// server's port, or the region's listener.
	Address string
	// ListenerName is the listener's name in mdump's output (regions only).
	ListenerName string
	Timeouts     Timeouts
	// Line is where the service's table starts in the file; 0 when it has none.
	Line int
}

// Config is a loaded configuration.
type Config struct {
	// File is the absolute path of the file read; "" when there was none.
	File string
	// StateDir holds the lock files that keep two commands from driving one service at once.
	StateDir string
	// LogDir holds one log per service with the output of its backend commands.
	LogDir   string
	Timeouts Timeouts
	// COBDir is the Enterprise Server installation ([enterprise_server] cobdir, else $COBDIR);
	// "" when none is known.
	COBDir string
	// EnvFile is sourced by sh before an Enterprise Server binary runs (the seed's /root/ES40SP2).
	EnvFile string
	// MFDS is the configured directory server; nil when the file has no [mfds] table.
	MFDS *Service
	// Regions holds the configured regions by upper-case name.
	Regions map[string]*Service
}

// ConfigError is a problem with the configuration: a file that cannot be read or is invalid,
// or a region nobody configured. Commands exit with status 3 for it.
type ConfigError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	switch {
	case e.File == "":
		return e.Msg
	case e.Line == 0:
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ConfigPath returns the configuration file to read: flag when given, else $CLPKIT_MFES_CONFIG,
// else DefaultConfig. explicit is false only for the default, which may be missing.
func ConfigPath(flag string, env func(string) string) (path string, explicit bool) {
	if flag != "" {
		return flag, true
	}
	if p := env(EnvConfig); p != "" {
		return p, true
	}
	return DefaultConfig, false
}

// Load reads the configuration at path. A missing file is an error when explicit (the operator
// named it); the default file may be missing, which leaves only an installed Enterprise Server
// ($COBDIR) to delegate to. A file larger than MaxConfigSize is refused after reading that much.
// cobdirEnv is $COBDIR.
func Load(path string, explicit bool, cobdirEnv string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	data, err := bounded.ReadFile(abs, MaxConfigSize)
	if err != nil {
		if _, ok := errors.AsType[*bounded.TooLargeError](err); ok {
			return nil, &ConfigError{File: abs, Msg: fmt.Sprintf("the configuration is larger than %s, more than any mfes.toml needs: check that --config or $%s names the TOML file", bounded.Size(MaxConfigSize), EnvConfig)}
		}
		if errors.Is(err, fs.ErrNotExist) && !explicit {
			c := defaults()
			c.COBDir = cobdirEnv
			return c, nil
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &ConfigError{File: abs, Msg: fmt.Sprintf("cannot read the configuration: %v", err)}
	}
	return Parse(abs, data, cobdirEnv)
}

func defaults() *Config {
	return &Config{
		StateDir: DefaultStateDir,
		LogDir:   DefaultLogDir,
		Timeouts: Timeouts{Start: DefaultStartTimeout, Stop: DefaultStopTimeout, Force: DefaultForceTimeout},
		Regions:  map[string]*Service{},
	}
}

type rawConfig struct {
	StateDir         string                 `toml:"state_dir"`
	LogDir           string                 `toml:"log_dir"`
	Timeouts         rawTimeouts            `toml:"timeouts"`
	EnterpriseServer rawES                  `toml:"enterprise_server"`
	MFDS             *rawService            `toml:"mfds"`
	Region           map[string]*rawService `toml:"region"`
}

type rawTimeouts struct {
	Start string `toml:"start"`
	Stop  string `toml:"stop"`
	Force string `toml:"force"`
}

type rawES struct {
	COBDir  string `toml:"cobdir"`
	EnvFile string `toml:"env_file"`
}

type rawService struct {
	Unit         string `toml:"unit"`
	Start        string `toml:"start"`
	Stop         string `toml:"stop"`
	ForceStop    string `toml:"force_stop"`
	Status       string `toml:"status"`
	Pidfile      string `toml:"pidfile"`
	Processes    string `toml:"processes"`
	Address      string `toml:"address"`
	Listener     string `toml:"listener"`
	ListenerName string `toml:"listener_name"`
	StartTimeout string `toml:"start_timeout"`
	StopTimeout  string `toml:"stop_timeout"`
	ForceTimeout string `toml:"force_timeout"`
}

var typeError = regexp.MustCompile(`^toml: line ([0-9]+) \(last key "([^"]*)"\): (.*)$`)

// regionName is what a region may be called: letters, digits, '_' and '-'. Names reach shell
// command lines and mdump's output, which the seed's monitor script reads with unquoted echo.
var regionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Parse decodes and validates a configuration; file names it in errors and anchors relative
// paths. The first problem by line is returned.
func Parse(file string, data []byte, cobdirEnv string) (*Config, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	p := &cparser{file: abs, dir: filepath.Dir(abs), lines: config.IndexLines(string(data))}
	var raw rawConfig
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{File: abs, Line: pe.Position.Line, Msg: "invalid TOML: " + oneLine(pe.Message)}
		}
		// A value of the wrong type comes as "toml: line N (last key "k"): incompatible types:
		// TOML value has type int64; destination has type string".
		if m := typeError.FindStringSubmatch(oneLine(err.Error())); m != nil {
			line, _ := strconv.Atoi(m[1])
			msg := m[2] + ": " + m[3]
			if strings.HasSuffix(m[3], "destination has type string") {
				msg = m[2] + ": give the value as a string, in double quotes"
			}
			return nil, &ConfigError{File: abs, Line: line, Msg: msg}
		}
		return nil, &ConfigError{File: abs, Msg: "invalid TOML: " + oneLine(err.Error())}
	}
	// The TOML library leaves a map alone when the file gives it a value that is not a table.
	// ([region.A] alone leaves "region" an implicit table, of no type.)
	if typ := md.Type("region"); typ != "" && typ != "Hash" {
		line := p.keyLine(nil, "region")
		if typ == "ArrayHash" {
			line = p.arrayLine("region")
		}
		p.errorf(line, "region: write each region as a table of its own, [region.NAME]")
	}
	for _, k := range md.Undecoded() {
		p.errorf(p.keyLine(k[:len(k)-1], k[len(k)-1]), "unknown setting %s", k.String())
	}

	c := defaults()
	c.File = abs
	if raw.StateDir != "" {
		c.StateDir = p.resolve(raw.StateDir)
	}
	if raw.LogDir != "" {
		c.LogDir = p.resolve(raw.LogDir)
	}
	c.Timeouts.Start = p.duration([]string{"timeouts"}, "start", raw.Timeouts.Start, c.Timeouts.Start)
	c.Timeouts.Stop = p.duration([]string{"timeouts"}, "stop", raw.Timeouts.Stop, c.Timeouts.Stop)
	c.Timeouts.Force = p.duration([]string{"timeouts"}, "force", raw.Timeouts.Force, c.Timeouts.Force)
	c.COBDir = cobdirEnv
	if raw.EnterpriseServer.COBDir != "" {
		c.COBDir = p.resolve(raw.EnterpriseServer.COBDir)
	}
	if raw.EnterpriseServer.EnvFile != "" {
		c.EnvFile = p.resolve(raw.EnterpriseServer.EnvFile)
	}
	if raw.MFDS != nil {
		c.MFDS = p.service([]string{"mfds"}, "mfds", raw.MFDS, c.Timeouts, false)
	}
	names := make([]string, 0, len(raw.Region))
	for n := range raw.Region {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		path := []string{"region", n}
		if !regionName.MatchString(n) {
			p.errorf(p.tableLine(path), "region name %q: use 1 to 32 letters, digits, '_' or '-'", n)
			continue
		}
		key := strings.ToUpper(n)
		if prev, dup := c.Regions[key]; dup {
			p.errorf(p.tableLine(path), "region %q is region %q again (names are compared in upper case)", n, prev.Name)
			continue
		}
		c.Regions[key] = p.service(path, n, raw.Region[n], c.Timeouts, true)
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return sortLine(p.errs[i].Line) < sortLine(p.errs[j].Line) })
		return nil, p.errs[0]
	}
	return c, nil
}

// service validates one [mfds] or [region.NAME] table.
func (p *cparser) service(path []string, name string, r *rawService, def Timeouts, region bool) *Service {
	s := &Service{Name: name, Directory: !region, Line: p.tableLine(path)}
	if region {
		s.ListenerName = DefaultListenerName
	}
	s.Timeouts.Start = p.duration(path, "start_timeout", r.StartTimeout, def.Start)
	s.Timeouts.Stop = p.duration(path, "stop_timeout", r.StopTimeout, def.Stop)
	s.Timeouts.Force = p.duration(path, "force_timeout", r.ForceTimeout, def.Force)
	what := strings.Join(path, ".")
	commands := r.Start != "" || r.Stop != "" || r.ForceStop != "" || r.Status != ""
	switch {
	case r.Unit != "" && commands:
		p.errorf(p.keyLine(path, "unit"), "%s: give either unit (systemd) or start/stop commands, not both", what)
	case r.Unit != "":
		s.Kind = KindSystemd
		s.Unit = r.Unit
		if !strings.Contains(r.Unit, ".") {
			p.errorf(p.keyLine(path, "unit"), "%s.unit = %q: name the unit with its type, as in \"%s.service\"", what, r.Unit, r.Unit)
		}
	case commands:
		s.Kind = KindCommand
		s.Start, s.Stop, s.ForceStop, s.Status = r.Start, r.Stop, r.ForceStop, r.Status
		for _, k := range []struct{ key, val string }{{"start", r.Start}, {"stop", r.Stop}} {
			if strings.TrimSpace(k.val) == "" {
				p.errorf(p.keyLine(path, k.key), "%s has no %s command: the command backend needs start and stop", what, k.key)
			}
		}
		if r.Pidfile == "" && r.Processes == "" {
			p.errorf(s.Line, "%s: set pidfile or processes, so that casstop can tell when nothing of it runs any more", what)
		}
	default:
		s.Kind = KindES
	}
	if r.Pidfile != "" {
		s.Pidfile = p.resolve(r.Pidfile)
	}
	if r.Processes != "" {
		re, err := regexp.Compile(r.Processes)
		if err != nil {
			p.errorf(p.keyLine(path, "processes"), "%s.processes: not a regular expression: %v", what, err)
		} else {
			s.Processes = re
		}
	}
	addrKey, addr, other := "listener", r.Listener, "address"
	if !region {
		addrKey, addr, other = "address", r.Address, "listener"
	}
	if (region && r.Address != "") || (!region && r.Listener != "") {
		p.errorf(p.keyLine(path, other), "%s.%s: a %s has %s, not %s", what, other, map[bool]string{true: "region", false: "directory server"}[region], addrKey, other)
	}
	if !region && r.ListenerName != "" {
		p.errorf(p.keyLine(path, "listener_name"), "%s.listener_name: only regions have a listener", what)
	}
	if region && r.ListenerName != "" {
		s.ListenerName = r.ListenerName
	}
	switch {
	case addr != "":
		if err := checkAddress(addr); err != nil {
			p.errorf(p.keyLine(path, addrKey), "%s.%s = %q: %v", what, addrKey, addr, err)
		}
		s.Address = addr
	case !region:
		s.Address = DefaultMFDSAddress
	case s.Kind != KindES:
		p.errorf(s.Line, "%s has no listener: casstart needs the address of its %q listener to know that it accepts connections", what, s.ListenerName)
	}
	return s
}

// checkAddress accepts host:port with a numeric port, the way net.Dial takes it.
func checkAddress(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return errors.New("write it as host:port, as in 127.0.0.1:9003")
	}
	if host == "" {
		return errors.New("the host is missing: write 127.0.0.1:PORT for this server")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("the port must be a number from 1 to 65535")
	}
	return nil
}

type cparser struct {
	file  string
	dir   string
	lines config.LineIndex
	errs  []*ConfigError
}

func (p *cparser) errorf(line int, format string, a ...any) {
	p.errs = append(p.errs, &ConfigError{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

func (p *cparser) resolve(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(p.dir, path)
}

func (p *cparser) duration(table []string, key, val string, def time.Duration) time.Duration {
	if val == "" {
		return def
	}
	d, err := time.ParseDuration(val)
	if err != nil || d <= 0 || d > maxTimeout {
		p.errorf(p.keyLine(table, key), "%s.%s = %q: give a duration from 1s to 24h, as in \"30s\" or \"2m\"", strings.Join(table, "."), key, val)
		return def
	}
	return d
}

// tableLine returns the line of the [a.b] header of table (or of the nearest enclosing one),
// 0 when there is none.
func (p *cparser) tableLine(table []string) int { return p.lines.Find(strings.Join(table, ".")) }

// keyLine returns the line that sets key in table, else the table's header line.
func (p *cparser) keyLine(table []string, key string) int {
	return p.lines.Find(strings.Join(append(append([]string(nil), table...), key), "."))
}

// arrayLine returns the line of the first [[name]] header, 0 when there is none.
func (p *cparser) arrayLine(name string) int { return p.lines[name] }

// sortLine puts problems of the whole file after located ones.
func sortLine(line int) int {
	if line == 0 {
		return int(^uint(0) >> 1)
	}
	return line
}

// oneLine keeps messages from the TOML library to one line.
func oneLine(s string) string {
	return strings.TrimSuffix(strings.Join(strings.Fields(s), " "), ".")
}
