package guard

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Nice is the scheduling priority the guard gives itself: ahead of ordinary work on a loaded
// machine, so that its deadline timer runs on time, without starving the kernel's own threads.
const Nice = -10

// Protect makes the guard hard to lose: the OOM killer must never pick it (oom_score_adj -1000),
// and it runs at nice Nice. On Linux the nice value belongs to each thread, and a new thread
// inherits its creator's, so every thread listed in <procRoot>/self/task is set, again until no
// new one shows up. Neither is essential to fencing; Protect returns one line for each that
// could not be done (not root, a container), for the log.
func Protect(procRoot string) []string {
	var problems []string
	if err := os.WriteFile(procRoot+"/self/oom_score_adj", []byte("-1000"), 0); err != nil {
		problems = append(problems, fmt.Sprintf("could not set oom_score_adj to -1000, so the OOM killer may pick the guard: %v", err))
	}
	seen := map[int]bool{}
	var failed error
	for pass := 0; pass < 5; pass++ {
		ents, err := os.ReadDir(procRoot + "/self/task")
		if err != nil {
			failed = err
			break
		}
		found := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || seen[tid] {
				continue
			}
			seen[tid], found = true, true
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, Nice); err != nil && failed == nil {
				failed = fmt.Errorf("thread %d: %w", tid, err)
			}
		}
		if !found {
			break
		}
	}
	if failed != nil {
		problems = append(problems, fmt.Sprintf("could not raise the scheduling priority to nice %d: %v", Nice, failed))
	}
	return problems
}
