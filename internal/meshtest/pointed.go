package meshtest

import (
	"fmt"
	"net/netip"
)

// PointedAt is a service routed through the seed's gateway (www.google.com, portMatch 8080) whose
// traffic goes to target: by an ExternalEndpoint, or by the host's DNS answer (meshtest's resolver
// answers 127.0.0.1 for www.google.com, and the port's targetPort is the target's port).
func PointedAt(target string, byEndpoint bool) string {
	ap := netip.MustParseAddrPort(target)
	if !byEndpoint {
		return fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: peek, namespace: attacker}
spec:
  hosts: [www.google.com]
  ports:
  - name: http
    number: 9000
    protocol: HTTP
    targetPort: {number: %d}
    egressGatewayRoutes:
      portMatch: 8080
      virtualGatewayRefs: [{name: istio-egressgateway, namespace: bookinfo}]
`, ap.Port())
	}
	return fmt.Sprintf(`apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: peek, namespace: attacker}
spec:
  hosts: [www.google.com]
  selector: {peek: "yes"}
  ports:
  - name: http
    number: 9000
    protocol: HTTP
    targetPort: {name: http}
    egressGatewayRoutes:
      portMatch: 8080
      virtualGatewayRefs: [{name: istio-egressgateway, namespace: bookinfo}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: peek, namespace: attacker, labels: {peek: "yes"}}
spec:
  address: %s
  ports: [{name: http, number: %d}]
`, ap.Addr(), ap.Port())
}
