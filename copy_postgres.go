package bulk

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// On PostgreSQL the rows of a statement stream to the server with binary
// COPY FROM STDIN through pgx's CopyFrom, read straight from the structs:
// nothing holds the input's values beyond the row being encoded. COPY reads
// nothing back, so the plugin takes it only where GORM's RETURNING would
// bring back nothing it cannot learn otherwise:
//   - a generated key comes from the key's sequence (serial, bigserial or
//     an identity column), see Keys below;
//   - any other column with a database default must be given by every row
//     (or left to the database by every row under SkipReturning);
//   - no value may be SQL rather than data (a field whose type is a
//     clause.Expression or GORM Valuer, or an interface);
//   - every column's values are of its type's own Go kind (an integer
//     into an integer, a string into text: encode_postgres.go). Binary
//     COPY encodes each value in the client, where GORM's parameter of
//     another kind (a string into uuid, inet, jsonb, an enum or a domain)
//     goes as text the server parses;
//   - the table is a plain or partitioned table without rules (COPY
//     ignores rules), without row-level security that applies to the user
//     (COPY FROM refuses it) and, where anything is read back, without
//     BEFORE INSERT row triggers (they may change what RETURNING would
//     return);
//   - the statement names no RETURNING clause of its own.
// Elsewhere the statement takes the statement path (VALUES/unnest).
//
// Keys. Where every row leaves the key to the database, the COPY leaves the
// column out and the key's default draws each row's key inside the COPY,
// as it does for the raw CopyFrom the path is measured against. Which keys
// the rows got is proven from the sequence (keyRun): it hands out values in
// a fixed step, so when the value it would hand out next was v before the
// COPY and this session's currval is v+(n-1)·step after it, the n rows got
// v, v+step, …, in row order, and nobody else drew in between. When another
// session did draw, the rows' keys are read from the table: the rows with
// keys in that span whose xmin is this transaction's. That takes a sequence
// without per-session cache and without CYCLE, readable by the user; and it
// holds unless the sequence is set back (setval) while the COPY runs, which
// breaks plain INSERTs as much. Otherwise, and where some rows give their
// own keys, the keys are drawn ahead with nextval in one round trip, set in
// the structs and written explicitly (reserveKeys).

// copyMinRows is the fewest rows the automatic choice copies. Measured
// here, COPY's round trips before and after the data (catalog, sequence)
// cost more than the statement path saves below a few hundred rows.
const copyMinRows = 500

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
	cols    insertColumns
	given   []*schema.Field // database-default columns every row gives
	key     *schema.Field   // generated key, if any
	seq     *pgSequence     // the key's sequence

	// keyRun is set when the key's default draws every row's key inside
	// the COPY; otherwise the keys are drawn ahead and written.
	keyRun bool
	// replaceKeys is set when the statement does not write the key (Select
	// or Omit leave it out): the database would generate every row's key,
	// given or not, and RETURNING would overwrite the given ones.
	replaceKeys bool
}

// pgSequence is what the catalog says of a key's sequence.
type pgSequence struct {
	name      string // as regclass text, quoted where needed
	increment int64
	// provable: no per-session cache, no CYCLE, and readable, so keyRun
	// can tell which keys a COPY's rows got.
	provable bool
}

// countGiven counts the rows that give the k-th database-default column a
// value and those that do not.
func countGiven(stmt *gorm.Statement, cols *insertColumns, k int, rows reflect.Value) (given, zero int) {
	f, p := cols.dbDefaults[k], cols.dbPlans[k]
	for i := 0; i < rows.Len(); i++ {
		row := reflect.Indirect(rows.Index(i))
		if _, z := read(stmt, f, p, row, rowAddr(cols.model, row)); z {
			zero++
		} else {
			given++
		}
	}
	return given, zero
}

