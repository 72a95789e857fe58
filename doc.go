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
// (bind parameters, rows per VALUES list, packet size), or on PostgreSQL
// streams them with COPY, all in one transaction, and keeps GORM's callbacks
// for hooks, defaults, associations and generated-value read-back.
package bulk
