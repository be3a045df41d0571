package fsprobe

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// SMBTarget names what ProbeSMB checks.
type SMBTarget struct {
	// Addr is the server's host:port; Samba listens on port 445.
	Addr string
	// Share is the share name, as in smb.conf.
	Share string
	// User is the account to log on as; "DOMAIN\user" names its domain. Empty logs on
	// anonymously, which Samba serves as its guest account on shares with "guest ok".
	User string
	// Password is User's password. It is only ever used to compute the NTLMv2 response.
	Password string
}

// SMBResult describes a successful probe.
type SMBResult struct {
	// Dialect is the SMB2 dialect spoken: 0x0202, 0x0210, 0x0300, 0x0302 or 0x0311.
	Dialect uint16
	// Guest is true when the server gave a guest or anonymous session.
	Guest bool
	// Signed is true when the requests after logon were signed.
	Signed bool
	// ShareType is ShareTypeDisk or ShareTypePrint.
	ShareType uint8
}

// SMB2 commands, header flags and the fields the probe uses (MS-SMB2 2.2).
const (
	smbNegotiate      = 0x0000
	smbSessionSetup   = 0x0001
	smbLogoff         = 0x0002
	smbTreeConnect    = 0x0003
	smbTreeDisconnect = 0x0004

	smbFlagResponse = 0x00000001
	smbFlagAsync    = 0x00000002
	smbFlagSigned   = 0x00000008

	smbSigningEnabled  = 0x0001
	smbSigningRequired = 0x0002

	smbSessionGuest = 0x0001
	smbSessionNull  = 0x0002

	smbHeaderSize = 64
	// smbMaxMessage bounds what the probe reads: its replies are a few hundred bytes, and a
	// bogus length must not make it allocate megabytes.
	smbMaxMessage = 1 << 20

	dialect202 = 0x0202
	dialect210 = 0x0210
	dialect300 = 0x0300
	dialect302 = 0x0302
	dialect311 = 0x0311
)

// smbDialects are offered in NEGOTIATE, lowest first. SMB1 is not spoken: current Samba disables
// it, and the SMB2 exchanges map one for one onto the legacy probe's steps.
func smbDialects() []uint16 {
	return []uint16{dialect202, dialect210, dialect300, dialect302, dialect311}
}

