// Package ownlisteners records the addresses egret's own processes listen on, so that no proxy ever
// dials one of them on a resource's behalf (a service declared on 127.0.0.1:15014 must not let a
// workload read the control plane's status page through the gateway).
//
// Every egret process tracks its listeners in memory, which is always enforced, and publishes them in a
// runtime directory, one file per process id (<dir>/<pid>.json), so that the other egret processes on
// the host refuse them too. A file disappears when its process's last tracked listener closes; the file
// of a process that is no longer alive is ignored (and removed when possible).
package ownlisteners

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// EnvDir names the runtime directory, overriding the default.
const EnvDir = "EGRET_RUNTIME_DIR"

// DefaultDir is $EGRET_RUNTIME_DIR/listeners when set; else /run/egret/listeners when the process may
// write there (root); else $XDG_RUNTIME_DIR/egret/listeners; else <temp>/egret-<uid>/listeners.
func DefaultDir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Join(d, "listeners")
	}
	if os.Geteuid() == 0 {
		return "/run/egret/listeners"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "egret", "listeners")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("egret-%d", os.Geteuid()), "listeners")
}

// Default is the registry of this process, publishing in DefaultDir.
var Default = New(DefaultDir())

// Entry is one listening address and what it is ("control plane admin", "gateway admin", ...).
type Entry struct {
	Addr string `json:"addr"`
	What string `json:"what"`
}

// RefusedError is a dial refused because its target is one of egret's own listeners.
type RefusedError struct {
	Addr netip.AddrPort
	// What is the listener's description; PID is the process that owns it (0 = this one).
	What string
	PID  int
}

func (e *RefusedError) Error() string {
	owner := ""
	if e.PID != 0 {
		owner = fmt.Sprintf(" (process %d)", e.PID)
	}
	return fmt.Sprintf("refused: %s is egret's own %s listener%s", e.Addr, e.What, owner)
}

// Registry is one process's view of egret's listeners on the host. Its methods are safe for concurrent use.
type Registry struct {
	dir string
	pid int

	mu      sync.Mutex
	own     map[*tracked]Entry
	werr    error // the last failure to publish, reported once
	others  []published
	readAt  time.Time
	dirMod  time.Time
	locals  []netip.Addr
	localAt time.Time

	// view is what Check compares with, rebuilt under mu at most every recheck (and at once when this
	// process's own listeners change), so a dial reads it without a lock or a system call.
	view atomic.Pointer[view]
}

// view is every known listener, parsed, with the local addresses a wildcard listener covers.
type view struct {
	rules  []rule
	built  time.Time
	locals []netip.Addr
}

// rule is one listener to refuse: its address (unmapped, without zone) and owner (pid 0 = this process).
type rule struct {
	listen netip.AddrPort
	what   string
	pid    int
}

// recheck bounds how long Check uses its view before it looks at the runtime directory again: a
// listener another egret process opens is refused at most this long after it is published. This
// process's own listeners are refused from the moment they are tracked.
const recheck = 100 * time.Millisecond

type published struct {
	pid     int
	entries []Entry
}

// refresh bounds how long another process's change may go unseen when the directory's mtime does not move.
const refresh = time.Second

// New returns a registry publishing in dir (created on first use; "" publishes nothing).
func New(dir string) *Registry {
	return &Registry{dir: dir, pid: os.Getpid(), own: map[*tracked]Entry{}}
}

// Dir is where the registry publishes.
func (r *Registry) Dir() string { return r.dir }

// Track records ln as an egret listener described by what, and returns a listener whose Close forgets it.
// It never fails: when the directory is not writable, the listener is still refused by this process and
// PublishError says why other processes cannot see it.
func (r *Registry) Track(ln net.Listener, what string) net.Listener {
	t := &tracked{Listener: ln, r: r}
	r.mu.Lock()
	r.own[t] = Entry{Addr: ln.Addr().String(), What: what}
	r.view.Store(nil)
	r.publishLocked()
	r.mu.Unlock()
	return t
}

// PublishError is the last failure to write this process's file, or nil.
func (r *Registry) PublishError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.werr
}

// Entries lists this process's tracked listeners.
func (r *Registry) Entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, 0, len(r.own))
	for _, e := range r.own {
		out = append(out, e)
	}
	return out
}

type tracked struct {
	net.Listener
	r    *Registry
	once sync.Once
}

func (t *tracked) Close() error {
	err := t.Listener.Close()
	t.once.Do(func() {
		t.r.mu.Lock()
		delete(t.r.own, t)
		t.r.view.Store(nil)
		t.r.publishLocked()
		t.r.mu.Unlock()
	})
	return err
}

func (r *Registry) file() string { return filepath.Join(r.dir, strconv.Itoa(r.pid)+".json") }

