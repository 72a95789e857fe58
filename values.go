package bulk

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// buildsAhead reports whether the chunk's INSERT can be built here, ahead
// of the create handler: GORM's own handler executes SQL it finds already
// built (SQL Server's handler would lose its OUTPUT read-back), and maps
// keep GORM's conversion.
func (l dialect) buildsAhead(stmt *gorm.Statement, rows reflect.Value) bool {
	if !l.gormCreate || stmt.Schema == nil {
		return false
	}
	return rowType(rows).Kind() == reflect.Struct
}

// rowType is the type of the rows' elements, pointers followed.
func rowType(rows reflect.Value) reflect.Type {
	elem := rows.Type().Elem()
	for elem.Kind() == reflect.Pointer {
		elem = elem.Elem()
	}
	return elem
}

// sqlCache keeps the text of the last INSERT built. Chunks of one shape (the
// same columns, row count, read-back and VALUES clause) whose values all
// bind as plain parameters have the same text, so GORM's builders run once
// per shape and later chunks only bind their values. Array-per-column
// inserts (see unnest_postgres.go) have one text whatever the row count.
type sqlCache struct {
	key, sql string
	// clauses are the statement's clauses as building the text left them:
	// a reused text gets them too, as what follows reads them (MySQL's
	// builder turns DO NOTHING into an update of the key, and GORM's
	// read-back of it then passes over no row).
	clauses map[string]clause.Clause
	// arrays names, for the last INSERT built with arrays (its first
	// Vars), each array's column and way; nil after a VALUES list.
	arrays *unnestArrays
}

// unnestArrays is what an INSERT's arrays carry: column i's values in Var
// i, travelling as ways[i].
type unnestArrays struct {
	columns []clause.Column
	ways    []arrayWay
}

// buildInsert writes the chunk's INSERT into stmt as GORM's create handler
// would, or with an array per column where types has every column's type
// and params tells that the values fit arrays (see columnArrays), reusing the cached text
// where the chunk's shape allows. It returns why a chunk that could have
// gone as arrays did not, or "".
func (c *sqlCache) buildInsert(stmt *gorm.Statement, values clause.Values, skipReturning bool, types map[string]pgColumn, params *pgParams) (why string) {
	if !plainValues(values) {
		c.arrays = nil
		buildInsert(stmt, values)
		return ""
	}
	arrays, ways, why := columnArrays(values, types, params)
	unnest := why == "" && types != nil
	c.arrays = nil
	if unnest {
		c.arrays = &unnestArrays{values.Columns, ways}
	}
	var key strings.Builder
	for i, col := range values.Columns {
		key.WriteString(col.Name)
		if unnest {
			key.WriteByte(byte(ways[i]))
		}
		key.WriteByte(',')
	}
	rows := len(values.Values)
	if unnest {
		rows = -1
	}
	// OVERRIDING SYSTEM VALUE replaces the VALUES clause's builder.
	fmt.Fprintf(&key, "%d,%t,%t", rows, skipReturning, stmt.Clauses["VALUES"].Builder != nil)

	if key.String() == c.key {
		for name, built := range c.clauses {
			stmt.Clauses[name] = built
		}
		stmt.SQL.WriteString(c.sql)
		if unnest {
			stmt.Vars = arrays
			return ""
		}
		stmt.Vars = flatVars(values)
		return why
	}
	bound := len(arrays)
	if unnest {
		buildUnnest(stmt, values.Columns, arrays, ways, types)
	} else {
		buildInsert(stmt, values)
		bound = len(values.Values) * len(values.Columns)
	}
	c.key, c.sql = key.String(), stmt.SQL.String()
	c.clauses = maps.Clone(stmt.Clauses)
	delete(c.clauses, "VALUES") // the chunk's own
	// A text whose clauses bound arguments of their own (UpdateAll's
	// timestamps, a conflict's WHERE) is not reused: they would be lost.
	if len(stmt.Vars) != bound {
		c.key = ""
	}
	return why
}

// flatVars returns the chunk's values row after row. createValues lays the
// rows out end to end in one array, so where it dropped no column the first
// row's array already holds them all.
func flatVars(values clause.Values) []any {
	n, w := len(values.Values), len(values.Columns)
	if n > 0 && w > 0 && cap(values.Values[0]) >= n*w {
		if flat := values.Values[0][:n*w]; &flat[(n-1)*w] == &values.Values[n-1][0] {
			return flat
		}
	}
	flat := make([]any, 0, n*w)
	for _, row := range values.Values {
		flat = append(flat, row...)
	}
	return flat
}

