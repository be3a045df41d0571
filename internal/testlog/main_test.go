package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	ev := func(s string) string { return s + "\n" }
	for _, tc := range []struct {
		name, in, out string
		code          int
	}{
		{"pass and skip", ev(`{"Action":"run","Package":"clpkit/p","Test":"TestA"}`) +
			ev(`{"Action":"output","Package":"clpkit/p","Test":"TestA","Output":"=== RUN   TestA\n"}`) +
			ev(`{"Action":"output","Package":"clpkit/p","Test":"TestA","Output":"    a_test.go:12: smbd is not installed\n"}`) +
			ev(`{"Action":"output","Package":"clpkit/p","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}`) +
			ev(`{"Action":"skip","Package":"clpkit/p","Test":"TestA"}`) +
			ev(`{"Action":"pass","Package":"clpkit/p","Elapsed":1.25}`),
			"    SKIP p TestA: smbd is not installed\nok   clpkit/p 1.2s\n", 0},
		{"a failure prints the test's output", ev(`{"Action":"output","Package":"clpkit/p","Test":"TestB","Output":"--- FAIL: TestB (0.00s)\n"}`) +
			ev(`{"Action":"fail","Package":"clpkit/p","Test":"TestB"}`) +
			ev(`{"Action":"fail","Package":"clpkit/p","Elapsed":2}`),
			"--- FAIL: TestB (0.00s)\nFAIL clpkit/p 2.0s\n", 1},
		{"a build failure", "# clpkit/p\np.go:1: syntax error\nFAIL\tclpkit/p [build failed]\n", "# clpkit/p\np.go:1: syntax error\nFAIL\tclpkit/p [build failed]\ntestlog: go test reported no package\n", 1},
		{"nothing", "", "testlog: go test reported no package\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			if code := run(strings.NewReader(tc.in), &out); code != tc.code || out.String() != tc.out {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d:\n%s", code, out.String(), tc.code, tc.out)
			}
		})
	}
}
