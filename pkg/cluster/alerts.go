package cluster

import "fmt"

// The alerts the cluster engine writes to the alert log: one constructor per message, grouped by
// CLUSTERPRO module, in ID order within each module. Operators' scripts and the tests grep these
// texts, so a text or an ID is changed here or not at all.
//
// Modules, as CLUSTERPRO names them:
//
//   - pm: the process manager (the daemon itself: start, stop, suspend, resume);
//   - rc: resource control (groups and group resources: start, stop, move, failover, fencing);
//   - rm: the resource monitor (monitor resources and their recovery).
//
// Where the texts come from. CLUSTERPRO's alert list is chapter 10 of the X 4.2 Linux Reference
// Guide ("Messages reported by syslog, alert, mail and SNMP trap"), extracted as
// EXPRESSCLUSTER/AlertMessages csv/X42_alertDestList_org.csv; the research notes
// (research/clusterpro-contract.md §1) cite it and quote the rc group and resource messages
// (rc 10–12, 20–22, 30–32, 50–52, 60–62). Each constructor says which kind it is:
//
//   - "CLUSTERPRO": ID, level and wording as that list gives them, %1, %2 filled in.
//   - "CLUSTERPRO, one detail": CLUSTERPRO's wording, but its "(%2 : %3)" (error number and
//     text) is one detail in parentheses, the text of what failed.
//   - "CLUSTERPRO wording, clpkit level" and the like: what differs is said.
//   - "clpkit": clpkit's own message, for what CLUSTERPRO has no message for (fencing, the
//     coordination store, a daemon restarted under running scripts, retries, recovery scripts).
//
// Four of clpkit's own messages sit on an ID that CLUSTERPRO gives another message: rc 63
// (CLUSTERPRO: "Server %1 is not in a condition to move group %2."), rm 10 ("%1 is not
// monitored."), rm 49 ("%1 status changed from warning to normal."; clpkit's rm 49 text is
// CLUSTERPRO's rm 170) and rm 58 (a license message). They are kept as clpkit has always written
// them, for the scripts that already match them.
//
// Some IDs carry more than one message (a retry, a variant); alerts_test.go lists them and why.

// --- pm: the process manager ---

// alertDaemonStarting is pm 1, written when the cluster service is up (CLUSTERPRO).
func alertDaemonStarting() actAlert {
	return actAlert{module: "pm", id: 1, level: LevelInfo, text: "Starting the cluster daemon..."}
}

// alertDaemonStopping is pm 2 (CLUSTERPRO).
func alertDaemonStopping() actAlert {
	return actAlert{module: "pm", id: 2, level: LevelInfo, text: "Shutting down the cluster daemon..."}
}

// alertResumeRequested is pm 34: clpcl --resume, from the server that asked (CLUSTERPRO).
func alertResumeRequested(from string) actAlert {
	return actAlert{module: "pm", id: 34, level: LevelInfo, text: fmt.Sprintf("Received a request to resume the cluster daemon from %s.", from)}
}

// alertSuspendRequested is pm 35: clpcl --suspend, from the server that asked (CLUSTERPRO).
func alertSuspendRequested(from string) actAlert {
	return actAlert{module: "pm", id: 35, level: LevelInfo, text: fmt.Sprintf("Received a request to suspend the cluster daemon from %s.", from)}
}

// --- rc: resource control ---

// alertGroupRecovered is rc 3: a restarted clpd took back a group its previous run left (clpkit).
func alertGroupRecovered(group string) actAlert {
	return actAlert{module: "rc", id: 3, level: LevelInfo, text: fmt.Sprintf("Group %s recovered from the previous run of clpd.", group)}
}

// alertLeftoversKilled is rc 4: what a previous clpd left of a group was killed because its lease
// had expired (clpkit).
func alertLeftoversKilled(group string) actAlert {
	return actAlert{module: "rc", id: 4, level: LevelWarn, text: fmt.Sprintf("Group %s: what the previous clpd left running on this server was killed, because that daemon's lease had expired and the group may run elsewhere now.", group)}
}

