package api

// Validate checks every object of the snapshot, alone and against the others, and returns every problem
// found. Objects with an error-severity problem must not be translated.
func Validate(s *Snapshot) []Problem {
	return nil // TODO(core): field rules and cross-references
}
