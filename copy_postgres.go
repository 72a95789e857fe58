package bulk

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// On PostgreSQL the rows of a statement stream to the server with binary
// COPY FROM STDIN (copyFrom, pgx's CopyFrom with the catalog's types), read
// straight from the structs: nothing holds the input's values beyond the
// row being encoded. COPY reads
// nothing back, so the plugin takes it only where GORM's RETURNING would
// bring back nothing it cannot learn otherwise:
//   - a generated key comes from the key's sequence (serial, bigserial or
//     an identity column), see keys.go;
//   - any other column with a database default must be given by every row
//     (or left to the database by every row under SkipReturning);
//   - no value may be SQL rather than data (a field whose type is a
//     clause.Expression or GORM Valuer, or an interface);
//   - every value goes in binary as GORM's parameter would
//     (encode_postgres.go): a COPY has one format, and GORM's parameters
//     of a string into uuid, inet or an enum, or of anything into a
//     domain, go as text the server parses;
//   - the table is a plain or partitioned table without rules (COPY
//     ignores rules), without row-level security that applies to the user
//     (COPY FROM refuses it) and, where anything is read back, without
//     BEFORE INSERT row triggers (they may change what RETURNING would
//     return);
//   - the statement names no RETURNING clause of its own;
//   - an upsert's conflict target is the key alone, which every row leaves
//     to the key's sequence (upsertRefusal, copyWriter.writeUpsert), or
//     else its rows go through a staging table (staging.go).
// Elsewhere the statement takes the statement path (VALUES/unnest).

// copyRows is how many rows one COPY writes when BatchSize is 0. Keys drawn
// ahead of a COPY are held for it, so this bounds what they take.
const copyRows = 100_000

var (
	errNotPgx   = errors.New("gormbulk: connection is not pgx")
	copyLine    = regexp.MustCompile(`COPY .*, line (\d+)`)
	valuerType  = reflect.TypeOf((*gorm.Valuer)(nil)).Elem()
	exprType    = reflect.TypeOf((*clause.Expression)(nil)).Elem()
	identityKey = "a" // attidentity of GENERATED ALWAYS, which refuses given keys
)

// copyPlan is how one statement's rows are copied.
type copyPlan struct {
	table   pgx.Identifier
	columns []string
	types   []uint32 // the columns' types (copyFrom)
	cols    insertColumns
	given   []*schema.Field // database-default columns every row gives
	key     *schema.Field   // generated key, if any
	seq     *pgSequence     // the key's sequence

	// proveKeys is set when the key's default draws every row's key inside
	// the COPY; otherwise the keys are drawn ahead and written.
	proveKeys bool
	// replaceKeys is set when the statement does not write the key (Select
	// or Omit leave it out): the database would generate every row's key,
	// given or not, and RETURNING would overwrite the given ones.
	replaceKeys bool
	// lastKey is the last key the call's latest COPY proved (nextKey).
	lastKey *int64
	// upsert is set for a statement with ON CONFLICT (see upsertRefusal);
	// staged for one whose rows may conflict, which COPY writes into a
	// staging table and an INSERT … SELECT moves (staging.go).
	upsert, staged bool
}

