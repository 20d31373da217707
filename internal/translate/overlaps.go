package translate

import (
	"fmt"
	"slices"

	"egret.dev/egret/internal/api"
	"egret.dev/egret/internal/ir"
)

// overlaps warns about ExternalServices whose claims on a host and port overlap one that another service
// routes through egress gateways (the same exact name, or a wildcard covering it). The plan needs no
// change: the decision lets the gateway path win for everyone (ir/overlap.go); the warning says so on
// the claim that loses, naming both objects.
func (t *translator) overlaps() {
	byID := map[string]*api.ExternalService{}
	for _, es := range t.snap.ExternalServices {
		if t.valid(es) {
			byID[serviceID(es)] = es
		}
	}
	svcs := t.plan.Services
	cand := newOverlapIndex(svcs)
	for ai := range svcs {
		a := &svcs[ai]
		for _, ap := range a.Ports {
			if ap.PortMatch == 0 {
				continue
			}
			for _, ah := range a.Hosts {
				for _, bi := range cand.of(ah) {
					if bi != ai {
						t.overlapWith(byID[svcs[bi].ID], &svcs[bi], a, ah, ap)
					}
				}
			}
		}
	}
}

// overlapIndex finds the services that may claim a host: an exact host is covered only by itself or a
// wildcard, so only those are compared (with 10,000 routed services, comparing every pair took seconds).
type overlapIndex struct {
	all   []int
	exact map[ir.HostPattern][]int
	wild  []int // services with a wildcard host
}

func newOverlapIndex(svcs []ir.ExternalService) *overlapIndex {
	x := &overlapIndex{exact: map[ir.HostPattern][]int{}}
	for i := range svcs {
		x.all = append(x.all, i)
		wild := false
		for _, h := range svcs[i].Hosts {
			if h.IsWildcard() {
				wild = true
			} else if l := x.exact[h]; len(l) == 0 || l[len(l)-1] != i {
				x.exact[h] = append(l, i)
			}
		}
		if wild {
			x.wild = append(x.wild, i)
		}
	}
	return x
}

// of lists, in plan order, the services that may overlap host h.
func (x *overlapIndex) of(h ir.HostPattern) []int {
	if h.IsWildcard() {
		return x.all
	}
	out := append(append([]int(nil), x.exact[h]...), x.wild...)
	slices.Sort(out)
	return slices.Compact(out)
}

// overlapWith warns on service b for each of its claims that overlaps a's route of host ah through port ap.
func (t *translator) overlapWith(bo *api.ExternalService, b, a *ir.ExternalService, ah ir.HostPattern, ap ir.ServicePort) {
	if bo == nil {
		return
	}
	for _, bh := range b.Hosts {
		var shared ir.HostPattern
		switch {
		case bh.Covers(ah):
			shared = ah
		case ah.Covers(bh):
			shared = bh
		default:
			continue
		}
		for bpi, bp := range b.Ports {
			path := fmt.Sprintf("spec.ports[%d]", bpi)
			switch {
			case bp.PortMatch == 0 && bp.Number == ap.PortMatch:
				t.warn(bo, path, "overlaps ExternalService %s, which routes %s port %d through egress gateways: the gateway route wins for every caller (under its AccessPolicies), so this port is never dialled directly for %s",
					a.ID, shared, ap.PortMatch, shared)
			case bp.PortMatch == 0 && bp.Number == ap.Number:
				t.warn(bo, path, "overlaps ExternalService %s, which routes %s port %d through egress gateways (called on port %d): calls to %s port %d are refused for every caller, never dialled directly",
					a.ID, shared, ap.Number, ap.PortMatch, shared, ap.Number)
			case bp.PortMatch != 0 && bp.PortMatch == ap.PortMatch:
				t.warn(bo, path, "overlaps ExternalService %s, which also routes %s port %d through egress gateways: a call must be allowed by the AccessPolicies of both",
					a.ID, shared, ap.PortMatch)
			}
		}
	}
}
