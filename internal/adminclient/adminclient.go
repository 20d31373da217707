// Package adminclient reads what a running control plane serves on its admin address: its status
// (proxies, resources, last load) and its translated plan.
package adminclient

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"egret.dev/egret/internal/controlplane"
	"egret.dev/egret/internal/ir"
)

var client = &http.Client{Timeout: 10 * time.Second}

// Status reads /status from the control plane whose admin address is admin.
func Status(admin string) (*controlplane.Status, error) {
	resp, err := client.Get("http://" + admin + "/status")
	if err != nil {
		return nil, fmt.Errorf("control plane at %s: %w", admin, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("control plane at %s answered %s", admin, resp.Status)
	}
	var st controlplane.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("control plane at %s: %w", admin, err)
	}
	return &st, nil
}

// Plan reads /plan from the control plane whose admin address is admin, compiled for decisions.
func Plan(admin string) (*ir.Plan, error) {
	resp, err := client.Get("http://" + admin + "/plan")
	if err != nil {
		return nil, fmt.Errorf("control plane at %s: %w", admin, err)
	}
	defer resp.Body.Close()
	var plan ir.Plan
	if err := json.NewDecoder(resp.Body).Decode(&plan); err != nil {
		return nil, fmt.Errorf("control plane at %s: %w", admin, err)
	}
	return plan.Compile(), nil
}