// alertFencing is rc 5: the lease cannot be proven alive, why says how (clpkit).
func alertFencing(why string) actAlert {
	return actAlert{module: "rc", id: 5, level: LevelError, text: fmt.Sprintf("%s: stopping its groups to keep them from running twice.", why)}
}

// alertStoreRejoined is rc 6: a fenced server is back in the cluster (clpkit).
func alertStoreRejoined(server string) actAlert {
	return actAlert{module: "rc", id: 6, level: LevelInfo, text: fmt.Sprintf("The coordination store answers again: server %s rejoined the cluster.", server)}
}

// alertFencedStopping is rc 7 at the end of a fence during a service stop (clpkit).
func alertFencedStopping(server string) actAlert {
	return actAlert{module: "rc", id: 7, level: LevelWarn, text: fmt.Sprintf("Server %s has stopped its groups; its cluster service stops, as asked.", server)}
}

// alertFencedRejoining is rc 7 at the end of a fence (clpkit).
func alertFencedRejoining(server string) actAlert {
	return actAlert{module: "rc", id: 7, level: LevelWarn, text: fmt.Sprintf("Server %s has stopped its groups and will rejoin the cluster with a new lease.", server)}
}

// alertGroupFenced is rc 8: every process of a group was killed by fencing (clpkit).
func alertGroupFenced(group, server string) actAlert {
	return actAlert{module: "rc", id: 8, level: LevelWarn, text: fmt.Sprintf("Group %s was stopped on server %s by fencing: every process of it was killed.", group, server)}
}

// alertGroupFencedUnconfirmed is rc 8 when the kill could not be confirmed (clpkit).
func alertGroupFencedUnconfirmed(group, server string, err error) actAlert {
	return actAlert{module: "rc", id: 8, level: LevelWarn, text: fmt.Sprintf("Group %s was stopped on server %s by fencing, but its processes could not be confirmed gone (%v); the guard kills them again at its deadline.", group, server, err)}
}

// alertGroupActivating is rc 10 (CLUSTERPRO).
func alertGroupActivating(group string) actAlert {
	return actAlert{module: "rc", id: 10, level: LevelInfo, text: fmt.Sprintf("Activating group %s has started.", group)}
}

// alertGroupActivated is rc 11 (CLUSTERPRO).
func alertGroupActivated(group string) actAlert {
	return actAlert{module: "rc", id: 11, level: LevelInfo, text: fmt.Sprintf("Activating group %s has completed.", group)}
}

// alertGroupActivateFailed is rc 12 (CLUSTERPRO).
func alertGroupActivateFailed(group string) actAlert {
	return actAlert{module: "rc", id: 12, level: LevelError, text: fmt.Sprintf("Activating group %s has failed.", group)}
}

// alertGroupStopping is rc 20 (CLUSTERPRO).
func alertGroupStopping(group string) actAlert {
	return actAlert{module: "rc", id: 20, level: LevelInfo, text: fmt.Sprintf("Stopping group %s has started.", group)}
}

// alertGroupStopped is rc 21 (CLUSTERPRO).
func alertGroupStopped(group string) actAlert {
	return actAlert{module: "rc", id: 21, level: LevelInfo, text: fmt.Sprintf("Stopping group %s has completed.", group)}
}

// alertGroupStopFailed is rc 22 (CLUSTERPRO).
func alertGroupStopFailed(group string) actAlert {
	return actAlert{module: "rc", id: 22, level: LevelError, text: fmt.Sprintf("Stopping group %s has failed.", group)}
}

// alertResourceActivating is rc 30 (CLUSTERPRO).
func alertResourceActivating(res string) actAlert {
	return actAlert{module: "rc", id: 30, level: LevelInfo, text: fmt.Sprintf("Activating %s resource has started.", res)}
}

// alertResourceActivated is rc 31 (CLUSTERPRO).
func alertResourceActivated(res string) actAlert {
	return actAlert{module: "rc", id: 31, level: LevelInfo, text: fmt.Sprintf("Activating %s resource has completed.", res)}
}

