package fsprobe

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	//lint:ignore SA1019 NTLM's NT hash is MD4 by definition (MS-NLMP 3.3.1): compatibility, not security.
	"golang.org/x/crypto/md4"
)

// NTLMSSP negotiate flags (MS-NLMP 2.2.2.5) that the probe uses.
const (
	ntlmUnicode          = 0x00000001
	ntlmRequestTarget    = 0x00000004
	ntlmSign             = 0x00000010
	ntlmNTLM             = 0x00000200
	ntlmAnonymous        = 0x00000800
	ntlmAlwaysSign       = 0x00008000
	ntlmExtendedSecurity = 0x00080000
	ntlmTargetInfo       = 0x00800000
	ntlm128              = 0x20000000
	ntlm56               = 0x80000000

	// ntlmClientFlags are the flags the probe asks for. No KEY_EXCH: the exported session key is
	// then the NTLMv2 session base key, which is all SMB signing needs, and no RC4 is involved.
	ntlmClientFlags = ntlmUnicode | ntlmRequestTarget | ntlmSign | ntlmNTLM | ntlmAlwaysSign |
		ntlmExtendedSecurity | ntlmTargetInfo | ntlm128 | ntlm56

	ntlmSignature = "NTLMSSP\x00"

	avEOL       = 0
	avTimestamp = 7
)

// ntlmCreds is who the probe logs on as. An empty User is the anonymous logon that smbclient -N
// uses, which Samba maps to its guest account on shares with "guest ok".
type ntlmCreds struct {
	User, Domain, Password string
}

