package fsprobe_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"clpkit/pkg/fsprobe"
	"clpkit/test/fsservers"
)

// probeSMB runs one probe with a time limit.
func probeSMB(t fsprobe.SMBTarget, limit time.Duration) (fsprobe.SMBResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	return fsprobe.ProbeSMB(ctx, t)
}

// wantSMBError checks an SMB probe's error: phase, and status or errno.
func wantSMBError(t *testing.T, err error, phase fsprobe.Phase, status uint32, errno syscall.Errno) {
	t.Helper()
	var se *fsprobe.SMBError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T), want an *SMBError", err, err)
	}
	if se.Phase != phase || se.Status != status || se.Errno != errno {
		t.Fatalf("got phase %v status %#x errno %d (%v); want phase %v status %#x errno %d",
			se.Phase, se.Status, int(se.Errno), se, phase, status, int(errno))
	}
}

// TestSMBAgainstSamba probes a real smbd: the shares and logons an operator sets up, and each
// way a tree connect is refused.
func TestSMBAgainstSamba(t *testing.T) {
	s := fsservers.StartSamba(t, fsservers.SambaOptions{})
	tests := []struct {
		name        string
		target      fsprobe.SMBTarget
		phase       fsprobe.Phase // 0: success
		status      uint32
		wantGuest   bool
		wantSigned  bool
		wantType    uint8
		wantDialect uint16
	}{
		{name: "guest share, no user", target: fsprobe.SMBTarget{Share: "share"}, wantGuest: true, wantType: fsprobe.ShareTypeDisk, wantDialect: 0x0311},
		{name: "user share with its user", target: fsprobe.SMBTarget{Share: "authonly", User: s.User, Password: s.Password}, wantSigned: true, wantType: fsprobe.ShareTypeDisk, wantDialect: 0x0311},
		{name: "user share, DOMAIN\\user form", target: fsprobe.SMBTarget{Share: "authonly", User: `WORKGROUP\` + s.User, Password: s.Password}, wantSigned: true, wantType: fsprobe.ShareTypeDisk, wantDialect: 0x0311},
		{name: "unknown user is mapped to guest", target: fsprobe.SMBTarget{Share: "share", User: "nosuchuser", Password: "x"}, wantGuest: true, wantType: fsprobe.ShareTypeDisk, wantDialect: 0x0311},
		{name: "user share as guest", target: fsprobe.SMBTarget{Share: "authonly"}, phase: fsprobe.PhaseTreeConnect, status: fsprobe.StatusAccessDenied},
		{name: "wrong share name", target: fsprobe.SMBTarget{Share: "nosuch"}, phase: fsprobe.PhaseTreeConnect, status: fsprobe.StatusBadNetworkName},
		{name: "wrong password", target: fsprobe.SMBTarget{Share: "authonly", User: s.User, Password: "wrong"}, phase: fsprobe.PhaseSessionSetup, status: fsprobe.StatusLogonFailure},
		{name: "IPC$ is a pipe", target: fsprobe.SMBTarget{Share: "IPC$"}, phase: fsprobe.PhaseShareType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.target.Addr = s.Addr()
			res, err := probeSMB(tt.target, 10*time.Second)
			if tt.phase == fsprobe.PhaseShareType {
				var se *fsprobe.SMBError
				if !errors.As(err, &se) || se.Phase != fsprobe.PhaseShareType || se.ShareType != fsprobe.ShareTypePipe {
					t.Fatalf("IPC$: %v, want a share type error for type 2", err)
				}
				return
			}
			if tt.phase != 0 {
				wantSMBError(t, err, tt.phase, tt.status, 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := fsprobe.SMBResult{Dialect: tt.wantDialect, Guest: tt.wantGuest, Signed: tt.wantSigned, ShareType: tt.wantType}
			if res != want {
				t.Errorf("result %+v, want %+v", res, want)
			}
		})
	}

	// A frozen server: the kernel completes the TCP handshake, nobody answers NEGOTIATE, and
	// the deadline ends the probe as a wait error.
	testFrozen(t, s, time.Second, func(ctx context.Context) error {
		_, err := fsprobe.ProbeSMB(ctx, fsprobe.SMBTarget{Addr: s.Addr(), Share: "share"})
		return err
	}, func(t *testing.T, err error) {
		wantSMBError(t, err, fsprobe.PhaseWait, 0, syscall.ETIMEDOUT)
	})
	t.Run("stopped", func(t *testing.T) {
		s.Stop(t)
		_, err := probeSMB(fsprobe.SMBTarget{Addr: s.Addr(), Share: "share"}, 5*time.Second)
		wantSMBError(t, err, fsprobe.PhaseConnect, 0, syscall.ECONNREFUSED)
	})
}

// TestSMBDialectsWithMandatorySigning logs on to servers that speak one dialect each and require
// signing: the tree connect succeeds only if the probe signs correctly (HMAC-SHA256 for 2.x,
// AES-CMAC for 3.0 and 3.0.2, AES-CMAC with the pre-authentication hash for 3.1.1).
func TestSMBDialectsWithMandatorySigning(t *testing.T) {
	for _, d := range []struct {
		proto   string
		dialect uint16
	}{{"SMB2_02", 0x0202}, {"SMB2_10", 0x0210}, {"SMB3_00", 0x0300}, {"SMB3_02", 0x0302}, {"SMB3_11", 0x0311}} {
		t.Run(d.proto, func(t *testing.T) {
			t.Parallel()
			s := fsservers.StartSamba(t, fsservers.SambaOptions{Global: []string{
				"server max protocol = " + d.proto, "server signing = mandatory"}})
			res, err := probeSMB(fsprobe.SMBTarget{Addr: s.Addr(), Share: "authonly", User: s.User, Password: s.Password}, 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			want := fsprobe.SMBResult{Dialect: d.dialect, Signed: true, ShareType: fsprobe.ShareTypeDisk}
			if res != want {
				t.Errorf("result %+v, want %+v", res, want)
			}
			_, err = probeSMB(fsprobe.SMBTarget{Addr: s.Addr(), Share: "authonly", User: s.User, Password: "wrong"}, 10*time.Second)
			wantSMBError(t, err, fsprobe.PhaseSessionSetup, fsprobe.StatusLogonFailure, 0)
		})
	}
}