// alertResourceActivateFailed is rc 32 (CLUSTERPRO, one detail).
func alertResourceActivateFailed(res, detail string) actAlert {
	return actAlert{module: "rc", id: 32, level: LevelError, text: fmt.Sprintf("Activating %s resource has failed.(%s)", res, detail)}
}

// alertResourceActivateRetry is rc 32 as a warning when the start is tried again: retry attempt
// of the resource's activation retries (clpkit: CLUSTERPRO's rc 32 with the count after it).
func alertResourceActivateRetry(res, detail string, attempt, of int) actAlert {
	return actAlert{module: "rc", id: 32, level: LevelWarn, text: fmt.Sprintf("Activating %s resource has failed.(%s) Retrying (%d/%d).", res, detail, attempt, of)}
}

// alertResourceFailed is rc 32 for an asynchronous resource whose start script ended while it was
// Online (clpkit wording under CLUSTERPRO's rc 32, the ID of a resource that failed).
func alertResourceFailed(res, detail string) actAlert {
	return actAlert{module: "rc", id: 32, level: LevelError, text: fmt.Sprintf("Resource %s has failed.(%s)", res, detail)}
}

// alertResourceStopping is rc 40 (CLUSTERPRO).
func alertResourceStopping(res string) actAlert {
	return actAlert{module: "rc", id: 40, level: LevelInfo, text: fmt.Sprintf("Stopping %s resource has started.", res)}
}

// alertResourceStopped is rc 41 (CLUSTERPRO).
func alertResourceStopped(res string) actAlert {
	return actAlert{module: "rc", id: 41, level: LevelInfo, text: fmt.Sprintf("Stopping %s resource has completed.", res)}
}

// alertResourceStopFailed is rc 42 (CLUSTERPRO, one detail).
func alertResourceStopFailed(res, detail string) actAlert {
	return actAlert{module: "rc", id: 42, level: LevelError, text: fmt.Sprintf("Stopping %s resource has failed.(%s)", res, detail)}
}

// alertResourceStopRetry is rc 42 as a warning when the stop is tried again: retry attempt of the
// resource's deactivation retries (clpkit: CLUSTERPRO's rc 42 with the count after it).
func alertResourceStopRetry(res, detail string, attempt, of int) actAlert {
	return actAlert{module: "rc", id: 42, level: LevelWarn, text: fmt.Sprintf("Stopping %s resource has failed.(%s) Retrying (%d/%d).", res, detail, attempt, of)}
}

// alertGroupMoving is rc 50 (CLUSTERPRO).
func alertGroupMoving(group string) actAlert {
	return actAlert{module: "rc", id: 50, level: LevelInfo, text: fmt.Sprintf("Moving group %s has started.", group)}
}

// alertGroupFailingBack is rc 50 for an automatic failback to target (clpkit: CLUSTERPRO's rc 50
// with the destination after it; CLUSTERPRO writes rc 74 "Failback group %1 has started.").
func alertGroupFailingBack(group, target string) actAlert {
	return actAlert{module: "rc", id: 50, level: LevelInfo, text: fmt.Sprintf("Moving group %s has started: failback to server %s.", group, target)}
}

// alertGroupMoved is rc 51 (CLUSTERPRO).
func alertGroupMoved(group string) actAlert {
	return actAlert{module: "rc", id: 51, level: LevelInfo, text: fmt.Sprintf("Moving group %s has completed.", group)}
}

// alertGroupMoveFailed is rc 52 (CLUSTERPRO).
func alertGroupMoveFailed(group string) actAlert {
	return actAlert{module: "rc", id: 52, level: LevelError, text: fmt.Sprintf("Moving group %s has failed.", group)}
}

// alertGroupFailingOver is rc 60 (CLUSTERPRO).
func alertGroupFailingOver(group string) actAlert {
	return actAlert{module: "rc", id: 60, level: LevelInfo, text: fmt.Sprintf("Failover group %s has started.", group)}
}

