package ir

// OrderKeys are sort keys of a plan's services, route tables and policies, by id: sorting the ids by
// (key bytewise, then id) gives the plan's order. A key is a function of where the object is defined
// (translate computes it from its source file), not of the plan's history, so two control planes on
// one directory compute the same keys whatever edits each has seen, and an object added to a file of
// its own, or in id order within a file, leaves every other key alone.
type OrderKeys struct {
	Services    map[string][]byte
	RouteTables map[string][]byte
	Policies    map[string][]byte
}
