package accesslog

// HeaderGatewayDenied marks a gateway's own policy denial (403): its value is the deciding policy, or
// "none". The gateway sets it only on the answers it writes itself and removes it from every upstream
// answer it relays, so a sidecar that reads it on its verified connection to the gateway knows the
// gateway refused the call (and logs a deny naming the gateway), not that the host answered 403. The
// sidecar removes it before answering the workload: policy names are not told to callers.
const HeaderGatewayDenied = "X-Egret-Denied"

// Who denied a call, in the denied_by field.
const (
	DeniedByGateway = ComponentGateway
	DeniedBySidecar = ComponentSidecar
)

// deniedBy is the denied_by value of e: the component that denied the call, empty when it was not denied.
func (e *Entry) deniedBy() string {
	switch {
	case e.DeniedBy != "":
		return e.DeniedBy
	case e.Decision == DecisionDeny:
		return e.Component
	}
	return ""
}