// planCopy returns how to copy the statement's rows, or why COPY cannot
// give GORM's result.
func (r *registration) planCopy(db *gorm.DB, opts Options, now time.Time) (*copyPlan, string) {
	stmt := db.Statement
	switch {
	case r.dialect.server.other() != "":
		return nil, fmt.Sprintf("the server is %s, and COPY, arrays and the catalog reads are proven on PostgreSQL only", r.dialect.server.other())
	case !r.dialect.copy:
		return nil, "COPY needs PostgreSQL through pgx's database/sql driver"
	case db.DryRun:
		return nil, "DryRun shows statements, and COPY is none"
	case !r.dialect.buildsAhead(stmt, stmt.ReflectValue):
		return nil, "COPY takes slices of structs"
	}
	if _, ok := pinned(stmt.ConnPool); !ok {
		return nil, "the pgx connection cannot be reached: the statement is not in a transaction begun through the plugin's pool (pgx's database/sql driver, opened before db.Use)"
	}

	if _, ok := stmt.Clauses["RETURNING"]; ok && !opts.SkipReturning {
		return nil, "the statement names its own RETURNING columns"
	}
	table, ok := pgTable(stmt)
	if !ok {
		return nil, "the table is an expression, not a name"
	}
	info := r.catalog.table(db)
	if info == nil {
		return nil, "the table cannot be read from the catalog"
	}
	if why := info.copyRefusal(readsBack(stmt, opts)); why != "" {
		return nil, why
	}
	upsert := hasOnConflict(stmt)
	catalog := info.columns
	plan := &copyPlan{cols: newInsertColumns(stmt, now), table: table, upsert: upsert}
	if upsert {
		direct := info.upsertRefusal(stmt) == "" && plan.keyLeftToSequence(stmt, catalog)
		if why := upsertCopyRefusal(stmt, opts, direct); why != "" {
			return nil, why
		}
		plan.staged = !direct
	}
	var valued []*schema.Field // fields whose values alone tell their kind
	for _, f := range plan.cols.fields {
		if why := plan.addColumn(f, catalog, &valued); why != "" {
			return nil, why
		}
	}
	rows := stmt.ReflectValue
	if plan.staged {
		return plan.stage(stmt, rows, catalog, valued)
	}
	// Every column GORM would read back with RETURNING must be known
	// without it: given by every row, or a key drawn from its sequence.
	pk := stmt.Schema.PrioritizedPrimaryField
	for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
		isWritten, given, zero := plan.cols.defaulted(stmt, f, rows)
		readBack := f.Readable && !opts.SkipReturning
		if upsert && f == pk && (given > 0 || !isWritten) {
			return nil, fmt.Sprintf("rows of the upsert give their key %s, which may conflict", f.DBName)
		}
		switch {
		case zero == 0:
		case f == pk && (readBack || upsert):
			if plan.seq = catalog[f.DBName].seq; plan.seq == nil {
				return nil, fmt.Sprintf("key %s has a database default other than its sequence's nextval", f.DBName)
			}
			plan.key, plan.replaceKeys = f, !isWritten
			// An upsert's keys are drawn ahead, so that a chunk that goes
			// as statements after all writes the same keys.
			if plan.proveKeys = given == 0 && plan.seq.provable && !upsert; plan.proveKeys {
				continue
			}
			if j, i, ok := sharedRows(rows); ok {
				return nil, fmt.Sprintf("rows %d and %d are one struct, which keys drawn ahead cannot give two keys", j, i)
			}
			if col, ok := catalog[f.DBName]; !ok || col.identity == identityKey {
				return nil, fmt.Sprintf("key %s is GENERATED ALWAYS: COPY cannot write it, and its sequence cannot prove which keys the rows got", f.DBName)
			}
			if !plan.seq.drawable {
				return nil, fmt.Sprintf("key %s's sequence cannot prove which keys the rows got, and the user may not draw them ahead (USAGE on %s)", f.DBName, plan.seq.name)
			}
		case given == 0 && !readBack:
			continue
		default:
			return nil, fmt.Sprintf("column %s takes a database default that only RETURNING can read back", f.DBName)
		}
		if why := plan.addColumn(f, catalog, &valued); why != "" {
			return nil, why
		}
		plan.given = append(plan.given, f)
	}
	if upsert && plan.key == nil {
		return nil, "the upsert's key is not left to a sequence"
	}
	if why := valuesCopyable(stmt, rows, valued, catalog, newPgParams(typeMap(stmt.ConnPool))); why != "" {
		return nil, why
	}
	return plan, ""
}

// keyLeftToSequence reports whether every row leaves the statement's key
// to its sequence, and the keys can be drawn ahead for them: no row of an
// upsert on the key can then conflict (upsertRefusal).
func (plan *copyPlan) keyLeftToSequence(stmt *gorm.Statement, catalog map[string]pgColumn) bool {
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil || !slices.Contains(stmt.Schema.FieldsWithDefaultDBValue, pk) {
		return false
	}
	written, given, _ := plan.cols.defaulted(stmt, pk, stmt.ReflectValue)
	col := catalog[pk.DBName]
	return written && given == 0 && col.seq != nil && col.seq.drawable && col.identity != identityKey
}

