package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"clpkit/pkg/status"
)

// The handler decodes JSON bodies that any local root process (or, relayed, another server) sends.
// Whatever the body, it must answer with JSON, a 200 or a 409 with a code, never panic, and hand
// the Service exactly what the body says, the host cleared.

// recorder is a Service that remembers the request it was handed and refuses it, as a refusing
// one does.
type recorder struct {
	refusing
	got any
}

func (r *recorder) StartGroup(_ context.Context, q GroupRequest) error { r.got = q; return r.err }
func (r *recorder) StopGroup(_ context.Context, q GroupRequest) error  { r.got = q; return r.err }
func (r *recorder) MoveGroup(_ context.Context, q GroupRequest) error  { r.got = q; return r.err }
func (r *recorder) Cluster(_ context.Context, q ClusterRequest) ([]ServerResult, error) {
	r.got = q
	return nil, r.err
}

func (r *recorder) Monitors(_ context.Context, q MonitorRequest) ([]status.Monitor, error) {
	r.got = q
	return nil, r.err
}

func (r *recorder) Resource(_ context.Context, q ResourceRequest) (string, error) {
	r.got = q
	return "", r.err
}

func (r *recorder) Members(_ context.Context, q MemberRequest) ([]Member, error) {
	r.got = q
	return nil, r.err
}

func (r *recorder) Rexec(_ context.Context, q RexecRequest) (RexecResult, error) {
	r.got = q
	return RexecResult{}, r.err
}

// fuzzRoutes are the routes whose body the handler decodes, with the request type each decodes.
func fuzzRoutes() []struct {
	path string
	req  reflect.Type
} {
	return []struct {
		path string
		req  reflect.Type
	}{
		{"/v1/groups/start", reflect.TypeFor[GroupRequest]()},
		{"/v1/groups/stop", reflect.TypeFor[GroupRequest]()},
		{"/v1/groups/move", reflect.TypeFor[GroupRequest]()},
		{"/v1/cluster", reflect.TypeFor[ClusterRequest]()},
		{"/v1/monitors", reflect.TypeFor[MonitorRequest]()},
		{"/v1/resources", reflect.TypeFor[ResourceRequest]()},
		{"/v1/rexec", reflect.TypeFor[RexecRequest]()},
		{"/v1/members", reflect.TypeFor[MemberRequest]()},
	}
}

func FuzzHandler(f *testing.F) {
	// Route (an index of fuzzRoutes), body, and whether the service refuses.
	f.Add(uint8(0), []byte(`{"group":"failover1"}`), false)
	f.Add(uint8(1), []byte(`{"group":"failover1","force":true}`), true)
	f.Add(uint8(2), []byte(`{"group":"failover1","host":"s2","dest":"s1","force":true}`), false)
	f.Add(uint8(3), []byte(`{"op":"stop","all":true,"part":true}`), false)
	f.Add(uint8(3), []byte(`{"op":"suspend","host":"s2"}`), true)
	f.Add(uint8(4), []byte(`{"op":"suspend","monitors":["pidw1","genw1"],"host":"s2"}`), false)
	f.Add(uint8(5), []byte(`{"op":"start","resource":"exec1","force":true}`), false)
	f.Add(uint8(6), []byte(`{"op":"script","script":"notify.sh","timeout":30,"host":"s9"}`), false)
	f.Add(uint8(6), []byte(`{"op":"notice","category":"NIC","keyword":"eth0"}`), true)
	f.Add(uint8(7), []byte(`{"op":"add","name":"s3","peer_url":"https://192.0.2.3:2380"}`), false)
	f.Add(uint8(0), []byte(`{"group":1}`), false)
	f.Add(uint8(4), []byte(`{"monitors":"pidw1"}`), false)
	f.Add(uint8(0), []byte(`{"group":"g"} trailing`), false)
	f.Add(uint8(0), []byte(`{"group":"g"`), false)
	f.Add(uint8(3), []byte(`null`), false)
	f.Add(uint8(5), []byte(``), false)
	f.Add(uint8(7), []byte("\xff\xfe{"), false)
	f.Add(uint8(2), []byte(`{"HOST":"s2","Group":"g\u0000"}`), false)
	f.Add(uint8(1), []byte(`{"host":"`+strings.Repeat("s", 300)+`"}`), false)
	f.Fuzz(func(t *testing.T, route uint8, body []byte, fail bool) {
		routes := fuzzRoutes()
		rt := routes[int(route)%len(routes)]
		if len(body) >= 1<<20 {
			return // over the handler's limit: refused before decoding
		}
		var err error
		if fail {
			err = status.ErrAlreadyStarted()
		}
		local := &recorder{refusing: refusing{err: err}}
		remote := &recorder{refusing: refusing{err: err}}
		var relayed []string
		h := Handler(local, func(host string) (Service, error) {
			relayed = append(relayed, host)
			if host == "s2" {
				return remote, nil
			}
			return nil, &status.OpError{Code: status.CodeInvalidServer, Msg: "no server " + host}
		})
		req := httptest.NewRequest(http.MethodPost, rt.path, bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)

		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
		var answer any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer %q is no JSON: %v", w.Body.Bytes(), err)
		}
		if w.Code != http.StatusOK {
			var eb errorBody
			if w.Code != http.StatusConflict || json.Unmarshal(w.Body.Bytes(), &eb) != nil || eb.Code == "" || eb.Msg == "" {
				t.Fatalf("answer %d %q: want 200, or 409 with a code and a message", w.Code, w.Body.Bytes())
			}
		}

		// What the body decodes to, as the handler's decoder reads it.
		want := reflect.New(rt.req)
		if json.NewDecoder(bytes.NewReader(body)).Decode(want.Interface()) != nil {
			if local.got != nil || remote.got != nil || relayed != nil {
				t.Fatalf("an undecodable body reached a service: local %v, remote %v, relayed %v", local.got, remote.got, relayed)
			}
			var eb errorBody
			if w.Code != http.StatusConflict || json.Unmarshal(w.Body.Bytes(), &eb) != nil || !strings.HasPrefix(eb.Msg, "bad request: ") {
				t.Fatalf("undecodable body %q answered %d %q", body, w.Code, w.Body.Bytes())
			}
			return
		}
		host := want.Elem().FieldByName("Host")
		wantHost := host.String()
		host.SetString("")
		served := local
		switch {
		case wantHost == "":
			if relayed != nil {
				t.Fatalf("a request for this server was relayed to %v", relayed)
			}
		case len(relayed) != 1 || relayed[0] != wantHost:
			t.Fatalf("host %q relayed as %v", wantHost, relayed)
		case wantHost == "s2":
			served = remote
		default:
			if local.got != nil || remote.got != nil || w.Code != http.StatusConflict {
				t.Fatalf("a request for unknown host %q was served (%d)", wantHost, w.Code)
			}
			return
		}
		other := remote
		if served == remote {
			other = local
		}
		if other.got != nil {
			t.Fatalf("the wrong service got the request: %+v", other.got)
		}
		if !reflect.DeepEqual(served.got, want.Elem().Interface()) {
			t.Fatalf("service got %#v, want %#v", served.got, want.Elem().Interface())
		}
		if (w.Code == http.StatusOK) == fail {
			t.Fatalf("answer %d, service failing %v", w.Code, fail)
		}
	})
}

