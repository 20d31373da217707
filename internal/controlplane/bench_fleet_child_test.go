package controlplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"

	"egret.dev/egret/internal/meshtest"
	"egret.dev/egret/internal/xds"
)

// BenchmarkFleet can run its delta clients in a child process (EGRET_BENCH_CLIENTS=process), so the
// benchmark process is the control plane alone: its heap per connected proxy and its CPU per push are
// then the control plane's own. The child is this test binary running TestFleetClientsChild; it is
// handed each client's SVID in a file and reports on stdout each time a client receives a resource
// whose name contains "added-" or "changed", as "<kind> <index> <name> <unix nanoseconds>".

// fleetWave is how many clients the child connects at a time; the next wave starts once each of
// these has received every resource type.
const fleetWave = 50

// fleetCreds are the clients' credentials as written for the child.
type fleetCreds struct {
	Address string     `json:"address"`
	Root    []byte     `json:"root"`
	Proxies []fleetKey `json:"proxies"`
}

type fleetKey struct {
	Kind string `json:"kind"`
	Cert []byte `json:"cert"`
	Key  []byte `json:"key"` // PKCS#8
}

// fleetChild is a running child process of clients.
type fleetChild struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startFleetChild writes the credentials and starts the child; each report is handed to got.
func startFleetChild(b *testing.B, addr string, root *x509.Certificate, kinds []string, certs []tls.Certificate,
	got func(kind string, i int, name string, at time.Time)) *fleetChild {
	creds := fleetCreds{Address: addr, Root: root.Raw}
	for i, c := range certs {
		key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		if err != nil {
			b.Fatal(err)
		}
		creds.Proxies = append(creds.Proxies, fleetKey{Kind: kinds[i], Cert: c.Certificate[0], Key: key})
	}
	path := filepath.Join(b.TempDir(), "creds.json")
	data, _ := json.Marshal(creds)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetClientsChild$", "-test.v")
	cmd.Env = append(os.Environ(), "EGRET_FLEET_CHILD="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &fleetChild{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 4 {
				continue
			}
			i, err1 := strconv.Atoi(f[1])
			ns, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 == nil && err2 == nil {
				got(f[0], i, f[2], time.Unix(0, ns))
			}
		}
	}()
	return c
}

// stop ends the child and waits for it.
func (c *fleetChild) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	<-c.done
	_ = c.cmd.Wait()
}

// TestFleetClientsChild is the child process of BenchmarkFleet; it does nothing when run as a test.
func TestFleetClientsChild(t *testing.T) {
	path := os.Getenv("EGRET_FLEET_CHILD")
	if path == "" {
		t.Skip("the clients of BenchmarkFleet run here only when it starts them (EGRET_BENCH_CLIENTS=process)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var creds fleetCreds
	if err := json.Unmarshal(data, &creds); err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(creds.Root)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	var batch []chan struct{}
	for i, k := range creds.Proxies {
		key, err := x509.ParsePKCS8PrivateKey(k.Key)
		if err != nil {
			t.Fatal(err)
		}
		conf := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{k.Cert}, PrivateKey: key}}, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error { return meshtest.VerifySPIFFE(cs, pool, cpID) }}
		types := xds.SidecarTypes
		if k.Kind == xds.KindGateway {
			types = xds.GatewayTypes
		}
		seen, synced := map[string]bool{}, make(chan struct{})
		raw := func(resp *discovery.DeltaDiscoveryResponse) error {
			if !seen[resp.GetTypeUrl()] { // one stream at a time calls raw
				seen[resp.GetTypeUrl()] = true
				if len(seen) == len(types) {
					close(synced)
				}
			}
			var lines []string
			for _, r := range resp.GetResources() {
				if _, err := r.GetResource().UnmarshalNew(); err != nil { // decode as a proxy would
					return err
				}
				if n := r.GetName(); strings.Contains(n, "added-") || strings.Contains(n, "changed") {
					lines = append(lines, fmt.Sprintf("%s %d %s %d\n", k.Kind, i, n, time.Now().UnixNano()))
				}
			}
			if len(lines) > 0 {
				out.Lock()
				for _, l := range lines {
					w.WriteString(l)
				}
				w.Flush()
				out.Unlock()
			}
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = xds.RunDeltaClient(ctx, xds.DeltaClientParams{Address: creds.Address, TLS: conf, Kind: k.Kind, Raw: raw,
				MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
		}()
		// Clients connect in waves, as a fleet rolls out: a thousand first syncs of the whole registry
		// at once (5 MB each at 10,000 services) exhaust memory and time out each other's handshakes.
		batch = append(batch, synced)
		if len(batch) == fleetWave || i == len(creds.Proxies)-1 {
			for _, c := range batch {
				select {
				case <-c:
				case <-ctx.Done():
				}
			}
			batch = batch[:0]
		}
	}
	wg.Wait()
}
