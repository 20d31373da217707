package file

// Stamp is the directory's Fingerprint: the control plane polls it to learn when to load again, and
// compares it before and after a load to drop one that raced a write.
func (d *Dir) Stamp() string { return Fingerprint(d.path) }
