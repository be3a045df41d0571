package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ErrDataDirFull says the data directory has no room for the store. clpd exits with status 1,
// which its unit restarts on: the disk may be cleaned up while it waits.
var ErrDataDirFull = errors.New("data dir is full")

// minFree is the room the store needs in the data directory: etcd preallocates each 64 MiB
// segment of its write-ahead log, and writes its database beside it. Below it, etcd fails (or
// panics) deep inside with the reason only in its own log.
const minFree = 96 << 20

// freeSpace is how many bytes root may still write in dir (the blocks reserved for root count:
// clpd runs as root).
func freeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("checking the free space of %s: %w", dir, err)
	}
	return st.Bfree * uint64(st.Bsize), nil
}

// checkSpace refuses a data directory without room for the store, saying so plainly.
func checkSpace(dir string) error {
	free, err := freeSpace(dir)
	if err != nil {
		return err
	}
	if free < minFree {
		return fullError(fmt.Sprintf("data dir %s is full (%d MiB free; the store needs %d MiB): free some space there, or move [paths] data_dir",
			dir, free>>20, minFree>>20))
	}
	return nil
}

// fullError is ErrDataDirFull with the directory and the figures.
type fullError string

func (e fullError) Error() string        { return string(e) }
func (e fullError) Is(target error) bool { return target == ErrDataDirFull }

// watchSpace warns, in the log and the alert log, once the data directory runs short of room,
// and again when it has room again: the store stops when it can no longer write.
func watchSpace(ctx context.Context, dir string, warn func(short bool, msg string)) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	short := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := checkSpace(dir)
		switch {
		case errors.Is(err, ErrDataDirFull) && !short:
			short = true
			warn(true, err.Error())
		case err == nil && short:
			short = false
			warn(false, "data dir "+dir+" has room again")
		}
	}
}
