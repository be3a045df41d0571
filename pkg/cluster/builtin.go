package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"clpkit/pkg/config"
	"clpkit/pkg/disk"
	"clpkit/pkg/fip"
	"clpkit/pkg/resource"
)

// The built-in resources, a floating address (fip) and a shared disk (disk), are run by clpd
// itself rather than by scripts; the machine sees them as it sees scripts (evSpawned, then
// evExited), so the ladder, the retries and the records are the same.

// Announcements of a floating address: a burst as soon as it is up, and one more a little later
// for switches and hosts that missed the first (keepalived does the same).
const (
	announceBurst = 3
	announceGap   = 100 * time.Millisecond
	announceAgain = 2 * time.Second
	inUseProbe    = 1500 * time.Millisecond
	addUnderGate  = 100 * time.Millisecond
)

// runBuiltin runs one start or stop of a built-in resource. Taking a floating address happens
// under the group's gate, as a script's spawn does: a fence that has begun sees it done or never
// started.
func (e *Engine) runBuiltin(a actSpawn, gt *gate) {
	r := &e.d.Config.Groups[a.group].Resources[a.res]
	// At its beginning a start must also be ahead of the fencing deadline, as a script's spawn
	// is; later (after the ARP probe, after a mount) only a fence that has begun voids it: the
	// kill takes the gate and removes the addresses after it, so whatever was added before is
	// undone, and nothing is added after.
	fenced := func() bool { return gt.epoch != a.epoch }
	gt.mu.Lock()
	if fenced() || (a.token != 0 && e.d.Clock.Now() >= a.notAfter) {
		gt.mu.Unlock()
		e.post(evSpawned{job: a.job, fenced: true, err: errors.New("the group is being fenced")})
		return
	}
	gt.mu.Unlock()
	e.post(evSpawned{job: a.job})
	ctx, cancel := context.WithTimeout(e.life, a.timeout)
	defer cancel()
	var err error
	switch {
	case r.Type == config.TypeFIP && a.kind == jobStart:
		err = e.startFIP(ctx, r, gt, fenced)
	case r.Type == config.TypeFIP:
		err = e.stopFIP(ctx, r)
	case r.Type == config.TypeDisk && a.kind == jobStart:
		err = diskOf(r).Mount(ctx)
		gt.mu.Lock()
		late := err == nil && fenced()
		gt.mu.Unlock()
		if late {
			// The fence began while the disk was being mounted: it must not stay mounted here.
			uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = diskOf(r).Unmount(uctx)
			ucancel()
			err = errors.New("the group was fenced while the disk was being mounted")
		}
	case r.Type == config.TypeDisk:
		err = diskOf(r).Unmount(ctx)
	}
	res := resource.Result{}
	if err != nil {
		res = resource.Result{Code: 1, Detail: err.Error()}
	}
	if e.life.Err() == nil {
		e.post(evExited{job: a.job, result: res})
	}
}

// fipAddress is a fip resource's address with its interface named.
func fipAddress(r *config.Resource) (fip.Address, error) {
	a, err := fip.ParseAddress(r.Address, r.Interface)
	if err != nil {
		return a, err
	}
	return a.Resolve()
}

func (e *Engine) startFIP(ctx context.Context, r *config.Resource, gt *gate, fenced func() bool) error {
	a, err := fipAddress(r)
	if err != nil {
		return err
	}
	// Another host answering on the address means the address is taken: adding it here too
	// would split the network's traffic between two hosts (CLUSTERPRO fails the activation).
	pctx, cancel := context.WithTimeout(ctx, inUseProbe)
	mac, used, err := fip.InUse(pctx, a)
	cancel()
	if err != nil {
		return fmt.Errorf("checking that no one answers on %s: %w", a, err)
	}
	if used {
		return fmt.Errorf("address %s is in use by another host (%s)", a.Prefix.Addr(), mac)
	}
	gt.mu.Lock()
	if fenced() {
		gt.mu.Unlock()
		return errors.New("the group was fenced before its address was added")
	}
	// The gate is held: a fence waits for it, so the add gets a deadline of its own, short
	// beside the fencing margin, not the resource's start timeout.
	actx, acancel := context.WithTimeout(ctx, addUnderGate)
	err = fip.Add(actx, a)
	acancel()
	gt.mu.Unlock()
	if err != nil {
		return err
	}
	if err := fip.Announce(ctx, a, announceBurst, announceGap); err != nil {
		e.d.Log.Warn("announcing a floating address", "address", a.String(), "err", err)
	}
	go func() {
		if !sleep(e.life, announceAgain) {
			return
		}
		actx, cancel := context.WithTimeout(e.life, time.Second)
		defer cancel()
		if fip.Check(actx, a) == nil {
			_ = fip.Announce(actx, a, 1, 0)
		}
	}()
	return nil
}

func (e *Engine) stopFIP(ctx context.Context, r *config.Resource) error {
	a, err := fipAddress(r)
	if err != nil {
		return err
	}
	return fip.Remove(ctx, a)
}

func diskOf(r *config.Resource) *disk.Disk {
	return &disk.Disk{Device: r.Device, MountPoint: r.MountPoint, FSType: r.FSType, Options: r.MountOptions,
		Fsck: r.Fsck, FsckTimeout: r.StartTimeout, Retry: r.UnmountRetry, Kill: r.KillUsers,
		Lazy: r.LazyUnmount}
}

// floating lists a group's floating addresses as the guard takes them, "prefix@interface".
func (e *Engine) floating(group int) []string {
	var out []string
	for i := range e.d.Config.Groups[group].Resources {
		r := &e.d.Config.Groups[group].Resources[i]
		if r.Type != config.TypeFIP {
			continue
		}
		if a, err := fipAddress(r); err == nil {
			out = append(out, a.Prefix.String()+"@"+a.Interface)
		}
	}
	return out
}

// mounts lists a group's shared disks, for the guard to unmount should it fence.
func (e *Engine) mounts(group int) []Mount {
	var out []Mount
	for i := range e.d.Config.Groups[group].Resources {
		if r := &e.d.Config.Groups[group].Resources[i]; r.Type == config.TypeDisk {
			out = append(out, Mount{Device: r.Device, MountPoint: r.MountPoint})
		}
	}
	return out
}

// removeFloating takes a group's floating addresses away at once: the first thing a fence does.
func (e *Engine) removeFloating(ctx context.Context, group int) {
	for i := range e.d.Config.Groups[group].Resources {
		r := &e.d.Config.Groups[group].Resources[i]
		if r.Type != config.TypeFIP {
			continue
		}
		a, err := fipAddress(r)
		if err == nil {
			err = fip.Remove(ctx, a)
		}
		if err != nil {
			e.d.Log.Error("removing a floating address while fencing", "resource", r.Name, "err", err)
		}
	}
}

// releaseDisks unmounts a fenced group's disks: whoever still uses one is killed, and a mount
// that stays busy is detached lazily, because a second server will mount the disk soon.
func (e *Engine) releaseDisks(ctx context.Context, group int) {
	for i := range e.d.Config.Groups[group].Resources {
		r := &e.d.Config.Groups[group].Resources[i]
		if r.Type != config.TypeDisk {
			continue
		}
		d := diskOf(r)
		d.Retry, d.Kill, d.Lazy, d.KillGrace, d.RetryInterval = 1, true, true, 50*time.Millisecond, 20*time.Millisecond
		if err := d.Unmount(ctx); err != nil {
			e.d.Log.Error("unmounting a disk while fencing", "resource", r.Name, "err", err)
		}
	}
}
