package install

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"egret.dev/egret/internal/api"
)

// TestSourceKindsAreTheKindsEgretDecodes: every kind internal/api decodes has an RBAC entry, under the
// apiVersion the decoder accepts for it, and nothing else does.
func TestSourceKindsAreTheKindsEgretDecodes(t *testing.T) {
	var kinds []string
	for _, k := range SourceKinds {
		kinds = append(kinds, k.Kind)
		t.Run(k.Kind, func(t *testing.T) {
			doc := fmt.Sprintf("apiVersion: %s/%s\nkind: %s\nmetadata: {name: probe, namespace: default}\n", k.Group, k.Version, k.Kind)
			objs, problems := api.Decode("probe.yaml", []byte(doc))
			if len(objs) != 1 {
				t.Fatalf("egret does not decode %s/%s %s: %v", k.Group, k.Version, k.Kind, problems)
			}
			// The CRDs' plurals: lowercase kind + "s", with three exceptions (the CRD contract).
			want := map[string]string{"Mesh": "meshes", "AccessPolicy": "accesspolicies", "WorkspaceSettings": "workspacesettings"}[k.Kind]
			if want == "" {
				want = strings.ToLower(k.Kind) + "s"
			}
			if k.Plural != want {
				t.Errorf("plural %q, want %q", k.Plural, want)
			}
		})
	}
	slices.Sort(kinds)
	if known := api.KnownKinds(); !slices.Equal(kinds, known) {
		t.Errorf("SourceKinds has %v, internal/api decodes %v", kinds, known)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"a namespace that is not a DNS label", Options{Namespace: "Egret_System"}, `namespace "Egret_System"`},
		{"a release name that is not a DNS label", Options{Name: "egret.prod"}, `name "egret.prod"`},
		{"a local cluster name with an underscore", Options{LocalCluster: "mgmt_1"}, `local cluster "mgmt_1"`},
		{"negative replicas", Options{Replicas: -1}, "replicas -1"},
		{"an unknown pull policy", Options{PullPolicy: "Sometimes"}, `pull policy "Sometimes"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Manifests(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error naming %s, got %v", c.want, err)
			}
			if _, err := WorkloadClusterManifests(c.o); err == nil {
				t.Fatal("the workload-cluster manifests took the same options")
			}
			if err := c.o.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: want an error naming %s, got %v", c.want, err)
			}
		})
	}
}

// TestDryRunPrintsTheNamespaceThenTheCRDsThenTheController: what `egret install --dry-run` prints, in
// the order `helm template --include-crds` renders it; a workload cluster gets RBAC only.
func TestDryRunPrintsTheNamespaceThenTheCRDsThenTheController(t *testing.T) {
	for _, c := range []struct {
		name            string
		workloadCluster bool
		wantKinds       []string // the first kinds, in order
		wantNoCRD       bool
	}{
		{"the management cluster", false, []string{"Namespace", "CustomResourceDefinition"}, false},
		{"a workload cluster", true, []string{"Namespace", "ServiceAccount"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := DryRun(Options{CreateNamespace: true}, c.workloadCluster, "yaml")
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, l := range strings.Split(string(b), "\n") {
				if k, ok := strings.CutPrefix(l, "kind: "); ok {
					kinds = append(kinds, k)
				}
			}
			if len(kinds) < len(c.wantKinds) || !slices.Equal(kinds[:len(c.wantKinds)], c.wantKinds) {
				t.Fatalf("kinds %v, want them to start with %v", kinds, c.wantKinds)
			}
			if got := slices.Contains(kinds, "CustomResourceDefinition"); got == c.wantNoCRD {
				t.Errorf("CRDs printed: %v, want %v", got, !c.wantNoCRD)
			}
			if !c.workloadCluster && kinds[len(kinds)-1] != "PodDisruptionBudget" {
				t.Errorf("the last object is a %s, want the PodDisruptionBudget", kinds[len(kinds)-1])
			}
		})
	}
	if _, err := DryRun(Options{Name: "Bad_Name"}, false, "json"); err == nil || !strings.Contains(err.Error(), `name "Bad_Name"`) {
		t.Errorf("a bad name: got %v", err)
	}
}

func TestDeploymentRunsTheContractsController(t *testing.T) {
	for _, c := range []struct {
		name     string
		o        Options
		wantArgs string
	}{
		{"defaults", Options{}, "controlplane --source kubernetes --namespace egret-system --leader-elect --admin 0.0.0.0:15014"},
		{"a local cluster", Options{Namespace: "ops", LocalCluster: "mgmt"}, "controlplane --source kubernetes --namespace ops --leader-elect --admin 0.0.0.0:15014 --local-cluster mgmt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs, err := Manifests(c.o)
			if err != nil {
				t.Fatal(err)
			}
			var dep *appsv1.Deployment
			for _, o := range objs {
				if d, ok := o.(*appsv1.Deployment); ok {
					dep = d
				}
			}
			if dep == nil {
				t.Fatal("no Deployment")
			}
			ctr := dep.Spec.Template.Spec.Containers[0]
			if got := strings.Join(ctr.Args, " "); got != c.wantArgs {
				t.Errorf("args %q, want %q", got, c.wantArgs)
			}
			if *dep.Spec.Replicas != DefaultReplicas {
				t.Errorf("replicas %d, want %d", *dep.Spec.Replicas, DefaultReplicas)
			}
			if ctr.Image != "ghcr.io/egret-dev/egret:0.1.0" {
				t.Errorf("image %q", ctr.Image)
			}
			sc := ctr.SecurityContext
			if !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
				t.Errorf("container security context too weak: %+v", sc)
			}
			for _, o := range objs {
				if o.GetLabels()["app.kubernetes.io/managed-by"] == "egret" {
					t.Errorf("%T %s carries managed-by=egret: the controller would garbage-collect itself", o, o.GetName())
				}
			}
		})
	}
}

func TestLocalClusterAddsOnlyTheWorkloadBinding(t *testing.T) {
	without, err := Manifests(Options{})
	if err != nil {
		t.Fatal(err)
	}
	with, err := Manifests(Options{LocalCluster: "mgmt"})
	if err != nil {
		t.Fatal(err)
	}
	names := func(objs []Object) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.GetObjectKind().GroupVersionKind().Kind+"/"+o.GetName())
		}
		return out
	}
	extra := slices.DeleteFunc(names(with), func(n string) bool { return slices.Contains(names(without), n) })
	if !slices.Equal(extra, []string{"ClusterRoleBinding/egret-workload"}) {
		t.Errorf("--local-cluster added %v, want only the workload ClusterRoleBinding", extra)
	}
}