// plainValues reports whether every value binds as one parameter, written
// the same way whatever the value: no expressions, GORM valuers, named
// arguments or slices that GORM would expand in place.
func plainValues(values clause.Values) bool {
	for _, row := range values.Values {
		for _, v := range row {
			switch v := v.(type) {
			case nil, string, int, int64, int32, uint, uint64, uint32, float64, float32, bool, time.Time, []byte:
			case gorm.Valuer, clause.Expression, sql.NamedArg:
				return false
			case driver.Valuer:
			default:
				if k := reflect.ValueOf(v).Kind(); (k == reflect.Slice || k == reflect.Array) && reflect.TypeOf(v).Elem().Kind() != reflect.Uint8 {
					return false
				}
			}
		}
	}
	return true
}

// buildInsert writes the chunk's INSERT the way GORM's create handler does:
// its create clauses, then INSERT, VALUES and the rest through the
// dialect's clause builders.
func buildInsert(stmt *gorm.Statement, values clause.Values) {
	addCreateClauses(stmt)
	stmt.AddClauseIfNotExists(clause.Insert{})
	stmt.AddClause(values)
	stmt.SQL.Grow(len(values.Values) * 18)
	stmt.Vars = make([]any, 0, len(values.Values)*len(values.Columns))
	stmt.Build(stmt.BuildClauses...)
}

// addCreateClauses adds what GORM's create handler adds before it builds:
// the schema's create clauses, and RETURNING for the columns the database
// fills where the dialect has it.
func addCreateClauses(stmt *gorm.Statement) {
	if !stmt.Unscoped {
		for _, c := range stmt.Schema.CreateClauses {
			stmt.AddClause(c)
		}
	}
	if _, ok := stmt.Clauses["RETURNING"]; !ok && hasReturning(stmt) {
		var columns []clause.Column
		for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
			if f.Readable {
				columns = append(columns, clause.Column{Name: f.DBName})
			}
		}
		if len(columns) > 0 {
			stmt.AddClause(clause.Returning{Columns: columns})
		}
	}
}

// appendExtra appends to the statement's slice what the handler appended to
// the chunk beyond its n rows: GORM's Scan appends the values RETURNING gives
// for a slice of maps, and the single statement would have left them at the
// end of the caller's slice.
func appendExtra(rows, chunk reflect.Value, n int) {
	if chunk.Len() > n && rows.Kind() == reflect.Slice && rows.CanSet() {
		rows.Set(reflect.AppendSlice(rows, chunk.Slice(n, chunk.Len())))
	}
}

// rowsPerStatement is the first estimate of how many rows of params values
// fit one statement (updates: an upsert that updates). An estimate too
// high costs one rebuild of the first chunk (chunkConn refuses it before
// it is sent); one too low costs statements.
func (r *registration) rowsPerStatement(opts Options, params int, updates bool) int {
	n := math.MaxInt
	switch {
	case opts.BatchSize > 0:
		n = opts.BatchSize
	case r.dialect.postgres && updates:
		// Two rows of the statement updating one row fail it on
		// PostgreSQL; of two statements, the second updates the first's
		// row. So rows GORM writes in one statement go in one.
	case r.dialect.targetParams > 0:
		n = max(1, r.dialect.targetParams/params)
	}
	if r.dialect.maxRows > 0 {
		n = min(n, r.dialect.maxRows)
	}
	if r.dialect.maxParams > 0 {
		n = min(n, r.dialect.maxParams/params)
	}
	return max(1, n)
}

// paramsPerRow counts the columns GORM writes for the first row: its keys
// for a map; for a struct, the columns GORM's ConvertToCreateValues picks,
// and the database-default ones the row gives a value.
func paramsPerRow(stmt *gorm.Statement) int {
	first := reflect.Indirect(stmt.ReflectValue.Index(0))
	if m, ok := first.Interface().(map[string]any); ok {
		return len(m)
	}
	if stmt.Schema == nil || first.Kind() != reflect.Struct {
		return 1
	}
	cols := newInsertColumns(stmt, time.Time{})
	count := len(cols.fields)
	for _, f := range cols.dbDefaults {
		if _, zero := f.ValueOf(stmt.Context, first); !zero {
			count++
		}
	}
	return count
}

