package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"egret.dev/egret/internal/api"
)

// Condition types and reasons on every source object (docs/kubernetes.md, "Controller").
const (
	CondAccepted   = "Accepted"
	CondProgrammed = "Programmed"

	ReasonAccepted    = "Accepted"
	ReasonInvalid     = "Invalid"
	ReasonProgrammed  = "Programmed"
	ReasonApplyFailed = "ApplyFailed"
	ReasonPending     = "Pending"
)

// objectStatus is the status the controller writes; other fields of status are left alone.
type objectStatus struct {
	ObservedGeneration int64              `json:"observedGeneration"`
	Conditions         []metav1.Condition `json:"conditions"`
	Clusters           []clusterStatus    `json:"clusters"`
}

type clusterStatus struct {
	Name               string             `json:"name"`
	ObservedGeneration int64              `json:"observedGeneration"`
	Conditions         []metav1.Condition `json:"conditions"`
}

// passOutcome is what one pass did, as every object's status reports it.
type passOutcome struct {
	clusters []string
	results  []clusterResult
	blocking []string
}

// writeStatus updates the object's status when it differs from what the pass found (so a pass that
// changes nothing writes nothing), and records an event when the object became, or stays but
// differently, invalid.
func (r *reconciler) writeStatus(ctx context.Context, e *entry, st passOutcome) error {
	u := e.obj.Live
	var old objectStatus
	if raw, ok := u.Object["status"]; ok {
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &old) // a status someone else wrote in another shape is replaced
	}
	gen := e.obj.Generation
	next := objectStatus{ObservedGeneration: gen, Conditions: slices.Clone(old.Conditions)}

	accepted := metav1.Condition{Type: CondAccepted, Status: metav1.ConditionTrue, Reason: ReasonAccepted, ObservedGeneration: gen,
		Message: problemText(e, api.SeverityWarning)}
	if e.invalid {
		msg := problemText(e, api.SeverityError)
		switch {
		case e.fallback != nil:
			msg += fmt.Sprintf(" (its last valid version, generation %d, stays applied)", e.fallback.Generation)
		case e.unheld:
			msg += " (never seen valid by this controller, and leaving it out could widen access: nothing is applied to any workload cluster until it is fixed or deleted)"
		default:
			msg += " (left out: nothing of it is applied)"
		}
		accepted = metav1.Condition{Type: CondAccepted, Status: metav1.ConditionFalse, Reason: ReasonInvalid, ObservedGeneration: gen, Message: msg}
	}
	programmed := r.programmed(e, st)
	programmed.ObservedGeneration = gen
	meta.SetStatusCondition(&next.Conditions, accepted)
	meta.SetStatusCondition(&next.Conditions, programmed)

	oldClusters := map[string]clusterStatus{}
	for _, c := range old.Clusters {
		oldClusters[c.Name] = c
	}
	for _, name := range st.clusters {
		cs := clusterStatus{Name: name, ObservedGeneration: gen, Conditions: slices.Clone(oldClusters[name].Conditions)}
		meta.SetStatusCondition(&cs.Conditions, r.clusterProgrammed(e, st, name, gen))
		next.Clusters = append(next.Clusters, cs)
	}
	if next.Clusters == nil {
		next.Clusters = []clusterStatus{}
	}

	if equality.Semantic.DeepEqual(normalize(old), normalize(next)) {
		return nil
	}
	body, err := json.Marshal(map[string]any{"status": next})
	if err != nil {
		return err
	}
	if err := r.mgmt.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("status of %s: %w", e.obj.Ref, err)
	}
	if r.onWrite != nil {
		r.onWrite("", "status", e.obj.Ref)
	}
	if e.invalid {
		prev := meta.FindStatusCondition(old.Conditions, CondAccepted)
		if prev == nil || prev.Status != metav1.ConditionFalse || prev.Message != accepted.Message {
			r.recorder.Eventf(u, nil, "Warning", ReasonInvalid, "Validate", "%s", truncate(accepted.Message, 1000))
		}
	}
	return nil
}

func (r *reconciler) programmed(e *entry, st passOutcome) metav1.Condition {
	switch {
	case len(st.blocking) > 0:
		return metav1.Condition{Type: CondProgrammed, Status: metav1.ConditionFalse, Reason: ReasonPending,
			Message: "nothing is applied while these objects are invalid and were never seen valid: " + strings.Join(st.blocking, ", ")}
	case e.invalid && e.fallback == nil:
		return metav1.Condition{Type: CondProgrammed, Status: metav1.ConditionFalse, Reason: ReasonPending, Message: "invalid: not applied"}
	case len(st.clusters) == 0:
		return metav1.Condition{Type: CondProgrammed, Status: metav1.ConditionFalse, Reason: ReasonPending,
			Message: fmt.Sprintf("no workload cluster: add a Secret labelled %s=true in namespace %s, or run with --local-cluster", WorkloadClusterLabel, r.namespace)}
	}
	var failed []string
	for _, cr := range st.results {
		if cr.err != nil {
			failed = append(failed, cr.name+": "+cr.err.Error())
		}
	}
	if len(failed) > 0 {
		return metav1.Condition{Type: CondProgrammed, Status: metav1.ConditionFalse, Reason: ReasonApplyFailed, Message: truncate(strings.Join(failed, "; "), 2000)}
	}
	msg := "applied to " + strings.Join(st.clusters, ", ")
	if e.fallback != nil {
		msg = fmt.Sprintf("generation %d (the last valid version) is applied to %s; the current generation is invalid", e.fallback.Generation, strings.Join(st.clusters, ", "))
		return metav1.Condition{Type: CondProgrammed, Status: metav1.ConditionFalse, Reason: ReasonPending, Message: msg}
	}
	return metav1.Condition{Type: CondProgrammed, Status: metav1.ConditionTrue, Reason: ReasonProgrammed, Message: msg}
}

func (r *reconciler) clusterProgrammed(e *entry, st passOutcome, name string, gen int64) metav1.Condition {
	c := metav1.Condition{Type: CondProgrammed, Status: metav1.ConditionTrue, Reason: ReasonProgrammed, ObservedGeneration: gen, Message: "applied"}
	switch {
	case len(st.blocking) > 0:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonPending, "rollout held (see the Programmed condition)"
	case e.invalid:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonPending, "the current generation is invalid"
	}
	for _, cr := range st.results {
		if cr.name == name && cr.err != nil {
			c.Status, c.Reason, c.Message = metav1.ConditionFalse, ReasonApplyFailed, truncate(cr.err.Error(), 2000)
		}
	}
	return c
}

// normalize drops what a round trip through the API server changes (sub-second condition times).
func normalize(s objectStatus) objectStatus {
	b, _ := json.Marshal(s)
	var out objectStatus
	_ = json.Unmarshal(b, &out)
	if out.Clusters == nil {
		out.Clusters = []clusterStatus{}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
