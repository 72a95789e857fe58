package bulk

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