// statementWriter writes chunks as INSERT statements through the dialect's
// create handler, which reads generated values back into the rows: VALUES
// built as GORM builds them, or on PostgreSQL one array per column
// (unnest_postgres.go). Each chunk is sized to the dialect's limits.
type statementWriter struct {
	db         *gorm.DB
	opts       Options
	conn       *chunkConn
	create     func(*gorm.DB)
	size       int
	padding    *mapPadding
	rowid      *schema.Field       // the key SQLite's rowids give, if any
	ownRows    bool                // rows may be skipped: read back by ownRows (keys.go)
	ahead      *pgSequence         // the sequence to draw keys ahead from (keys.go)
	match      *uniqueMatch        // how an upsert's keys come back without RETURNING (keys_mysql.go)
	overriding bool                // keys drawn ahead go OVERRIDING SYSTEM VALUE
	types      map[string]pgColumn // PostgreSQL's catalog, for arrays
	params     *pgParams           // how pgx would send the values, for arrays
	sql        sqlCache
	record     *leftToDB // the call's shared structs, for GORM's read-back
	now        time.Time // the statement's one reading of the clock
	reasons    *reasons

	firstSQL  string // the first chunk's statement, see writer.go
	firstVars []any

	// offset is the call's row the next chunk starts at; scanFrom the row
	// GORM's read-back goes on from where it skips rows (see scanOn).
	offset, scanFrom int
}

func (r *registration) newStatementWriter(db *gorm.DB, opts Options, now time.Time) *statementWriter {
	stmt := db.Statement
	rows := stmt.ReflectValue
	params := max(1, paramsPerRow(stmt))
	w := &statementWriter{
		db: db, opts: opts, now: now, create: r.original, reasons: &r.reasons,
		conn:    &chunkConn{ConnPool: stmt.ConnPool, dialect: r.dialect},
		size:    r.rowsPerStatement(opts, params, updatesOnConflict(stmt)),
		padding: newMapPadding(stmt, rows),
	}
	switch {
	case db.DryRun || !r.dialect.buildsAhead(stmt, rows) || !readsBack(stmt, opts):
	case stmt.Dialector.Name() == "mysql":
		w.ownRows = ownRows(stmt, false)
		w.match = matchOf(stmt)
	case r.dialect.rowid:
		// Under catalogMinRows the schema's read costs more than
		// RETURNING: only the statement says whether it skips rows.
		w.ownRows = ownRows(stmt, false)
		if rows.Len() < catalogMinRows || w.ownRows {
			break
		}
		if table, maxRowid, ok := r.sqliteCatalog.table(stmt); ok {
			w.ownRows = ownRows(stmt, table.skips)
			if key := table.rowidKey(stmt, maxRowid); !w.ownRows && key != nil && conflictsOnlyOn(stmt, key) {
				w.rowid = key
			}
		}
	}
	// Keys drawn ahead need the pgx connection, as COPY does. Where they
	// cannot be drawn, a statement that left nothing behind can be undone.
	if r.dialect.pgx() && !db.DryRun && !opts.SkipReturning && hasOnConflict(stmt) && r.dialect.buildsAhead(stmt, rows) {
		info := r.catalog.table(db)
		w.ahead, w.overriding = keysAhead(stmt, info)
		// Keys drawn ahead tell DO NOTHING's rows apart in one statement
		// (keepReturned); an update returns other rows' keys, and goes
		// back as writeOwn does, with its keys drawn once.
		updates := updatesOnConflict(stmt)
		undo := (w.ahead == nil && info != nil && info.undoable) || (w.ahead != nil && updates)
		w.ownRows = undo && readsBack(stmt, opts) && ownRows(stmt, false)
		// A key given into an identity GENERATED ALWAYS fails GORM's
		// statement, which OVERRIDING SYSTEM VALUE would let through.
		if updates && (!w.ownRows || w.overriding && zeroRows(stmt, stmt.Schema.PrioritizedPrimaryField, rows, nil) < rows.Len()) {
			w.ahead, w.ownRows = nil, false
		}
	}
	_, read := db.InstanceGet(tableInfoKey) // by COPY's plan or the keys above
	arrays := read || rows.Len()*params >= arraysMinValues
	if arrays && !db.DryRun && r.dialect.pgx() && r.dialect.buildsAhead(stmt, rows) && r.dialect.arrays.available(stmt.ConnPool) {
		if info := r.catalog.table(db); info != nil {
			w.types, w.params = info.columns, newPgParams(typeMap(stmt.ConnPool))
			if opts.BatchSize == 0 && updatesOnConflict(stmt) {
				// Arrays hold any number of rows in one statement, and an
				// upsert that updates is one statement (rowsPerStatement).
				w.size = rows.Len()
			}
		}
	}
	return w
}

