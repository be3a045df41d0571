package guard

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Whatever a client sends, the decoder returns a request or an error, never panics; a request
// it accepts is one it would accept again after a round trip, and an arm it accepts keeps the
// promises the engine relies on.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"arm","fence_at_ns":10,"expiry_ns":20,"cgroups":["/sys/fs/cgroup/g"],"pgids":[7]}`,
		`{"op":"disarm"}`, `{"op":"status"}`, `{"op":"exit","force":true}`,
		`{"op":"arm","fence_at_ns":1e3,"expiry_ns":2e3}`, `{"op":"arm","fence_at_ns":-1}`,
		`{"op":"arm","fence_at_ns":10,"expiry_ns":20,"cgroups":["/a/./b"]}`, `{bad`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		req, err := DecodeRequest(line)
		if err != nil {
			return
		}
		if req.Op == OpArm {
			if req.FenceAt <= 0 || req.FenceAt > req.Expiry {
				t.Fatalf("accepted an arm with fence_at %d, expiry %d", req.FenceAt, req.Expiry)
			}
			for _, g := range req.PGIDs {
				if g <= 1 {
					t.Fatalf("accepted process group %d", g)
				}
			}
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeRequest(b)
		if err != nil {
			t.Fatalf("%s decoded, but its re-encoding %s does not: %v", line, b, err)
		}
		if !reflect.DeepEqual(normal(req), normal(again)) {
			t.Fatalf("round trip changed %+v into %+v", req, again)
		}
	})
}

// normal treats an empty list and no list alike (omitempty drops both).
func normal(r Request) Request {
	if len(r.Cgroups) == 0 {
		r.Cgroups = nil
	}
	if len(r.PGIDs) == 0 {
		r.PGIDs = nil
	}
	return r
}
