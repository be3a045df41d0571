package fsprobe

import (
	"errors"
	"fmt"
)

// SPNEGO (RFC 4178) wraps the NTLMSSP tokens in SMB2 session setup. Only the two shapes the probe
// sends and the one it reads are handled, in DER written and read by hand.

const (
	oidSPNEGO  = "\x06\x06\x2b\x06\x01\x05\x05\x02"                 // 1.3.6.1.5.5.2
	oidNTLMSSP = "\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a" // 1.3.6.1.4.1.311.2.2.10

	// negState values of a NegTokenResp.
	negAcceptCompleted  = 0
	negAcceptIncomplete = 1
	negReject           = 2
)

// der encodes one TLV with a definite length.
func der(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := []byte{tag}
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	case n < 0x10000:
		b = append(b, 0x82, byte(n>>8), byte(n))
	default:
		b = append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// spnegoInit wraps the first NTLMSSP token: a GSS-API InitialContextToken holding a NegTokenInit
// that offers NTLMSSP only.
func spnegoInit(mechToken []byte) []byte {
	init := der(0x30,
		der(0xa0, der(0x30, []byte(oidNTLMSSP))),
		der(0xa2, der(0x04, mechToken)))
	return der(0x60, []byte(oidSPNEGO), der(0xa0, init))
}

// spnegoResp wraps a later NTLMSSP token in a NegTokenResp.
func spnegoResp(token []byte) []byte {
	return der(0xa1, der(0x30, der(0xa2, der(0x04, token))))
}

var errSPNEGO = errors.New("malformed SPNEGO token")

// readTLV splits one DER element off b.
func readTLV(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errSPNEGO
	}
	tag, l := b[0], int(b[1])
	b = b[2:]
	if l >= 0x80 {
		k := l & 0x7f
		if k == 0 || k > 3 || len(b) < k {
			return 0, nil, nil, errSPNEGO
		}
		l = 0
		for _, c := range b[:k] {
			l = l<<8 | int(c)
		}
		b = b[k:]
	}
	if l > len(b) {
		return 0, nil, nil, errSPNEGO
	}
	return tag, b[:l], b[l:], nil
}

// spnegoToken returns the mechanism token of a server's NegTokenResp and its negState (-1 when
// absent). A raw NTLMSSP message (some servers answer raw tokens raw) is returned as is.
func spnegoToken(b []byte) (token []byte, state int, err error) {
	if len(b) >= 8 && string(b[:8]) == ntlmSignature {
		return b, -1, nil
	}
	tag, body, _, err := readTLV(b)
	if err != nil || tag != 0xa1 {
		return nil, 0, fmt.Errorf("%w: not a NegTokenResp", errSPNEGO)
	}
	tag, seq, _, err := readTLV(body)
	if err != nil || tag != 0x30 {
		return nil, 0, fmt.Errorf("%w: NegTokenResp is not a SEQUENCE", errSPNEGO)
	}
	state = -1
	for len(seq) > 0 {
		var el []byte
		tag, el, seq, err = readTLV(seq)
		if err != nil {
			return nil, 0, err
		}
		switch tag {
		case 0xa0: // negState ENUMERATED
			t, v, _, err := readTLV(el)
			if err != nil || t != 0x0a || len(v) != 1 {
				return nil, 0, fmt.Errorf("%w: bad negState", errSPNEGO)
			}
			state = int(v[0])
		case 0xa2: // responseToken OCTET STRING
			t, v, _, err := readTLV(el)
			if err != nil || t != 0x04 {
				return nil, 0, fmt.Errorf("%w: bad responseToken", errSPNEGO)
			}
			token = v
		}
	}
	return token, state, nil
}
