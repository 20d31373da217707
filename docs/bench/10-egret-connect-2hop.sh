# egret's CONNECT path through its egress gateway (issue 12's "2-hop CONNECT"):
# the client opens an HTTP CONNECT tunnel to www.example.test:<upstream port>
# through egret's sidecar (explicit mode); the sidecar carries it as an HTTP/2
# CONNECT stream over mutual TLS (its SVID; the gateway's SPIFFE ID verified) to
# the gateway, which verifies the sidecar's certificate, applies the
# AccessPolicy, checks that the ClientHello's SNI names the CONNECT host, dials
# the upstream over TCP and relays bytes. TLS stays end to end (the client
# verifies the upstream), as in smokescreen-connect and egret-connect, so the
# three are measured the same way; both egret processes count as "proxy".
# The CONNECT, the decisions and both handshakes happen in the warm-up: the
# measured window is the byte relay alone (16/64 tunnels, many requests each).
# Access logs: /dev/null, one line per tunnel per process.
# shellcheck shell=bash disable=SC2034 # the variables are read by run-peers.sh
SCENARIO_NAME=egret-connect-2hop
SCENARIO_PATH="client ─CONNECT→ egret sidecar ─HTTP/2 CONNECT over mTLS→ egret gateway ─TCP→ upstream (TLS end to end; 2 hops, 2 processes)"
SCENARIO_BUILDS_EGRET=1 # from $EGRET_SRC or the current directory (lib/egret.sh)

EGRET_GATEWAY_ID=cluster1/egress/egress-gateway # → spiffe://cluster.local/ns/egress/sa/egress-gateway
EGRET_ADMIN_PORT=$((BASE_PORT + 500))            # the gateway's admin, off its default 15000

scenario_version() { egret_build; }

# The mesh: trust domain cluster.local (the harness certificates' SPIFFE IDs),
# REGISTRY_ONLY, one egress gateway egress/egress-gateway in cluster1 (service
# port 443 → 8443, bound to $PORT_GW with --port), one workload default/client.
egret_mesh_resources() {
	cat <<CONF
apiVersion: egret.dev/v1alpha1
kind: Mesh
metadata:
  name: mesh
  namespace: egress
spec:
  trustDomain: cluster.local
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
---
apiVersion: admin.gloo.solo.io/v2
kind: GatewayLifecycleManager
metadata:
  name: egress-gateway
  namespace: egress
spec:
  installations:
  - gatewayRevision: bench
    clusters:
    - name: cluster1
      activeGateway: true
      trustDomain: cluster.local
    istioOperatorSpec:
      profile: empty
      components:
        egressGateways:
        - name: egress-gateway
          namespace: egress
          enabled: true
          label:
            istio: egressgateway
          k8s:
            service:
              ports:
              - port: 443
                targetPort: 8443
                name: https
---
apiVersion: egret.dev/v1alpha1
kind: Workload
metadata:
  name: client
  namespace: default
spec:
  serviceAccount: client
  cluster: cluster1
CONF
}

scenario_start() {
	local res=$SDIR/resources
	mkdir -p "$res"
	egret_mesh_resources >"$res/00-mesh.yaml"
	cat >"$res/10-services.yaml" <<CONF
apiVersion: networking.gloo.solo.io/v2
kind: VirtualGateway
metadata:
  name: egress-gateway
  namespace: egress
spec:
  workloads:
  - selector:
      labels:
        istio: egressgateway
  listeners:
  - port:
      number: 443
    tls:
      mode: ISTIO_MUTUAL
    http: {}
    exposedExternalServices:
    - host: $UPSTREAM_HOST
---
# CONNECT $UPSTREAM_HOST:$UPSTREAM_PORT goes through the gateway (portMatch is
# the port the client names); no clientsideTls: the client does TLS itself.
apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata:
  name: example
  namespace: egress
spec:
  hosts:
  - $UPSTREAM_HOST
  ports:
  - name: https
    number: $UPSTREAM_PORT
    protocol: HTTPS
    egressGatewayRoutes:
      portMatch: $UPSTREAM_PORT
      virtualGatewayRefs:
      - name: egress-gateway
        namespace: egress
        cluster: cluster1
---
apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata:
  name: allow-client
  namespace: egress
spec:
  applyToDestinations:
  - kind: EXTERNAL_SERVICE
    selector:
      name: example
      namespace: egress
      cluster: cluster1
  config:
    authn:
      tlsMode: STRICT
    authz:
      allowedClients:
      - serviceAccountSelector:
          name: client
          namespace: default
CONF
	(umask 077 && openssl pkcs8 -topk8 -nocrypt -in "$CERTS/gateway.key" -out "$SDIR/gateway.key" &&
		openssl pkcs8 -topk8 -nocrypt -in "$CERTS/sidecar.key" -out "$SDIR/sidecar.key") || return 1
	"$BIN/egret" validate -f "$res" || return 1
	"$BIN/egret" render gateway-config -f "$res" --gateway "$EGRET_GATEWAY_ID" -o "$SDIR/gateway.json" || return 1
	"$BIN/egret" render sidecar-config -f "$res" --workload default/client \
		--gateway-address "$EGRET_GATEWAY_ID=127.0.0.1:$PORT_GW" -o "$SDIR/sidecar.json" || return 1

	start_proxy "$SDIR/gateway.log" env GOMAXPROCS="$PROXY_WORKERS" "$BIN/egret" gateway \
		--config "$SDIR/gateway.json" \
		--cert "$CERTS/gateway.crt" --key "$SDIR/gateway.key" --bundle "$CERTS/ca.crt" \
		--address 127.0.0.1 --port "8443=$PORT_GW" \
		--admin "127.0.0.1:$EGRET_ADMIN_PORT" --ready "" \
		--resolve "$UPSTREAM_HOST:$UPSTREAM_PORT=$UPSTREAM_ADDR" \
		--access-log /dev/null
	start_proxy "$SDIR/sidecar.log" env GOMAXPROCS="$PROXY_WORKERS" "$BIN/egret" sidecar \
		--config "$SDIR/sidecar.json" \
		--cert "$CERTS/sidecar.crt" --key "$SDIR/sidecar.key" --bundle "$CERTS/ca.crt" \
		--listen "127.0.0.1:$PORT_IN" --access-log /dev/null
	await_listen "$PORT_GW" "$PORT_IN" || return 1
	LOADGEN_ARGS=(-url "https://$UPSTREAM_HOST/" -proxy "http://127.0.0.1:$PORT_IN"
		-connect-to "$UPSTREAM_HOST:$UPSTREAM_PORT" -cacert "$CERTS/ca.crt")
}
