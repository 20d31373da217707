package adminclient

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// admin serves answers like a control plane's admin address, on loopback.
func admin(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestReadingARunningControlPlane(t *testing.T) {
	t.Run("status", func(t *testing.T) {
		st, err := Status(admin(t, 200, `{"configDir":"/etc/egret","proxies":[{"name":"gw"}]}`))
		if err != nil || st.ConfigDir != "/etc/egret" || len(st.Proxies) != 1 {
			t.Fatalf("got %+v, %v", st, err)
		}
	})
	t.Run("a failing status says what the control plane answered", func(t *testing.T) {
		addr := admin(t, 503, "")
		_, err := Status(addr)
		if err == nil || err.Error() != "control plane at "+addr+" answered 503 Service Unavailable" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("plan", func(t *testing.T) {
		plan, err := Plan(admin(t, 200, `{"outbound":"REGISTRY_ONLY","workloads":[{"name":"pp","namespace":"bookinfo"}]}`))
		if err != nil || len(plan.Workloads) != 1 {
			t.Fatalf("got %+v, %v", plan, err)
		}
	})
	t.Run("a plan that does not decode names the control plane", func(t *testing.T) {
		addr := admin(t, 200, "not json")
		if _, err := Plan(addr); err == nil || !strings.HasPrefix(err.Error(), "control plane at "+addr+": ") {
			t.Fatalf("got %v", err)
		}
	})
}
