package status

// Code classifies a refused or failed operation, so clients can map it to an exit status and the
// API can carry it without either side parsing message text.
type Code string

// Operation error codes.
const (
	CodeInvalidGroup   Code = "invalid-group"
	CodeInvalidServer  Code = "invalid-server"
	CodeAlreadyStarted Code = "already-started"
	CodeStartedOther   Code = "started-on-other"
	CodeAlreadyStopped Code = "already-stopped"
	CodeNoDestination  Code = "no-destination"
	CodeBusy           Code = "busy"
	CodeStartFailed    Code = "start-failed"
	CodeStopFailed     Code = "stop-failed"
	CodeSuspended      Code = "suspended"
	CodeNotStarted     Code = "cluster-not-started"
	CodeTimeout        Code = "timeout"
	CodeInternal       Code = "internal"
	CodeInvalidMonitor Code = "invalid-monitor"
	CodeInvalidRsc     Code = "invalid-resource"
	// CodeRefused is an operation refused as it stands: the message says what to do first.
	CodeRefused Code = "refused"
	// CodeScriptFailed is a script of clprexec --script that failed or timed out.
	CodeScriptFailed Code = "script-failed"
)

// OpError is an operation's refusal or failure. Msg is the one line the command prints: the
// legacy CLUSTERPRO wording where scripts or operators know it, otherwise what went wrong and what
// to do.
type OpError struct {
	Code Code   `json:"code"`
	Msg  string `json:"error"`
}

func (e *OpError) Error() string { return e.Msg }

// Errorf-free constructors keep the messages in one place.

// ErrInvalidGroup is the legacy message for an unknown group.
func ErrInvalidGroup(name string) *OpError {
	return &OpError{CodeInvalidGroup, "Invalid group name. Specify a valid group name in the cluster. (" + name + ")"}
}

// ErrInvalidServer is the legacy message for a server that cannot run the group.
func ErrInvalidServer(name string) *OpError {
	return &OpError{CodeInvalidServer, "Invalid server. Specify a server that can run and stop the group, or a server that can be a target when you move the group. (" + name + ")"}
}

// ErrAlreadyStarted is the legacy message for starting a group that runs here.
func ErrAlreadyStarted() *OpError {
	return &OpError{CodeAlreadyStarted, "The group has already been started on the local server."}
}

// ErrStartedOther is the legacy message for a group that runs on another server.
func ErrStartedOther() *OpError {
	return &OpError{CodeStartedOther, "The group has already been started on the other server. To start/stop the group on the local server, use -f option."}
}

// ErrAlreadyStopped is the legacy message for stopping a stopped group.
func ErrAlreadyStopped() *OpError {
	return &OpError{CodeAlreadyStopped, "The group has already been stopped."}
}

// ErrBusy is the legacy message for a group in the middle of another operation.
func ErrBusy() *OpError {
	return &OpError{CodeBusy, "The group is busy. Try again later."}
}

// ErrStartFailed is the legacy message for an activation failure.
func ErrStartFailed(group string) *OpError {
	return &OpError{CodeStartFailed, "Failed to start one or more resources. Check the status of group " + group + "."}
}

// ErrStopFailed reports a deactivation failure.
func ErrStopFailed(group string) *OpError {
	return &OpError{CodeStopFailed, "Failed to stop one or more resources. Check the status of group " + group + "."}
}

// ErrTimeout is the legacy message for an operation that outlived the caller's wait.
func ErrTimeout() *OpError {
	return &OpError{CodeTimeout, "Internal communication timeout has occurred in the cluster server. If it occurs frequently, set a longer timeout."}
}

// ErrInvalidMonitor reports a monitor name the cluster does not have.
func ErrInvalidMonitor(name string) *OpError {
	return &OpError{CodeInvalidMonitor, "Specified monitor resource is not registered. (" + name + ")"}
}

// ErrInvalidResource reports a resource name the cluster does not have.
func ErrInvalidResource(name string) *OpError {
	return &OpError{CodeInvalidRsc, "Invalid resource name. Specify a valid resource name in the cluster. (" + name + ")"}
}
