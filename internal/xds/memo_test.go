package xds

import (
	"reflect"
	"slices"
	"testing"

	"egret.dev/egret/internal/ir"
)

// routesEqual compares ir.Route field by field: a field added to ir.Route must be added there too.
func TestRoutesEqualComparesEveryField(t *testing.T) {
	var fields []string
	rt := reflect.TypeFor[ir.Route]()
	for i := range rt.NumField() {
		fields = append(fields, rt.Field(i).Name)
	}
	if want := []string{"Host", "PortMatch", "ServiceID", "Port", "Targets"}; !slices.Equal(fields, want) {
		t.Errorf("ir.Route has fields %v; routesEqual compares %v: compare the new ones too", fields, want)
	}
	if !reflect.TypeFor[ir.GatewayTarget]().Comparable() {
		t.Error("ir.GatewayTarget is no longer comparable; routesEqual compares targets with ==")
	}
}