func (w *statementWriter) chunkRows() int { return w.size }

// handedOn writes rows that start at the call's row at, which a faster
// writer hands on, in chunks of their own from the record's rows.
func (w *statementWriter) handedOn(rows reflect.Value, at int, record *leftToDB) (int64, error) {
	w.offset, w.record = at, record.from(at)
	w.scanFrom = max(w.scanFrom, at) // the rows before were read back by the faster writer
	return writeChunks(w.db.Statement, rows, w, w.record, nil)
}

func (w *statementWriter) close() { w.conn.close() }

func (w *statementWriter) first() (string, []any) { return w.firstSQL, w.firstVars }

func (w *statementWriter) write(chunk reflect.Value) (int64, error) {
	if w.ahead != nil || w.ownRows {
		var merge func()
		chunk, merge = unshare(w.db.Statement, chunk, w.record == nil || w.record.keepFirst)
		defer merge()
	}
	if w.ownRows {
		n, err := w.writeOwn(chunk)
		w.offset += chunk.Len()
		return n, err
	}
	if _, runs := w.db.InstanceGet(keyRunsKey); runs {
		var written int64
		var write func(run reflect.Value) error
		write = func(run reflect.Value) error {
			tx := w.writeChunk(run)
			// The runs before were written: a run over a limit is halved,
			// not the chunk cut down.
			var over *limitError
			if n := run.Len(); errors.As(tx.Error, &over) && n > 1 {
				if err := write(run.Slice3(0, n/2, n/2)); err != nil {
					return err
				}
				return write(run.Slice3(n/2, n, n))
			}
			written += tx.RowsAffected
			w.offset += run.Len()
			return tx.Error
		}
		err := keyRuns(w.db.Statement, chunk, write)
		return written, err
	}
	padded, copyBack := w.padding.pad(chunk)
	tx := w.writeChunk(padded)
	copyBack()
	if tx.Error != nil {
		return 0, w.updatedTwice(tx.Statement, tx.Error)
	}
	appendExtra(w.db.Statement.ReflectValue, tx.Statement.ReflectValue, chunk.Len())
	w.offset += chunk.Len()
	return tx.RowsAffected, nil
}

