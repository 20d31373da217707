package install

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	ininstall "egret.dev/egret/internal/install"
)

var update = flag.Bool("update", false, "rewrite deploy/workload-cluster-rbac.yaml from `egret install --dry-run --workload-cluster`")

// settings are the same install expressed as helm template arguments and as egret install flags.
type settings struct {
	name      string
	helmArgs  []string
	egretArgs []string
}

var sameSettings = []settings{
	{
		name:      "default values",
		helmArgs:  []string{"egret", "-n", "egret-system"},
		egretArgs: nil,
	},
	{
		name:      "local cluster set",
		helmArgs:  []string{"egret", "-n", "egret-system", "--set", "localCluster=mgmt"},
		egretArgs: []string{"--local-cluster", "mgmt"},
	},
	{
		name: "another release, namespace, image and replica count",
		helmArgs: []string{"edge", "-n", "platform", "--set",
			"image.hub=registry.example/mesh,image.tag=1.2.3,image.pullPolicy=Always,replicas=3,localCluster=hub-1"},
		egretArgs: []string{"--name", "edge", "-n", "platform", "--hub", "registry.example/mesh", "--tag", "1.2.3",
			"--pull-policy", "Always", "--replicas", "3", "--local-cluster", "hub-1"},
	},
}

// TestHelmTemplateEqualsEgretInstall renders the chart with helm and prints `egret install --dry-run`
// with the same settings, and compares the parsed objects one by one (CRDs included once the crds are
// in the chart: helm's --include-crds against egret's installCRDs).
func TestHelmTemplateEqualsEgretInstall(t *testing.T) {
	for _, s := range sameSettings {
		t.Run(s.name, func(t *testing.T) {
			fromHelm := byID(t, "helm template", decode(t, "helm template",
				helm(t, append([]string{"template"}, append(s.helmArgs, chartDir, "--include-crds")...)...)))
			fromEgret := byID(t, "egret install", decode(t, "egret install",
				egretInstall(t, append(s.egretArgs, "--create-namespace=false")...)))
			if h, e := sortedKeys(fromHelm), sortedKeys(fromEgret); !slices.Equal(h, e) {
				t.Fatalf("different objects:\n%s", cmp.Diff(h, e))
			}
			for id, h := range fromHelm {
				if d := cmp.Diff(h.Object, fromEgret[id].Object); d != "" {
					t.Errorf("%s differs (-helm +egret):\n%s", id, d)
				}
			}
		})
	}
}

// TestEgretInstallAddsOnlyTheNamespaceByDefault: without --create-namespace=false the output is the
// chart's objects plus the Namespace, first, enforcing the restricted Pod Security Standard.
func TestEgretInstallAddsOnlyTheNamespaceByDefault(t *testing.T) {
	with := decode(t, "egret install", egretInstall(t))
	without := decode(t, "egret install --create-namespace=false", egretInstall(t, "--create-namespace=false"))
	if len(with) != len(without)+1 {
		t.Fatalf("%d objects with the namespace, %d without", len(with), len(without))
	}
	ns := with[0]
	if ns.GetKind() != "Namespace" || ns.GetName() != ininstall.DefaultNamespace {
		t.Fatalf("first object is %s, want Namespace %s", objectID(ns), ininstall.DefaultNamespace)
	}
	if got := ns.GetLabels()["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("namespace enforces %q, want restricted", got)
	}
}

// TestChartDefaultsAreEgretInstallDefaults reads values.yaml and Chart.yaml, so a default changed in
// one place and not the other fails here even before helm is built.
func TestChartDefaultsAreEgretInstallDefaults(t *testing.T) {
	var values struct {
		Image struct {
			Hub, Tag, PullPolicy string
		}
		Replicas     int32
		LocalCluster string `json:"localCluster"`
	}
	readYAML(t, filepath.Join(chartDir, "values.yaml"), &values)
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	readYAML(t, filepath.Join(chartDir, "Chart.yaml"), &chart)
	for _, c := range []struct{ what, chart, egret any }{
		{"image.hub", values.Image.Hub, ininstall.DefaultHub},
		{"appVersion (image.tag default)", chart.AppVersion, ininstall.DefaultTag},
		{"image.pullPolicy", values.Image.PullPolicy, "IfNotPresent"},
		{"replicas", values.Replicas, int32(ininstall.DefaultReplicas)},
		{"localCluster", values.LocalCluster, ""},
	} {
		if c.chart != c.egret {
			t.Errorf("%s: chart %v, egret install %v", c.what, c.chart, c.egret)
		}
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestHelmLint lints the chart with its defaults and with localCluster set, strictly.
func TestHelmLint(t *testing.T) {
	for _, s := range []struct {
		name string
		args []string
	}{
		{"default values", nil},
		{"local cluster set", []string{"--set", "localCluster=mgmt"}},
	} {
		t.Run(s.name, func(t *testing.T) {
			helm(t, append([]string{"lint", "--strict", chartDir}, s.args...)...)
		})
	}
}

// TestWorkloadClusterRBACFileIsCurrent: deploy/workload-cluster-rbac.yaml is what
// `egret install --dry-run --workload-cluster` prints (regenerate with -update).
func TestWorkloadClusterRBACFileIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "workload-cluster-rbac.yaml")
	header := []byte("# Apply in each workload cluster (kubectl --context CLUSTER apply -f deploy/workload-cluster-rbac.yaml):\n" +
		"# the rights egret's controller needs there, for the ServiceAccount whose token goes into the\n" +
		"# management cluster's workload-cluster Secret (docs/kubernetes.md). Generated by\n" +
		"# `egret install --dry-run --workload-cluster`; regenerate with `go test ./test/install -update`.\n")
	want := append(header, egretInstall(t, "--workload-cluster")...)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s is stale (go test ./test/install -update):\n%s", path, d)
	}
}