// alertGroupFailedOver is rc 61 (CLUSTERPRO).
func alertGroupFailedOver(group string) actAlert {
	return actAlert{module: "rc", id: 61, level: LevelInfo, text: fmt.Sprintf("Failover group %s has completed.", group)}
}

// alertGroupFailoverFailed is rc 62 (CLUSTERPRO).
func alertGroupFailoverFailed(group string) actAlert {
	return actAlert{module: "rc", id: 62, level: LevelError, text: fmt.Sprintf("Failover group %s has failed.", group)}
}

// alertActivationFailover is rc 63: res could not be activated on server, so the group goes to
// target, failover n of the resource's activation failovers (clpkit; CLUSTERPRO's rc 63 is another message, and its nearest is
// rc 201 "Group(%1) will be moved to server(%2) since activating  resource(%3) failed.").
func alertActivationFailover(group, target, res, server string, n, of int) actAlert {
	return actAlert{module: "rc", id: 63, level: LevelWarn, text: fmt.Sprintf("Group %s fails over to server %s because %s could not be activated on server %s (%d/%d).",
		group, target, res, server, n, of)}
}

// --- rm: the resource monitor ---

// alertMonitorStarted is rm 1 (CLUSTERPRO).
func alertMonitorStarted(mon string) actAlert {
	return actAlert{module: "rm", id: 1, level: LevelInfo, text: fmt.Sprintf("Monitoring %s has started.", mon)}
}

// alertMonitorStopped is rm 2 (CLUSTERPRO).
func alertMonitorStopped(mon string) actAlert {
	return actAlert{module: "rm", id: 2, level: LevelInfo, text: fmt.Sprintf("Monitoring %s has stopped.", mon)}
}

// alertMonitorWarn is rm 4: a probe timed out on a monitor whose timeout is no error
// (CLUSTERPRO, one detail).
func alertMonitorWarn(mon string, err error) actAlert {
	return actAlert{module: "rm", id: 4, level: LevelWarn, text: fmt.Sprintf("Warn monitoring %s. (%s)", mon, err)}
}

// alertMonitorError is rm 9 (CLUSTERPRO, one detail).
func alertMonitorError(mon, detail string) actAlert {
	return actAlert{module: "rm", id: 9, level: LevelError, text: fmt.Sprintf("Detected an error in monitoring %s. (%s)", mon, detail)}
}

// alertMonitorNoFinalAction is rm 10: recovery is exhausted and the final action is none
// (clpkit; CLUSTERPRO's rm 10 is "%1 is not monitored.").
func alertMonitorNoFinalAction(mon string) actAlert {
	return actAlert{module: "rm", id: 10, level: LevelWarn, text: fmt.Sprintf("Monitor %s stays in error: its recovery is exhausted and its final action is none.", mon)}
}

// alertRecoveryStopGroup is rm 12, written before the group is stopped (CLUSTERPRO's rm 12 reports
// it after: "Recovery target %1 has stopped because ...", level Info; clpkit announces, level ERR).
func alertRecoveryStopGroup(group, mon string) actAlert {
	return actAlert{module: "rm", id: 12, level: LevelError, text: fmt.Sprintf("Recovery target %s will be stopped because an error was detected in monitoring %s.", group, mon)}
}

// alertRecoveryRestart is rm 13, written before the restart (CLUSTERPRO's reports it after: "...
// has restarted because ...", level Info; clpkit announces, level WARN).
func alertRecoveryRestart(target, mon string) actAlert {
	return actAlert{module: "rm", id: 13, level: LevelWarn, text: fmt.Sprintf("Recovery target %s will be restarted because an error was detected in monitoring %s.", target, mon)}
}

// alertRecoveryFailover is rm 14, written before the failover (CLUSTERPRO's: "... failed over
// because ...", level Info; clpkit announces, level WARN).
func alertRecoveryFailover(group, mon string) actAlert {
	return actAlert{module: "rm", id: 14, level: LevelWarn, text: fmt.Sprintf("Recovery target %s fails over because an error was detected in monitoring %s.", group, mon)}
}

