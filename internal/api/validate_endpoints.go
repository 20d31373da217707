package api

import (
	"fmt"
	"net/netip"
)

// AnnotationAllowLinkLocal on an ExternalEndpoint, set to "true", lets its address be link-local or a
// cloud metadata address. Without it such an address is an error: a gateway that dials the metadata
// service on a workload's behalf hands out the node's cloud credentials.
const AnnotationAllowLinkLocal = "egret.dev/allow-link-local"

// addressRange is a range an endpoint address is judged by.
type addressRange struct {
	prefix netip.Prefix
	name   string
}

// linkLocalRanges need the opt-in; most specific first, so the metadata address is named as such.
var linkLocalRanges = []addressRange{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
}

// notedRanges are dialled as declared, but noted: an external service that lives on this machine or in
// a private network is often a mistake, and always worth a second look.
var notedRanges = []addressRange{
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "CGNAT"},
}

func rangeOf(a netip.Addr, ranges []addressRange) (string, bool) {
	a = a.WithZone("").Unmap()
	for _, r := range ranges {
		if r.prefix.Contains(a) {
			return fmt.Sprintf("%s (%s)", r.prefix, r.name), true
		}
	}
	return "", false
}

// endpointAddress judges an ExternalEndpoint's IP address: link-local and metadata addresses are errors
// unless the endpoint opts in; loopback and private ones are noted.
func (v *validator) endpointAddress(o *ExternalEndpoint) {
	optIn, set := o.Metadata.Annotations[AnnotationAllowLinkLocal]
	if set && optIn != "true" && optIn != "false" {
		v.errorf("metadata.annotations."+AnnotationAllowLinkLocal, "must be \"true\" or \"false\", not %q", optIn)
	}
	a, err := netip.ParseAddr(o.Spec.Address)
	if err != nil {
		return // a host name; its DNS answers pass the proxies' SSRF guard
	}
	if r, ok := rangeOf(a, linkLocalRanges); ok {
		if optIn != "true" {
			v.errorf("spec.address", "%s is in %s; proxies refuse to dial it unless the ExternalEndpoint has the annotation %s: \"true\"", a, r, AnnotationAllowLinkLocal)
		}
		return
	}
	if r, ok := rangeOf(a, notedRanges); ok {
		v.warnf("spec.address", "%s is in %s; it is dialled as declared, from the gateway's and sidecars' network", a, r)
	}
}
