package fsprobe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestSPNEGORoundTrip(t *testing.T) {
	for _, n := range []int{0, 10, 127, 128, 255, 256, 70000} {
		token := bytes.Repeat([]byte{7}, n)
		got, state, err := spnegoToken(spnegoResp(token))
		if err != nil || state != -1 || !bytes.Equal(got, token) {
			t.Errorf("token of %d bytes: %d bytes back, state %d, %v", n, len(got), state, err)
		}
	}
	// A server's NegTokenResp: negState accept-incomplete, supportedMech, responseToken.
	resp := der(0xa1, der(0x30,
		der(0xa0, []byte{0x0a, 0x01, negAcceptIncomplete}),
		der(0xa1, []byte(oidNTLMSSP)),
		der(0xa2, der(0x04, []byte("NTLMSSP\x00tok")))))
	tok, state, err := spnegoToken(resp)
	if err != nil || state != negAcceptIncomplete || string(tok) != "NTLMSSP\x00tok" {
		t.Errorf("NegTokenResp: %q, %d, %v", tok, state, err)
	}
	// The init token starts with the GSS-API application tag and the SPNEGO OID.
	if init := spnegoInit([]byte("x")); init[0] != 0x60 || !bytes.Contains(init, []byte(oidSPNEGO)) || !bytes.Contains(init, []byte(oidNTLMSSP)) {
		t.Errorf("NegTokenInit % x", init)
	}
}

func TestSPNEGOMalformed(t *testing.T) {
	for _, b := range [][]byte{nil, {0xa1}, {0xa1, 0x05, 0x30}, {0x30, 0x00}, {0xa1, 0x84, 1, 2, 3, 4}, {0xa1, 0x02, 0x31, 0x00}} {
		if _, _, err := spnegoToken(b); !errors.Is(err, errSPNEGO) {
			t.Errorf("spnegoToken(% x): %v, want errSPNEGO", b, err)
		}
	}
}

func TestParseNTLMChallenge(t *testing.T) {
	b := make([]byte, 48)
	copy(b, ntlmSignature)
	b[8] = 2
	binary.LittleEndian.PutUint32(b[20:], ntlmClientFlags)
	copy(b[24:], "CHALLENG")
	info := []byte{7, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0}
	binary.LittleEndian.PutUint16(b[40:], uint16(len(info)))
	binary.LittleEndian.PutUint32(b[44:], 48)
	b = append(b, info...)
	ch, err := parseNTLMChallenge(b)
	if err != nil || string(ch.challenge[:]) != "CHALLENG" || !bytes.Equal(ch.targetInfo, info) {
		t.Fatalf("%+v %v", ch, err)
	}
	if ts, ok := avTime(ch.targetInfo); !ok || !bytes.Equal(ts, info[4:12]) {
		t.Errorf("timestamp %x %v", ts, ok)
	}
	binary.LittleEndian.PutUint32(b[44:], 1000)
	if _, err := parseNTLMChallenge(b); !errors.Is(err, errNTLM) {
		t.Errorf("target info outside: %v", err)
	}
}

func reply(words ...uint32) []byte {
	var b []byte
	for _, w := range words {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	return b
}

func TestParseReply(t *testing.T) {
	tests := []struct {
		name  string
		msg   []byte
		ok    bool
		stat  RPCStat
		extra uint32
	}{
		{"success", reply(9, 1, 0, 0, 0, 0, 42), true, RPCSuccess, 0},
		{"other xid", reply(8, 1, 0, 0, 0, 0), false, RPCSuccess, 0},
		{"a call", reply(9, 0, 2), false, RPCSuccess, 0},
		{"prog unavail", reply(9, 1, 0, 0, 0, 1), true, RPCProgUnavail, 0},
		{"prog mismatch", reply(9, 1, 0, 0, 0, 2, 2, 4), true, RPCProgVersMismatch, 4},
		{"proc unavail", reply(9, 1, 0, 0, 0, 3), true, RPCProcUnavail, 0},
		{"garbage args", reply(9, 1, 0, 0, 0, 4), true, RPCCantDecodeArgs, 0},
		{"system err", reply(9, 1, 0, 0, 0, 5), true, RPCSystemError, 0},
		{"rpc mismatch", reply(9, 1, 1, 0, 2, 2), true, RPCVersMismatch, 2},
		{"auth error", reply(9, 1, 1, 1, 5), true, RPCAuthError, 5},
		{"truncated", reply(9, 1, 0, 0), true, RPCCantDecodeRes, 0},
		{"bad accept stat", reply(9, 1, 0, 0, 0, 99), true, RPCCantDecodeRes, 0},
		{"verifier too long", reply(9, 1, 0, 0, 1000), true, RPCCantDecodeRes, 0},
	}
	for _, tt := range tests {
		res, ok, err := parseReply(9, tt.msg)
		if ok != tt.ok {
			t.Errorf("%s: ok %v", tt.name, ok)
			continue
		}
		if !ok {
			continue
		}
		var re *rpcError
		switch {
		case tt.stat == RPCSuccess:
			if err != nil || !bytes.Equal(res, reply(42)) {
				t.Errorf("%s: %x %v", tt.name, res, err)
			}
		case !errors.As(err, &re) || re.stat != tt.stat:
			t.Errorf("%s: %v, want status %d", tt.name, err, tt.stat)
		case tt.extra != 0 && re.high != tt.extra && re.why != tt.extra:
			t.Errorf("%s: %+v", tt.name, re)
		}
	}
}

func TestReadRecord(t *testing.T) {
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 3)
	b = append(b, "abc"...)
	b = binary.BigEndian.AppendUint32(b, 0x80000002)
	b = append(b, "de"...)
	got, err := readRecord(bytes.NewReader(b))
	if err != nil || string(got) != "abcde" {
		t.Errorf("%q %v", got, err)
	}
	huge := binary.BigEndian.AppendUint32(nil, 0x80000000|rpcMaxReply+1)
	var re *rpcError
	if _, err := readRecord(bytes.NewReader(huge)); !errors.As(err, &re) || re.stat != RPCCantDecodeRes {
		t.Errorf("oversized record: %v", err)
	}
}

// The parsers read what a server (or anything listening on its port) sends: no input may make
// them panic or read out of bounds.
func FuzzParsers(f *testing.F) {
	f.Add(reply(9, 1, 0, 0, 0, 0, 42))
	f.Add(spnegoResp([]byte("NTLMSSP\x00")))
	f.Add([]byte("NTLMSSP\x00\x02\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = parseReply(9, b)
		_, _, _ = spnegoToken(b)
		if ch, err := parseNTLMChallenge(b); err == nil {
			avTime(ch.targetInfo)
		}
		_, _ = readRecord(bytes.NewReader(b))
	})
}