// writeChunk runs the dialect's create handler on one chunk, in a session
// that shares the statement's clauses, selections, context and transaction.
func (w *statementWriter) writeChunk(chunk reflect.Value) *gorm.DB {
	db, conn := w.db, w.conn
	// GORM's own conversion (maps, upserts) reads NowFunc per chunk: give
	// it the statement's one reading.
	tx := db.Session(&gorm.Session{Context: db.Statement.Context, NowFunc: func() time.Time { return w.now }})
	stmt := tx.Statement
	// The clone carries the SQL the statement holds, which under DryRun is
	// the previous chunks'.
	stmt.SQL.Reset()
	stmt.Vars = nil
	stmt.ConnPool = conn
	stmt.BuildClauses = db.Statement.BuildClauses
	stmt.Dest, stmt.ReflectValue = chunkDest(db.Statement.Dest, chunk)

	begin := time.Now()
	var (
		values   clause.Values
		ownBuild = conn.dialect.buildsAhead(stmt, chunk) // the INSERT is built here
	)
	// Where ON CONFLICT DO NOTHING may skip rows, the chunk's rows that
	// leave the key to the database get theirs drawn ahead, before its
	// values are taken, and the rows RETURNING hands back are told by their
	// keys (keepReturned). A key given into an identity GENERATED ALWAYS
	// fails GORM's statement, which OVERRIDING SYSTEM VALUE would let
	// through: such a chunk draws nothing, and fails as GORM's.
	var drawn []bool // the rows whose keys were drawn here, where keys tell the rows
	if w.ahead != nil && !w.ownRows {
		pk := stmt.Schema.PrioritizedPrimaryField
		if !w.overriding || zeroRows(stmt, pk, stmt.ReflectValue, nil) == chunk.Len() {
			drawn = make([]bool, chunk.Len())
			tx.AddError(withPgx(db.Statement.ConnPool, func(c *pgx.Conn) error {
				return drawMissing(stmt, c, w.ahead, pk, stmt.ReflectValue, false, func(i int) { drawn[i] = true })
			}))
		}
	}
	// Keys drawn here, or by writeOwn, go into an identity GENERATED ALWAYS
	// by OVERRIDING SYSTEM VALUE.
	overriding := w.overriding && (drawn != nil || w.ownRows)
	if overriding {
		stmt.Clauses["VALUES"] = clause.Clause{Builder: overridingSystemValue}
	}

	if ownBuild {
		timeText := conn.dialect.timeText
		if db.DryRun {
			timeText = "" // the statements shown bind times as GORM's do
		}
		values = createValues(stmt, stmt.ReflectValue, w.now, timeText)
		updateAll(stmt, values, w.now)
	}
	// Where rowids are the keys, a chunk that leaves every key to the
	// database (its values have no key column) takes them from
	// LastInsertId, and one that gives every key needs none read back.
	var rowid, keysGiven bool
	if ownBuild && w.rowid != nil {
		rowid = !hasColumn(values, w.rowid.DBName)
		keysGiven = !rowid && zeroRows(stmt, w.rowid, stmt.ReflectValue, nil) == 0
	}

	// Without read-back through the handler, it only builds the SQL (an
	// empty RETURNING keeps it from adding its own), and the chunk is
	// executed here (or, under DryRun, only checked against the limits).
	skipReturning := w.opts.SkipReturning || rowid || keysGiven
	own := w.ownRows && !skipReturning && hasReturning(stmt)
	across := drawn == nil && !own && !skipReturning && !db.DryRun && skipsRows(stmt, chunk)
	execHere := skipReturning || db.DryRun || drawn != nil || across || own
	if skipReturning {
		stmt.Clauses["RETURNING"] = clause.Clause{Builder: func(clause.Clause, clause.Builder) {}}
	}
	tx.DryRun = execHere
	if ownBuild {
		types := w.types
		if overriding {
			types = nil // OVERRIDING SYSTEM VALUE goes with VALUES
		}
		if why := w.sql.buildInsert(stmt, values, skipReturning, types, w.params); why != "" {
			w.reasons.stepAside(db, "arrays", "VALUES", why)
		}
	}
	// Without RETURNING, GORM's handler gives the keys by LastInsertId
	// arithmetic, which the rows' unique key replaces where it can (match).
	lastInsertID := conn.dialect.lastInsertID && !execHere && !hasReturning(stmt)
	arithmetic := lastInsertID && w.match == nil
	var keyed, passed int // the rows GORM's arithmetic gives keys, and those it passes over
	if ownBuild && (!execHere || across) {
		tx.AddError(w.record.settle())
		if arithmetic {
			keyed, passed = w.record.passedOver(stmt.ReflectValue)
		}
	}
	// A create of the user's own that writes every row gives the structs
	// their own rows' keys where the arithmetic passes over rows (ownKeys).
	ownKeys := passed > 0 && !w.ownRows && !hasOnConflict(stmt) && stmt.Context.Value(inAssociations{}) == nil
	step := conn.dialect.mysql.get().step
	var left []int
	if arithmetic && ownBuild && !ownKeys {
		left = restepped(stmt, stmt.ReflectValue, step)
	}
	user := stmt.Result
	if passed > 0 && arithmetic {
		stmt.Result = gorm.WithResult()
	}
	w.create(tx)
	if result := stmt.Result; result != user {
		stmt.Result = user
		if user != nil {
			user.Result, user.RowsAffected = result.Result, result.RowsAffected
		}
		if tx.Error == nil {
			tx.AddError(w.handOn(stmt, result.Result, chunk.Len(), keyed, passed, ownKeys))
		}
	}
	if lastInsertID && tx.Error == nil {
		if w.match != nil {
			tx.AddError(w.match.setKeys(stmt, values, stmt.ReflectValue))
		} else {
			tx.AddError(restepKeys(stmt, stmt.ReflectValue, left, step))
		}
	}
	if execHere && tx.Error == nil {
		switch {
		case db.DryRun:
			tx.AddError(conn.dialect.check(stmt.SQL.String(), stmt.Vars))
		case drawn != nil:
			var err error
			tx.RowsAffected, err = keepReturned(tx, conn, drawn)
			tx.AddError(err)
		case across && stmt.Context.Value(inAssociations{}) != nil:
			var err error
			tx.RowsAffected, err = w.scanOn(tx, chunk.Len())
			tx.AddError(err)
		case across:
			var err error
			tx.RowsAffected, err = scanCounting(tx, conn)
			tx.AddError(err)
		case own:
			var err error
			tx.RowsAffected, err = scanCounted(tx, conn)
			tx.AddError(err)
		default:
			result, err := conn.ExecContext(stmt.Context, stmt.SQL.String(), stmt.Vars...)
			if tx.AddError(err) == nil {
				tx.RowsAffected, _ = result.RowsAffected()
				if rowid {
					tx.AddError(setRowidKeys(stmt, w.rowid, stmt.ReflectValue, result))
				}
			}
		}
	}

	var over *limitError
	switch {
	case errors.As(tx.Error, &over):
		// Nothing was written: the rows give back the keys drawn for them,
		// so that the smaller chunk draws its own.
		for i, drew := range drawn {
			if drew {
				pk := stmt.Schema.PrioritizedPrimaryField
				stmt.AddError(pk.Set(stmt.Context, reflect.Indirect(stmt.ReflectValue.Index(i)), reflect.Zero(pk.FieldType).Interface()))
			}
		}
	case db.DryRun:
		// The processor logs the statement's SQL once: collect every chunk.
		if db.Statement.SQL.Len() > 0 {
			db.Statement.SQL.WriteString(";\n")
		}
		db.Statement.SQL.WriteString(stmt.SQL.String())
		db.Statement.Vars = append(db.Statement.Vars, stmt.Vars...)
	default:
		trace(tx, begin)
		if w.firstSQL == "" {
			w.firstSQL, w.firstVars = stmt.SQL.String(), stmt.Vars
		}
	}
	return tx
}

