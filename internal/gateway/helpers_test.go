package gateway_test

// extraPolicy changes the gateway's config (and so its version) and still allows Productpage.
const extraPolicy = `apiVersion: security.policy.gloo.solo.io/v2
kind: AccessPolicy
metadata: {name: details-too, namespace: bookinfo}
spec:
  applyToDestinations: [{kind: EXTERNAL_SERVICE, selector: {name: google}}]
  config:
    authz:
      allowedClients: [{serviceAccountSelector: {name: bookinfo-details}}]
`

// mutualService adds a MUTUAL-origination service exposed on the gateway, whose key path the config
// dump must hide.
const mutualService = `apiVersion: networking.gloo.solo.io/v2
kind: ExternalService
metadata: {name: partner, namespace: bookinfo}
spec:
  hosts: [www.google.com]
  ports:
  - name: https
    number: 8443
    protocol: HTTPS
    clientsideTls: {mode: MUTUAL, clientCertificate: /etc/egret/client.pem, privateKey: /etc/egret/client-key.pem}
    egressGatewayRoutes:
      portMatch: 8080
      virtualGatewayRefs: [{name: istio-egressgateway, cluster: cluster1}]
`
