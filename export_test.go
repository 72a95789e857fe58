package bulk

// SetUnnestMinRows sets the fewest rows a call writes as arrays until the
// returned func restores it, for tests that run arrays on a few rows.
func SetUnnestMinRows(n int) (restore func()) {
	old := unnestMinRows
	unnestMinRows = n
	return func() { unnestMinRows = old }
}
