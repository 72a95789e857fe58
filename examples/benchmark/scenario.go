package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/gormbulk/bulk"
	"github.com/gormbulk/bulk/internal/ceiling"
)

// scenario is what a run writes: its tables, its rows (of type T), the
// methods that write them, how a run starts and how its result is checked.
type scenario[T any] struct {
	// rows says what one row is, in the report.
	rows    string
	models  []any // the tables, created before the first run and dropped after the last
	methods []method[T]
	make    func(n int) []T // the rows every run writes a copy of
	// clone gives a run its own copy of the rows, down to what a method
	// writes into (keys, foreign keys).
	clone func([]T) []T
	// reset readies the tables for a run of n rows, untimed.
	reset func(b *bench, n int) error
	// verify checks the tables after rows were written, and where ids,
	// that the structs hold the keys the tables gave them.
	verify func(b *bench, ids bool, rows []T) error
}

// scenarioNames are the scenarios -scenario takes.
var scenarioNames = []string{"create", "upsert", "associations"}

// runNamed runs the scenario named by -scenario.
func runNamed(ctx context.Context, b *bench, o options) error {
	switch o.scenario {
	case "create":
		return runScenario(ctx, b, o, createScenario())
	case "upsert":
		return runScenario(ctx, b, o, upsertScenario())
	case "associations":
		return runScenario(ctx, b, o, associationsScenario())
	}
	return fmt.Errorf("unknown -scenario %q (want one of %v)", o.scenario, scenarioNames)
}

// createScenario inserts new rows into an emptied table, with every way
// there is: GORM's, the plugin's and the raw drivers'.
func createScenario() scenario[ceiling.Row] {
	return scenario[ceiling.Row]{
		rows: "rows", models: []any{&ceiling.Row{}}, methods: methods(), make: ceiling.Rows, clone: slices.Clone[[]ceiling.Row],
		reset:  func(b *bench, _ int) error { return b.empty(ceiling.Row{}.TableName()) },
		verify: verifyRows,
	}
}

// upsertScenario upserts rows of which half exist, on their unique email
// (ceiling.UpsertClause), with GORM's CreateInBatches(1000) and the plugin
// under the same clause, and the hand-written ceiling.
func upsertScenario() scenario[ceiling.Row] {
	return scenario[ceiling.Row]{
		rows:   "rows (half of them existing)",
		models: []any{&ceiling.Row{}},
		methods: []method[ceiling.Row]{
			{name: "GORM CreateInBatches(1000)", ids: true, baseline: true, insert: func(_ context.Context, b *bench, rows []ceiling.Row) error {
				return b.db.Clauses(ceiling.UpsertClause).CreateInBatches(&rows, 1000).Error
			}},
			{name: "gormbulk", ids: true, insert: func(_ context.Context, b *bench, rows []ceiling.Row) error {
				return b.db.Clauses(ceiling.UpsertClause, bulk.Options{}).Create(&rows).Error
			}},
			{name: "raw staged COPY + INSERT … SELECT", raw: true, ids: true, dialects: []string{"postgres"}, insert: raw(ceiling.Upsert)},
			{name: "raw prepared multi-row INSERT … RETURNING", raw: true, ids: true, dialects: []string{"sqlite", "mysql"}, insert: raw(ceiling.Upsert)},
		},
		make:  func(n int) []ceiling.Row { _, rows := ceiling.UpsertRows(n); return rows },
		clone: slices.Clone[[]ceiling.Row],
		reset: func(b *bench, n int) error {
			if err := b.empty(ceiling.Row{}.TableName()); err != nil {
				return err
			}
			existing, _ := ceiling.UpsertRows(n)
			return b.db.Clauses(bulk.Options{SkipReturning: true}).Create(&existing).Error
		},
		verify: verifyRows,
	}
}

// verifyRows checks that the rows' table holds as many rows as were
// written and, where ids, that the first and the last row (under an
// upsert, one that met an existing row and one that was new) hold the
// keys the table gave them.
func verifyRows(b *bench, ids bool, rows []ceiling.Row) error {
	table := ceiling.Row{}.TableName()
	if err := b.verifyCount(table, len(rows)); err != nil || !ids {
		return err
	}
	for _, r := range []*ceiling.Row{&rows[0], &rows[len(rows)-1]} {
		if err := b.verifyID(table, r.Email, r.ID); err != nil {
			return err
		}
	}
	return nil
}

// associationsScenario creates users with two orders each, which GORM
// writes as an upsert on their key after the users, with GORM's
// CreateInBatches(1000), the plugin and the hand-written ceiling.
func associationsScenario() scenario[ceiling.User] {
	users, orders := ceiling.User{}.TableName(), ceiling.Order{}.TableName()
	return scenario[ceiling.User]{
		rows:   "users with two orders each",
		models: []any{&ceiling.User{}, &ceiling.Order{}},
		methods: []method[ceiling.User]{
			{name: "GORM CreateInBatches(1000)", ids: true, baseline: true, insert: func(_ context.Context, b *bench, rows []ceiling.User) error {
				return b.db.CreateInBatches(&rows, 1000).Error
			}},
			{name: "gormbulk", ids: true, insert: func(_ context.Context, b *bench, rows []ceiling.User) error {
				return b.db.Clauses(bulk.Options{}).Create(&rows).Error
			}},
			{name: "raw pgx CopyFrom, keys drawn ahead", raw: true, ids: true, dialects: []string{"postgres"}, insert: raw(ceiling.Associations)},
			{name: "raw LOAD DATA LOCAL INFILE", raw: true, ids: true, dialects: []string{"mysql"}, skip: noLocalInfile, insert: raw(ceiling.Associations)},
			{name: "raw prepared multi-row INSERT", raw: true, ids: true, dialects: []string{"sqlite"}, insert: raw(ceiling.Associations)},
		},
		make: ceiling.Users,
		clone: func(rows []ceiling.User) []ceiling.User {
			rows = slices.Clone(rows)
			for i := range rows {
				rows[i].Orders = slices.Clone(rows[i].Orders)
			}
			return rows
		},
		// The orders' foreign key keeps the users' table from being
		// truncated on MySQL: both are made again.
		reset: func(b *bench, _ int) error { return b.recreate(&ceiling.User{}, &ceiling.Order{}) },
		verify: func(b *bench, ids bool, rows []ceiling.User) error {
			if err := b.verifyCount(users, len(rows)); err != nil {
				return err
			}
			if err := b.verifyCount(orders, 2*len(rows)); err != nil || !ids {
				return err
			}
			for _, u := range []*ceiling.User{&rows[0], &rows[len(rows)-1]} {
				if err := b.verifyID(users, u.Email, u.ID); err != nil {
					return err
				}
				for _, o := range u.Orders {
					var owner uint
					if err := b.db.Table(orders).Select("user_id").Where("id = ?", o.ID).Scan(&owner).Error; err != nil {
						return err
					}
					if o.ID == 0 || o.UserID != u.ID || owner != u.ID {
						return fmt.Errorf("%s's order %d has user %d in the struct, %d in the table, want %d", u.Email, o.ID, o.UserID, owner, u.ID)
					}
				}
			}
			return nil
		},
	}
}
