package bulk

// Hooks (BeforeSave, BeforeCreate, AfterCreate, AfterSave) run on the bulk
// path exactly as without it: by GORM's own gorm:before_create and
// gorm:after_create callbacks, around the bulk create that replaces
// gorm:create, so they keep GORM's order (every row's Before* hooks, the
// rows written, every row's After* hooks), GORM's association callbacks
// between them, and SkipHooks. What the plugin adds is the transaction they
// share with the chunks when GORM's default transaction is off, so that a
// failing hook or chunk leaves nothing written.

import (
	"errors"

	"gorm.io/gorm"
)

const startedTransaction = "gormbulk:started_transaction"

// beginTransaction makes a bulk create all-or-nothing when GORM's default
// transaction is off: the chunks, and the hooks around them, then share one
// transaction. With the default transaction on, GORM's own begins it, and
// inside a user's transaction Begin reports ErrInvalidTransaction and the
// statement joins that one. DryRun writes nothing and needs none.
func (p *Plugin) beginTransaction(db *gorm.DB) {
	if db.Error != nil || !db.SkipDefaultTransaction || db.DryRun {
		return
	}
	if _, ok := p.bulkOptions(db); !ok {
		return
	}
	tx := db.Begin()
	switch {
	case tx.Error == nil:
		db.Statement.ConnPool = tx.Statement.ConnPool
		db.InstanceSet(startedTransaction, true)
	case !errors.Is(tx.Error, gorm.ErrInvalidTransaction):
		db.AddError(tx.Error)
	}
}

// shownStatement marks a statement whose SQL the bulk path left for the
// callbacks after gorm:create (see writer.go).
const shownStatement = "gormbulk:shown_statement"

// unshow takes out the statement the bulk path showed, which GORM's
// processor would log a second time. It runs after every other callback
// (After("*")), so that those after gorm:create see it.
func unshow(db *gorm.DB) {
	if _, ok := db.InstanceGet(shownStatement); ok {
		db.Statement.SQL.Reset()
		db.Statement.Vars = nil
	}
}

// commitOrRollback ends the transaction beginTransaction started.
func (p *Plugin) commitOrRollback(db *gorm.DB) {
	if _, ok := db.InstanceGet(startedTransaction); !ok {
		return
	}
	if db.Error != nil {
		db.Rollback()
	} else {
		db.Commit()
	}
	db.Statement.ConnPool = db.ConnPool
}
