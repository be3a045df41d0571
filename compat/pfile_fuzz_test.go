package compat

import (
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"clpkit/pkg/psaver"
)

// formatPfile writes cfg back as pfile text, for the round trip below.
func formatPfile(cfg psaver.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "##### PARAM #####\nIPCKEY 0x%08x\nMSG_CHECK_INTERVAL %d\nMONITOR_INTERVAL %d\n",
		cfg.IPCKey, int(cfg.MsgCheckInterval.Seconds()), int(cfg.MonitorInterval.Seconds()))
	if cfg.DumpFile != "" {
		fmt.Fprintf(&b, "SHM_DUMP_FILE %s\n", cfg.DumpFile)
	}
	b.WriteString("##### PENT #####\n")
	for _, e := range cfg.Entries {
		var opts []string
		for _, o := range e.Options {
			opts = append(opts, o.Name+"="+o.Value)
		}
		fmt.Fprintf(&b, "%s:%s:%d:%d:%s:%s\n", e.Program, e.Script, int(e.Grace.Seconds()), e.Retry, e.Action, strings.Join(opts, ","))
	}
	return b.String()
}

// FuzzParsePfile: any input gives a config or one *PfileError line that names the file, never
// a panic; a config is sane and survives being written out and read again.
func FuzzParsePfile(f *testing.F) {
	f.Add([]byte(seedPfile))
	f.Add([]byte("IPCKEY 4660\n/usr/bin/java:/opt/start.sh:::continue\n"))
	f.Add([]byte("\tIPCKEY\t0X1F\r\n /usr/bin/java : /opt/a.sh : 0 : 0 : EXIT : include_strings=a:b&c d,exclude_strings=e\r\n"))
	f.Add([]byte("IPCKEY  【0xXXXXXXXX】\nSHM_DUMP_FILE 【DUMPFILE 名】\n"))
	f.Add([]byte("IPCKEY 0x1\nIPCKEY 0x2\nx:y\n::::::::\n#\n\x00"))
	f.Add([]byte("IPCKEY 0x1\n/p:/s:1:1:exit:include_strings=&,exclude_strings=x=y\n"))
	f.Add([]byte("0:/:::EXIT:include_strings=0\r&")) // found by the fuzzer: a CR in a message

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParsePfile("/etc/pf", data)
		if err != nil {
			pe, ok := err.(*PfileError)
			if !ok {
				t.Fatalf("error %T %v is not a *PfileError", err, err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "/etc/pf") || pe.Msg == "" {
				t.Fatalf("bad message %q", msg)
			}
			return
		}
		if cfg.IPCKey == 0 || len(cfg.Entries) == 0 || cfg.MonitorInterval <= 0 || cfg.MsgCheckInterval <= 0 {
			t.Fatalf("accepted a config without key, entries or intervals: %+v", cfg)
		}
		if cfg.DumpFile != "" && !filepath.IsAbs(cfg.DumpFile) {
			t.Fatalf("relative dump file %q", cfg.DumpFile)
		}
		for _, e := range cfg.Entries {
			if e.Program == "" || !filepath.IsAbs(e.Script) || !slices.Contains(psaver.Actions(), e.Action) ||
				e.Retry < 0 || e.Retry > maxRetry || e.Grace < 0 || e.Line < 1 {
				t.Fatalf("accepted a bad entry %+v", e)
			}
			for _, s := range append(slices.Clone(e.Include), e.Exclude...) {
				if s == "" {
					t.Fatalf("empty filter string in %+v", e)
				}
			}
		}
		again, err := ParsePfile("/etc/pf", []byte(formatPfile(cfg)))
		if err != nil {
			t.Fatalf("round trip: %v\n%s", err, formatPfile(cfg))
		}
		for i := range again.Entries {
			again.Entries[i].Line = cfg.Entries[i].Line
		}
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, again)
		}
	})
}
