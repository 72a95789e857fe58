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
// The bulk path splits the rows into the largest statements the dialect
// accepts (bind-parameter, row and packet limits), runs them in one
// transaction, reuses the prepared statement across chunks, and keeps GORM's
// callbacks for hooks, defaults, associations and generated-value read-back.
package bulk
