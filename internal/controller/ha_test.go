package controller_test

import (
	"testing"
	"time"

	"egret.dev/egret/internal/kubetest"
)

// Replicas elect a leader on the Lease; when the leader stops another converges the next change. A
// replica that starts with an invalid AccessPolicy it never saw valid holds the rollout (fail closed)
// instead of leaving the policy out, which would open its hosts.
func TestControllerReplicasAndFailClosedStart(t *testing.T) {
	e := newEnv(t)
	e.applySeed(t)
	stopA := e.run(t, "replica-a", true)
	eventually(t, 60*time.Second, "replica a converges", e.hasPrincipal("bookinfo-productpage"))
	stopB := e.run(t, "replica-b", true)

	t.Run("the other replica converges a change once the leader stops", func(t *testing.T) {
		stopA()
		e.setAllowedClient(t, "bookinfo-reviews")
		eventually(t, 60*time.Second, "replica b converges", e.hasPrincipal("bookinfo-reviews"))
	})

	t.Run("an AccessPolicy invalid since before the replica started holds the rollout", func(t *testing.T) {
		stopB()
		// An unexpanded variable is a valid string to the schema; egret's decoder refuses it.
		e.patch(t, kubetest.AccessPolicies, "egress-access-productpage", `{"spec":{"config":{"authz":{"allowedClients":[{"serviceAccountSelector":{"name":"${SERVICE_ACCOUNT}"}}]}}}}`)
		e.run(t, "replica-c", true)
		eventually(t, 60*time.Second, "Accepted=False", e.wantCondition(kubetest.AccessPolicies, "egress-access-productpage", "Accepted", "False", "Invalid", "never seen valid"))
		eventually(t, 30*time.Second, "others pending", e.wantCondition(kubetest.ExternalServices, "google", "Programmed", "False", "Pending", "AccessPolicy bookinfo/egress-access-productpage"))
		if err := e.hasPrincipal("bookinfo-reviews")(); err != nil {
			t.Fatalf("the applied AuthorizationPolicy changed while held: %v", err)
		}
		e.setAllowedClient(t, "bookinfo-details") // fixed: the rollout resumes
		eventually(t, 60*time.Second, "converged after the fix", e.hasPrincipal("bookinfo-details"))
		eventually(t, 30*time.Second, "Programmed", e.wantCondition(kubetest.ExternalServices, "google", "Programmed", "True", "Programmed", "cluster1"))
	})
}
