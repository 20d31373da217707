package e2e

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"egret.dev/egret/internal/meshtest"
)

// TestWorkspacesAndARouteTableThroughEgretUp is issue 10's tenancy and routing scenario with real
// processes: three workspaces, where partners exports its ExternalService to bookinfo, bookinfo imports it,
// and third imports nothing; and a RouteTable in bookinfo that splits split.partner.test by path between
// two ExternalServices, each served by its own local TLS stand-in. The mesh is REGISTRY_ONLY (the example's).
func TestWorkspacesAndARouteTableThroughEgretUp(t *testing.T) {
	ext := google(t)
	standIn := func(name string) (*meshtest.External, uint16) {
		e := meshtest.NewExternal(t, "*.partner.test", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s %s %s", name, r.Host, r.URL.Path)
		})
		return e, netip.MustParseAddrPort(e.Addr()).Port()
	}
	a, portA := standIn("A")
	b, portB := standIn("B")
	nets := meshtest.FreeUpNets(t)
	resources := fmt.Sprintf(`apiVersion: admin.gloo.solo.io/v2
kind: Workspace
metadata: {name: bookinfo, namespace: gloo-mesh}
spec:
  workloadClusters: [{name: '*', namespaces: [{name: bookinfo}]}]
---
apiVersion: admin.gloo.solo.io/v2
kind: Workspace
metadata: {name: partners, namespace: gloo-mesh}
spec:
  workloadClusters: [{name: '*', namespaces: [{name: partners}]}]
---
apiVersion: admin.gloo.solo.io/v2
kind: Workspace
metadata: {name: third, namespace: gloo-mesh}
spec:
  workloadClusters: [{name: '*', namespaces: [{name: third}]}]
---
apiVersion: admin.gloo.solo.io/v2
kind: WorkspaceSettings
metadata: {name: partners, namespace: partners}
spec:
  exportTo: [{workspaces: [{name: bookinfo}], resources: [{kind: EXTERNAL_SERVICE}]}]
---
apiVersion: admin.gloo.solo.io/v2
kind: WorkspaceSettings
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  importFrom: [{workspaces: [{name: partners}]}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: api, namespace: partners}
spec:
  hosts: [api.partner.test]
  selector: {partner: a}
  ports:
  - {name: http, number: 80, protocol: HTTP, targetPort: {name: tls}, clientsideTls: {caCertificates: %[1]s}}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: a, namespace: partners, labels: {partner: a}}
spec:
  address: 127.0.0.1
  ports: [{name: tls, number: %[2]d}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: a, namespace: bookinfo}
spec:
  hosts: [a.partner.test]
  selector: {partner: a}
  ports:
  - {name: http, number: 80, protocol: HTTP, targetPort: {name: tls}, clientsideTls: {caCertificates: %[1]s}}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: b, namespace: bookinfo}
spec:
  hosts: [b.partner.test]
  selector: {partner: b}
  ports:
  - {name: http, number: 80, protocol: HTTP, targetPort: {name: tls}, clientsideTls: {caCertificates: %[3]s}}
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: a, namespace: bookinfo, labels: {partner: a}}
spec:
  address: 127.0.0.1
  ports: [{name: tls, number: %[2]d}]
---
apiVersion: networking.gloo.solo.io/v2
kind: ExternalEndpoint
metadata: {name: b, namespace: bookinfo, labels: {partner: b}}
spec:
  address: 127.0.0.1
  ports: [{name: tls, number: %[4]d}]
---
apiVersion: networking.gloo.solo.io/v2
kind: RouteTable
metadata: {name: split, namespace: bookinfo}
spec:
  hosts: [split.partner.test]
  http:
  - name: to-a
    matchers: [{uri: {prefix: /a}}]
    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: a}, port: {number: 80}}]}
  - name: to-b
    matchers: [{uri: {prefix: /b}}]
    forwardTo: {destinations: [{kind: EXTERNAL_SERVICE, ref: {name: b}, port: {number: 80}}]}
---
apiVersion: egret.dev/v1alpha1
kind: Workload
metadata: {name: nosy, namespace: third}
spec:
  serviceAccount: nosy
  cluster: cluster1
  sidecar: {listen: "%[5]s"}
`, a.CAFile, portA, b.CAFile, portB, nets.Sidecar+".9:15001")
	dir := meshtest.CopyExample(t, map[string]string{"10-tenancy.yaml": resources})
	p := start(t, append([]string{"up", "-f", dir, "--listen", freeAddr(t), "--admin", freeAddr(t), "--data-dir", t.TempDir(),
		"--resolve", "www.google.com:443=" + ext.Addr(), "--upstream-ca", ext.CAFile}, nets.Args()...)...)
	logs := func() string { return p.out.String() + p.err.String() }
	productpage, nosy := nets.SidecarAddr(1), nets.Sidecar+".9:15001"

	// The importing workspace reaches the exported service.
	eventually(t, productpage, "http://api.partner.test/x", 200, logs)
	if _, body, err := get(viaProxy(productpage), "http://api.partner.test/x"); err != nil || body != "A api.partner.test /x" {
		t.Fatalf("bookinfo → partners' api: %q %v", body, err)
	}
	// A workspace that imports nothing does not see it: under REGISTRY_ONLY that is the 502 of a host
	// not in the registry, and the stand-in never hears from it.
	before := len(a.Requests())
	eventually(t, nosy, "http://api.partner.test/x", 502, logs)
	if code, _, err := get(viaProxy(nosy), "http://api.partner.test/x"); err != nil || code != 502 {
		t.Fatalf("third → partners' api: %d %v, want 502", code, err)
	}
	if n := len(a.Requests()) - before; n != 0 {
		t.Fatalf("the stand-in served %d requests from a workspace that cannot see it", n)
	}

	// The route table splits by path; an unmatched path is Gloo's 404.
	eventually(t, productpage, "http://split.partner.test/a/1", 200, logs)
	for path, want := range map[string]string{"/a/1": "A a.partner.test /a/1", "/b/2": "B b.partner.test /b/2"} {
		if code, body, err := get(viaProxy(productpage), "http://split.partner.test"+path); err != nil || code != 200 || body != want {
			t.Errorf("split.partner.test%s: %d %q %v, want %q", path, code, body, err, want)
		}
	}
	if code, _, err := get(viaProxy(productpage), "http://split.partner.test/c"); err != nil || code != 404 {
		t.Errorf("split.partner.test/c: %d %v, want 404 (no route matches)", code, err)
	}
	// The table lives in bookinfo's workspace: it does not steer third's calls, which see no such host.
	if code, _, err := get(viaProxy(nosy), "http://split.partner.test/a/1"); err != nil || code != 502 {
		t.Errorf("third → split.partner.test: %d %v, want 502", code, err)
	}
	p.stop(t)
	// Every line that control plane, CA, gateways, sidecars and supervisor wrote has each field once.
	meshtest.NoDuplicateLogKeys(t, p.out.String()+p.err.String())
}
