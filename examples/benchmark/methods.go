package main

import (
	"context"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"github.com/gormbulk/bulk"
	"github.com/gormbulk/bulk/internal/ceiling"
)

// paramsPerRow is the bind parameters a ceiling.Row takes in an INSERT: all
// its columns but the key, which the database generates.
const paramsPerRow = 8

// oneByOneRows caps the rows GORM's row-at-a-time Create inserts; its rate
// is extrapolated to the full row count.
const oneByOneRows = 5000

// method is one way of writing a scenario's rows, of type T.
type method[T any] struct {
	name     string
	baseline bool     // the reference of the "× CreateInBatches" column
	raw      bool     // a raw driver path; the fastest one is the ceiling
	ids      bool     // reads the generated IDs back into the structs
	sample   int      // inserts at most this many rows, rate extrapolated (0: all)
	dialects []string // the dialects it runs on (none: all)

	// skip returns why the method cannot insert rows rows on b, or "".
	skip func(b *bench, rows int) string

	insert func(ctx context.Context, b *bench, rows []T) error
}

// methods lists the methods of the create scenario in the order they run
// and are reported.
func methods() []method[ceiling.Row] {
	return []method[ceiling.Row]{
		{name: "GORM Create, one row at a time", ids: true, sample: oneByOneRows, insert: createEach},
		{name: "GORM Create(&all)", ids: true, skip: overParamLimit, insert: func(_ context.Context, b *bench, rows []ceiling.Row) error {
			return b.db.Create(&rows).Error
		}},
		{name: "GORM CreateInBatches(1000)", ids: true, baseline: true, insert: func(_ context.Context, b *bench, rows []ceiling.Row) error {
			return b.db.CreateInBatches(&rows, 1000).Error
		}},
		plugin("gormbulk", bulk.Options{}, true),
		plugin("gormbulk statements (unnest)", bulk.Options{Method: bulk.Values}, true, "postgres"),
		plugin("gormbulk SkipReturning", bulk.Options{SkipReturning: true}, false),
		{name: "raw prepared multi-row INSERT", raw: true, insert: raw(ceiling.Insert)},
		{name: "raw pgx CopyFrom", raw: true, dialects: []string{"postgres"}, insert: raw(ceiling.Copy)},
		{name: "raw LOAD DATA LOCAL INFILE", raw: true, dialects: []string{"mysql"}, skip: noLocalInfile, insert: raw(ceiling.LoadData)},
	}
}

// plugin is the gormbulk plugin called with opts; ids tells whether opts
// read generated IDs back. Its automatic choice is COPY on PostgreSQL and
// multi-row statements elsewhere; the statement path is listed apart where
// the two differ.
func plugin(name string, opts bulk.Options, ids bool, dialects ...string) method[ceiling.Row] {
	return method[ceiling.Row]{name: name, ids: ids, dialects: dialects, insert: func(_ context.Context, b *bench, rows []ceiling.Row) error {
		return b.db.Clauses(opts).Create(&rows).Error
	}}
}

// raw is a hand-written loader of internal/ceiling as a method's insert.
func raw[T any](load func(*gorm.DB, []T) error) func(context.Context, *bench, []T) error {
	return func(_ context.Context, b *bench, rows []T) error { return load(b.db, rows) }
}

// appliesTo reports whether m runs on dialect at all.
func (m method[T]) appliesTo(dialect string) bool {
	return len(m.dialects) == 0 || slices.Contains(m.dialects, dialect)
}

// rowsFor is the number of rows m inserts when asked for n.
func (m method[T]) rowsFor(n int) int {
	if m.sample > 0 {
		return min(n, m.sample)
	}
	return n
}

// createEach is GORM's Create called once per row, each in its own
// transaction, as a loop over incoming records would.
func createEach(_ context.Context, b *bench, rows []ceiling.Row) error {
	for i := range rows {
		if err := b.db.Create(&rows[i]).Error; err != nil {
			return err
		}
	}
	return nil
}

// overParamLimit skips a single statement that would carry more bind
// parameters than the dialect allows.
func overParamLimit(b *bench, rows int) string {
	if rows*paramsPerRow > b.maxParams {
		return fmt.Sprintf("skipped: over the %d-parameter limit", b.maxParams)
	}
	return ""
}

// noLocalInfile skips LOAD DATA LOCAL INFILE when the server refuses it.
func noLocalInfile(b *bench, _ int) string {
	if !b.infile {
		return "skipped: the server has local_infile=OFF"
	}
	return ""
}
