package bulk

// Hooks (BeforeSave, BeforeCreate, AfterCreate, AfterSave) run on the bulk
// path exactly as without it: by GORM's own gorm:before_create and
// gorm:after_create callbacks, around the bulk create that replaces
// gorm:create, so they keep GORM's order (every row's Before* hooks, the
// rows written, every row's After* hooks), GORM's association callbacks
// between them, and SkipHooks.
//
// Between the hooks, where GORM writes one statement, the bulk path writes
// chunks, and one statement is all-or-nothing where several are not. So
// when the statement runs in no transaction (GORM's default one is off and
// the caller began none), the chunks get one of their own, begun after the
// Before* hooks and ended before the After* hooks, where GORM's statement
// sits: a failing AfterCreate keeps the rows, as it keeps GORM's.

import (
	"errors"

	"gorm.io/gorm"
)

// gormStartedTransaction is the instance key GORM's BeginTransaction sets
// on a statement it began its default transaction for.
const gormStartedTransaction = "gorm:started_transaction"

// inTransaction runs write in the statement's transaction: GORM's default
// one or the caller's, or else, where write may write several statements
// (chunks), one begun for it and ended when write returns. A panic in write (a Valuer the plugin values, a serializer)
// rolls back a transaction begun for this statement, by GORM or here, so
// its connection goes back to the pool, and panics on. The rollback runs
// apart: a panic inside a database/sql call (a Valuer the driver values)
// leaves the transaction's lock held, as it does under GORM's own INSERT,
// and a rollback waiting for it must not hold up the panic. DryRun writes
// nothing and needs no transaction.
func inTransaction(db *gorm.DB, chunks bool, write func()) {
	stmt := db.Statement
	pool := stmt.ConnPool
	_, begun := db.InstanceGet(gormStartedTransaction)
	own := false
	if chunks && db.Config.SkipDefaultTransaction && !db.DryRun {
		switch tx := db.Begin(); {
		case tx.Error == nil:
			stmt.ConnPool, own, begun = tx.Statement.ConnPool, true, true
		case !errors.Is(tx.Error, gorm.ErrInvalidTransaction):
			db.AddError(tx.Error)
			return
		}
	}
	defer func() {
		if r := recover(); r != nil {
			if committer, ok := stmt.ConnPool.(gorm.TxCommitter); ok && begun {
				go committer.Rollback() // the panic is what the caller gets
			}
			stmt.ConnPool = pool
			panic(r)
		}
	}()
	write()
	if !own {
		return
	}
	committer := stmt.ConnPool.(gorm.TxCommitter)
	if db.Error != nil {
		_ = committer.Rollback()
	} else {
		db.AddError(committer.Commit())
	}
	stmt.ConnPool = pool
}