// hasColumn reports whether values write the column.
func hasColumn(values clause.Values, name string) bool {
	for _, c := range values.Columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// chunkDest gives a chunk the shape of the statement's Dest: a pointer to a
// slice when Dest is a pointer, as CreateInBatches does.
func chunkDest(dest any, chunk reflect.Value) (any, reflect.Value) {
	if reflect.ValueOf(dest).Kind() != reflect.Pointer {
		return chunk.Interface(), chunk
	}
	ptr := reflect.New(chunk.Type())
	ptr.Elem().Set(chunk)
	return ptr.Interface(), ptr.Elem()
}

// trace logs a chunk's statement the way GORM's processor logs a statement.
func trace(tx *gorm.DB, begin time.Time) {
	stmt := tx.Statement
	tx.Logger.Trace(stmt.Context, begin, func() (string, int64) {
		sql, vars := stmt.SQL.String(), stmt.Vars
		if filter, ok := tx.Logger.(gorm.ParamsFilter); ok {
			sql, vars = filter.ParamsFilter(stmt.Context, sql, vars...)
		}
		return tx.Dialector.Explain(sql, vars...), tx.RowsAffected
	}, tx.Error)
}

// skipsRows reports whether GORM's read-back of the chunk skips rows that
// already hold their values, as its scan does under ON CONFLICT DO
// NOTHING (MySQL's clause builder turns DO NOTHING into an update, and its
// RETURNING hands every row back).
func skipsRows(stmt *gorm.Statement, chunk reflect.Value) bool {
	return doesNothing(stmt) && hasReturning(stmt) && stmt.Dialector.Name() != "mysql" &&
		stmt.Schema != nil && readsBack(stmt, Options{}) && reflect.Indirect(chunk.Index(0)).Type() == stmt.Schema.ModelType
}

// scanOn runs the chunk's INSERT and reads what RETURNING hands back as
// GORM's one statement would have: GORM matches returned rows to the rows
// by position, from the first on, so where ON CONFLICT skipped rows of an
// earlier chunk, the rows it read back for were among the last of that
// chunk, and its read-back goes on into this one. For the creates GORM
// makes for associations, reading each chunk's returned rows into the rows
// from where the last read stopped keeps GORM's structs, and the join rows
// and foreign keys GORM builds from them (a create of the user's own reads
// by scanCounting, or by keys drawn ahead). The read also passes over the
// rows that hold their key already (a struct shared by pointer, from its
// second appearance on: see leftToDB.settle), and so can reach into
// the rows of the chunks after this one, as over GORM's one statement; the
// record writes those rows as it has them. It returns the rows the read
// went over, as GORM counts them.
func (w *statementWriter) scanOn(tx *gorm.DB, n int) (int64, error) {
	stmt := tx.Statement
	chunk, end := stmt.ReflectValue, w.offset+n
	if w.record != nil {
		end = w.db.Statement.ReflectValue.Len()
	}
	if w.scanFrom == end {
		// The read went over every row already, and GORM's stops there
		// (its Scan would take an empty slice for one to fill).
		_, err := w.conn.ExecContext(stmt.Context, stmt.SQL.String(), stmt.Vars...)
		return 0, err
	}
	rows, err := w.conn.QueryContext(stmt.Context, stmt.SQL.String(), stmt.Vars...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	stmt.ReflectValue = w.db.Statement.ReflectValue.Slice(w.scanFrom, end)
	gorm.Scan(rows, tx, gorm.ScanUpdate|gorm.ScanOnConflictDoNothing)
	stmt.ReflectValue = chunk
	w.scanFrom += int(tx.RowsAffected)
	return tx.RowsAffected, rows.Close()
}

// handOn gives on the keys of the chunk's rows that GORM's LastInsertId
// arithmetic passed over (shared structs holding an earlier chunk's key,
// see leftToDB.settle): over GORM's one statement the arithmetic
// goes on counting into the rows after them, so the keys the chunk's
// INSERT drew after the keyed rows' go to the next rows of the call that
// hold none, in order; the record writes those rows as it has them. The
// chunk's INSERT wrote keyed+passed rows that left their key to the
// database, from result's LastInsertId up by the server's step. Where
// ownKeys, the structs get their own rows' keys instead (leftToDB.ownKeys)
// and nothing is handed on.
func (w *statementWriter) handOn(stmt *gorm.Statement, result sql.Result, n, keyed, passed int, ownKeys bool) error {
	first, err := result.LastInsertId()
	if err != nil || first == 0 {
		return err
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	step := w.conn.dialect.mysql.get().step
	if step == 0 {
		step = pk.AutoIncrementIncrement
	}
	if ownKeys {
		return w.record.ownKeys(stmt.ReflectValue, first, step)
	}
	rows := w.db.Statement.ReflectValue
	next := first + int64(keyed)*step
	for i := w.offset + n; i < rows.Len() && passed > 0; i++ {
		row := reflect.Indirect(rows.Index(i))
		if _, zero := pk.ValueOf(stmt.Context, row); !zero {
			continue
		}
		if err := pk.Set(stmt.Context, row, next); err != nil {
			return err
		}
		next += step
		passed--
	}
	return nil
}

// conflictsOnlyOn reports whether the statement is no upsert, or one
// whose conflict target is the key alone (GORM's has-many and has-one
// upserts, UpdateAll's default): rowids count the rows an INSERT wrote,
// and a row that leaves its rowid to the database takes a new one, which
// conflicts with none, so such an upsert writes every such row.
func conflictsOnlyOn(stmt *gorm.Statement, key *schema.Field) bool {
	c, ok := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	switch {
	case !ok:
		return true
	case c.OnConstraint != "":
		return false
	case len(c.Columns) == 0:
		return c.UpdateAll && len(stmt.Schema.PrimaryFields) == 1
	}
	return len(c.Columns) == 1 && c.Columns[0].Name == key.DBName
}

// hasOnConflict reports whether the statement is an upsert.
func hasOnConflict(stmt *gorm.Statement) bool {
	_, ok := stmt.Clauses["ON CONFLICT"]
	return ok
}

// updatesOnConflict reports whether the statement updates the rows it
// conflicts with (ON CONFLICT DO UPDATE, GORM's UpdateAll).
func updatesOnConflict(stmt *gorm.Statement) bool {
	return hasOnConflict(stmt) && !doesNothing(stmt)
}

// updateAll is what GORM's ConvertToCreateValues does for ON CONFLICT
// UpdateAll (Save's upsert, FullSaveAssociations): the conflict updates
// every column the chunk writes but keys, columns with a database default
// and autoCreateTime ones, autoUpdateTime ones to now; nothing left, it
// does nothing; and the conflict target defaults to the primary key.
func updateAll(stmt *gorm.Statement, values clause.Values, now time.Time) {
	c, ok := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	if !ok || !c.UpdateAll || len(values.Columns) == 0 {
		return
	}
	selected, restricted := stmt.SelectAndOmitColumns(true, true)
	var columns []string
	for _, column := range values.Columns {
		f := stmt.Schema.LookUpField(column.Name)
		if f == nil || !updatable(f, selected, restricted) {
			continue
		}
		if f.AutoUpdateTime == 0 {
			columns = append(columns, column.Name)
			continue
		}
		assignment := clause.Assignment{Column: clause.Column{Name: f.DBName}, Value: now}
		switch f.AutoUpdateTime {
		case schema.UnixNanosecond:
			assignment.Value = now.UnixNano()
		case schema.UnixMillisecond:
			assignment.Value = now.UnixMilli()
		case schema.UnixSecond:
			assignment.Value = now.Unix()
		}
		c.DoUpdates = append(c.DoUpdates, assignment)
	}
	c.DoUpdates = append(c.DoUpdates, clause.AssignmentColumns(columns)...)
	if len(c.DoUpdates) == 0 {
		c.DoNothing = true
	}
	if len(c.Columns) == 0 {
		for _, f := range stmt.Schema.PrimaryFields {
			c.Columns = append(c.Columns, clause.Column{Name: f.DBName})
		}
	}
	stmt.AddClause(c)
}

// updatable reports whether UpdateAll updates f's column where the rows
// write it: not a key, a database default or an autoCreateTime, and left
// by Select and Omit (GORM's rule).
func updatable(f *schema.Field, selected map[string]bool, restricted bool) bool {
	if v, ok := selected[f.DBName]; !((ok && v) || (!ok && !restricted)) {
		return false
	}
	return !f.PrimaryKey && (!f.HasDefaultValue || f.DefaultValueInterface != nil || strings.EqualFold(f.DefaultValue, "NULL")) && f.AutoCreateTime == 0
}

// doesNothing reports whether the statement's ON CONFLICT leaves a row it
// meets as it is: DO NOTHING, or an UpdateAll (Save's upsert) without a
// column to update, which updateAll makes DO NOTHING as GORM does. The
// read-back is planned from it: GORM's scan then passes over the rows
// that hold a key, and the plugin gives each row its own.
func doesNothing(stmt *gorm.Statement) bool {
	c, ok := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	switch {
	case !ok:
		return false
	case c.DoNothing:
		return true
	case !c.UpdateAll || len(c.DoUpdates) > 0 || stmt.Schema == nil:
		return false
	}
	cols := newInsertColumns(stmt, time.Time{})
	selected, restricted := stmt.SelectAndOmitColumns(true, true)
	for _, f := range slices.Concat(cols.fields, cols.dbDefaults) {
		if updatable(f, selected, restricted) {
			return false
		}
	}
	return true
}

// updatedTwice names the two rows of a chunk whose upsert failed because
// both would update one row (PostgreSQL's "ON CONFLICT DO UPDATE command
// cannot affect row a second time", as GORM's one statement fails), or
// returns err. The server groups the chunk's values of the conflict
// target, from the arrays the statement sent, with the types' own
// equality; on a connection of its own, as the transaction has failed.
// Where it cannot tell, err names the chunk.
func (w *statementWriter) updatedTwice(stmt *gorm.Statement, err error) error {
	c, ok := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	arrays := w.sql.arrays
	if !updatedTwiceCode(err) || !ok || len(c.Columns) == 0 || arrays == nil || len(stmt.Vars) < len(arrays.columns) {
		return err
	}
	var (
		casts, groups []string
		vars          []any
	)
	for _, target := range c.Columns {
		k := slices.IndexFunc(arrays.columns, func(col clause.Column) bool { return col.Name == target.Name })
		if k < 0 {
			return err
		}
		cast := w.types[target.Name].cast
		vars = append(vars, stmt.Vars[k])
		n := strconv.Itoa(len(vars))
		if arrays.ways[k] == textArray {
			casts = append(casts, "$"+n+"::text[]")
			groups = append(groups, "u.c"+n+"::"+cast)
		} else {
			casts = append(casts, "$"+n+"::"+cast+"[]")
			groups = append(groups, "u.c"+n)
		}
	}
	names := make([]string, len(vars))
	for i := range names {
		names[i] = "c" + strconv.Itoa(i+1)
	}
	query := fmt.Sprintf("SELECT min(u.n) - 1, max(u.n) - 1 FROM unnest(%s) WITH ORDINALITY AS u(%s, n) GROUP BY %s HAVING count(*) > 1 LIMIT 1",
		strings.Join(casts, ", "), strings.Join(names, ", "), strings.Join(groups, ", "))
	var first, last int
	if w.db.Config.ConnPool.QueryRowContext(stmt.Context, query, vars...).Scan(&first, &last) != nil {
		return err
	}
	return twiceError(first, last, err)
}

// updatedTwiceCode reports whether err is PostgreSQL's "ON CONFLICT DO
// UPDATE command cannot affect row a second time".
func updatedTwiceCode(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "21000"
}

// twiceError names rows first and last of a chunk as the two that would
// update one row.
func twiceError(first, last int, err error) error {
	return &ChunkError{First: first, Last: last, Err: fmt.Errorf("the first and the last of them would both update one row: %w", err)}
}
