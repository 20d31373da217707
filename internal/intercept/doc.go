// Package intercept installs and removes the nftables rules that send a workload's outbound TCP to the
// sidecar (transparent mode) and recovers each redirected connection's original destination.
package intercept
