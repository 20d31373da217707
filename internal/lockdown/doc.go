// Package lockdown gives a standalone workload its own network namespace, linked to the host by a veth,
// whose nftables rules let nothing out but what goes to the workload's own sidecar; it also finds and
// removes what a crashed run left behind, and runs commands inside a workload's namespace.
package lockdown
