package bulk

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// create replaces gorm:create. Statements that do not take the bulk path go
// to the dialect's own handler untouched.
func (p *Plugin) create(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	if db.Statement.Dest == nil {
		// GORM's handler dereferences the missing schema and panics.
		db.AddError(gorm.ErrInvalidValue)
		return
	}
	if opts, ok := p.bulkOptions(db); ok {
		p.bulkCreate(db, opts)
		return
	}
	p.original(db)
}

// bulkOptions reports whether the statement takes the bulk path, and with
// which options. The bulk path needs a known dialect, rows it can cut into
// chunks, and SQL not already built by an earlier callback; where GORM reads
// generated keys back by LastInsertId arithmetic, it also needs that
// arithmetic to hold for every chunk (see lastInsertIDSafe).
func (p *Plugin) bulkOptions(db *gorm.DB) (Options, bool) {
	stmt := db.Statement
	if !p.known || stmt.SQL.Len() > 0 {
		return Options{}, false
	}
	opts, explicit, ok := statementOptions(stmt, p.config)
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
	if p.limits.lastInsertID && !hasReturning(stmt) && !lastInsertIDSafe(stmt) {
		p.reasons.stepAside(db, "the bulk path", "GORM's own create", "without RETURNING, LastInsertId arithmetic cannot give each chunk's rows their keys (ON CONFLICT, or given and generated keys mixed)")
		return opts, false
	}
	return opts, true
}

// hasReturning reports whether the dialect reads generated values back with
// RETURNING (GORM lists the clause among the create clauses then).
func hasReturning(stmt *gorm.Statement) bool {
	for _, name := range stmt.BuildClauses {
		if name == "RETURNING" {
			return true
		}
	}
	return false
}