// sharedRows returns the first two rows that are one struct, shared by
// pointer, and whether there are any: each appearance is a row of its own,
// which the struct holds one key of.
func sharedRows(rows reflect.Value) (first, second int, ok bool) {
	if rows.Type().Elem().Kind() != reflect.Pointer {
		return 0, 0, false
	}
	seen := make(map[uintptr]int, rows.Len())
	for i := range rows.Len() {
		p := rows.Index(i).Pointer()
		if j, ok := seen[p]; ok {
			return j, i, true
		}
		seen[p] = i
	}
	return 0, 0, false
}

// copyable says why binary COPY cannot write a field's values as GORM's
// parameters write them, or "". A field whose values alone tell (a
// serializer, a Valuer, a type pgx may fail on in binary) is appended to
// valued, for valuesCopyable to check each value.
func copyable(f *schema.Field, catalog map[string]pgColumn, valued *[]*schema.Field) string {
	if why := sqlValued(f); why != "" {
		return why
	}
	col, ok := catalog[f.DBName]
	if !ok {
		return fmt.Sprintf("column %s is not in the table", f.DBName)
	}
	switch t := f.FieldType; {
	case f.Serializer == nil && col.binaryFor(t):
	case t == reflect.TypeFor[string](), t == reflect.TypeFor[*string]():
		return fmt.Sprintf("column %s is %s and field %s is %s: GORM's parameter goes as text the server parses, and binary COPY has no text", f.DBName, col.cast, f.Name, t)
	default:
		*valued = append(*valued, f)
	}
	return ""
}

// addColumn adds a field's column to the COPY, or says why binary COPY
// cannot write it (copyable). The column's type is the catalog's, which
// is what a description of the column gives (copyFrom).
func (plan *copyPlan) addColumn(f *schema.Field, catalog map[string]pgColumn, valued *[]*schema.Field) string {
	if why := copyable(f, catalog, valued); why != "" {
		return why
	}
	plan.columns = append(plan.columns, f.DBName)
	plan.types = append(plan.types, catalog[f.DBName].oid)
	return ""
}

// valuesCopyable says why some row's value of a valued field cannot go by
// binary COPY (see copyable), or "". An unsigned value that fits an int64
// goes into int8 and numeric as that int64 does, which needs no look
// through pgx.
func valuesCopyable(stmt *gorm.Statement, rows reflect.Value, valued []*schema.Field, catalog map[string]pgColumn, params *pgParams) string {
	model := stmt.Schema.ModelType
	addrs := rowAddrs(model, rows)
	for _, f := range valued {
		col := catalog[f.DBName]
		fits := planOf(model, f).fitsInt64
		if col.domain || (col.builtin != "int8" && col.builtin != "numeric") {
			fits = nil
		}
		for i := 0; i < rows.Len(); i++ {
			if addr := addrs(i); fits != nil && addr != nil && fits(addr) {
				continue
			}
			v, _ := f.ValueOf(stmt.Context, reflect.Indirect(rows.Index(i)))
			if _, way, ok := params.way(col, v); !ok || way == textArray {
				return fmt.Sprintf("column %s is %s and row %d's %s (%T) goes as GORM's parameter in text, which the server parses, and binary COPY has no text", f.DBName, col.cast, i, f.Name, v)
			}
		}
	}
	return ""
}

// sqlValued says why a field's values may be SQL rather than data, or "".
func sqlValued(f *schema.Field) string {
	t := f.FieldType
	for _, iface := range []reflect.Type{valuerType, exprType} {
		if t.Implements(iface) || reflect.PointerTo(t).Implements(iface) {
			return fmt.Sprintf("column %s holds values GORM writes as SQL (%s)", f.DBName, iface)
		}
	}
	if t.Kind() == reflect.Interface {
		return fmt.Sprintf("column %s is an interface, which may hold SQL expressions", f.DBName)
	}
	return ""
}

// copyWriter writes chunks with COPY, copyRows (or BatchSize) rows each.
type copyWriter struct {
	db   *gorm.DB
	plan *copyPlan
	opts Options
	size int
	load *load // reports the rows a long COPY has sent

	// An upsert's chunks that COPY cannot write go by statements
	// (writeUpsert): newStatements makes their writer on first use.
	newStatements func() *statementWriter
	statements    *statementWriter
	record        *leftToDB
	// at is the call's row the chunk being written starts at; next, the
	// next chunk's.
	at, next int
	// allowed tells, once read, whether the user may do all the upsert
	// may (read the table and, for an update, update it).
	allowed *bool
}

