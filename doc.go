// Package bulk is a GORM v2 plugin that makes bulk creates fast while
// writing exactly the rows, and leaving exactly the structs, that GORM's own
// Create would.
//
// Register it once:
//
//	db.Use(bulk.New())
//
// and ask for the bulk path per call, GORM-style:
//
//	db.Clauses(bulk.Options{}).Create(&rows)
//
// or for every multi-row Create and CreateInBatches:
//
//	db.Use(bulk.New(bulk.Config{Auto: true}))
//
// The bulk path writes the rows in statements sized to the dialect's limits
// (bind parameters, rows per VALUES list, packet size), or streams them with
// PostgreSQL's COPY or MySQL's LOAD DATA LOCAL, all in one transaction, and
// keeps GORM's callbacks for hooks, defaults, associations and
// generated-value read-back.
//
// Loads that do not fit in memory go through Stream and Stream2, which
// write the rows an iterator yields chunk by chunk, with progress
// (OnProgress) and, on request, a commit per chunk (Options.CommitChunks).
//
// On PostgreSQL through pgx's database/sql driver, db.Use wraps the DB's
// *sql.DB in a pool whose transactions keep their connection, so that COPY
// can reach pgx inside GORM's transactions; db.DB() still returns the
// *sql.DB. Open the DB before db.Use, and register the plugin before
// gorm.io/plugin/dbresolver.
//
// Which path a statement took is in its logged SQL; where a faster path
// stepped aside, the plugin says why at the logger's Info level.
package bulk
