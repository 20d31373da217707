package supervisor

import (
	"context"
	"errors"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"
)

// listener is a unit that really serves: it holds a loopback port open until it is stopped, so the
// tests see starts and stops from the outside, by dialing.
type listener struct {
	mu    sync.Mutex
	addrs map[string]string
}

func (l *listener) unit(t *testing.T, key, spec string) Unit {
	return Unit{Key: key, Spec: spec, Run: func(ctx context.Context) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.addrs[key] = ln.Addr().String()
		l.mu.Unlock()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		<-ctx.Done()
		return ln.Close()
	}}
}

func (l *listener) addr(key string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.addrs[key]
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestApplyStartsAddedAndStopsRemovedUnits(t *testing.T) {
	l := &listener{addrs: map[string]string{}}
	s := New(Params{})
	defer s.Stop()

	started, stopped := s.Apply([]Unit{l.unit(t, "gateway a", "1"), l.unit(t, "sidecar x", "1")})
	if want := []string{"gateway a", "sidecar x"}; !reflect.DeepEqual(started, want) || len(stopped) != 0 {
		t.Fatalf("first apply: started %v stopped %v, want started %v", started, stopped, want)
	}
	waitFor(t, "both units listen", func() bool { return l.addr("gateway a") != "" && l.addr("sidecar x") != "" })
	sidecarX := l.addr("sidecar x")

	for _, tc := range []struct {
		name                string
		units               []Unit
		wantStart, wantStop []string
		wantRunning         []string
	}{
		{"an added workload starts", []Unit{l.unit(t, "gateway a", "1"), l.unit(t, "sidecar x", "1"), l.unit(t, "sidecar y", "1")},
			[]string{"sidecar y"}, nil, []string{"gateway a", "sidecar x", "sidecar y"}},
		{"an unchanged set changes nothing", []Unit{l.unit(t, "gateway a", "1"), l.unit(t, "sidecar x", "1"), l.unit(t, "sidecar y", "1")},
			nil, nil, []string{"gateway a", "sidecar x", "sidecar y"}},
		{"a removed workload stops", []Unit{l.unit(t, "gateway a", "1"), l.unit(t, "sidecar y", "1")},
			nil, []string{"sidecar x"}, []string{"gateway a", "sidecar y"}},
		{"a changed spec restarts", []Unit{l.unit(t, "gateway a", "2"), l.unit(t, "sidecar y", "1")},
			[]string{"gateway a"}, []string{"gateway a"}, []string{"gateway a", "sidecar y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started, stopped := s.Apply(tc.units)
			if !reflect.DeepEqual(started, tc.wantStart) || !reflect.DeepEqual(stopped, tc.wantStop) {
				t.Errorf("started %v stopped %v, want %v and %v", started, stopped, tc.wantStart, tc.wantStop)
			}
			if got := s.Running(); !reflect.DeepEqual(got, tc.wantRunning) {
				t.Errorf("running %v, want %v", got, tc.wantRunning)
			}
		})
	}
	// Apply returns after a stopped unit has ended: its port is closed at once.
	if reachable(sidecarX) {
		t.Errorf("the removed sidecar x still accepts connections on %s", sidecarX)
	}
	waitFor(t, "sidecar y listens", func() bool { return l.addr("sidecar y") != "" })
	if !reachable(l.addr("sidecar y")) {
		t.Errorf("the added sidecar y does not accept connections")
	}
}

func TestStopEndsEveryUnit(t *testing.T) {
	l := &listener{addrs: map[string]string{}}
	s := New(Params{})
	s.Apply([]Unit{l.unit(t, "a", ""), l.unit(t, "b", "")})
	waitFor(t, "both listen", func() bool { return l.addr("a") != "" && l.addr("b") != "" })
	s.Stop()
	for _, k := range []string{"a", "b"} {
		if reachable(l.addr(k)) {
			t.Errorf("unit %s still accepts connections after Stop", k)
		}
	}
	if got := s.Running(); len(got) != 0 {
		t.Errorf("running after Stop: %v", got)
	}
}

func TestAUnitThatFailsIsReportedAndStartedAgainByTheNextChange(t *testing.T) {
	boom := errors.New("listener died")
	exited := make(chan string, 2)
	s := New(Params{Exited: func(key string, err error) {
		if !errors.Is(err, boom) {
			t.Errorf("Exited(%s, %v), want the unit's own error", key, err)
		}
		exited <- key
	}})
	defer s.Stop()
	fail := Unit{Key: "sidecar z", Run: func(context.Context) error { return boom }}
	s.Apply([]Unit{fail})
	select {
	case k := <-exited:
		if k != "sidecar z" {
			t.Errorf("Exited for %q", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a failed unit was not reported")
	}
	waitFor(t, "the failed unit leaves the running set", func() bool { return len(s.Running()) == 0 })
	if started, _ := s.Apply([]Unit{fail}); !reflect.DeepEqual(started, []string{"sidecar z"}) {
		t.Errorf("a failed unit still wanted is started again by the next Apply; started %v", started)
	}
	<-exited
}

func TestAStoppedUnitIsNotReportedAsExited(t *testing.T) {
	s := New(Params{Exited: func(key string, err error) { t.Errorf("Exited(%s, %v) for a unit the supervisor stopped", key, err) }})
	s.Apply([]Unit{{Key: "a", Run: func(ctx context.Context) error { <-ctx.Done(); return errors.New("stopped") }}})
	s.Stop()
}

func TestFollowAppliesEachNewDesiredSet(t *testing.T) {
	l := &listener{addrs: map[string]string{}}
	s := New(Params{})
	defer s.Stop()
	var mu sync.Mutex
	version, seen := 1, 0
	set := []Unit{l.unit(t, "sidecar a", "")}
	desired := func() ([]Unit, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		if version == seen {
			return nil, false, nil
		}
		seen = version
		return set, true, nil
	}
	changes := make(chan []string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Follow(ctx, 10*time.Millisecond, desired, func(started, stopped []string) { changes <- append(started, stopped...) })
	}()
	if got := <-changes; !reflect.DeepEqual(got, []string{"sidecar a"}) {
		t.Errorf("first change %v", got)
	}
	mu.Lock()
	set, version = []Unit{l.unit(t, "sidecar b", "")}, 2
	mu.Unlock()
	if got := <-changes; !reflect.DeepEqual(got, []string{"sidecar b", "sidecar a"}) {
		t.Errorf("second change (started, then stopped) %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Follow: %v", err)
	}
}
