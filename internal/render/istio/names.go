package istio

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels and annotations every rendered object carries, naming the egret resource it came from.
const (
	LabelOwnerKind      = "egret.dev/owner-kind"
	LabelOwnerNamespace = "egret.dev/owner-namespace"
	LabelOwnerName      = "egret.dev/owner-name"
	LabelCluster        = "egret.dev/cluster"
	AnnotationPlan      = "egret.dev/plan-version"
	// AnnotationDryRun is Istio's: an AuthorizationPolicy carrying it is evaluated and logged, never enforced.
	AnnotationDryRun = "istio.io/dry-run"
)

// maxName is the longest name every kind rendered here accepts (a DNS-1123 label: Services, and the
// Gateway names that end up in Envoy's stat names).
const maxName = 63

// objectName joins parts with "-", lower-cased and with characters outside DNS-1123 replaced; a name
// over 63 characters keeps its first 52 and gets "-" and 10 hex digits of the full name's hash, so two
// long names never collide and the same input always gives the same name.
func objectName(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i > 0 && b.Len() > 0 {
			b.WriteByte('-')
		}
		for _, c := range strings.ToLower(p) {
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
				b.WriteRune(c)
			case c == '*':
				b.WriteString("wildcard")
			default:
				b.WriteByte('-')
			}
		}
	}
	name := b.String()
	for strings.Contains(name, "--") {
		name = strings.ReplaceAll(name, "--", "-")
	}
	name = strings.Trim(name, "-")
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:maxName-11], "-") + "-" + hex.EncodeToString(sum[:])[:10]
}

// owner is the egret resource an object comes from.
type owner struct{ kind, namespace, name string }

func ownerOf(kind, id string) owner {
	ns, name, _ := strings.Cut(id, "/")
	name, _, _ = strings.Cut(name, "@")
	return owner{kind, ns, name}
}

func (r *renderer) meta(name, namespace string, o owner) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: namespace,
		Labels: map[string]string{
			LabelOwnerKind:      o.kind,
			LabelOwnerNamespace: o.namespace,
			LabelOwnerName:      o.name,
			LabelCluster:        r.cluster,
		},
		Annotations: map[string]string{AnnotationPlan: r.version},
	}
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}
