package xds

import (
	"bytes"
	"reflect"
	"slices"

	"google.golang.org/protobuf/proto"

	"egret.dev/egret/internal/ir"
)

// encoder is the sink Update uses: it encodes a proxy's resources of each type, and builds and encodes
// again only those whose inputs changed since the previous plan. A resource is a pure function of its
// inputs (sink.add's in), so inputs that are deeply equal give the same bytes; comparing them is cheaper
// than converting and encoding, and nearly free when translate handed out the same objects again
// (reflect.DeepEqual stops at slices and maps that share their storage). So a change to one service
// costs one conversion and one encoding, not one per resource of the plan.
type encoder struct {
	prev map[string]map[string]memoEntry // by type, name: the previous plan's
	next map[string]map[string]memoEntry
}

type memoEntry struct {
	in   any
	wire []byte
}

func newEncoder(prev map[string]map[string]memoEntry, types []string) *encoder {
	e := &encoder{prev: prev, next: map[string]map[string]memoEntry{}}
	for _, t := range types {
		e.next[t] = map[string]memoEntry{}
	}
	return e
}

func (e *encoder) add(typ, name string, in any, build func() proto.Message) error {
	if old, ok := e.prev[typ][name]; ok && in != nil && sameInputs(old.in, in) {
		e.next[typ][name] = old
		return nil
	}
	b, err := deterministic.Marshal(build())
	if err != nil {
		return err
	}
	e.next[typ][name] = memoEntry{in, b}
	return nil
}

// encoded is the type's resources, as deltaCache.set takes them.
func (e *encoder) encoded(typ string) map[string][]byte {
	out := make(map[string][]byte, len(e.next[typ]))
	for name, m := range e.next[typ] {
		out[name] = m.wire
	}
	return out
}

// sameInputs reports whether two resources' inputs are equal: reflect.DeepEqual, which costs little
// for the parts translate hands out again (slices and maps sharing their storage), except for a
// service's routes, which are regrouped (and, for a gateway, their targets cut) on every plan: those
// are compared as values.
func sameInputs(a, b any) bool {
	if a, ok := a.(*serviceIn); ok {
		b, ok := b.(*serviceIn)
		return ok && bytes.Equal(a.key, b.key) && routesEqual(a.routes, b.routes) && reflect.DeepEqual(&a.s, &b.s)
	}
	return reflect.DeepEqual(a, b)
}

func routesEqual(a, b []ir.Route) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		// Every field of ir.Route (TestRoutesEqualComparesEveryField fails when one is added).
		if x.Host != y.Host || x.PortMatch != y.PortMatch || x.ServiceID != y.ServiceID || x.Port != y.Port ||
			!slices.Equal(x.Targets, y.Targets) {
			return false
		}
	}
	return true
}
