// Package supervisor is what runs behind `egret up`: it keeps one running unit (a gateway, a sidecar)
// per entry of the desired set, starting the added ones and stopping the removed ones as the plan changes.
package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Unit is one thing the supervisor keeps running.
type Unit struct {
	// Key names the unit for as long as it exists, e.g. "sidecar bookinfo/productpage".
	Key string
	// Spec sums up what the unit was started with; a unit whose Spec changes is stopped and started again.
	Spec string
	// Run runs the unit until ctx ends (then it returns nil) or it fails.
	Run func(ctx context.Context) error
}

// Params configure a Supervisor.
type Params struct {
	Log *slog.Logger
	// Exited is called when a unit returns on its own, not because the supervisor stopped it; err is
	// what it returned (nil for a unit that simply ended).
	Exited func(key string, err error)
}

// Supervisor starts and stops units; its methods are safe for concurrent use.
type Supervisor struct {
	p       Params
	mu      sync.Mutex
	running map[string]*proc
	wg      sync.WaitGroup
}

type proc struct {
	spec     string
	cancel   context.CancelFunc
	done     chan struct{}
	stopping bool
}

// New returns a supervisor with nothing running.
func New(p Params) *Supervisor {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	return &Supervisor{p: p, running: map[string]*proc{}}
}

// Apply makes the running set equal to units: units not running are started, running units not listed
// are stopped (and waited for), and units whose Spec changed are restarted. Stops happen before starts,
// so a restarted unit finds its ports free. It returns the keys started and stopped, sorted.
func (s *Supervisor) Apply(units []Unit) (started, stopped []string) {
	want := map[string]Unit{}
	for _, u := range units {
		want[u.Key] = u
	}
	s.mu.Lock()
	var toStop []*proc
	for key, p := range s.running {
		if u, ok := want[key]; !ok || u.Spec != p.spec {
			p.stopping = true
			toStop = append(toStop, p)
			stopped = append(stopped, key)
			delete(s.running, key)
		}
	}
	s.mu.Unlock()
	for _, p := range toStop {
		p.cancel()
	}
	for _, p := range toStop {
		<-p.done
	}
	for _, key := range stopped {
		s.p.Log.Info("stopped", "unit", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if _, ok := s.running[key]; ok {
			continue
		}
		s.start(want[key])
		started = append(started, key)
	}
	sort.Strings(stopped)
	return started, stopped
}

// start runs u in its own goroutine; s.mu is held.
func (s *Supervisor) start(u Unit) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{spec: u.Spec, cancel: cancel, done: make(chan struct{})}
	s.running[u.Key] = p
	s.wg.Add(1)
	s.p.Log.Info("started", "unit", u.Key)
	go func() {
		defer s.wg.Done()
		defer close(p.done)
		err := u.Run(ctx)
		cancel()
		s.mu.Lock()
		own := !p.stopping
		if own && s.running[u.Key] == p {
			delete(s.running, u.Key)
		}
		s.mu.Unlock()
		if own {
			s.p.Log.Warn("exited on its own", "unit", u.Key, "err", err)
			if s.p.Exited != nil {
				s.p.Exited(u.Key, err)
			}
		}
	}()
}

// Running lists the keys of the running units, sorted.
func (s *Supervisor) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.running))
	for k := range s.running {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Stop stops every unit and waits for all of them, including ones that were already ending.
func (s *Supervisor) Stop() {
	s.Apply(nil)
	s.wg.Wait()
}

// Follow calls desired every poll until ctx ends and applies what it returns when ok is true (desired
// answers false while nothing changed). Each Apply's starts and stops are passed to changed, if set.
func (s *Supervisor) Follow(ctx context.Context, poll time.Duration, desired func() (units []Unit, ok bool, err error), changed func(started, stopped []string)) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		units, ok, err := desired()
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			s.p.Log.Error("cannot work out what should run; keeping what runs", "err", err)
			continue
		}
		if !ok {
			continue
		}
		started, stopped := s.Apply(units)
		if changed != nil && (len(started) > 0 || len(stopped) > 0) {
			changed(started, stopped)
		}
	}
}
