package istio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"istio.io/istio/pkg/config/schema/collections"
	"istio.io/istio/pkg/webhooks/validation/server"

	"egret.dev/egret/internal/kubetest"
)

// istioWebhook serves istiod's validating admission webhook (the handler istiod mounts at
// /validate, which converts the object and runs istio.io/istio/pkg/config/validation on it) on a
// loopback test server, with the schemas istiod gives it.
type istioWebhook struct{ url string }

func newIstioWebhook(t *testing.T) *istioWebhook {
	t.Helper()
	mux := http.NewServeMux()
	if _, err := server.New(server.Options{Schemas: collections.PilotGatewayAPI(), DomainSuffix: "cluster.local", Mux: mux}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &istioWebhook{url: srv.URL + "/validate"}
}

// review sends one object as a CREATE AdmissionReview (v1) and returns the webhook's answer.
func (w *istioWebhook) review(u *unstructured.Unstructured) (*admissionv1.AdmissionResponse, error) {
	raw, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	gvk := u.GroupVersionKind()
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("egret-" + u.GetName()),
			Kind:      metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Name:      u.GetName(),
			Namespace: u.GetNamespace(),
			Operation: admissionv1.Create,
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(ar)
	if err != nil {
		return nil, err
	}
	resp, err := http.Post(w.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("webhook: %s: %s", resp.Status, rb)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rb, &out); err != nil {
		return nil, fmt.Errorf("webhook answer: %w: %s", err, rb)
	}
	if out.Response == nil {
		return nil, fmt.Errorf("webhook answer without response: %s", rb)
	}
	return out.Response, nil
}

func rejection(r *admissionv1.AdmissionResponse) string {
	if r.Result != nil {
		return r.Result.Message
	}
	return "(no message)"
}

func TestEverySeedObjectPassesIstiosValidatingWebhook(t *testing.T) {
	wh := newIstioWebhook(t)
	n := 0
	// The rendered objects, and the Istio docs' hand-written equivalent they are compared with in docs/istio.md.
	sets := map[string][]*unstructured.Unstructured{"rendered": seedObjects(t), "hand-written": handWrittenSeedObjects(t)}
	for _, set := range []string{"rendered", "hand-written"} {
		n += wh.reviewEach(t, set, sets[set])
	}
	if n == 0 {
		t.Fatal("no Istio objects among the seed objects")
	}
}

// The webhook must really be judging: objects Istio's documentation calls invalid are rejected
// with the reason istiod would give.
func TestIstiosValidatingWebhookRejectsBrokenObjects(t *testing.T) {
	wh := newIstioWebhook(t)
	cases := []struct {
		name string
		yaml string
		want string
	}{
		{"a VirtualService without any route", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: empty, namespace: bookinfo}
spec: {hosts: [www.google.com]}`, "http, tcp or tls must be provided"},
		{"a DestinationRule that originates MUTUAL TLS without a client certificate", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mutual, namespace: bookinfo}
spec:
  host: www.google.com
  trafficPolicy: {tls: {mode: MUTUAL}}`, "client certificate required"},
		{"an AuthorizationPolicy whose principal is not a principal", `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bad, namespace: gloo-mesh-gateways}
spec:
  action: ALLOW
  rules: [{from: [{source: {principals: [""]}}]}]`, "empty value not allowed"},
		{"an HTTPS Gateway server without TLS settings", `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: gloo-mesh-gateways}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ["*"]}]`, "server must have TLS settings for HTTPS/TLS protocols"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			objs, err := kubetest.DecodeYAML([]byte(c.yaml))
			if err != nil || len(objs) != 1 {
				t.Fatalf("decode: %v (%d objects)", err, len(objs))
			}
			r, err := wh.review(objs[0])
			if err != nil {
				t.Fatal(err)
			}
			if r.Allowed {
				t.Fatalf("webhook allowed %s", c.name)
			}
			if !bytes.Contains([]byte(rejection(r)), []byte(c.want)) {
				t.Errorf("rejection %q does not say %q", rejection(r), c.want)
			}
		})
	}
}

// reviewEach sends each Istio object of objs through the webhook in a subtest named prefix and the
// object, which fails when Istio rejects it or warns about it; it returns how many it sent.
func (wh *istioWebhook) reviewEach(t *testing.T, prefix string, objs []*unstructured.Unstructured) int {
	n := 0
	for _, u := range objs {
		if !isIstio(u) {
			continue
		}
		n++
		t.Run(prefix+" "+describe(u), func(t *testing.T) {
			r, err := wh.review(u)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Allowed {
				t.Fatalf("Istio's validation rejects %s: %s", describe(u), rejection(r))
			}
			for _, w := range r.Warnings {
				t.Errorf("Istio's validation warns about %s: %s", describe(u), w)
			}
		})
	}
	return n
}