func newCopyWriter(db *gorm.DB, plan *copyPlan, opts Options, l *load, record *leftToDB, statements func() *statementWriter) *copyWriter {
	w := &copyWriter{db: db, plan: plan, opts: opts, size: copyRows, load: l, record: record, newStatements: statements}
	switch {
	case opts.BatchSize > 0:
		w.size = opts.BatchSize
	case plan.staged:
		// One INSERT … SELECT moves the call's rows, as GORM's one
		// statement writes them; the COPY streams them, whatever their
		// number.
		w.size = db.Statement.ReflectValue.Len()
	}
	return w
}

func (w *copyWriter) chunkRows() int { return w.size }

func (w *copyWriter) close() {
	if w.statements != nil {
		w.statements.close()
	}
}

func (w *copyWriter) first() (string, []any) { return w.plan.statement(w.db.Statement), nil }

// write copies the chunk.
func (w *copyWriter) write(chunk reflect.Value) (int64, error) {
	w.at, w.next = w.next, w.next+chunk.Len()
	switch {
	case w.plan.staged:
		return w.writeStaged(chunk)
	case w.plan.upsert:
		return w.writeUpsert(chunk)
	}
	return w.copyChunk(chunk)
}

// writeUpsert writes a chunk of an upsert that COPY may write (see
// upsertRefusal) by COPY after a savepoint, with its keys drawn ahead.
// A key the sequence hands out may have been taken by hand, and then the
// COPY fails: it is undone, and the chunk goes as the upsert's statements
// with the keys drawn for it, the keys the statement's defaults would have
// drawn, so that the table gets what GORM's statement gives it. Where the
// user may not do all the upsert may, every chunk goes as statements,
// which fail as GORM's.
func (w *copyWriter) writeUpsert(chunk reflect.Value) (int64, error) {
	stmt := w.db.Statement
	ctx, pool := stmt.Context, unprepared(stmt.ConnPool)
	allowed, err := w.allows("SELECT has_table_privilege($1, 'SELECT') AND (NOT $2 OR has_table_privilege($1, 'UPDATE'))",
		w.plan.table.Sanitize(), updatesOnConflict(stmt))
	if err != nil {
		return 0, err
	}
	if !allowed {
		return w.byStatements(chunk)
	}
	if _, err := pool.ExecContext(ctx, "SAVEPOINT gormbulk_copy"); err != nil {
		return 0, err
	}
	n, err := w.plan.copyChunk(w.db, chunk, w.load)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		for _, undo := range []string{"ROLLBACK TO SAVEPOINT gormbulk_copy", "RELEASE SAVEPOINT gormbulk_copy"} {
			if _, err := pool.ExecContext(ctx, undo); err != nil {
				return 0, err
			}
		}
		return w.byStatements(chunk)
	}
	if err != nil {
		return 0, w.copyError(chunk, err)
	}
	_, err = pool.ExecContext(ctx, "RELEASE SAVEPOINT gormbulk_copy")
	return n, err
}

// allows reads once per call whether the user may do what the writer's
// upsert does, as the query says.
func (w *copyWriter) allows(query string, args ...any) (bool, error) {
	if w.allowed == nil {
		allowed := false
		stmt := w.db.Statement
		if err := unprepared(stmt.ConnPool).QueryRowContext(stmt.Context, query, args...).Scan(&allowed); err != nil {
			return false, err
		}
		w.allowed = &allowed
	}
	return *w.allowed, nil
}

// byStatements writes the chunk through the statement path.
func (w *copyWriter) byStatements(chunk reflect.Value) (int64, error) {
	if w.statements == nil {
		w.statements = w.newStatements()
	}
	return w.statements.handedOn(chunk, w.at, w.record)
}

// copyChunk copies the chunk; a failing COPY names the row the server
// names.
func (w *copyWriter) copyChunk(chunk reflect.Value) (int64, error) {
	n, err := w.plan.copyChunk(w.db, chunk, w.load)
	return n, w.copyError(chunk, err)
}

// copyError is a failed COPY's error as the writer returns it: naming the
// row the server names.
func (w *copyWriter) copyError(chunk reflect.Value, err error) error {
	if err == nil {
		return nil
	}
	if line := failedLine(err); line > 0 && line <= chunk.Len() {
		return &ChunkError{First: line - 1, Last: line - 1, Err: translate(w.db, err)}
	}
	return translate(w.db, err)
}