// alertRecoveryStopCluster is rm 15 (CLUSTERPRO wording with "cluster service" for "cluster";
// clpkit level ERR, CLUSTERPRO's Info).
func alertRecoveryStopCluster(mon string) actAlert {
	return actAlert{module: "rm", id: 15, level: LevelError, text: fmt.Sprintf("Stopping the cluster service has been required because an error was detected in monitoring %s.", mon)}
}

// alertRecoveryShutdown is rm 16 (CLUSTERPRO wording, clpkit level ERR, CLUSTERPRO's Info).
func alertRecoveryShutdown(mon string) actAlert {
	return actAlert{module: "rm", id: 16, level: LevelError, text: fmt.Sprintf("Stopping the system has been required because an error was detected in monitoring %s.", mon)}
}

// alertRecoveryReboot is rm 17 (CLUSTERPRO wording, clpkit level ERR, CLUSTERPRO's Info).
func alertRecoveryReboot(mon string) actAlert {
	return actAlert{module: "rm", id: 17, level: LevelError, text: fmt.Sprintf("Rebooting the system has been required because an error was detected in monitoring %s.", mon)}
}

// alertRecoveryTargetInactive is rm 25 (CLUSTERPRO).
func alertRecoveryTargetInactive(target string) actAlert {
	return actAlert{module: "rm", id: 25, level: LevelWarn, text: fmt.Sprintf("Recovery will not be executed since the recovery target %s is not active.", target)}
}

// alertMonitorNormal is rm 26 (CLUSTERPRO).
func alertMonitorNormal(mon string) actAlert {
	return actAlert{module: "rm", id: 26, level: LevelInfo, text: fmt.Sprintf("%s status changed from error to normal.", mon)}
}

// alertMonitorSuspended is rm 29 (CLUSTERPRO).
func alertMonitorSuspended(mon string) actAlert {
	return actAlert{module: "rm", id: 29, level: LevelInfo, text: fmt.Sprintf("Monitoring %s was suspended.", mon)}
}

// alertMonitorResumed is rm 30 (CLUSTERPRO).
func alertMonitorResumed(mon string) actAlert {
	return actAlert{module: "rm", id: 30, level: LevelInfo, text: fmt.Sprintf("Monitoring %s was resumed.", mon)}
}

// alertRecoveryScriptExecuted is rm 49: the recovery action "run the recovery script" is done
// (CLUSTERPRO's rm 170 wording, level WARN for its Info, under clpkit's ID 49).
func alertRecoveryScriptExecuted(mon string) actAlert {
	return actAlert{module: "rm", id: 49, level: LevelWarn, text: fmt.Sprintf("Recovery script has been executed since an error was detected in monitoring %s.", mon)}
}

// alertRecoveryScriptStarted is rm 58: the recovery script runs before step (clpkit).
func alertRecoveryScriptStarted(step, mon string) actAlert {
	return actAlert{module: "rm", id: 58, level: LevelInfo, text: fmt.Sprintf("Recovery script (%s) upon failure in monitoring %s has started.", step, mon)}
}

// alertRecoveryScriptCompleted is rm 59 (clpkit).
func alertRecoveryScriptCompleted(mon string) actAlert {
	return actAlert{module: "rm", id: 59, level: LevelInfo, text: fmt.Sprintf("Recovery script upon failure in monitoring %s has completed.", mon)}
}

// alertRecoveryScriptNotRun is rm 60 when the script could not be started (clpkit).
func alertRecoveryScriptNotRun(mon string, err error) actAlert {
	return actAlert{module: "rm", id: 60, level: LevelWarn, text: fmt.Sprintf("Recovery script upon failure in monitoring %s could not be run. (%v)", mon, err)}
}

// alertRecoveryScriptFailed is rm 60 when the script ran and failed; result is how it ended
// (clpkit).
func alertRecoveryScriptFailed(mon, result string) actAlert {
	return actAlert{module: "rm", id: 60, level: LevelWarn, text: fmt.Sprintf("Recovery script upon failure in monitoring %s has failed. (%s)", mon, result)}
}