// lastInsertIDSafe reports whether LastInsertId arithmetic gives every row
// of every chunk its true key: the statement has no ON CONFLICT (skipped or
// updated rows break the sequence), and either no key is generated or all
// rows leave the key to the database. A mix of given and generated keys
// breaks the arithmetic per chunk differently from the single statement, so
// such statements stay with GORM.
func lastInsertIDSafe(stmt *gorm.Statement) bool {
	if _, ok := stmt.Clauses["ON CONFLICT"]; ok {
		return false
	}
	if stmt.Schema == nil {
		return true
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil || !pk.HasDefaultValue {
		return true
	}
	rows := stmt.ReflectValue
	for i := 0; i < rows.Len(); i++ {
		row := reflect.Indirect(rows.Index(i))
		if row.Kind() != reflect.Struct {
			return true
		}
		if _, zero := pk.ValueOf(stmt.Context, row); !zero {
			return false
		}
	}
	return true
}

// catalogMinRows is the fewest rows of a call for which the plugin reads
// the catalog: PostgreSQL's column types for arrays, SQLite's schema for
// rowid keys. Each read costs round trips GORM does not make; measured
// here (BenchmarkCreateSizes), a PostgreSQL call of 50 rows ran at 0.77×
// plain GORM with arrays and 1.0× without, one of 100 at 1.07× and 1.02×,
// 200 at 1.3× and 1.04×. A variable for the tests, which run those paths
// on a few rows.
var catalogMinRows = 100

// bulkCall is one bulk create: the statement, its options, the connection
// its chunks go through, and the key SQLite's rowids give, if any.
type bulkCall struct {
	db      *gorm.DB
	opts    Options
	conn    *chunkConn
	create  func(*gorm.DB)
	rowid   *schema.Field
	types   map[string]pgColumn // PostgreSQL's catalog, for unnest
	params  *pgParams           // how pgx would send the values, for unnest
	sql     sqlCache
	now     time.Time // the statement's one reading of the clock
	reasons *reasons
}

// bulkCreate writes the statement's rows with COPY where planCopy allows
// (and the options do not forbid it), and otherwise chunk by chunk: each
// chunk is sized to the limits and goes through the dialect's create
// handler, which reads generated values back into the rows. A chunk the
// limits refuse is cut down before anything reaches the database.
func (p *Plugin) bulkCreate(db *gorm.DB, opts Options) {
	stmt := db.Statement
	rows := stmt.ReflectValue
	total := rows.Len()
	if err := checkRows(rows); err != nil {
		db.AddError(err)
		return
	}
	// GORM reads the clock once per statement: every chunk's rows get the
	// time the single statement would give them.
	now := db.NowFunc()
	if opts.Method == Copy || (opts.Method == AnyMethod && total >= copyMinRows) {
		plan, why := p.planCopy(db, opts, now)
		switch {
		case plan != nil:
			p.copyCreate(db, plan, opts)
			return
		case opts.Method == Copy:
			db.AddError(fmt.Errorf("%w: %s", ErrMethodUnavailable, why))
			return
		case p.limits.postgres && !db.DryRun:
			p.reasons.stepAside(db, "COPY", "the statement path", why)
		}
	}

	call := &bulkCall{db: db, opts: opts, conn: &chunkConn{ConnPool: stmt.ConnPool, limits: p.limits}, create: p.original, now: now, reasons: &p.reasons}
	defer call.conn.close()
	if p.limits.rowid && !opts.SkipReturning && !db.DryRun && total >= catalogMinRows {
		call.rowid = rowidKey(db)
	}
	if p.limits.unnest && !db.DryRun && total >= catalogMinRows && p.limits.buildsAhead(stmt, rows) {
		call.types, call.params = tableColumns(db), newPgParams(typeMap(stmt.ConnPool))
	}

	size := p.rowsPerStatement(stmt, opts)
	padding := newMapPadding(stmt, rows)
	var affected int64
	for start := 0; start < total; {
		if err := stmt.Context.Err(); err != nil {
			db.AddError(err)
			return
		}
		n := min(size, total-start)
		// The chunk's capacity ends with it, so whatever the handler appends
		// cannot overwrite the rows after it.
		chunk, copyBack := padding.pad(rows.Slice3(start, start+n, start+n))
		tx := call.writeChunk(chunk)
		copyBack()

		var over *limitError
		if errors.As(tx.Error, &over) && n > 1 {
			// Shrink in proportion, so one oversized estimate costs one
			// rebuild.
			size = max(1, int(int64(n)*int64(over.max)/int64(over.got)))
			continue
		}
		if tx.Error != nil {
			db.AddError(&ChunkError{First: start, Last: start + n - 1, Err: tx.Error})
			return
		}
		affected += tx.RowsAffected
		start += n
		appendExtra(stmt.ReflectValue, tx.Statement.ReflectValue, n)
	}

	db.RowsAffected = affected
	if stmt.Result != nil {
		stmt.Result.RowsAffected = affected
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

// rowsPerStatement is the first estimate of how many rows fit one statement.
// An estimate too high costs one rebuild of the first chunk (chunkConn
// refuses it before it is sent); one too low costs statements.
func (p *Plugin) rowsPerStatement(stmt *gorm.Statement, opts Options) int {
	n, params := math.MaxInt, max(1, paramsPerRow(stmt))
	switch {
	case opts.BatchSize > 0:
		n = opts.BatchSize
	case p.limits.targetParams > 0:
		n = max(1, p.limits.targetParams/params)
	}
	if p.limits.maxRows > 0 {
		n = min(n, p.limits.maxRows)
	}
	if p.limits.maxParams > 0 {
		n = min(n, p.limits.maxParams/params)
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

// writeChunk runs the dialect's create handler on one chunk, in a session
// that shares the statement's clauses, selections, context and transaction.
func (c *bulkCall) writeChunk(chunk reflect.Value) *gorm.DB {
	db, conn := c.db, c.conn
	// GORM's own conversion (maps, upserts) reads NowFunc per chunk: give
	// it the statement's one reading.
	tx := db.Session(&gorm.Session{Context: db.Statement.Context, NowFunc: func() time.Time { return c.now }})
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
		values clause.Values
		ahead  = conn.limits.buildsAhead(stmt, chunk)
	)
	if ahead {
		values = createValues(stmt, stmt.ReflectValue, c.now)
	}
	// Where rowids are the keys, a chunk that leaves every key to the
	// database (its values have no key column) takes them from
	// LastInsertId, and one that gives every key needs none read back.
	var rowid, keysGiven bool
	if ahead && c.rowid != nil {
		rowid = !hasColumn(values, c.rowid.DBName)
		keysGiven = !rowid && allGiven(stmt, c.rowid)
	}

	// Without read-back through the handler, it only builds the SQL (an
	// empty RETURNING keeps it from adding its own), and the chunk is
	// executed here.
	skipReturning := c.opts.SkipReturning || rowid || keysGiven
	buildOnly := skipReturning || db.DryRun
	if skipReturning {
		stmt.Clauses["RETURNING"] = clause.Clause{Builder: func(clause.Clause, clause.Builder) {}}
	}
	tx.DryRun = buildOnly
	if ahead {
		if why := c.sql.buildInsert(stmt, values, skipReturning, c.types, c.params); why != "" {
			c.reasons.stepAside(db, "arrays", "VALUES", why)
		}
	}
	c.create(tx)
	if buildOnly && tx.Error == nil {
		switch {
		case db.DryRun:
			tx.AddError(conn.limits.check(stmt.SQL.String(), stmt.Vars))
		default:
			result, err := conn.ExecContext(stmt.Context, stmt.SQL.String(), stmt.Vars...)
			if tx.AddError(err) == nil {
				tx.RowsAffected, _ = result.RowsAffected()
				if rowid {
					last, err := result.LastInsertId()
					if tx.AddError(err) == nil {
						// One INSERT's rowids end at LastInsertId.
						first := last - int64(chunk.Len()) + 1
						tx.AddError(setKeys(stmt, c.rowid, stmt.ReflectValue, func(i int) int64 { return first + int64(i) }))
					}
				}
			}
		}
	}

	var over *limitError
	switch {
	case errors.As(tx.Error, &over):
	case db.DryRun:
		// The processor logs the statement's SQL once: collect every chunk.
		if db.Statement.SQL.Len() > 0 {
			db.Statement.SQL.WriteString(";\n")
		}
		db.Statement.SQL.WriteString(stmt.SQL.String())
		db.Statement.Vars = append(db.Statement.Vars, stmt.Vars...)
	default:
		trace(tx, begin)
	}
	return tx
}

// setKeys gives row i of rows the generated key key(i), as GORM sets what
// RETURNING hands back.
func setKeys(stmt *gorm.Statement, field *schema.Field, rows reflect.Value, key func(i int) int64) error {
	model := stmt.Schema.ModelType
	set := planOf(model, field).setInt
	for i := 0; i < rows.Len(); i++ {
		row := reflect.Indirect(rows.Index(i))
		if addr := rowAddr(model, row); set != nil && addr != nil {
			set(addr, key(i))
		} else if err := field.Set(stmt.Context, row, key(i)); err != nil {
			return err
		}
	}
	return nil
}

// allGiven reports whether every row of the chunk has a value for field.
func allGiven(stmt *gorm.Statement, field *schema.Field) bool {
	for i := 0; i < stmt.ReflectValue.Len(); i++ {
		if _, zero := field.ValueOf(stmt.Context, stmt.ReflectValue.Index(i)); zero {
			return false
		}
	}
	return true
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
