package bulk

import (
	"time"

	"gorm.io/gorm"
)

// SetCatalogMinRows sets the fewest rows of a call for which the plugin
// reads the catalog (and the fewest values for which PostgreSQL's
// statements take arrays) until the returned func restores them, for tests
// that run arrays and rowid keys on a few rows.
func SetCatalogMinRows(n int) (restore func()) {
	rows, values := catalogMinRows, arraysMinValues
	catalogMinRows, arraysMinValues = n, n
	return func() { catalogMinRows, arraysMinValues = rows, values }
}

// SetUpsertCopyMinRows sets the fewest rows the automatic choice writes
// an upsert with by COPY, straight or staged, or loads it staged, and
// returns a function that restores them.
func SetUpsertCopyMinRows(n int) (restore func()) {
	direct, staged, loaded := upsertCopyMinRows, stagingMinRows, loadStagingMinRows
	upsertCopyMinRows, stagingMinRows, loadStagingMinRows = n, n, n
	return func() { upsertCopyMinRows, stagingMinRows, loadStagingMinRows = direct, staged, loaded }
}

// PostgresCompatible is postgresCompatible, for its table of versions.
var PostgresCompatible = postgresCompatible

// FieldPlans counts the cached field plans.
func FieldPlans() int {
	n := 0
	plans.Range(func(any, any) bool { n++; return true })
	return n
}

// SetProgressEvery sets how often a long COPY reports its progress until
// the returned func restores it.
func SetProgressEvery(d time.Duration) (restore func()) {
	old := progressEvery
	progressEvery = d
	return func() { progressEvery = old }
}

// SetAutoincLockMode makes the plugin on db take innodb_autoinc_lock_mode
// as mode, which the server only sets at startup.
func SetAutoincLockMode(db *gorm.DB, mode int64) {
	p := db.Config.Plugins[pluginName].(*Plugin)
	if r, ok := p.dbs.Load(db.Config); ok {
		if l := r.(*registration).dialect.mysql.get().load; l != nil {
			l.lockMode = mode
		}
	}
}

// LoadWarnings is loadWarnings, for the test of what it reads.
var LoadWarnings = loadWarnings
