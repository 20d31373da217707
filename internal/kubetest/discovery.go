package kubetest

import (
	"os"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func memCache(s *APIServer) discovery.CachedDiscoveryInterface {
	return memory.NewMemCacheClient(s.Discovery())
}

func readFile(p string) ([]byte, error) { return os.ReadFile(p) }