// copyChunk copies the chunk on the statement's pgx connection, with its
// generated keys drawn ahead or proven after.
func (plan *copyPlan) copyChunk(db *gorm.DB, chunk reflect.Value, l *load) (int64, error) {
	stmt := db.Statement
	table, columns, types := plan.table, plan.columns, plan.types
	if plan.staged {
		table, columns = pgx.Identifier{stagingTable}, append([]string{stagingOrder}, plan.columns...)
		types = append([]uint32{pgtype.Int8OID}, plan.types...)
	}
	src := &structSource{stmt: stmt, rows: chunk, plan: plan, i: -1, row: make([]any, len(columns)), load: l}
	begin := time.Now()
	var copied int64
	err := withPgx(stmt.ConnPool, func(c *pgx.Conn) error {
		var next int64
		var err error
		switch {
		case plan.proveKeys:
			next, err = plan.nextKey(db, c)
		default:
			err = plan.reserveKeys(stmt, c, chunk)
		}
		if err != nil {
			return err
		}
		copied, err = copyFrom(stmt.Context, c, table, columns, types, src)
		if err != nil || !plan.proveKeys {
			return err
		}
		if err = plan.runKeys(stmt, c, chunk, next); err == nil {
			l.keepLastKey(plan.seq.oid, *plan.lastKey)
		}
		return err
	})
	if src.panicked != nil {
		// Raised here, not inside database/sql's Raw, which would leave the
		// transaction's connection marked bad and the rollback stuck.
		panic(src.panicked)
	}
	if err == nil {
		err = stmt.Error
	}
	db.Logger.Trace(stmt.Context, begin, func() (string, int64) { return plan.statement(stmt), copied }, err)
	return copied, err
}

// statement is the COPY as SQL, for the log.
func (plan *copyPlan) statement(stmt *gorm.Statement) string {
	table, columns := plan.table.Sanitize(), quoteColumns(stmt, plan.columns)
	if plan.staged {
		table, columns = stagingTable, stagingOrder+","+columns
	}
	return fmt.Sprintf("COPY %s (%s) FROM STDIN", table, columns)
}

// translate applies the dialect's error translation under TranslateError,
// as GORM's AddError does for the statement path's errors.
func translate(db *gorm.DB, err error) error {
	t, ok := db.Dialector.(gorm.ErrorTranslator)
	if !ok || !db.TranslateError {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return t.Translate(pgErr)
	}
	return t.Translate(err)
}

// failedLine returns the line of COPY's input a server error names, or 0.
func failedLine(err error) int {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return 0
	}
	m := copyLine.FindStringSubmatch(pgErr.Where)
	if m == nil {
		return 0
	}
	line, _ := strconv.Atoi(m[1])
	return line
}

// structSource is a pgx.CopyFromSource over a slice of structs: each row's
// values are read, with GORM's defaults applied, when copyFrom asks for
// them, into one buffer reused for every row.
type structSource struct {
	stmt *gorm.Statement
	rows reflect.Value
	plan *copyPlan
	i    int
	row  []any
	load *load
	// panicked holds a panic on copyFrom's encoding goroutine (of
	// OnProgress's function, or a Valuer's): copyChunk raises it again on
	// the caller's.
	panicked any
}

func (s *structSource) Next() bool {
	s.i++
	if s.i&4095 == 0 && s.panicked == nil {
		s.report()
	}
	return s.i < s.rows.Len() && s.panicked == nil
}

// report tells the load how many of the chunk's rows went.
func (s *structSource) report() {
	defer func() { s.panicked = recover() }()
	s.load.sending(int64(s.i))
}

func (s *structSource) Values() ([]any, error) {
	rv := reflect.Indirect(s.rows.Index(s.i))
	row := s.row
	if s.plan.staged {
		// The staging table's first column orders its rows as given.
		row[0] = int64(s.i)
		row = row[1:]
	}
	s.plan.cols.values(s.stmt, rv, row)
	offset := len(s.plan.cols.fields)
	for k, f := range s.plan.given {
		row[offset+k], _ = f.ValueOf(s.stmt.Context, rv)
	}
	return s.row, s.stmt.Error
}

func (s *structSource) Err() error {
	if s.panicked != nil {
		return errCopyPanicked
	}
	return nil
}
