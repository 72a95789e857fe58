package bulk

import (
	"errors"
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// create replaces gorm:create. Statements that do not take the bulk path go
// to the dialect's own handler untouched.
func (r *registration) create(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	if db.Statement.Dest == nil {
		// GORM's handler dereferences the missing schema and panics.
		db.AddError(gorm.ErrInvalidValue)
		return
	}
	r.dialect.readServer(db)
	l := loadOf(db)
	if o, _ := requestedOptions(db.Statement); o.CommitChunks && (l == nil || !l.stream) {
		db.AddError(errCommitChunks)
		return
	}
	if opts, ok := r.bulkOptions(db); ok {
		one := r.oneStatement(db.Statement, opts)
		if one && r.likeGORM(db.Statement, opts) {
			r.createAsGORM(db, l)
			return
		}
		inTransaction(db, !one, func() { r.bulkCreate(db, opts, l) })
		if db.Error != nil {
			db.InstanceSet(bulkError, db.Error)
		}
		return
	}
	r.original(db)
	if db.Error == nil {
		if rows := db.Statement.ReflectValue; rows.Kind() == reflect.Slice || rows.Kind() == reflect.Array {
			l.wrote(int64(rows.Len()))
		} else {
			l.wrote(1)
		}
	}
}

var errCommitChunks = errors.New("gormbulk: Options.CommitChunks is for bulk.Stream: Create writes all its rows or none")

const (
	// shownStatement marks a statement whose SQL the bulk path left for
	// the callbacks after gorm:create (see writer.go).
	shownStatement = "gormbulk:shown_statement"
	// bulkError holds the error the bulk path returned, see finish.
	bulkError = "gormbulk:error"
)

// finish runs after every other create callback (After("*")). It takes out
// the statement the bulk path showed, which GORM's processor would log a
// second time; and where GORM's rollback failed after the bulk path did (a
// transaction the driver already ended on a cancelled context), it keeps
// both errors reachable: GORM joins them with %v, which cuts the chain of
// the first (errors.Is(err, context.DeadlineExceeded), errors.As to a
// *ChunkError).
func finish(db *gorm.DB) {
	if _, ok := db.InstanceGet(shownStatement); ok {
		db.Statement.SQL.Reset()
		db.Statement.Vars = nil
	}
	v, ok := db.InstanceGet(bulkError)
	if !ok || db.Error == nil {
		return
	}
	first, later := v.(error), errors.Unwrap(db.Error)
	if later != nil && db.Error != first && db.Error.Error() == first.Error()+"; "+later.Error() {
		db.Error = fmt.Errorf("%w; %w", first, later)
	}
}

// bulkOptions reports whether the statement takes the bulk path, and with
// which options. The bulk path needs a known dialect, rows it can cut into
// chunks, and SQL not already built by an earlier callback; where GORM reads
// generated keys back by LastInsertId arithmetic, it also needs every
// chunk's rows to get their keys (see lastInsertIDKeys).
func (r *registration) bulkOptions(db *gorm.DB) (Options, bool) {
	stmt := db.Statement
	if !r.supported || stmt.SQL.Len() > 0 {
		return Options{}, false
	}
	opts, explicit, ok := statementOptions(stmt, r.config)
	if !ok {
		return opts, false
	}
	rows := stmt.ReflectValue
	switch {
	case rows.Kind() == reflect.Slice, rows.Kind() == reflect.Array && rows.CanAddr():
	default:
		return opts, false
	}
	if n := rows.Len(); n == 0 || (n == 1 && !explicit) {
		return opts, false
	}
	if writesNoColumn(stmt) {
		why := "the rows give no column to write, and GORM writes one row of defaults for them"
		if opts.Method == Copy || opts.Method == LoadData {
			db.AddError(fmt.Errorf("%w: %s", ErrMethodUnavailable, why))
		} else {
			r.reasons.stepAside(db, "the bulk path", "GORM's own create", why)
		}
		return opts, false
	}
	if r.dialect.lastInsertID && !hasReturning(stmt) {
		if why := r.lastInsertIDKeys(db, opts); why != "" {
			r.reasons.stepAside(db, "the bulk path", "GORM's own create", why)
			return opts, false
		}
	}
	return opts, true
}

// catalogMinRows is the fewest rows of a call for which the plugin reads
// SQLite's schema, and so takes rowid keys (catalog_sqlite.go): under it
// the read costs more than RETURNING. A variable for the tests, which run
// those paths on a few rows (as arraysMinValues).
var catalogMinRows = 100

// arraysMinValues is the fewest values (rows × columns) of a call for
// which PostgreSQL's statements carry one array per column, where no other
// path has read the catalog for the call already. Arrays need the
// catalog's stamp, a round trip GORM does not make (0.15 ms here, see
// catalog_postgres.go), and they beat VALUES only where the VALUES
// statement's parameters are many to plan. Measured here against GORM's
// Create, 400 paired calls each: 4 columns × 100 rows ran at 0.87× GORM
// with arrays and 1.06× as VALUES, 4 × 200 at 0.96× and 1.07×, 4 × 299
// at 1.11× and 1.13×; 8 × 100 at 1.00× and 1.09×, 8 × 200 at 1.14× and
// 1.09×, 8 × 299 at 1.11× and 1.05×.
var arraysMinValues = 1_600

// COPY makes round trips the statement path does not (the catalog's
// stamp; for keys, the sequence before and after), which a call of a few
// rows does not win back. Measured here against GORM's Create (300 paired
// calls each, the table emptied before each; BenchRow, or a Select of its
// columns): 100 rows of 4 and 8 columns ran at 1.21× and 1.37× GORM by
// COPY, 1.02× and 1.01× by statements; 100 rows of 1 and 2 columns at
// 0.98× and 1.06× by COPY, 1.03× and 1.06× by statements, 150 rows at
// 1.13× and 1.15× by COPY; 50 rows of 4 and 8 columns at 0.95× and 1.03×.
const (
	copyMinRows     = 150 // the fewest rows the automatic choice copies,
	copyMinRowsWide = 100 // or rows of copyWideColumns columns or more
	copyWideColumns = 4
)

// copyPays reports whether the automatic choice copies the statement's
// rows, by their number and width.
func copyPays(stmt *gorm.Statement) bool {
	n := stmt.ReflectValue.Len()
	return n >= copyMinRows || n >= copyMinRowsWide && paramsPerRow(stmt) >= copyWideColumns
}

// oneStatement reports whether the plugin writes the call as one
// statement that undoes nothing (no savepoint): structs within one
// statement's limits, whatever columns they write, that no method but
// statements takes, without a clause that may skip rows (ON CONFLICT DO
// NOTHING or WHERE, INSERT modifiers), nor written in key runs. Such a
// call needs no transaction of the plugin's under SkipDefaultTransaction:
// one statement is
// all-or-nothing, and BEGIN and COMMIT cost two round trips, which made
// 10 rows 0.77-0.90× GORM's speed on the servers (measured).
func (r *registration) oneStatement(stmt *gorm.Statement, opts Options) bool {
	rows := stmt.ReflectValue
	n := rows.Len()
	if stmt.Schema == nil || rowType(rows) != stmt.Schema.ModelType {
		return false
	}
	c, _ := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	_, modified := stmt.Clauses["INSERT"].Expression.(clause.Insert)
	lookup := matchOf(stmt) != nil // keys read after the upsert, under its locks
	_, runs := stmt.DB.InstanceGet(keyRunsKey)
	auto, columns := opts.Method == AnyMethod, len(stmt.Schema.DBNames)
	switch {
	case !auto && opts.Method != Values,
		modified || doesNothing(stmt) || len(c.Where.Exprs) > 0 || lookup || runs,
		// COPY, LOAD DATA and arrays read the pinned connection; SQLite's
		// schema may say the table skips rows, which the plugin undoes.
		r.dialect.pgx() && (auto && copyPays(stmt) || n*columns >= arraysMinValues),
		r.dialect.mysql.get().load != nil && auto && n >= loadMinRows,
		r.dialect.rowid && n >= catalogMinRows:
		return false
	}
	return r.rowsPerStatement(opts, columns, updatesOnConflict(stmt)) >= n
}

// likeGORM reports whether one statement of the plugin's (oneStatement)
// is the statement GORM's handler writes: a call of under catalogMinRows
// rows that asks nothing of the plugin (no method, no SkipReturning), no
// ON CONFLICT (whose errors and keys the plugin reads otherwise), and
// GORM's own LastInsertId arithmetic (not MySQL's without RETURNING, whose
// keys the plugin steps by the server's auto_increment_increment). There
// the plugin's bookkeeping cost 5% of a 10-row call on SQLite and saved
// nothing, so GORM's handler writes it.
func (r *registration) likeGORM(stmt *gorm.Statement, opts Options) bool {
	return stmt.ReflectValue.Len() < catalogMinRows && opts.Method == AnyMethod && !opts.SkipReturning &&
		!hasOnConflict(stmt) && (hasReturning(stmt) || !r.dialect.lastInsertID)
}

// createAsGORM writes a call likeGORM found GORM's handler writes alike
// with that handler, in the transaction GORM runs it in, and gives its
// error as the bulk path gives a chunk's.
func (r *registration) createAsGORM(db *gorm.DB, l *load) {
	rows := db.Statement.ReflectValue
	if err := checkRows(rows); err != nil {
		db.AddError(err)
		return
	}
	inTransaction(db, false, func() { r.original(db) })
	if db.Error != nil {
		db.Error = chunkError(0, rows.Len(), db.Error)
		db.InstanceSet(bulkError, db.Error)
		return
	}
	l.wrote(int64(rows.Len()))
}

// bulkCreate writes the statement's rows through the writer of the method
// newWriter picks, chunk by chunk.
func (r *registration) bulkCreate(db *gorm.DB, opts Options, l *load) {
	stmt := db.Statement
	if err := checkRows(stmt.ReflectValue); err != nil {
		db.AddError(err)
		return
	}
	record := r.recordLeftToDB(stmt, opts)
	w, err := r.newWriter(db, opts, l, record)
	if err != nil {
		db.AddError(err)
		return
	}
	defer w.close()
	// Every chunk's values are taken as the one statement's would be, with
	// Save's setting, which GORM then drops (see consumeTrackTime).
	defer consumeTrackTime(stmt)
	affected, err := writeChunks(stmt, stmt.ReflectValue, w, record, l)
	if sql, vars := w.first(); sql != "" && !db.DryRun {
		stmt.SQL.WriteString(sql)
		stmt.Vars = vars
		db.InstanceSet(shownStatement, true)
	}
	if db.AddError(err) != nil {
		return
	}
	db.RowsAffected = affected
	if stmt.Result != nil {
		stmt.Result.RowsAffected = affected
	}
}

// newWriter returns the writer of the call's method: COPY where planCopy
// allows it and the options ask for it or leave the choice (copyPays),
// else statements. GORM reads the clock once per
// statement, so every chunk's rows get the time the single statement
// would give them. The statements' read-back sees the call's shared structs
// as the record has them (see leftToDB.settle).
func (r *registration) newWriter(db *gorm.DB, opts Options, l *load, record *leftToDB) (writer, error) {
	now := db.NowFunc()
	if opts.Method == LoadData || (opts.Method == AnyMethod && r.dialect.mysql.get().load != nil && db.Statement.ReflectValue.Len() >= loadMinRows) {
		plan, why := r.planLoad(db, opts, now, record)
		switch {
		case plan != nil:
			return r.newLoadWriter(db, plan, opts, now, record), nil
		case opts.Method == LoadData:
			return nil, fmt.Errorf("%w: %s", ErrMethodUnavailable, why)
		case !db.DryRun:
			r.reasons.stepAside(db, "LOAD DATA", "the statement path", why)
		}
	}
	if opts.Method == Copy || (opts.Method == AnyMethod && copyPays(db.Statement)) {
		plan, why := r.planCopy(db, opts, now)
		switch {
		case plan != nil:
			return newCopyWriter(db, plan, opts, l, record, func() *statementWriter { return r.newStatementWriter(db, opts, now) }), nil
		case opts.Method == Copy:
			return nil, fmt.Errorf("%w: %s", ErrMethodUnavailable, why)
		case r.dialect.postgres && !db.DryRun:
			r.reasons.stepAside(db, "COPY", "the statement path", why)
		}
	}
	w := r.newStatementWriter(db, opts, now)
	w.record = record
	return w, nil
}

// writeChunks writes rows (the statement's, or a chunk another writer
// hands on) through w, chunk by chunk, each
// as the record says the rows were before the first (see leftToDB),
// counts each chunk into the load, and returns the rows written. A chunk over a limit is cut down before
// anything reaches the database, in proportion, so one oversized estimate
// costs one rebuild.
func writeChunks(stmt *gorm.Statement, rows reflect.Value, w writer, record *leftToDB, l *load) (int64, error) {
	total, size := rows.Len(), w.chunkRows()
	var affected, written int64
	for start := 0; start < total; {
		n := min(size, total-start)
		if err := stmt.Context.Err(); err != nil {
			return affected, chunkError(start, n, err)
		}
		chunk := rows.Slice3(start, start+n, start+n)
		err := record.reset(start, chunk)
		if err == nil {
			written, err = w.write(chunk)
		}
		var over *limitError
		if errors.As(err, &over) && n > 1 {
			if err = record.restore(); err == nil {
				size = max(1, int(int64(n)*int64(over.max)/int64(over.got)))
				continue
			}
		}
		if err == nil {
			err = record.settle()
		}
		if err != nil {
			return affected, chunkError(start, n, err)
		}
		affected += written
		start += n
		l.wrote(int64(n))
	}
	return affected, nil
}

// chunkError names the rows of the failing chunk that starts at row start
// of the call and holds n rows: the row the writer names, or all of them.
func chunkError(start, n int, err error) *ChunkError {
	if ce, ok := err.(*ChunkError); ok {
		return &ChunkError{First: start + ce.First, Last: start + ce.Last, Err: ce.Err}
	}
	return &ChunkError{First: start, Last: start + n - 1, Err: err}
}

// checkRows refuses nil elements up front, naming the row, instead of
// letting a chunk fail with an index relative to the chunk.
func checkRows(rows reflect.Value) error {
	if rows.Type().Elem().Kind() != reflect.Pointer {
		return nil
	}
	for i := 0; i < rows.Len(); i++ {
		if rows.Index(i).IsNil() {
			return fmt.Errorf("gormbulk: row %d is nil: %w", i, gorm.ErrInvalidData)
		}
	}
	return nil
}
