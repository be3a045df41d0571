// Package probefail names why a lab client's HTTP request failed, in a word that a test can
// match on: the lab's prober (cmd/labhttp) and the seeds' own clients print it after "fail".
package probefail

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
)

// Reason is "timeout", "refused", "unreachable" or "reset" for the usual failures of a request
// to a service that moves, else err's text on one line. A timeout is the request's own deadline
// (its context's or its client's).
func Reason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return OneLine(err.Error())
}

// OneLine is s with its newlines turned into spaces, so that it stays one line of output.
func OneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
