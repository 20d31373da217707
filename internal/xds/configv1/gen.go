// Package configv1 holds egret's xDS resource types, egret.config.v1.*, generated from config.proto.
package configv1

//go:generate ../../../scripts/gen-proto.sh
