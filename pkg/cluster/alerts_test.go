package cluster

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// catalogueEntry is one constructor of alerts.go, called with args, and the alert it must make.
type catalogueEntry struct {
	fn   any
	args []any
	want actAlert
}

// catalogue lists every alert of alerts.go, in its order, with the exact text each writes for
// sample names. A text here is what operators' scripts grep: it changes only on purpose.
func catalogue() []catalogueEntry {
	errKill := errors.New("kill -9 4242: operation not permitted")
	errProbe := errors.New("probe timed out after 30s")
	a := func(module string, id int, level, text string) actAlert {
		return actAlert{module: module, id: id, level: level, text: text}
	}
	return []catalogueEntry{
		{alertDaemonStarting, nil, a("pm", 1, LevelInfo, "Starting the cluster daemon...")},
		{alertDaemonStopping, nil, a("pm", 2, LevelInfo, "Shutting down the cluster daemon...")},
		{alertResumeRequested, []any{"server2"}, a("pm", 34, LevelInfo, "Received a request to resume the cluster daemon from server2.")},
		{alertSuspendRequested, []any{"server2"}, a("pm", 35, LevelInfo, "Received a request to suspend the cluster daemon from server2.")},

		{alertGroupRecovered, []any{"failover1"}, a("rc", 3, LevelInfo, "Group failover1 recovered from the previous run of clpd.")},
		{alertLeftoversKilled, []any{"failover1"}, a("rc", 4, LevelWarn, "Group failover1: what the previous clpd left running on this server was killed, because that daemon's lease had expired and the group may run elsewhere now.")},
		{alertFencing, []any{"Server server1 lost the coordination store"}, a("rc", 5, LevelError, "Server server1 lost the coordination store: stopping its groups to keep them from running twice.")},
		{alertStoreRejoined, []any{"server1"}, a("rc", 6, LevelInfo, "The coordination store answers again: server server1 rejoined the cluster.")},
		{alertFencedStopping, []any{"server1"}, a("rc", 7, LevelWarn, "Server server1 has stopped its groups; its cluster service stops, as asked.")},
		{alertFencedRejoining, []any{"server1"}, a("rc", 7, LevelWarn, "Server server1 has stopped its groups and will rejoin the cluster with a new lease.")},
		{alertGroupFenced, []any{"failover1", "server1"}, a("rc", 8, LevelWarn, "Group failover1 was stopped on server server1 by fencing: every process of it was killed.")},
		{alertGroupFencedUnconfirmed, []any{"failover1", "server1", errKill}, a("rc", 8, LevelWarn, "Group failover1 was stopped on server server1 by fencing, but its processes could not be confirmed gone (kill -9 4242: operation not permitted); the guard kills them again at its deadline.")},
		{alertGroupActivating, []any{"failover1"}, a("rc", 10, LevelInfo, "Activating group failover1 has started.")},
		{alertGroupActivated, []any{"failover1"}, a("rc", 11, LevelInfo, "Activating group failover1 has completed.")},
		{alertGroupActivateFailed, []any{"failover1"}, a("rc", 12, LevelError, "Activating group failover1 has failed.")},
		{alertGroupStopping, []any{"failover1"}, a("rc", 20, LevelInfo, "Stopping group failover1 has started.")},
		{alertGroupStopped, []any{"failover1"}, a("rc", 21, LevelInfo, "Stopping group failover1 has completed.")},
		{alertGroupStopFailed, []any{"failover1"}, a("rc", 22, LevelError, "Stopping group failover1 has failed.")},
		{alertResourceActivating, []any{"exec1"}, a("rc", 30, LevelInfo, "Activating exec1 resource has started.")},
		{alertResourceActivated, []any{"exec1"}, a("rc", 31, LevelInfo, "Activating exec1 resource has completed.")},
		{alertResourceActivateFailed, []any{"exec1", "exit status 1"}, a("rc", 32, LevelError, "Activating exec1 resource has failed.(exit status 1)")},
		{alertResourceActivateRetry, []any{"exec1", "exit status 1", 1, 3}, a("rc", 32, LevelWarn, "Activating exec1 resource has failed.(exit status 1) Retrying (1/3).")},
		{alertResourceFailed, []any{"exec1", "asynchronous start script ended"}, a("rc", 32, LevelError, "Resource exec1 has failed.(asynchronous start script ended)")},
		{alertResourceStopping, []any{"exec1"}, a("rc", 40, LevelInfo, "Stopping exec1 resource has started.")},
		{alertResourceStopped, []any{"exec1"}, a("rc", 41, LevelInfo, "Stopping exec1 resource has completed.")},
		{alertResourceStopFailed, []any{"exec1", "killed at timeout"}, a("rc", 42, LevelError, "Stopping exec1 resource has failed.(killed at timeout)")},
		{alertResourceStopRetry, []any{"exec1", "killed at timeout", 2, 2}, a("rc", 42, LevelWarn, "Stopping exec1 resource has failed.(killed at timeout) Retrying (2/2).")},
		{alertGroupMoving, []any{"failover1"}, a("rc", 50, LevelInfo, "Moving group failover1 has started.")},
		{alertGroupFailingBack, []any{"failover1", "server1"}, a("rc", 50, LevelInfo, "Moving group failover1 has started: failback to server server1.")},
		{alertGroupMoved, []any{"failover1"}, a("rc", 51, LevelInfo, "Moving group failover1 has completed.")},
		{alertGroupMoveFailed, []any{"failover1"}, a("rc", 52, LevelError, "Moving group failover1 has failed.")},
		{alertGroupFailingOver, []any{"failover1"}, a("rc", 60, LevelInfo, "Failover group failover1 has started.")},
		{alertGroupFailedOver, []any{"failover1"}, a("rc", 61, LevelInfo, "Failover group failover1 has completed.")},
		{alertGroupFailoverFailed, []any{"failover1"}, a("rc", 62, LevelError, "Failover group failover1 has failed.")},
		{alertActivationFailover, []any{"failover1", "server2", "exec1", "server1", 1, 2}, a("rc", 63, LevelWarn, "Group failover1 fails over to server server2 because exec1 could not be activated on server server1 (1/2).")},

		{alertMonitorStarted, []any{"pidw1"}, a("rm", 1, LevelInfo, "Monitoring pidw1 has started.")},
		{alertMonitorStopped, []any{"pidw1"}, a("rm", 2, LevelInfo, "Monitoring pidw1 has stopped.")},
		{alertMonitorWarn, []any{"pidw1", errProbe}, a("rm", 4, LevelWarn, "Warn monitoring pidw1. (probe timed out after 30s)")},
		{alertMonitorError, []any{"pidw1", "process 4242 is gone"}, a("rm", 9, LevelError, "Detected an error in monitoring pidw1. (process 4242 is gone)")},
		{alertMonitorNoFinalAction, []any{"pidw1"}, a("rm", 10, LevelWarn, "Monitor pidw1 stays in error: its recovery is exhausted and its final action is none.")},
		{alertRecoveryStopGroup, []any{"failover1", "pidw1"}, a("rm", 12, LevelError, "Recovery target failover1 will be stopped because an error was detected in monitoring pidw1.")},
		{alertRecoveryRestart, []any{"exec1", "pidw1"}, a("rm", 13, LevelWarn, "Recovery target exec1 will be restarted because an error was detected in monitoring pidw1.")},
		{alertRecoveryFailover, []any{"failover1", "pidw1"}, a("rm", 14, LevelWarn, "Recovery target failover1 fails over because an error was detected in monitoring pidw1.")},
		{alertRecoveryStopCluster, []any{"pidw1"}, a("rm", 15, LevelError, "Stopping the cluster service has been required because an error was detected in monitoring pidw1.")},
		{alertRecoveryShutdown, []any{"pidw1"}, a("rm", 16, LevelError, "Stopping the system has been required because an error was detected in monitoring pidw1.")},
		{alertRecoveryReboot, []any{"pidw1"}, a("rm", 17, LevelError, "Rebooting the system has been required because an error was detected in monitoring pidw1.")},
		{alertRecoveryTargetInactive, []any{"failover1"}, a("rm", 25, LevelWarn, "Recovery will not be executed since the recovery target failover1 is not active.")},
		{alertMonitorNormal, []any{"pidw1"}, a("rm", 26, LevelInfo, "pidw1 status changed from error to normal.")},
		{alertMonitorSuspended, []any{"pidw1"}, a("rm", 29, LevelInfo, "Monitoring pidw1 was suspended.")},
		{alertMonitorResumed, []any{"pidw1"}, a("rm", 30, LevelInfo, "Monitoring pidw1 was resumed.")},
		{alertRecoveryScriptExecuted, []any{"pidw1"}, a("rm", 49, LevelWarn, "Recovery script has been executed since an error was detected in monitoring pidw1.")},
		{alertRecoveryScriptStarted, []any{"restart", "pidw1"}, a("rm", 58, LevelInfo, "Recovery script (restart) upon failure in monitoring pidw1 has started.")},
		{alertRecoveryScriptCompleted, []any{"pidw1"}, a("rm", 59, LevelInfo, "Recovery script upon failure in monitoring pidw1 has completed.")},
		{alertRecoveryScriptNotRun, []any{"pidw1", errKill}, a("rm", 60, LevelWarn, "Recovery script upon failure in monitoring pidw1 could not be run. (kill -9 4242: operation not permitted)")},
		{alertRecoveryScriptFailed, []any{"pidw1", "exit status 2"}, a("rm", 60, LevelWarn, "Recovery script upon failure in monitoring pidw1 has failed. (exit status 2)")},
	}
}

