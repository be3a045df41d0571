package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	s := ms(5, 1, 4, 2, 3)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 3 * time.Millisecond}, {99, 5 * time.Millisecond}, {1, time.Millisecond}, {100, 5 * time.Millisecond}} {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", s, c.p, got, c.want)
		}
	}
	if s[0] != 5*time.Millisecond {
		t.Errorf("Percentile sorted its argument: %v", s)
	}
	if got := Median(nil); got != 0 {
		t.Errorf("Median(nil) = %v, want 0", got)
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	if got := Percentile(hundred, 99); got != 99*time.Millisecond {
		t.Errorf("p99 of 1..100 ms = %v, want 99ms", got)
	}
}

func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if _, err := CPUTime(pid); err != nil {
		t.Fatal(err)
	}
	rss, err := RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Errorf("RSS of the test process = %d bytes, implausibly small", rss)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/clpd.lock", []byte("4242\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LockPID(dir); err != nil || got != 4242 {
		t.Errorf("LockPID = %d, %v; want 4242", got, err)
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	if err := WriteTable(&b, []Row{{"clpstat median (ms)", "3.10"}, {"RSS (MiB)", "40.2"}}); err != nil {
		t.Fatal(err)
	}
	want := "| metric              | value |\n" +
		"|---------------------|------:|\n" +
		"| clpstat median (ms) |  3.10 |\n" +
		"| RSS (MiB)           |  40.2 |\n"
	if b.String() != want {
		t.Errorf("got:\n%swant:\n%s", b.String(), want)
	}
}
