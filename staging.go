package bulk

import (
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Upserts whose rows may conflict go, on PostgreSQL, by COPY into a
// staging table local to the transaction, shaped as the target's written
// columns (CREATE TEMP TABLE … AS SELECT … WITH NO DATA: the same types,
// so COPY encodes each value as it would for the table), and one
// INSERT … SELECT … ORDER BY the rows' order … ON CONFLICT … RETURNING
// moves them: GORM's own clause, its conflict target, updates and WHERE,
// over the call's rows as GORM's one statement, with RETURNING handing
// every row back in the rows' order. A column is written for every row or
// none, as by COPY: a row cannot leave one to its default (GORM's
// per-row DEFAULT). The role needs TEMP on the database and SELECT on the
// table; without them the rows go as statements.

const (
	stagingTable = "gormbulk_stage"
	stagingOrder = "gormbulk_n"
)

// upsertCopyMinRows and stagingMinRows are the fewest rows the automatic
// choice writes an upsert with by COPY: straight into the table where no
// row can conflict (upsertRefusal), else through the staging table. Below
// them the round trips they add (the grants, the savepoint, the keys; the
// staging table's creation) cost more than they save. Measured here,
// paired with GORM's upsert, against one statement of arrays: on the key,
// 1,000 rows 1.16× GORM by COPY, 1.30× as arrays, 3,000 rows 1.48× and
// 1.21×; staged, 1,000 rows 1.04× and 1.32×, 3,000 rows 1.53× and 1.55×,
// 5,000 rows 1.83× and 1.70×.
var upsertCopyMinRows, stagingMinRows = 2000, 4000

// upsertCopyRefusal says why an upsert cannot go by COPY, straight
// (direct) or staged, or "": a staged upsert's read-back must be every
// row's, in order.
func upsertCopyRefusal(stmt *gorm.Statement, opts Options, direct bool) string {
	least := stagingMinRows
	if direct {
		least = upsertCopyMinRows
	}
	if opts.Method != Copy && stmt.ReflectValue.Len() < least {
		return fmt.Sprintf("an upsert of fewer than %d rows goes faster as one statement", least)
	}
	c, _ := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	if !direct && (doesNothing(stmt) || len(c.Where.Exprs) > 0) && readsBack(stmt, opts) {
		return "an upsert that may skip rows reads its keys back by statements"
	}
	return ""
}

// stage completes a staged plan: every database-default column is given
// by every row (and copied) or left to its default by every row (and read
// back by RETURNING).
func (plan *copyPlan) stage(stmt *gorm.Statement, rows reflect.Value, catalog map[string]pgColumn, valued []*schema.Field) (*copyPlan, string) {
	for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
		_, given, zero := plan.cols.defaulted(stmt, f, rows)
		switch {
		case zero == 0:
			if why := plan.addColumn(f, catalog, &valued); why != "" {
				return nil, why
			}
			plan.given = append(plan.given, f)
		case given > 0:
			return nil, fmt.Sprintf("column %s is given by some rows and left to its default by others", f.DBName)
		}
	}
	if why := valuesCopyable(stmt, rows, valued, catalog, newPgParams(typeMap(stmt.ConnPool))); why != "" {
		return nil, why
	}
	return plan, ""
}

// writeStaged writes an upsert's chunk through the staging table, or by
// statements where the role may not create one (TEMP on the database) or
// read the target.
func (w *copyWriter) writeStaged(chunk reflect.Value) (int64, error) {
	stmt := w.db.Statement
	ctx, pool := stmt.Context, unprepared(stmt.ConnPool)
	// The staging table takes its shape from a SELECT of the target.
	allowed, err := w.allows("SELECT has_database_privilege(current_database(), 'TEMP') AND has_table_privilege($1, 'SELECT')",
		w.plan.table.Sanitize())
	if err != nil {
		return 0, err
	}
	if !allowed {
		return w.byStatements(chunk)
	}
	create := fmt.Sprintf("CREATE TEMP TABLE %s ON COMMIT DROP AS SELECT 0::int8 AS %s, %s FROM %s WITH NO DATA",
		stagingTable, stagingOrder, quoteColumns(stmt, w.plan.columns), w.plan.table.Sanitize())
	if _, err := pool.ExecContext(ctx, create); err != nil {
		return 0, err
	}
	if _, err := w.copyChunk(chunk); err != nil {
		return 0, err
	}
	// After a savepoint, so that a failed move leaves the staged rows to
	// tell which two rows would update one row.
	if _, err := pool.ExecContext(ctx, "SAVEPOINT gormbulk_stage"); err != nil {
		return 0, err
	}
	n, err := moveStaged(w.db, chunk, w.plan.columns, w.plan.columns, w.plan.cols.now, w.opts.SkipReturning)
	if err != nil {
		return 0, w.stagedTwice(err)
	}
	if _, err := pool.ExecContext(ctx, "RELEASE SAVEPOINT gormbulk_stage"); err != nil {
		return 0, err
	}
	// Dropped now, not at commit, so that the transaction's next upsert
	// stages afresh.
	_, err = pool.ExecContext(ctx, "DROP TABLE "+stagingTable)
	return n, err
}