// sharedIDs are the module+IDs that carry more than one message, each with its constructors and
// why. An ID not listed carries exactly one. CLUSTERPRO has one message per ID; every sharing here
// is clpkit's, kept because the IDs are what operators' scripts and alert filters match:
func sharedIDs() map[string]sharedID {
	return map[string]sharedID{
		// clpkit's own ID: one event (a fence ends), told two ways by what follows it.
		"rc 7": {[]string{"alertFencedStopping", "alertFencedRejoining"}, "the end of a fence, followed by a service stop or by a rejoin"},
		// clpkit's own ID: one event (a fenced group's processes were killed), with or without
		// proof that they are gone.
		"rc 8": {[]string{"alertGroupFenced", "alertGroupFencedUnconfirmed"}, "a fenced group killed, confirmed or not"},
		// CLUSTERPRO's "Activating %1 resource has failed.(%2 : %3)", with a retry count when the
		// start is tried again, and clpkit's wording for an asynchronous resource that failed
		// while Online (CLUSTERPRO has no separate message for it).
		"rc 32": {[]string{"alertResourceActivateFailed", "alertResourceActivateRetry", "alertResourceFailed"}, "a group resource that failed: at its start (final or retried) or while running"},
		// CLUSTERPRO's "Stopping %1 resource has failed.(%2 : %3)", with a retry count when the
		// stop is tried again.
		"rc 42": {[]string{"alertResourceStopFailed", "alertResourceStopRetry"}, "a group resource stop that failed, final or retried"},
		// CLUSTERPRO's "Moving group %1 has started.", with the destination of an automatic
		// failback after it (CLUSTERPRO writes rc 74 for a failback).
		"rc 50": {[]string{"alertGroupMoving", "alertGroupFailingBack"}, "a move: asked for, or an automatic failback"},
		// clpkit's own ID: a recovery script that failed, before or after it could start.
		"rm 60": {[]string{"alertRecoveryScriptNotRun", "alertRecoveryScriptFailed"}, "a recovery script that failed: not started, or ended badly"},
	}
}

