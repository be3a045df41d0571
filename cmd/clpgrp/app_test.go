package main

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"clpkit/internal/cmdtest"
	"clpkit/pkg/api"
	"clpkit/pkg/status"
)

// twoServers is clpd on server1 while group g runs on server2: a stop asked of server1 is
// refused as CLUSTERPRO refuses it, one asked of server2 (relayed) is carried out.
type twoServers struct {
	cmdtest.Unused
	mu    sync.Mutex
	stops []api.GroupRequest
	owner string
	// gone makes Current answer "": the group stopped between the refusal and the question.
	gone bool
}

func (f *twoServers) Current(context.Context, string) (string, error) {
	if f.gone {
		return "", nil
	}
	return f.owner, nil
}

func (f *twoServers) StopGroup(_ context.Context, r api.GroupRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, r)
	if r.Host != f.owner {
		return status.ErrStartedOther()
	}
	return nil
}

// viaHost is the fake as clpd relays a request for host to it.
type viaHost struct {
	*twoServers
	host string
}

func (v viaHost) StopGroup(ctx context.Context, r api.GroupRequest) error {
	r.Host = v.host
	return v.twoServers.StopGroup(ctx, r)
}

// clpgrp -t g -f on a server that does not run g stops it where it runs. It used to print
// "... To start/stop the group on the local server, use -f option." although -f was given.
func TestStopForceElsewhere(t *testing.T) {
	f := &twoServers{owner: "server2"}
	sock := cmdtest.Serve(t, api.Handler(f, func(h string) (api.Service, error) { return viaHost{f, h}, nil }), nil)
	env := cmdtest.EnvWith(sock)

	cmdtest.Expect(t, "clpgrp", run, []string{"-t", "g"}, env, 1, "", status.ErrStartedOther().Msg+"\n")
	cmdtest.Expect(t, "clpgrp", run, []string{"-t", "g", "-f"}, env, 0, cmdtest.Succeeded, "")
	want := []api.GroupRequest{
		{Group: "g"},
		{Group: "g", Force: true},
		{Group: "g", Force: true, Host: "server2"},
	}
	if !reflect.DeepEqual(f.stops, want) {
		t.Errorf("stops asked: %+v, want %+v", f.stops, want)
	}

	f.gone, f.stops = true, nil
	cmdtest.Expect(t, "clpgrp", run, []string{"-t", "g", "-f"}, env, 1, "", status.ErrAlreadyStopped().Msg+"\n")
}
