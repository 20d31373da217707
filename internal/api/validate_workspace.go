package api

import (
	"fmt"
	"regexp"
	"strings"
)

// namePattern is a cluster, namespace or workspace name in which * stands for any run of characters.
var namePattern = regexp.MustCompile(`^[a-z0-9*]([-a-z0-9*.]*[a-z0-9*])?$`)

func (v *validator) namePattern(path, s, what string) {
	if s == "" {
		return
	}
	if len(s) > 253 || !namePattern.MatchString(s) {
		v.errorf(path, "%q is not a %s name or pattern (lower-case letters, digits, '-', '.', and * for any characters)", s, what)
	}
}

func (v *validator) workspace(o *Workspace) {
	if len(o.Spec.WorkloadClusters) == 0 {
		v.warnf("spec.workloadClusters", "lists no cluster: the workspace is empty, so nothing is in it")
	}
	for i, c := range o.Spec.WorkloadClusters {
		p := fmt.Sprintf("spec.workloadClusters[%d]", i)
		switch {
		case len(c.Selector) > 0:
			v.warnf(p+".selector", "egret has no KubernetesCluster objects to match cluster labels against, so this entry selects no cluster; name the clusters instead (name: '*' for every cluster)")
		case c.Name == "":
			v.errorf(p+".name", "required: name the clusters (name: '*' for every cluster)")
		}
		if !strings.Contains(c.Name, "*") && c.Name != "" {
			v.cluster(p+".name", c.Name)
		} else {
			v.namePattern(p+".name", c.Name, "cluster")
		}
		if len(c.Namespaces) == 0 {
			v.warnf(p+".namespaces", "lists no namespace, so this entry adds nothing to the workspace; list them (name: '*' for every namespace)")
		}
		for j, n := range c.Namespaces {
			np := fmt.Sprintf("%s.namespaces[%d]", p, j)
			switch {
			case len(n.Labels) > 0:
				v.warnf(np+".labels", "egret has no Namespace objects to match labels against, so this entry selects no namespace; name the namespaces instead")
			case n.Name == "":
				v.errorf(np+".name", "required: name the namespaces (name: '*' for every namespace)")
			}
			v.namePattern(np+".name", n.Name, "namespace")
		}
	}
}

func (v *validator) workspaceSettings(o *WorkspaceSettings) {
	for _, share := range []struct {
		field   string
		entries []WorkspaceShare
	}{{"spec.importFrom", o.Spec.ImportFrom}, {"spec.exportTo", o.Spec.ExportTo}} {
		for i, e := range share.entries {
			p := fmt.Sprintf("%s[%d]", share.field, i)
			if len(e.Workspaces) == 0 {
				v.warnf(p+".workspaces", "names no workspace, so this entry shares nothing (name: '*' means every workspace)")
			}
			for j, w := range e.Workspaces {
				wp := fmt.Sprintf("%s.workspaces[%d]", p, j)
				switch {
				case w.Name != "" && len(w.Selector) > 0:
					v.errorf(wp, "set name or selector, not both")
				case w.Name == "" && len(w.Selector) == 0:
					v.errorf(wp, "required: a workspace name (* patterns allowed) or a label selector")
				}
				v.namePattern(wp+".name", w.Name, "workspace")
				for k := range w.Selector {
					if msg := checkLabelKey(k); msg != "" {
						v.errorf(wp+".selector."+k, "%s", msg)
					}
				}
			}
			for j, r := range e.Resources {
				rp := fmt.Sprintf("%s.resources[%d]", p, j)
				if r.Namespace != "" {
					if msg := checkDNSLabel(r.Namespace); msg != "" {
						v.errorf(rp+".namespace", "%s", msg)
					}
				}
				if r.Cluster != "" {
					v.cluster(rp+".cluster", r.Cluster)
				}
			}
		}
	}
	opt := o.Spec.Options
	if opt == nil {
		return
	}
	// None of the options can widen what a workload reaches through egret, so each is accepted with a
	// warning that says what egret does instead.
	if si := opt.ServiceIsolation; si != nil {
		if si.Enabled {
			v.warnf("spec.options.serviceIsolation", "egret always enforces workspace visibility of ExternalServices, at sidecars and gateways; isolating in-mesh services from each other is not egret's job")
		}
		if si.TrimProxyConfig != nil && *si.TrimProxyConfig {
			v.warnf("spec.options.serviceIsolation.trimProxyConfig", "not acted on: sidecars receive the whole registry (they need it to refuse hidden hosts) and decide visibility per call")
		}
	}
	if opt.Federation != nil && opt.Federation.Enabled {
		v.warnf("spec.options.federation", "not acted on: egret does not federate in-mesh services across clusters")
	}
	if len(opt.EastWestGateways) > 0 {
		v.warnf("spec.options.eastWestGateways", "not acted on: egret has no east-west gateways")
	}
	if opt.VirtualDestClientMode != nil {
		v.warnf("spec.options.virtualDestClientMode", "not acted on: egret has no VirtualDestinations")
	}
	if opt.TrimAllProxyConfig != nil && *opt.TrimAllProxyConfig {
		v.warnf("spec.options.trimAllProxyConfig", "not acted on: sidecars receive the whole registry and decide visibility per call")
	}
}

// workspaceRules checks what WorkspaceSettings say about the Workspaces of the snapshot.
func (v *validator) workspaceRules(s *Snapshot) {
	names := map[string]bool{}
	for _, w := range s.Workspaces {
		names[w.Metadata.Name] = true
	}
	for _, ws := range s.WorkspaceSettings {
		v.obj = ws
		if len(s.Workspaces) == 0 {
			v.warnf("metadata", "no Workspace is defined, so egret runs as one tenant and these settings have no effect")
			continue
		}
		for _, share := range []struct {
			field   string
			entries []WorkspaceShare
		}{{"spec.importFrom", ws.Spec.ImportFrom}, {"spec.exportTo", ws.Spec.ExportTo}} {
			for i, e := range share.entries {
				for j, w := range e.Workspaces {
					if w.Name != "" && !strings.Contains(w.Name, "*") && !names[w.Name] {
						v.warnf(fmt.Sprintf("%s[%d].workspaces[%d].name", share.field, i, j), "no Workspace is named %q", w.Name)
					}
				}
			}
		}
	}
}
