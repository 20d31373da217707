package controlplane

import (
	"encoding/json"
	"net/http"
	"time"

	"egret.dev/egret/internal/xds"
)

// Status is what `egret status` shows.
type Status struct {
	Proxies   []xds.ProxyStatus `json:"proxies"`
	Resources []Resource        `json:"resources"`
	// Rejected lists the problems of the newest change when it was refused (the last good one is served).
	Rejected []string  `json:"rejected,omitempty"`
	Applied  time.Time `json:"applied"`
	// ConfigDir is the watched directory; Loaded is when it was last read, and LoadError why that read
	// was not applied ("" when it was).
	ConfigDir string    `json:"configDir"`
	Loaded    time.Time `json:"loaded"`
	LoadError string    `json:"loadError,omitempty"`
	// LoadWarnings are the last read's files skipped (not regular files) and files that do not decode
	// now, whose last good contents are used.
	LoadWarnings []string `json:"loadWarnings,omitempty"`
}

// Resource is one resource's translation status.
type Resource struct {
	Object   string   `json:"object"`
	State    string   `json:"state"`
	Problems []string `json:"problems,omitempty"`
}

// Status reports every proxy and every resource of the plan being served.
func (cp *ControlPlane) Status() Status {
	cp.mu.RLock()
	defer cp.mu.RUnlock()
	st := Status{Proxies: cp.delta.Status(), Rejected: cp.rejected, Applied: cp.applied,
		ConfigDir: cp.p.ConfigDir, Loaded: cp.loaded, LoadError: cp.loadErr, LoadWarnings: cp.warnings}
	if cp.result != nil {
		for _, s := range cp.result.Statuses {
			r := Resource{Object: s.Object, State: string(s.State)}
			for _, p := range s.Problems {
				r.Problems = append(r.Problems, p.Error())
			}
			st.Resources = append(st.Resources, r)
		}
	}
	return st
}

func (cp *ControlPlane) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, cp.Status()) })
	mux.HandleFunc("GET /plan", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, cp.Plan()) })
	mux.HandleFunc("GET /healthz/ready", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ready\n")) })
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