// FuzzGetQueries covers the two routes that read the query instead of a body.
func FuzzGetQueries(f *testing.F) {
	f.Add("host=s2", false)
	f.Add("group=failover1&host=", true)
	f.Add("host=%zz&group=%", false)
	f.Add("group=a;b&host=s9", true)
	f.Fuzz(func(t *testing.T, query string, current bool) {
		path := "/v1/status"
		if current {
			path = "/v1/groups/current"
		}
		u := &url.URL{Path: path, RawQuery: query}
		req, err := http.NewRequest(http.MethodGet, "http://clpd"+u.RequestURI(), nil)
		if err != nil {
			return // not a request a client can send
		}
		s := &recorder{refusing: refusing{err: errors.New("no group")}}
		h := Handler(s, func(host string) (Service, error) {
			if host == "s2" {
				return s, nil
			}
			return nil, &status.OpError{Code: status.CodeInvalidServer, Msg: "no server " + host}
		})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var answer any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer %d %q is no JSON: %v", w.Code, w.Body.Bytes(), err)
		}
		if w.Code != http.StatusOK && w.Code != http.StatusConflict {
			t.Fatalf("answer %d %q", w.Code, w.Body.Bytes())
		}
	})
}

// FuzzClientAnswer is the other direction: what a clpd (another version, a relay, something that
// is no clpd at all) answers. The client must turn any answer into a value or an error, never
// panic, and never report success for an answer it could not read.
func FuzzClientAnswer(f *testing.F) {
	f.Add(uint8(0), []byte(`{"name":"c1","local_server":"s1"}`))
	f.Add(uint8(1), []byte(`{"code":"already-stopped","error":"The group has already been stopped."}`))
	f.Add(uint8(1), []byte(`{"code":1}`))
	f.Add(uint8(2), []byte(`404 page not found`))
	f.Add(uint8(3), []byte(`{"error":"`+strings.Repeat("x", 1000)+`"`))
	f.Add(uint8(0), []byte(`{"servers":[{"name":"s1"}],"groups":null} {"trailing":1}`))
	f.Add(uint8(0), []byte(``))
	f.Add(uint8(4), []byte("\xff"))
	// The answer of the current input; the server's goroutines read it under mu.
	var (
		mu   sync.Mutex
		code int
		body []byte
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/ping" {
			_, _ = w.Write([]byte(`{}`))
			return
		}
		mu.Lock()
		c, b := code, body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(c)
		_, _ = w.Write(b)
	}))
	f.Cleanup(srv.Close)
	c := NewRemote(srv.URL, nil)
	f.Fuzz(func(t *testing.T, c8 uint8, b []byte) {
		codes := []int{http.StatusOK, http.StatusConflict, http.StatusNotFound, http.StatusInternalServerError, http.StatusServiceUnavailable}
		mu.Lock()
		code, body = codes[int(c8)%len(codes)], b
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		st, err := c.Status(ctx)
		var want status.Cluster
		decodes := json.NewDecoder(bytes.NewReader(b)).Decode(&want) == nil
		switch {
		case code == http.StatusOK && decodes:
			if err != nil || !reflect.DeepEqual(st, want) {
				t.Fatalf("answer %q: %+v, %v; want %+v", b, st, err, want)
			}
		case err == nil:
			t.Fatalf("answer %d %q taken for a status: %+v", code, b, st)
		}

		err = c.StopGroup(ctx, GroupRequest{Group: "g1"})
		var eb errorBody
		switch {
		case code == http.StatusOK:
			// StopGroup reads no answer: a 200 is success, whatever it says.
			if err != nil {
				t.Fatalf("answer 200 %q: %v", b, err)
			}
		case err == nil:
			t.Fatalf("answer %d %q taken for success", code, b)
		case json.NewDecoder(bytes.NewReader(b)).Decode(&eb) == nil:
			var oe *status.OpError
			if !errors.As(err, &oe) || oe.Code != eb.Code || oe.Msg != eb.Msg {
				t.Fatalf("answer %d %q: error %#v, want code %q message %q", code, b, err, eb.Code, eb.Msg)
			}
		}
	})
}