// quoteColumns lists the columns quoted, for SQL.
func quoteColumns(stmt *gorm.Statement, columns []string) string {
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = stmt.Quote(c)
	}
	return strings.Join(quoted, ",")
}

// moveStaged runs the INSERT into the columns of a SELECT of the staging
// table's columns from, in the rows' order, with the statement's
// ON CONFLICT (UpdateAll rewritten as GORM rewrites it, at now) and
// RETURNING, and reads what it hands back into the chunk's rows, in order.
func moveStaged(db *gorm.DB, chunk reflect.Value, columns, from []string, now time.Time, skipReturning bool) (int64, error) {
	tx := db.Session(&gorm.Session{Context: db.Statement.Context})
	stmt := tx.Statement
	stmt.SQL.Reset()
	stmt.Vars = nil
	stmt.ConnPool = db.Statement.ConnPool
	stmt.BuildClauses = db.Statement.BuildClauses
	stmt.Dest, stmt.ReflectValue = chunkDest(db.Statement.Dest, chunk)
	values := clause.Values{Columns: make([]clause.Column, len(columns))}
	for i, c := range columns {
		values.Columns[i] = clause.Column{Name: c}
	}
	updateAll(stmt, values, now)
	addCreateClauses(stmt)
	if skipReturning {
		delete(stmt.Clauses, "RETURNING")
	}
	stmt.AddClauseIfNotExists(clause.Insert{})
	stmt.Build("INSERT")
	stmt.WriteString(fmt.Sprintf(" (%s) SELECT %s FROM %s ORDER BY %s ", quoteColumns(stmt, columns), quoteColumns(stmt, from), stagingTable, stagingOrder))
	stmt.Build("ON CONFLICT")
	begin := time.Now()
	var n int64
	var err error
	if _, ok := stmt.Clauses["RETURNING"]; ok {
		stmt.WriteByte(' ')
		stmt.Build("RETURNING")
		n, err = scanCounted(tx, stmt.ConnPool)
	} else {
		var result sql.Result
		if result, err = stmt.ConnPool.ExecContext(stmt.Context, stmt.SQL.String(), stmt.Vars...); err == nil {
			n, err = result.RowsAffected()
		}
	}
	if err != nil && tx.Error == nil {
		tx.AddError(err) // as GORM's handler adds it: translated, where asked
	}
	tx.RowsAffected = n
	trace(tx, begin)
	return n, tx.Error
}

// stagedTwice names the two rows of a failed move that would both update
// one row (see updatedTwice), grouping the staged rows by the conflict
// target back at the savepoint, or returns err.
func (w *copyWriter) stagedTwice(err error) error {
	stmt := w.db.Statement
	c, ok := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	if !updatedTwiceCode(err) || !ok || len(c.Columns) == 0 {
		return err
	}
	pool := unprepared(stmt.ConnPool)
	if _, e := pool.ExecContext(stmt.Context, "ROLLBACK TO SAVEPOINT gormbulk_stage"); e != nil {
		return err
	}
	target := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		target[i] = stmt.Quote(col.Name)
	}
	query := fmt.Sprintf("SELECT min(%[1]s), max(%[1]s) FROM %[2]s GROUP BY %[3]s HAVING count(*) > 1 LIMIT 1",
		stagingOrder, stagingTable, strings.Join(target, ","))
	var first, last int
	if pool.QueryRowContext(stmt.Context, query).Scan(&first, &last) != nil {
		return err
	}
	return twiceError(first, last, err)
}