// publishLocked rewrites this process's file (atomically, by rename), or removes it when nothing is tracked.
func (r *Registry) publishLocked() {
	if r.dir == "" {
		return
	}
	if len(r.own) == 0 {
		if err := os.Remove(r.file()); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.werr = err
		}
		return
	}
	entries := make([]Entry, 0, len(r.own))
	for _, e := range r.own {
		entries = append(entries, e)
	}
	b, _ := json.Marshal(entries)
	err := os.MkdirAll(r.dir, 0o755)
	if err == nil {
		tmp := r.file() + ".tmp"
		if err = os.WriteFile(tmp, b, 0o644); err == nil {
			err = os.Rename(tmp, r.file())
		}
	}
	r.werr = err
}

// Close forgets every listener of this process and removes its file (the listeners stay open).
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.own)
	r.view.Store(nil)
	r.publishLocked()
}

// Check refuses a target that is one of egret's listeners: this process's, or a live egret process's on
// the host. A listener on a wildcard address (0.0.0.0, ::) covers every local address on its port; a
// target on the unspecified address reaches the local host, so it is matched against every listener.
// It takes no lock and makes no system call unless its view is older than recheck.
func (r *Registry) Check(target netip.AddrPort) error {
	target = netip.AddrPortFrom(target.Addr().Unmap().WithZone(""), target.Port())
	v := r.view.Load()
	if v == nil || time.Since(v.built) > recheck {
		r.mu.Lock()
		// Concurrent dials that all found the view stale rebuild it once: the first under the lock.
		if v = r.view.Load(); v == nil || time.Since(v.built) > recheck {
			v = r.buildLocked()
		}
		r.mu.Unlock()
	}
	for _, ru := range v.rules {
		if v.matches(ru.listen, target) {
			return &RefusedError{Addr: target, What: ru.what, PID: ru.pid}
		}
	}
	return nil
}

// buildLocked makes and publishes a new view: this process's listeners first, then the others'.
func (r *Registry) buildLocked() *view {
	v := &view{built: time.Now()}
	add := func(e Entry, pid int) {
		if ap, err := netip.ParseAddrPort(e.Addr); err == nil {
			v.rules = append(v.rules, rule{listen: netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), what: e.What, pid: pid})
		}
	}
	for _, e := range r.own {
		add(e, 0)
	}
	for _, p := range r.othersLocked() {
		for _, e := range p.entries {
			add(e, p.pid)
		}
	}
	for _, ru := range v.rules {
		if ru.listen.Addr().IsUnspecified() {
			v.locals = r.localsLocked()
			break
		}
	}
	r.view.Store(v)
	return v
}

// Control fits net.Dialer.Control: it refuses a connection to an egret listener before it is made, for
// every address a dial resolves to.
func (r *Registry) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil // not an IP dial (a Unix socket): nothing of ours to compare with
	}
	return r.Check(ap)
}

func (v *view) matches(listen, target netip.AddrPort) bool {
	if listen.Port() != target.Port() {
		return false
	}
	la, ta := listen.Addr(), target.Addr()
	switch {
	case la == ta:
		return true
	case ta.IsUnspecified():
		return true
	case la.IsUnspecified():
		return ta.IsLoopback() || slices.Contains(v.locals, ta)
	}
	return false
}

// localsLocked lists the addresses of this host's interfaces (cached briefly).
func (r *Registry) localsLocked() []netip.Addr {
	if time.Since(r.localAt) > refresh {
		var locals []netip.Addr // a new slice: views already published keep theirs
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range addrs {
				if p, err := netip.ParsePrefix(ia.String()); err == nil {
					locals = append(locals, p.Addr().Unmap().WithZone(""))
				}
			}
		}
		r.locals, r.localAt = locals, time.Now()
	}
	return r.locals
}

// othersLocked reads the other processes' files when the directory changed or the last read is old;
// the files of processes that are gone are ignored and removed.
func (r *Registry) othersLocked() []published {
	if r.dir == "" {
		return nil
	}
	st, err := os.Stat(r.dir)
	if err != nil {
		r.others = nil
		return nil
	}
	if st.ModTime().Equal(r.dirMod) && time.Since(r.readAt) < refresh {
		return r.others
	}
	r.dirMod, r.readAt, r.others = st.ModTime(), time.Now(), nil
	names, _ := os.ReadDir(r.dir)
	for _, n := range names {
		pidStr, ok := strings.CutSuffix(n.Name(), ".json")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid == r.pid {
			continue
		}
		if !alive(pid) {
			_ = os.Remove(filepath.Join(r.dir, n.Name()))
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.dir, n.Name()))
		if err != nil {
			continue
		}
		var entries []Entry
		if json.Unmarshal(b, &entries) == nil {
			r.others = append(r.others, published{pid: pid, entries: entries})
		}
	}
	return r.others
}

// alive reports whether process pid exists (one we may not signal exists too).
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	defer p.Release()
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