type sharedID struct {
	fns []string
	why string
}

func funcName(fn any) string {
	full := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	return full[strings.LastIndex(full, ".")+1:]
}

func call(fn any, args []any) actAlert {
	in := make([]reflect.Value, len(args))
	for i, a := range args {
		in[i] = reflect.ValueOf(a)
	}
	return reflect.ValueOf(fn).Call(in)[0].Interface().(actAlert)
}

// parsePackage parses the package's non-test files.
func parsePackage(t *testing.T) (*token.FileSet, []*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return fset, files
}

// TestAlertCatalogue checks every alert of alerts.go: its module, ID, level and text; that the
// catalogue is in module and ID order; and that no two messages share a module+ID except those
// sharedIDs lists.
func TestAlertCatalogue(t *testing.T) {
	entries := catalogue()
	byName := map[string]catalogueEntry{}
	for _, e := range entries {
		name := funcName(e.fn)
		if _, dup := byName[name]; dup {
			t.Errorf("%s is listed twice", name)
		}
		byName[name] = e
		t.Run(name, func(t *testing.T) {
			if got := call(e.fn, e.args); got != e.want {
				t.Errorf("%s(%v) =\n  %s %d %s %q\nwant\n  %s %d %s %q", name, e.args,
					got.module, got.id, got.level, got.text, e.want.module, e.want.id, e.want.level, e.want.text)
			}
			if !slices.Contains([]string{"pm", "rc", "rm"}, e.want.module) {
				t.Errorf("module %q is none of CLUSTERPRO's pm, rc, rm", e.want.module)
			}
			if !slices.Contains([]string{LevelInfo, LevelWarn, LevelError}, e.want.level) {
				t.Errorf("level %q is none of %s, %s, %s", e.want.level, LevelInfo, LevelWarn, LevelError)
			}
			if e.want.id <= 0 {
				t.Errorf("id %d: alert IDs are positive", e.want.id)
			}
			if strings.ContainsAny(e.want.text, "\r\n") {
				t.Errorf("text spans lines: %q", e.want.text)
			}
		})
	}

	// Every constructor of alerts.go is in the table, and alerts.go keeps module and ID order.
	fset, files := parsePackage(t)
	rank := map[string]int{"pm": 0, "rc": 1, "rm": 2}
	var declared []string
	for _, f := range files {
		if filepath.Base(fset.Position(f.Pos()).Filename) != "alerts.go" {
			continue
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Type.Results == nil || len(fd.Type.Results.List) != 1 {
				continue
			}
			if id, ok := fd.Type.Results.List[0].Type.(*ast.Ident); ok && id.Name == "actAlert" {
				declared = append(declared, fd.Name.Name)
			}
		}
	}
	if len(declared) == 0 {
		t.Fatal("alerts.go declares no alert constructor")
	}
	for _, name := range declared {
		if _, ok := byName[name]; !ok {
			t.Errorf("%s is in alerts.go but not in the catalogue test", name)
		}
	}
	if len(byName) != len(declared) {
		t.Errorf("the test lists %d constructors, alerts.go declares %d", len(byName), len(declared))
	}
	for i := 1; i < len(declared); i++ {
		p, q := byName[declared[i-1]].want, byName[declared[i]].want
		if rank[p.module] > rank[q.module] || (p.module == q.module && p.id > q.id) {
			t.Errorf("alerts.go is out of order: %s (%s %d) before %s (%s %d)", declared[i-1], p.module, p.id, declared[i], q.module, q.id)
		}
	}

	// One message per module+ID, but for the documented exceptions.
	users := map[string][]string{}
	for _, name := range declared {
		w := byName[name].want
		key := fmt.Sprintf("%s %d", w.module, w.id)
		users[key] = append(users[key], name)
	}
	shared := sharedIDs()
	for key, names := range users {
		ex, ok := shared[key]
		switch {
		case len(names) > 1 && !ok:
			t.Errorf("%s carries %d messages (%s): give each its own ID, or document the sharing in sharedIDs", key, len(names), strings.Join(names, ", "))
		case ok && !slices.Equal(names, ex.fns):
			t.Errorf("%s is carried by %v, sharedIDs says %v (%s)", key, names, ex.fns, ex.why)
		}
	}
	for key := range shared {
		if len(users[key]) < 2 {
			t.Errorf("sharedIDs lists %s, which no longer carries more than one message", key)
		}
	}
}

// TestAlertsOnlyFromCatalogue keeps every alert in the catalogue: outside alerts.go, the engine
// builds no actAlert of its own.
func TestAlertsOnlyFromCatalogue(t *testing.T) {
	fset, files := parsePackage(t)
	for _, f := range files {
		file := filepath.Base(fset.Position(f.Pos()).Filename)
		if file == "alerts.go" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if cl, ok := n.(*ast.CompositeLit); ok {
				if id, ok := cl.Type.(*ast.Ident); ok && id.Name == "actAlert" {
					t.Errorf("%s: an alert built inline; add a constructor to alerts.go", fset.Position(cl.Pos()))
				}
			}
			return true
		})
	}
}
