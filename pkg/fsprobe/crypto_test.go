package fsprobe

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The NT hash is the MD4 of the UTF-16LE password: RFC 1320 appendix A.5's vectors fixed the
// MD4 this package once carried itself, MS-NLMP 4.2.2.1.2 gives the hash of "Password".
func TestNTHash(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "31d6cfe0d16ae931b73c59d7e0c089c0"},
		{"Password", "a4f49c406510bdcab6824ee7c30fd852"},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(ntHash(tt.in)); got != tt.want {
			t.Errorf("ntHash(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// RFC 4493 section 4.
func TestAESCMAC(t *testing.T) {
	key := unhex(t, "2b7e151628aed2a6abf7158809cf4f3c")
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	tests := []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	}
	for _, tt := range tests {
		got, err := aesCMAC(key, msg[:tt.n])
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(got[:]) != tt.want {
			t.Errorf("AES-CMAC of %d bytes = %x, want %s", tt.n, got, tt.want)
		}
	}
	if _, err := aesCMAC(key[:5], nil); err == nil {
		t.Error("AES-CMAC with a 5-byte key: no error")
	}
}

// MS-NLMP 4.2.4: NTLMv2 with User "User", domain "Domain", password "Password".
func TestNTLMv2Vectors(t *testing.T) {
	c := ntlmCreds{User: "User", Domain: "Domain", Password: "Password"}
	if got := ntowfv2(c); !bytes.Equal(got, unhex(t, "0c868a403bfd7a93a3001ef22ef02e3f")) {
		t.Errorf("NTOWFv2 = %x", got)
	}
	// Target info of 4.2.4.1.3: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", EOL.
	var info []byte
	av := func(id uint16, v []byte) {
		info = append(info, byte(id), byte(id>>8), byte(len(v)), byte(len(v)>>8))
		info = append(info, v...)
	}
	av(2, utf16le("Domain"))
	av(1, utf16le("Server"))
	av(0, nil)
	ch := ntlmChallenge{flags: 0xe28a8233, targetInfo: info}
	copy(ch.challenge[:], unhex(t, "0123456789abcdef"))
	var cc [8]byte
	copy(cc[:], bytes.Repeat([]byte{0xaa}, 8))
	// The spec's time is zero; fileTime(Unix 0) is not, so the response is computed from the
	// spec's temp by hand: the proof must match 4.2.4.2.2.
	nt, lm, key := ntlmv2ResponseAt(c, ch, cc, make([]byte, 8))
	if !bytes.Equal(nt[:16], unhex(t, "68cd0ab851e51c96aabc927bebef6a1c")) {
		t.Errorf("NTProofStr = %x", nt[:16])
	}
	if !bytes.Equal(lm, unhex(t, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")) {
		t.Errorf("LMv2 response = %x", lm)
	}
	if !bytes.Equal(key, unhex(t, "8de40ccadbc14a82f15cb0ad0de95ca3")) {
		t.Errorf("session base key = %x", key)
	}
}

func TestNTLMAuthenticateLayout(t *testing.T) {
	ch := ntlmChallenge{flags: ntlmClientFlags | 0x40000000}
	msg, key := ntlmAuthenticate(ntlmCreds{}, ch, [8]byte{}, time.Unix(0, 0))
	if key != nil {
		t.Errorf("anonymous logon has a session key: %x", key)
	}
	if string(msg[:8]) != ntlmSignature || msg[8] != 3 {
		t.Fatalf("not an AUTHENTICATE_MESSAGE: % x", msg[:12])
	}
	flags := uint32(msg[60]) | uint32(msg[61])<<8 | uint32(msg[62])<<16 | uint32(msg[63])<<24
	if flags&ntlmAnonymous == 0 || flags&0x40000000 != 0 {
		t.Errorf("flags %#x: want ANONYMOUS and no KEY_EXCH", flags)
	}
	// LM response: one zero byte at the end of the payload; NT response empty.
	if msg[12] != 1 || msg[20] != 0 || len(msg) != 65 || msg[64] != 0 {
		t.Errorf("anonymous responses: % x", msg)
	}
}

func TestSMBKDF(t *testing.T) {
	// The SMB 3.0 signing key derivation must be deterministic and 16 bytes; its correctness
	// against a server is shown by the Samba tests with "server signing = mandatory".
	k1 := smbKDF(bytes.Repeat([]byte{1}, 16), []byte("SMB2AESCMAC\x00"), []byte("SmbSign\x00"))
	k2 := smbKDF(bytes.Repeat([]byte{1}, 16), []byte("SMB2AESCMAC\x00"), []byte("SmbSign\x00"))
	if len(k1) != 16 || !bytes.Equal(k1, k2) {
		t.Errorf("KDF: %x %x", k1, k2)
	}
}

func TestLocalAddress(t *testing.T) {
	ip, err := LocalAddress()
	if err != nil || !ip.Is4() || ip.IsUnspecified() {
		t.Errorf("LocalAddress() = %v, %v; want an IPv4 address", ip, err)
	}
}