// ProbeSMB connects to t.Addr, negotiates SMB2/3, logs on (NTLMv2, or anonymously without a user),
// connects to the share and checks that it is a disk or printer share, then disconnects and
// logs off. The deadline of ctx bounds all of it. A failure is an *SMBError; a cancelled ctx
// returns ctx.Err().
func ProbeSMB(ctx context.Context, t SMBTarget) (SMBResult, error) {
	host, _, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return SMBResult{}, fmt.Errorf("SMB address %q: %w", t.Addr, err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return SMBResult{}, smbNetError(ctx, PhaseConnect, err)
	}
	defer conn.Close()
	stop := interruptOnDone(ctx, conn)
	defer stop()

	c := &smbConn{ctx: ctx, conn: conn}
	if err := c.negotiate(); err != nil {
		return SMBResult{}, err
	}
	user, domain := splitUser(t.User)
	guest, err := c.sessionSetup(ntlmCreds{User: user, Domain: domain, Password: t.Password})
	if err != nil {
		return SMBResult{}, err
	}
	shareType, err := c.treeConnect(`\\` + host + `\` + t.Share)
	if err != nil {
		return SMBResult{}, err
	}
	res := SMBResult{Dialect: c.dialect, Guest: guest, Signed: c.signKey != nil, ShareType: shareType}
	// The verdict is in; disconnecting is courtesy to the server, and a server that drops the
	// connection now (an encrypted share, for one) is not unhealthy.
	_ = c.simple(smbTreeDisconnect)
	c.treeID = 0
	_ = c.simple(smbLogoff)
	if shareType != ShareTypeDisk && shareType != ShareTypePrint {
		return res, &SMBError{Phase: PhaseShareType, ShareType: shareType,
			Err: fmt.Errorf("share %q has type %d", t.Share, shareType)}
	}
	return res, nil
}

// smbNetError classifies an I/O error of a network phase, or passes a cancel through.
func smbNetError(ctx context.Context, phase Phase, err error) error {
	if cancelled(ctx) {
		return ctx.Err()
	}
	p, errno, _ := netFailure(ctx, phase, err)
	return &SMBError{Phase: p, Errno: errno, Err: err}
}

// smbConn is one SMB2 connection of a probe: requests go out one at a time, each answered before
// the next is sent.
type smbConn struct {
	ctx       context.Context
	conn      net.Conn
	msgID     uint64
	sessionID uint64
	treeID    uint32
	dialect   uint16
	// signKey is the signing key once an authenticated session exists; nil means unsigned.
	signKey []byte
	// preauth is the SMB 3.1.1 pre-authentication integrity hash (MS-SMB2 3.2.5.2).
	preauth [64]byte
}

// smbReply is a response's header fields and body.
type smbReply struct {
	status    uint32
	sessionID uint64
	treeID    uint32
	body      []byte
	raw       []byte
}

func (c *smbConn) protocolError(phase Phase, format string, a ...any) error {
	return &SMBError{Phase: phase, Status: StatusInvalidNetworkResponse, Err: fmt.Errorf(format, a...)}
}

// call sends one request and returns its response. phase is the protocol step, used when the
// reply is not a valid SMB2 response.
func (c *smbConn) call(phase Phase, cmd uint16, body []byte, sign bool) (req []byte, rep smbReply, err error) {
	msg := make([]byte, smbHeaderSize, smbHeaderSize+len(body))
	copy(msg, "\xfeSMB")
	binary.LittleEndian.PutUint16(msg[4:], smbHeaderSize)
	if c.dialect > dialect202 {
		binary.LittleEndian.PutUint16(msg[6:], 1) // CreditCharge; reserved (0) in 2.0.2
	}
	binary.LittleEndian.PutUint16(msg[12:], cmd)
	binary.LittleEndian.PutUint16(msg[14:], 8) // CreditRequest: a few, for the next requests
	id := c.msgID
	c.msgID++
	binary.LittleEndian.PutUint64(msg[24:], id)
	binary.LittleEndian.PutUint32(msg[36:], c.treeID)
	binary.LittleEndian.PutUint64(msg[40:], c.sessionID)
	msg = append(msg, body...)
	if sign && c.signKey != nil {
		if err := c.sign(msg); err != nil {
			return nil, rep, &SMBError{Phase: phase, Status: StatusInvalidParameter, Err: err}
		}
	}
	frame := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(frame, uint32(len(msg))) // first byte 0: a session message
	frame = append(frame, msg...)
	if _, err := c.conn.Write(frame); err != nil {
		return nil, rep, smbNetError(c.ctx, PhaseSend, err)
	}
	for {
		raw, err := c.readFrame(phase)
		if err != nil {
			return nil, rep, err
		}
		if len(raw) < smbHeaderSize || string(raw[:4]) != "\xfeSMB" {
			return nil, rep, c.protocolError(phase, "reply is not an SMB2 message")
		}
		flags := binary.LittleEndian.Uint32(raw[16:])
		status := binary.LittleEndian.Uint32(raw[8:])
		rid := binary.LittleEndian.Uint64(raw[24:])
		if flags&smbFlagResponse == 0 || binary.LittleEndian.Uint16(raw[12:]) != cmd || rid != id {
			// An oplock break (message id all ones) or a stray reply: not ours, read on.
			if rid == ^uint64(0) || rid < id {
				continue
			}
			return nil, rep, c.protocolError(phase, "reply to command %d, message %d; want %d, %d",
				binary.LittleEndian.Uint16(raw[12:]), rid, cmd, id)
		}
		if flags&smbFlagAsync != 0 && status == StatusPending {
			continue // interim reply: the real one follows
		}
		rep = smbReply{status: status, sessionID: binary.LittleEndian.Uint64(raw[40:]), body: raw[smbHeaderSize:], raw: raw}
		if flags&smbFlagAsync == 0 {
			rep.treeID = binary.LittleEndian.Uint32(raw[36:])
		}
		return msg, rep, nil
	}
}

// readFrame reads one direct-TCP frame (a zero byte and a 24-bit length, then the message).
func (c *smbConn) readFrame(phase Phase) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(c.conn, h[:]); err != nil {
		return nil, smbNetError(c.ctx, PhaseRecv, err)
	}
	n := int(binary.BigEndian.Uint32(h[:]))
	if h[0] != 0 || n > smbMaxMessage {
		return nil, c.protocolError(phase, "bad frame header % x", h)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.conn, b); err != nil {
		return nil, smbNetError(c.ctx, PhaseRecv, err)
	}
	return b, nil
}

// sign sets the SIGNED flag and the signature of msg (MS-SMB2 3.1.4.1): HMAC-SHA256 for 2.x,
// AES-CMAC for 3.x.
func (c *smbConn) sign(msg []byte) error {
	binary.LittleEndian.PutUint32(msg[16:], binary.LittleEndian.Uint32(msg[16:])|smbFlagSigned)
	clear(msg[48:64])
	if c.dialect < dialect300 {
		m := hmac.New(sha256.New, c.signKey)
		m.Write(msg)
		copy(msg[48:64], m.Sum(nil))
		return nil
	}
	mac, err := aesCMAC(c.signKey, msg)
	if err != nil {
		return err
	}
	copy(msg[48:64], mac[:])
	return nil
}

func (c *smbConn) hashPreauth(msg []byte) {
	h := sha512.New()
	h.Write(c.preauth[:])
	h.Write(msg)
	h.Sum(c.preauth[:0])
}

func (c *smbConn) negotiate() error {
	dialects := smbDialects()
	body := make([]byte, 36+2*len(dialects))
	binary.LittleEndian.PutUint16(body[0:], 36)
	binary.LittleEndian.PutUint16(body[2:], uint16(len(dialects)))
	binary.LittleEndian.PutUint16(body[4:], smbSigningEnabled)
	if _, err := rand.Read(body[12:28]); err != nil { // ClientGuid
		return &SMBError{Phase: PhaseNegotiate, Status: StatusInsufficientResources, Err: err}
	}
	for i, d := range dialects {
		binary.LittleEndian.PutUint16(body[36+2*i:], d)
	}
	// SMB 3.1.1 needs one negotiate context, the pre-authentication integrity capabilities
	// (SHA-512 and a salt), 8-byte aligned after the dialects.
	for (smbHeaderSize+len(body))%8 != 0 {
		body = append(body, 0)
	}
	binary.LittleEndian.PutUint32(body[28:], uint32(smbHeaderSize+len(body)))
	binary.LittleEndian.PutUint16(body[32:], 1)
	nc := make([]byte, 8+38)
	binary.LittleEndian.PutUint16(nc[0:], 1)  // SMB2_PREAUTH_INTEGRITY_CAPABILITIES
	binary.LittleEndian.PutUint16(nc[2:], 38) // DataLength
	binary.LittleEndian.PutUint16(nc[8:], 1)  // HashAlgorithmCount
	binary.LittleEndian.PutUint16(nc[10:], 32)
	binary.LittleEndian.PutUint16(nc[12:], 1) // SHA-512
	if _, err := rand.Read(nc[14:46]); err != nil {
		return &SMBError{Phase: PhaseNegotiate, Status: StatusInsufficientResources, Err: err}
	}
	body = append(body, nc...)

	req, rep, err := c.call(PhaseNegotiate, smbNegotiate, body, false)
	if err != nil {
		return err
	}
	if rep.status != StatusSuccess {
		return &SMBError{Phase: PhaseNegotiate, Status: rep.status, Err: errors.New("NEGOTIATE refused")}
	}
	b := rep.body
	if len(b) < 64 || binary.LittleEndian.Uint16(b) != 65 {
		return c.protocolError(PhaseNegotiate, "short NEGOTIATE response")
	}
	c.dialect = binary.LittleEndian.Uint16(b[4:])
	known := false
	for _, d := range dialects {
		known = known || d == c.dialect
	}
	if !known {
		return c.protocolError(PhaseNegotiate, "server chose dialect 0x%04x, which was not offered", c.dialect)
	}
	if c.dialect == dialect311 {
		c.hashPreauth(req)
		c.hashPreauth(rep.raw)
	}
	return nil
}

// sessionSetup logs on with NTLMSSP inside SPNEGO, in the two legs of MS-SMB2 3.2.4.2.3, and
// derives the signing key of an authenticated session. It reports whether the session is a guest
// or anonymous one.
func (c *smbConn) sessionSetup(cr ntlmCreds) (guest bool, err error) {
	preauth := c.preauth
	leg := func(token []byte) (smbReply, error) {
		body := make([]byte, 24, 24+len(token))
		binary.LittleEndian.PutUint16(body[0:], 25)
		body[3] = smbSigningEnabled
		binary.LittleEndian.PutUint16(body[12:], smbHeaderSize+24) // SecurityBufferOffset
		binary.LittleEndian.PutUint16(body[14:], uint16(len(token)))
		body = append(body, token...)
		req, rep, err := c.call(PhaseSessionSetup, smbSessionSetup, body, false)
		if err != nil {
			return rep, err
		}
		if c.dialect == dialect311 {
			h := sha512.New()
			h.Write(preauth[:])
			h.Write(req)
			h.Sum(preauth[:0])
			if rep.status == StatusMoreProcessingRequired {
				h.Reset()
				h.Write(preauth[:])
				h.Write(rep.raw)
				h.Sum(preauth[:0])
			}
		}
		return rep, nil
	}
	blob := func(rep smbReply) ([]byte, error) {
		b := rep.body
		if len(b) < 8 || binary.LittleEndian.Uint16(b) != 9 {
			return nil, c.protocolError(PhaseSessionSetup, "short SESSION_SETUP response")
		}
		off, n := int(binary.LittleEndian.Uint16(b[4:])), int(binary.LittleEndian.Uint16(b[6:]))
		if n == 0 {
			return nil, nil
		}
		off -= smbHeaderSize
		if off < 8 || off > len(b) || n > len(b)-off {
			return nil, c.protocolError(PhaseSessionSetup, "security buffer outside the response")
		}
		return b[off : off+n], nil
	}

	rep, err := leg(spnegoInit(ntlmNegotiate()))
	if err != nil {
		return false, err
	}
	if rep.status != StatusMoreProcessingRequired {
		return false, &SMBError{Phase: PhaseSessionSetup, Status: rep.status, Err: errors.New("SESSION_SETUP refused")}
	}
	c.sessionID = rep.sessionID
	sb, err := blob(rep)
	if err != nil {
		return false, err
	}
	tok, state, err := spnegoToken(sb)
	if err == nil && state == negReject {
		err = errors.New("SPNEGO rejected NTLMSSP")
	}
	if err != nil {
		return false, &SMBError{Phase: PhaseSessionSetup, Status: StatusInvalidNetworkResponse, Err: err}
	}
	ch, err := parseNTLMChallenge(tok)
	if err != nil {
		return false, &SMBError{Phase: PhaseSessionSetup, Status: StatusInvalidNetworkResponse, Err: err}
	}
	var cc [8]byte
	if _, err := rand.Read(cc[:]); err != nil {
		return false, &SMBError{Phase: PhaseSessionSetup, Status: StatusInsufficientResources, Err: err}
	}
	auth, sessionKey := ntlmAuthenticate(cr, ch, cc, time.Now())
	rep, err = leg(spnegoResp(auth))
	if err != nil {
		return false, err
	}
	if rep.status != StatusSuccess {
		return false, &SMBError{Phase: PhaseSessionSetup, Status: rep.status, Err: errors.New("logon refused")}
	}
	if len(rep.body) < 8 {
		return false, c.protocolError(PhaseSessionSetup, "short SESSION_SETUP response")
	}
	flags := binary.LittleEndian.Uint16(rep.body[2:])
	guest = flags&(smbSessionGuest|smbSessionNull) != 0 || cr.User == ""
	// A guest or anonymous session has no key to sign with (MS-SMB2 3.2.5.3.1). An authenticated
	// one always signs: a server that requires signing is then served, and one that does not
	// accepts signed requests as well.
	if !guest && len(sessionKey) == 16 {
		switch {
		case c.dialect < dialect300:
			c.signKey = sessionKey
		case c.dialect == dialect311:
			c.signKey = smbKDF(sessionKey, []byte("SMBSigningKey\x00"), preauth[:])
		default:
			c.signKey = smbKDF(sessionKey, []byte("SMB2AESCMAC\x00"), []byte("SmbSign\x00"))
		}
	}
	return guest, nil
}

// treeConnect connects to the share at UNC path and returns its type.
func (c *smbConn) treeConnect(path string) (uint8, error) {
	p := utf16le(path)
	body := make([]byte, 8, 8+len(p))
	binary.LittleEndian.PutUint16(body[0:], 9)
	binary.LittleEndian.PutUint16(body[4:], smbHeaderSize+8) // PathOffset
	binary.LittleEndian.PutUint16(body[6:], uint16(len(p)))
	body = append(body, p...)
	_, rep, err := c.call(PhaseTreeConnect, smbTreeConnect, body, true)
	if err != nil {
		return 0, err
	}
	if rep.status != StatusSuccess {
		return 0, &SMBError{Phase: PhaseTreeConnect, Status: rep.status,
			Err: fmt.Errorf("TREE_CONNECT to %s refused", strings.ReplaceAll(path, `\`, "/"))}
	}
	if len(rep.body) < 16 || binary.LittleEndian.Uint16(rep.body) != 16 {
		return 0, c.protocolError(PhaseTreeConnect, "short TREE_CONNECT response")
	}
	c.treeID = rep.treeID
	return rep.body[2], nil
}

// simple sends a request whose body is only its structure size and a reserved field
// (TREE_DISCONNECT, LOGOFF) and waits for the reply.
func (c *smbConn) simple(cmd uint16) error {
	body := []byte{4, 0, 0, 0}
	_, rep, err := c.call(PhaseTreeConnect, cmd, body, true)
	if err != nil {
		return err
	}
	if rep.status != StatusSuccess {
		return &SMBError{Phase: PhaseTreeConnect, Status: rep.status, Err: fmt.Errorf("command %d refused", cmd)}
	}
	return nil
}