// splitUser reads "DOMAIN\user" (the form Windows tools accept) into its parts; a plain name has
// an empty domain, which Samba resolves to its own.
func splitUser(u string) (user, domain string) {
	if d, name, ok := strings.Cut(u, `\`); ok {
		return name, d
	}
	return u, ""
}

// ntlmNegotiate is the NEGOTIATE_MESSAGE: no domain, no workstation, no version.
func ntlmNegotiate() []byte {
	b := make([]byte, 32)
	copy(b, ntlmSignature)
	binary.LittleEndian.PutUint32(b[8:], 1)
	binary.LittleEndian.PutUint32(b[12:], ntlmClientFlags)
	// Domain and workstation fields stay zero (length 0, offset 0).
	return b
}

// ntlmChallenge is what the probe needs from the server's CHALLENGE_MESSAGE.
type ntlmChallenge struct {
	flags      uint32
	challenge  [8]byte
	targetInfo []byte
}

var errNTLM = errors.New("malformed NTLMSSP message")

func parseNTLMChallenge(b []byte) (ntlmChallenge, error) {
	var ch ntlmChallenge
	if len(b) < 48 || string(b[:8]) != ntlmSignature || binary.LittleEndian.Uint32(b[8:]) != 2 {
		return ch, fmt.Errorf("%w: not a CHALLENGE_MESSAGE", errNTLM)
	}
	ch.flags = binary.LittleEndian.Uint32(b[20:])
	copy(ch.challenge[:], b[24:32])
	n := int(binary.LittleEndian.Uint16(b[40:]))
	off := int(binary.LittleEndian.Uint32(b[44:]))
	if n > 0 {
		if off < 48 || off > len(b) || n > len(b)-off {
			return ch, fmt.Errorf("%w: target info outside the message", errNTLM)
		}
		ch.targetInfo = append([]byte(nil), b[off:off+n]...)
	}
	return ch, nil
}

// avTime returns the MsvAvTimestamp of a target info list, if the server sent one.
func avTime(info []byte) ([]byte, bool) {
	for len(info) >= 4 {
		id := binary.LittleEndian.Uint16(info)
		n := int(binary.LittleEndian.Uint16(info[2:]))
		if id == avEOL || len(info) < 4+n {
			break
		}
		if id == avTimestamp && n == 8 {
			return info[4:12], true
		}
		info = info[4+n:]
	}
	return nil, false
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// ntHash is the NT hash of a password (MS-NLMP 3.3.1, NTOWFv1): the MD4 of its UTF-16LE form.
// This is MD4's only use here, as NTLM requires; it is no security primitive of ours.
func ntHash(password string) []byte {
	h := md4.New()
	h.Write(utf16le(password))
	return h.Sum(nil)
}

// ntowfv2 is NTOWFv2 of MS-NLMP 3.3.2: HMAC-MD5 of the upper-cased user and the domain, keyed with
// the MD4 of the password.
func ntowfv2(c ntlmCreds) []byte {
	return hmacMD5(ntHash(c.Password), utf16le(strings.ToUpper(c.User)+c.Domain))
}

// fileTime is t as a Windows FILETIME: 100 ns units since 1601-01-01.
func fileTime(t time.Time) []byte {
	const epochDelta = 116444736000000000
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(t.UnixNano()/100+epochDelta))
	return b[:]
}

// ntlmv2Response computes the NTLMv2 NT and LM responses and the session base key
// (MS-NLMP 3.3.2).
func ntlmv2Response(c ntlmCreds, ch ntlmChallenge, clientChallenge [8]byte, now time.Time) (nt, lm, sessionKey []byte) {
	ts, serverTime := avTime(ch.targetInfo)
	if !serverTime {
		ts = fileTime(now)
	}
	nt, lm, sessionKey = ntlmv2ResponseAt(c, ch, clientChallenge, ts)
	if serverTime {
		// With a server timestamp the LM response is not sent (MS-NLMP 3.1.5.1.2): 24 zero bytes.
		lm = make([]byte, 24)
	}
	return nt, lm, sessionKey
}

// ntlmv2ResponseAt is ntlmv2Response at the FILETIME ts.
func ntlmv2ResponseAt(c ntlmCreds, ch ntlmChallenge, clientChallenge [8]byte, ts []byte) (nt, lm, sessionKey []byte) {
	key := ntowfv2(c)
	temp := make([]byte, 0, 28+len(ch.targetInfo)+4)
	temp = append(temp, 1, 1, 0, 0, 0, 0, 0, 0)
	temp = append(temp, ts...)
	temp = append(temp, clientChallenge[:]...)
	temp = append(temp, 0, 0, 0, 0)
	temp = append(temp, ch.targetInfo...)
	temp = append(temp, 0, 0, 0, 0)
	proof := hmacMD5(key, ch.challenge[:], temp)
	nt = append(proof, temp...)
	lm = append(hmacMD5(key, ch.challenge[:], clientChallenge[:]), clientChallenge[:]...)
	return nt, lm, hmacMD5(key, proof)
}

// ntlmAuthenticate builds the AUTHENTICATE_MESSAGE answering ch, and returns the session key
// (nil for an anonymous logon, which has none).
func ntlmAuthenticate(c ntlmCreds, ch ntlmChallenge, clientChallenge [8]byte, now time.Time) (msg, sessionKey []byte) {
	flags := ch.flags&ntlmClientFlags | ntlmUnicode
	var nt, lm []byte
	if c.User == "" {
		// Anonymous: an LM response of one zero byte and no NT response (MS-NLMP 3.2.5.1.2).
		flags |= ntlmAnonymous
		lm = []byte{0}
	} else {
		nt, lm, sessionKey = ntlmv2Response(c, ch, clientChallenge, now)
	}
	domain, user := utf16le(c.Domain), utf16le(c.User)

	const head = 64 // fixed part without VERSION and MIC
	b := make([]byte, head, head+len(domain)+len(user)+len(lm)+len(nt))
	copy(b, ntlmSignature)
	binary.LittleEndian.PutUint32(b[8:], 3)
	field := func(at int, data []byte) {
		binary.LittleEndian.PutUint16(b[at:], uint16(len(data)))
		binary.LittleEndian.PutUint16(b[at+2:], uint16(len(data)))
		binary.LittleEndian.PutUint32(b[at+4:], uint32(len(b)))
		b = append(b, data...)
	}
	field(28, domain)
	field(36, user)
	field(44, nil) // workstation
	field(12, lm)
	field(20, nt)
	field(52, nil) // no encrypted random session key: KEY_EXCH is not negotiated
	binary.LittleEndian.PutUint32(b[60:], flags)
	return b, sessionKey
}
