package xds

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"egret.dev/egret/internal/identity"
)

// Source tells the server what a proxy's current config is.
type Source interface {
	// ConfigFor returns the Message for the proxy holding SPIFFE ID id, with a name and cluster for
	// status; an error means the plan has no proxy with that identity.
	ConfigFor(id string) (msg Message, name, cluster string, err error)
}

// Server streams configs to proxies and records their acknowledgements.
type Server struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	source  Source
	proxies map[string]*proxy // by identity and connection
}

type proxy struct {
	status ProxyStatus
	notify chan struct{}
}

// NewServer returns a server that asks src for configs.
func NewServer(src Source, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{log: log, now: time.Now, source: src, proxies: map[string]*proxy{}}
}

// Push tells every connected proxy to look at its config again; a proxy whose config did not change
// is sent nothing.
func (s *Server) Push() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.proxies {
		select {
		case p.notify <- struct{}{}:
		default: // a notification is already pending
		}
	}
}

// Status lists every proxy seen, sorted by kind, cluster and name.
func (s *Server) Status() []ProxyStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ProxyStatus, 0, len(s.proxies))
	for _, p := range s.proxies {
		out = append(out, p.status)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Identity < b.Identity
	})
	return out
}

// Handler serves the stream and the acknowledgements; mount it on the control plane's TLS server.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StreamPath, s.stream)
	mux.HandleFunc("POST "+AckPath, s.ack)
	return mux
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		http.Error(w, "mutual TLS required", http.StatusUnauthorized)
		return
	}
	id, err := identity.PeerID(*r.TLS)
	if err != nil {
		http.Error(w, "a verified SVID is required", http.StatusUnauthorized)
		return
	}
	msg, name, cluster, err := s.source.ConfigFor(id.String())
	if err != nil {
		s.log.Warn("config stream refused", "identity", id.String(), "reason", err.Error())
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	key := id.String() + "#" + r.RemoteAddr
	p := &proxy{notify: make(chan struct{}, 1), status: ProxyStatus{
		Identity: id.String(), Kind: msg.Kind, Name: name, Cluster: cluster, Connected: true, LastSeen: s.now(),
		CertExpiry: r.TLS.PeerCertificates[0].NotAfter,
	}}
	s.mu.Lock()
	// A proxy that reconnects replaces its old, disconnected rows: status shows proxies, not history.
	for k, old := range s.proxies {
		if old.status.Identity == p.status.Identity && !old.status.Connected {
			delete(s.proxies, k)
		}
	}
	s.proxies[key] = p
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		p.status.Connected = false
		s.mu.Unlock()
	}()
	s.log.Info("proxy connected", "identity", id.String(), "kind", msg.Kind, "name", name, "cluster", cluster)

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	send := func(m Message) error {
		m.Protocol = Protocol
		if err := enc.Encode(m); err != nil {
			return err
		}
		return rc.Flush()
	}
	sent := ""
	push := func() error {
		m, _, _, err := s.source.ConfigFor(id.String())
		if err != nil {
			return err
		}
		if m.Version == sent {
			return nil
		}
		if err := send(m); err != nil {
			return err
		}
		sent = m.Version
		s.mu.Lock()
		p.status.Sent = sent
		p.status.LastSeen = s.now()
		s.mu.Unlock()
		s.log.Info("config sent", "identity", id.String(), "version", sent)
		return nil
	}
	if err := push(); err != nil {
		return
	}
	tick := time.NewTicker(Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			s.log.Info("proxy disconnected", "identity", id.String(), "name", name)
			return
		case <-p.notify:
			if err := push(); err != nil {
				s.log.Warn("config stream ended", "identity", id.String(), "err", err)
				return
			}
		case <-tick.C:
			if err := send(Message{Kind: KindHeartbeat}); err != nil {
				return
			}
		}
	}
}

func (s *Server) ack(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		http.Error(w, "mutual TLS required", http.StatusUnauthorized)
		return
	}
	id, err := identity.PeerID(*r.TLS)
	if err != nil {
		http.Error(w, "a verified SVID is required", http.StatusUnauthorized)
		return
	}
	var a Ack
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&a); err != nil || a.Version == "" {
		http.Error(w, "want {\"version\": ..., \"error\": ...}", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	p, ok := s.proxies[id.String()+"#"+r.RemoteAddr]
	if ok {
		p.status.LastSeen = s.now()
		if a.Error == "" {
			p.status.Acked, p.status.Nack = a.Version, ""
		} else {
			p.status.Nack = a.Version + ": " + a.Error
		}
	}
	s.mu.Unlock()
	if !ok {
		http.Error(w, "no open config stream from this proxy on this connection", http.StatusConflict)
		return
	}
	if a.Error != "" {
		s.log.Warn("config rejected (NACK)", "identity", id.String(), "version", a.Version, "error", a.Error)
	} else {
		s.log.Info("config applied (ACK)", "identity", id.String(), "version", a.Version)
	}
	w.WriteHeader(http.StatusNoContent)
}

// ErrUnknownProxy is what a Source returns for an identity it has no config for.
var ErrUnknownProxy = errors.New("no gateway or workload in the plan has this identity")
