// Command testlog turns `go test -json` into what make test prints: one line per package as it
// ends (ok, FAIL, no tests), each skipped test with its reason, and the whole output of each
// failed test. It exits 1 when anything failed, so the pipe's status is the tests'.
//
//	go test -json ./... | go run ./internal/testlog
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() { os.Exit(run(os.Stdin, os.Stdout)) }

func run(in io.Reader, out io.Writer) int {
	failed := false
	results := 0
	// output holds each running test's lines until it ends: printed if it fails, a skip's
	// last line is its reason.
	output := map[string][]string{}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not an event: go's own messages (a build failure before any test ran).
			fmt.Fprintln(out, string(line))
			if strings.HasPrefix(string(line), "FAIL") || strings.HasPrefix(string(line), "go: ") {
				failed = true
			}
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			output[key] = append(output[key], e.Output)
		case "skip":
			if e.Test != "" {
				fmt.Fprintf(out, "    SKIP %s %s: %s\n", short(e.Package), e.Test, reason(output[key]))
			} else {
				results++
				fmt.Fprintf(out, "-    %s (no tests to run)\n", e.Package)
			}
			delete(output, key)
		case "pass":
			if e.Test == "" {
				results++
				fmt.Fprintf(out, "ok   %s %.1fs\n", e.Package, e.Elapsed)
			}
			delete(output, key)
		case "fail", "build-fail":
			failed = true
			if e.Test == "" {
				results++
				// Output that belongs to no test: a panic, a timeout, a build error.
				fmt.Fprint(out, strings.Join(output[key], ""))
				fmt.Fprintf(out, "FAIL %s %.1fs\n", e.Package, e.Elapsed)
			} else {
				fmt.Fprint(out, strings.Join(output[key], ""))
			}
			delete(output, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testlog: reading go test's output: %v\n", err)
		return 1
	}
	if results == 0 {
		fmt.Fprintln(out, "testlog: go test reported no package")
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// reason is the last line a skipped test printed before "--- SKIP": t.Skip's message.
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		// "file_test.go:12: why" -> "why"
		if _, after, ok := strings.Cut(l, ": "); ok && strings.Contains(l[:strings.Index(l, ": ")], "_test.go:") {
			return after
		}
		return l
	}
	return "(no reason given)"
}

func short(pkg string) string { return strings.TrimPrefix(pkg, "clpkit/") }
