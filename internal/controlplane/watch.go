package controlplane

import (
	"context"
	"time"

	"egret.dev/egret/internal/source"
)

// watch reloads the source whenever it changes, until ctx ends: a stamper is polled (pollStamp), a
// source.Watched says when, and any other source is loaded once, at the start.
func (cp *ControlPlane) watch(ctx context.Context) {
	switch src := cp.src.(type) {
	case stamper:
		cp.pollStamp(ctx)
	case source.Watched:
		for {
			select {
			case <-ctx.Done():
				return
			case <-src.Changed():
				_ = cp.reload(ctx, "", false) // an error only when ctx ended
			}
		}
	default:
		<-ctx.Done()
	}
}

// sourceStamp is the source's stamp, or "" when it has none.
func (cp *ControlPlane) sourceStamp() string {
	if s, ok := cp.src.(stamper); ok {
		return s.Stamp()
	}
	return ""
}

// pollStamp polls the directory's fingerprint (names, link targets, sizes, times, file identities: see
// file.Fingerprint) and reloads once the directory has been quiet for the debounce, so a file being
// written in several pieces is read when its writer is done, not in between. Polling needs no inotify,
// sees editors that replace files by renaming, and follows symlinks, which inotify does not.
func (cp *ControlPlane) pollStamp(ctx context.Context) {
	t := time.NewTicker(cp.p.Poll)
	defer t.Stop()
	var pending string // a fingerprint not yet loaded, and since when it has not changed
	var since time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			stamp := cp.sourceStamp()
			switch {
			case stamp == cp.currentStamp():
				pending = ""
			case stamp != pending:
				pending, since = stamp, now
			case now.Sub(since) >= cp.p.Debounce:
				_ = cp.reload(ctx, stamp, false) // an error only when ctx ended
				pending = ""
			}
		}
	}
}

func (cp *ControlPlane) currentStamp() string {
	cp.mu.RLock()
	defer cp.mu.RUnlock()
	return cp.stamp
}