// planCopy returns how to copy the statement's rows, or why COPY cannot
// give GORM's result.
func (p *Plugin) planCopy(db *gorm.DB, opts Options, now time.Time) (*copyPlan, string) {
	stmt := db.Statement
	switch {
	case !p.limits.copy:
		return nil, "COPY needs PostgreSQL through pgx's database/sql driver"
	case db.DryRun:
		return nil, "DryRun shows statements, and COPY is none"
	case !p.limits.buildsAhead(stmt, stmt.ReflectValue):
		return nil, "COPY takes slices of structs without ON CONFLICT"
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
	if why := copyTarget(db, table, readsBack(stmt, opts)); why != "" {
		return nil, why
	}
	catalog := tableColumns(db)
	if catalog == nil {
		return nil, "the table's columns cannot be read from the catalog"
	}
	plan := &copyPlan{cols: newInsertColumns(stmt, now), table: table}
	var valued []*schema.Field // fields whose values alone tell their kind
	for _, f := range plan.cols.fields {
		if why := copyable(f, catalog, &valued); why != "" {
			return nil, why
		}
		plan.columns = append(plan.columns, f.DBName)
	}
	rows := stmt.ReflectValue
	written := map[*schema.Field]int{}
	for k, f := range plan.cols.dbDefaults {
		written[f] = k
	}
	// Every column GORM would read back with RETURNING must be known
	// without it: given by every row, or a key drawn from its sequence.
	for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
		given, zero := 0, rows.Len()
		k, isWritten := written[f]
		if isWritten {
			given, zero = countGiven(stmt, &plan.cols, k, rows)
		}
		readBack := f.Readable && !opts.SkipReturning
		switch {
		case zero == 0:
		case f == stmt.Schema.PrioritizedPrimaryField && readBack:
			if plan.seq = keySequence(db, table, f); plan.seq == nil {
				return nil, fmt.Sprintf("key %s has a database default other than its sequence's nextval", f.DBName)
			}
			plan.key, plan.replaceKeys = f, !isWritten
			if plan.keyRun = given == 0 && plan.seq.provable; plan.keyRun {
				continue
			}
			if col, ok := catalog[f.DBName]; !ok || col.identity == identityKey {
				return nil, fmt.Sprintf("key %s is GENERATED ALWAYS: COPY cannot write it, and its sequence cannot prove which keys the rows got", f.DBName)
			}
		case given == 0 && !readBack:
			continue
		default:
			return nil, fmt.Sprintf("column %s takes a database default that only RETURNING can read back", f.DBName)
		}
		if why := copyable(f, catalog, &valued); why != "" {
			return nil, why
		}
		plan.given = append(plan.given, f)
		plan.columns = append(plan.columns, f.DBName)
	}
	if why := valuesCopyable(stmt, rows, valued, catalog, newPgParams(typeMap(stmt.ConnPool))); why != "" {
		return nil, why
	}
	return plan, ""
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

// valuesCopyable says why some row's value of a valued field cannot go by
// binary COPY (see copyable), or "".
func valuesCopyable(stmt *gorm.Statement, rows reflect.Value, valued []*schema.Field, catalog map[string]pgColumn, params *pgParams) string {
	for _, f := range valued {
		col := catalog[f.DBName]
		for i := 0; i < rows.Len(); i++ {
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

// readsBack reports whether GORM would read anything back with RETURNING.
func readsBack(stmt *gorm.Statement, opts Options) bool {
	if opts.SkipReturning {
		return false
	}
	for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
		if f.Readable {
			return true
		}
	}
	return false
}

// copyTarget says why COPY into the table would not do what GORM's INSERT
// does, or "". COPY applies no rules, refuses a table whose row-level
// security applies to the user, and cannot see what a BEFORE INSERT row
// trigger changes in the values RETURNING would read back.
func copyTarget(db *gorm.DB, table pgx.Identifier, readsBack bool) string {
	const query = `
SELECT c.relkind IN ('r', 'p'), c.relhasrules, row_security_active(c.oid),
       EXISTS (SELECT FROM pg_trigger t
                WHERE (t.tgrelid = c.oid OR t.tgrelid IN (SELECT relid FROM pg_partition_tree(c.oid)))
                  AND t.tgtype & 7 = 7 AND t.tgenabled <> 'D')
  FROM pg_class c WHERE c.oid = to_regclass($1)`
	var plain, rules, rls, triggers bool
	stmt := db.Statement
	if err := stmt.ConnPool.QueryRowContext(stmt.Context, query, table.Sanitize()).Scan(&plain, &rules, &rls, &triggers); err != nil {
		return "the table cannot be read from the catalog"
	}
	switch {
	case !plain:
		return "the target is not a table"
	case rules:
		return "the table has rules, which COPY does not apply"
	case rls:
		return "row-level security applies to the table, and COPY FROM refuses it"
	case triggers && readsBack:
		return "the table has BEFORE INSERT row triggers, which may change what RETURNING reads back"
	}
	return ""
}

// keySequence returns the sequence whose nextval gives a key column its
// default, or nil. Only a default that is exactly nextval('seq') (serial,
// bigserial), or an identity, qualifies: a key whose default is another
// expression over a sequence gets other values from it.
func keySequence(db *gorm.DB, table pgx.Identifier, key *schema.Field) *pgSequence {
	const query = `
WITH key AS (
SELECT s.oid
  FROM pg_attribute a
  JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
 WHERE a.attrelid = to_regclass($1) AND a.attname = $2
   AND pg_get_expr(d.adbin, d.adrelid) = format('nextval(%L::regclass)', s.oid::regclass::text)
UNION ALL
SELECT to_regclass(pg_get_serial_sequence($1, $2)) FROM pg_attribute a
 WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attidentity <> ''
)
SELECT key.oid::regclass::text, s.seqincrement,
       s.seqcache = 1 AND NOT s.seqcycle AND has_sequence_privilege(key.oid, 'SELECT')
  FROM key JOIN pg_sequence s ON s.seqrelid = key.oid`
	var seq pgSequence
	stmt := db.Statement
	if err := stmt.ConnPool.QueryRowContext(stmt.Context, query, table.Sanitize(), key.DBName).Scan(&seq.name, &seq.increment, &seq.provable); err != nil {
		return nil
	}
	return &seq
}

// copyWriter writes chunks with COPY, copyRows (or BatchSize) rows each.
type copyWriter struct {
	db   *gorm.DB
	plan *copyPlan
	size int
}

func newCopyWriter(db *gorm.DB, plan *copyPlan, opts Options) *copyWriter {
	consumeTrackTime(db.Statement)
	w := &copyWriter{db: db, plan: plan, size: copyRows}
	if opts.BatchSize > 0 {
		w.size = opts.BatchSize
	}
	return w
}

func (w *copyWriter) chunkRows() int { return w.size }

func (w *copyWriter) close() {}

// write copies the chunk; a failing COPY names the row the server names.
func (w *copyWriter) write(chunk reflect.Value) (int64, error) {
	n, err := w.plan.copyChunk(w.db, chunk)
	if err == nil {
		return n, nil
	}
	if line := failedLine(err); line > 0 && line <= chunk.Len() {
		return 0, &ChunkError{First: line - 1, Last: line - 1, Err: translate(w.db, err)}
	}
	return 0, translate(w.db, err)
}

// copyChunk copies the chunk on the statement's pgx connection, with its
// generated keys drawn ahead or proven after.
func (plan *copyPlan) copyChunk(db *gorm.DB, chunk reflect.Value) (int64, error) {
	stmt := db.Statement
	src := &structSource{stmt: stmt, rows: chunk, plan: plan, i: -1, row: make([]any, len(plan.columns))}
	begin := time.Now()
	var copied int64
	_, err := withPgx(stmt.ConnPool, func(c *pgx.Conn) error {
		var next int64
		var err error
		switch {
		case plan.keyRun:
			next, err = plan.seq.next(stmt, c)
		default:
			err = plan.reserveKeys(stmt, c, chunk)
		}
		if err != nil {
			return err
		}
		if copied, err = c.CopyFrom(stmt.Context, plan.table, plan.columns, src); err != nil || !plan.keyRun {
			return err
		}
		return plan.runKeys(stmt, c, chunk, next)
	})
	if err == nil {
		err = stmt.Error
	}
	db.Logger.Trace(stmt.Context, begin, func() (string, int64) {
		quoted := make([]string, len(plan.columns))
		for i, c := range plan.columns {
			quoted[i] = stmt.Quote(c)
		}
		return fmt.Sprintf("COPY %s (%s) FROM STDIN", plan.table.Sanitize(), strings.Join(quoted, ",")), copied
	}, err)
	return copied, err
}

// next returns the value the sequence hands out next. Reading a sequence
// is not transactional: it shows what nextval would give now.
func (seq *pgSequence) next(stmt *gorm.Statement, c *pgx.Conn) (int64, error) {
	var last int64
	var called bool
	if err := c.QueryRow(stmt.Context, "SELECT last_value, is_called FROM "+seq.name).Scan(&last, &called); err != nil {
		return 0, err
	}
	if called {
		last += seq.increment
	}
	return last, nil
}

// runKeys gives the chunk's rows the keys the COPY drew for them, next
// being what the sequence would hand out before it. When currval shows the
// run next, next+step, … unbroken, that is every row's key in row order.
// Otherwise another session drew in between, and the keys are this
// transaction's rows (xmin, all of one COPY) in the span the run covered:
// the sequence hands out values in order, so key order is row order.
func (plan *copyPlan) runKeys(stmt *gorm.Statement, c *pgx.Conn, chunk reflect.Value, next int64) error {
	var last int64
	if err := c.QueryRow(stmt.Context, "SELECT currval($1::regclass)", plan.seq.name).Scan(&last); err != nil {
		return err
	}
	n, step := chunk.Len(), plan.seq.increment
	if last == next+int64(n-1)*step {
		return setKeys(stmt, plan.key, chunk, func(i int) int64 { return next + int64(i)*step })
	}
	lo, hi, order := next, last, "ASC"
	if step < 0 {
		lo, hi, order = last, next, "DESC"
	}
	key, table := pgx.Identifier{plan.key.DBName}.Sanitize(), plan.table.Sanitize()
	query := fmt.Sprintf(`SELECT array_agg(%[1]s::bigint ORDER BY %[1]s %[3]s) FROM %[2]s
		WHERE %[1]s BETWEEN $1 AND $2 AND xmin = (SELECT xmin FROM %[2]s WHERE %[1]s = $3 LIMIT 1)`, key, table, order)
	var keys []int64
	if err := c.QueryRow(stmt.Context, query, lo, hi, last).Scan(&keys); err != nil {
		return err
	}
	if len(keys) != n {
		return fmt.Errorf("gormbulk: cannot tell the keys COPY gave: %d rows of this transaction hold keys %d to %d of %s, want %d", len(keys), lo, hi, plan.seq.name, n)
	}
	return setKeys(stmt, plan.key, chunk, func(i int) int64 { return keys[i] })
}

// reserveKeys gives the chunk's rows without a key the sequence's next
// values, in row order, as RETURNING would have handed them out. The keys
// come back as one array: nextval runs in generate_series order, before
// the aggregate's sort.
func (plan *copyPlan) reserveKeys(stmt *gorm.Statement, c *pgx.Conn, chunk reflect.Value) error {
	if plan.key == nil {
		return nil
	}
	var missing []int
	for i := 0; i < chunk.Len(); i++ {
		if _, zero := plan.key.ValueOf(stmt.Context, chunk.Index(i)); zero || plan.replaceKeys {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var keys []int64
	err := c.QueryRow(stmt.Context, "SELECT array_agg(nextval($1::regclass) ORDER BY g) FROM generate_series(1, $2) AS g",
		plan.seq.name, len(missing)).Scan(&keys)
	if err != nil {
		return err
	}
	if len(keys) != len(missing) {
		return fmt.Errorf("gormbulk: reserved %d keys from %s, wanted %d", len(keys), plan.seq.name, len(missing))
	}
	for i, row := range missing {
		if err := plan.key.Set(stmt.Context, chunk.Index(row), keys[i]); err != nil {
			return err
		}
	}
	return nil
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
// values are read, with GORM's defaults applied, when pgx asks for them,
// into one buffer reused for every row.
type structSource struct {
	stmt *gorm.Statement
	rows reflect.Value
	plan *copyPlan
	i    int
	row  []any
}

func (s *structSource) Next() bool {
	s.i++
	return s.i < s.rows.Len()
}

func (s *structSource) Values() ([]any, error) {
	rv := reflect.Indirect(s.rows.Index(s.i))
	s.plan.cols.values(s.stmt, rv, s.row)
	offset := len(s.plan.cols.fields)
	for k, f := range s.plan.given {
		s.row[offset+k], _ = f.ValueOf(s.stmt.Context, rv)
	}
	return s.row, s.stmt.Error
}

func (s *structSource) Err() error { return nil }
