package fsprobe

import (
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// aesCMAC returns the AES-CMAC of msg under a 16-byte key (RFC 4493). SMB 3.x signs messages
// with it; the standard library has AES but no CMAC.
func aesCMAC(key, msg []byte) ([16]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return [16]byte{}, fmt.Errorf("AES-CMAC: %w", err)
	}
	var l, k1, k2 [16]byte
	block.Encrypt(l[:], l[:])
	k1 = cmacDouble(l)
	k2 = cmacDouble(k1)

	n := (len(msg) + 15) / 16
	complete := n > 0 && len(msg)%16 == 0
	if n == 0 {
		n = 1
	}
	var last [16]byte
	if complete {
		copy(last[:], msg[16*(n-1):])
		xor16(&last, &k1)
	} else {
		rest := msg[16*(n-1):]
		copy(last[:], rest)
		last[len(rest)] = 0x80
		xor16(&last, &k2)
	}
	var x [16]byte
	for i := 0; i < n-1; i++ {
		var blk [16]byte
		copy(blk[:], msg[16*i:16*i+16])
		xor16(&x, &blk)
		block.Encrypt(x[:], x[:])
	}
	xor16(&x, &last)
	block.Encrypt(x[:], x[:])
	return x, nil
}

// cmacDouble multiplies by x in GF(2^128), the subkey step of RFC 4493.
func cmacDouble(in [16]byte) [16]byte {
	var out [16]byte
	carry := in[0] >> 7
	for i := 0; i < 15; i++ {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[15] = in[15] << 1
	if carry != 0 {
		out[15] ^= 0x87
	}
	return out
}

func xor16(dst, src *[16]byte) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// smbKDF is the SP800-108 counter-mode KDF with HMAC-SHA256 that SMB 3.x uses to derive its
// signing key (MS-SMB2 3.1.4.2): one block, L = 128 bits.
func smbKDF(key, label, context []byte) []byte {
	m := hmac.New(sha256.New, key)
	var b4 [4]byte
	binary.BigEndian.PutUint32(b4[:], 1)
	m.Write(b4[:])
	m.Write(label)
	m.Write([]byte{0})
	m.Write(context)
	binary.BigEndian.PutUint32(b4[:], 128)
	m.Write(b4[:])
	return m.Sum(nil)[:16]
}
