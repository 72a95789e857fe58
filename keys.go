package bulk

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Generated keys come back into the rows by one of four ways, each where
// it gives every row its own row's key:
//   - RETURNING, read by the dialect's create handler (GORM's own scan);
//   - LastInsertId arithmetic, by GORM's MySQL handler, where it holds for
//     every chunk (lastInsertIDKeys) or for each run of generated keys
//     among given ones (keyRuns), or after an upsert on MySQL without
//     RETURNING, a lookup by the table's one other unique key (uniqueMatch);
//   - SQLite's rowids, for a key that is the rowid (rowidKey), from the
//     chunk's LastInsertId (setRowidKeys);
//   - a sequence's proof, after a COPY (below).
//
// Where an INSERT may skip rows, positions say nothing: keys are drawn
// ahead on PostgreSQL (keysAhead), and elsewhere a chunk that wrote fewer
// rows than it was sent is undone and written again in halves (writeOwn).
//
// Read-back order. RETURNING hands rows back in the order the INSERT
// processes them, which no SQL standard promises and which GORM's own
// handler rests on for every dialect. What the plugin can make explicit it
// does: the unnest form inserts ORDER BY the arrays' ordinality, so key
// order is row order there; keys drawn ahead (ON CONFLICT DO NOTHING) and
// keys proven after a COPY are matched by value, not position; rowids and
// LastInsertId arithmetic give every row its key by counting. What stays
// positional is the VALUES list's RETURNING (GORM's statement, read by
// GORM's handler): PostgreSQL, SQLite and MariaDB return it in list order
// (a distributed PostgreSQL such as Citus need not), and values only
// RETURNING can tell, such as a random uuid default, can be matched no
// other way.
//
// COPY. Where every row leaves the key to the database, the COPY leaves the
// column out and the key's default draws each row's key inside the COPY,
// as it does for the raw CopyFrom the path is measured against. Which keys
// the rows got is proven from the sequence (proveKeys): it hands out values in
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

// lastInsertIDKeys says why, where keys come back by LastInsertId (MySQL
// without RETURNING), the bulk path cannot give every row of every chunk
// its own row's key, or "". It can where no key is read back (SkipReturning,
// none is generated, or every row gives its own, which GORM's handler
// leaves as it is), or every row leaves it to the database and LastInsertId
// arithmetic holds for each chunk: without ON CONFLICT; for an upsert that
// can meet no duplicate, its table having no unique key but the
// AUTO_INCREMENT one (GORM's has-many and has-one upserts of new rows: a
// value InnoDB hands out is above every key in the table); and for an
// upsert on a table with one other unique key, whose rows' keys are looked
// up by it after each chunk (uniqueMatch, set on db), but for the creates
// GORM makes for associations. Elsewhere a duplicate updates a row, GORM's
// arithmetic steps the keys on past it, and the call stays GORM's one
// statement. Rows that mix given and generated keys are written in runs
// of one or the other (keyRuns), but in an upsert, an INSERT with a
// modifier, or where a struct appears twice among the rows (whose
// arithmetic the record keeps GORM's, see leftToDB).
//
// An upsert GORM writes as one statement keeps it where the plugin would
// write no faster: reading the table's keys costs about a millisecond and
// the lookup a few microseconds a row, which made a 10-row upsert 0.2× and
// a 1,000-row one 0.7× GORM's speed (measured), so only an upsert that may
// load reads them, and only one that needs chunks looks its keys up.
func (r *registration) lastInsertIDKeys(db *gorm.DB, opts Options) string {
	const mixed = "without RETURNING, LastInsertId arithmetic cannot give each chunk's rows their keys where some rows give theirs"
	stmt := db.Statement
	_, modified := stmt.Clauses["INSERT"].Expression.(clause.Insert)
	if stmt.Schema == nil || opts.SkipReturning {
		return ""
	}
	pk, rows := stmt.Schema.PrioritizedPrimaryField, stmt.ReflectValue
	if pk == nil || !pk.HasDefaultValue || reflect.Indirect(rows.Index(0)).Kind() != reflect.Struct {
		return ""
	}
	upsert := hasOnConflict(stmt)
	switch zeroRows(stmt, pk, rows, nil) {
	case rows.Len():
		if !upsert {
			return ""
		}
	case 0:
		return ""
	default:
		if _, _, shared := sharedRows(rows); upsert || modified || shared {
			return mixed
		}
		db.InstanceSet(keyRunsKey, true)
		return ""
	}
	const unmatched = "without RETURNING, an upsert whose rows may meet a duplicate gets its keys by GORM's LastInsertId arithmetic"
	if modified || !pk.AutoIncrement || !slices.Contains(stmt.Schema.FieldsWithDefaultDBValue, pk) {
		return unmatched
	}
	n := rows.Len()
	chunks := opts.BatchSize > 0 && opts.BatchSize < n || n*paramsPerRow(stmt) > r.dialect.maxParams
	load := r.dialect.mysql.get().load != nil && (opts.Method == LoadData || opts.Method == AnyMethod && n >= loadMinRows)
	if !chunks && !load {
		return "without RETURNING, an upsert that fits one statement is GORM's statement: reading the table's keys would cost more"
	}
	table, ok := tableParts(stmt)
	if !ok || len(table) > 2 {
		return unmatched
	}
	keys, err := uniqueKeys(stmt, table)
	switch {
	case err != nil:
		return unmatched + " (the table's keys cannot be read: " + err.Error() + ")"
	case len(keys.unique) == 0:
		return ""
	case !chunks:
		return "without RETURNING, an upsert that fits one statement is GORM's statement where its rows may meet a duplicate: looking their keys up would cost more"
	case len(keys.unique) > 1 || stmt.Context.Value(inAssociations{}) != nil:
		// GORM builds join rows and foreign keys from the keys its
		// read-back gives an association's rows (see ownRows).
		return unmatched
	}
	if err := keys.readLookup(stmt); err != nil {
		return unmatched + " (the table's columns cannot be read: " + err.Error() + ")"
	}
	if keys.seesTriggers && keys.triggers == 0 && keys.strict && keys.jsonTable {
		if m := newUniqueMatch(stmt, table, keys.unique[0]); m != nil {
			db.InstanceSet(uniqueMatchKey, m)
			return ""
		}
	}
	return unmatched
}

// setKeys gives row i of rows the generated key key(i), as GORM sets what
// RETURNING hands back.
func setKeys(stmt *gorm.Statement, field *schema.Field, rows reflect.Value, key func(i int) int64) error {
	set := planOf(stmt.Schema.ModelType, field).setInt
	at := rowAddrs(stmt.Schema.ModelType, rows)
	for i := 0; i < rows.Len(); i++ {
		if addr := at(i); set != nil && addr != nil {
			set(addr, key(i))
			continue
		}
		if err := field.Set(stmt.Context, reflect.Indirect(rows.Index(i)), key(i)); err != nil {
			return err
		}
	}
	return nil
}

// restepped returns, before GORM's LastInsertId arithmetic gives the
// chunk's rows their keys, the rows it gives them (those leaving the key
// to the database, each struct once), where restepKeys steps them again:
// the arithmetic steps by the key field's autoIncrementIncrement tag (1
// unless set), and the server's auto_increment_increment (step, 0 where
// the server did not say) is another.
func restepped(stmt *gorm.Statement, rows reflect.Value, step int64) []int {
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil || !pk.HasDefaultValue || step == 0 || pk.AutoIncrementIncrement == step {
		return nil
	}
	var left []int
	seen := map[uintptr]bool{}
	zeroRows(stmt, pk, rows, func(i int) {
		if row := rows.Index(i); row.Kind() == reflect.Pointer {
			if seen[row.Pointer()] {
				return
			}
			seen[row.Pointer()] = true
		}
		left = append(left, i)
	})
	return left
}

// restepKeys gives the rows restepped returned (left) the keys of one
// INSERT, which go up by step from the first: GORM's handler gave the
// first of them LastInsertId, which is right whatever the step, and left
// the keys the rows gave.
func restepKeys(stmt *gorm.Statement, rows reflect.Value, left []int, step int64) error {
	if len(left) < 2 {
		return nil
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	first, zero := pk.ValueOf(stmt.Context, reflect.Indirect(rows.Index(left[0])))
	if zero {
		return nil
	}
	firstKey, ok := keyInt(reflect.ValueOf(first))
	if !ok {
		return nil
	}
	for k, i := range left {
		if err := pk.Set(stmt.Context, reflect.Indirect(rows.Index(i)), firstKey+int64(k)*step); err != nil {
			return err
		}
	}
	return nil
}

// keyRunsKey marks, on a statement, rows that mix given and generated keys
// where keys come back by LastInsertId (see keyRuns).
const keyRunsKey = "gormbulk:key_runs"

// keyRuns calls write with the runs of the chunk's rows that give their
// key or leave it to the database, in order. GORM's LastInsertId
// arithmetic gives the rows after a given key the keys after LastInsertId,
// though a given key above InnoDB's counter moves the counter on past it
// within the statement: one INSERT per run gives the table the keys GORM's
// one statement gives it (a given key moves the counter between statements
// as within one; the values a statement reserves and leaves are gaps), and
// the arithmetic holds for each run.
func keyRuns(stmt *gorm.Statement, chunk reflect.Value, write func(run reflect.Value) error) error {
	left := make([]bool, chunk.Len())
	zeroRows(stmt, stmt.Schema.PrioritizedPrimaryField, chunk, func(i int) { left[i] = true })
	for start := 0; start < chunk.Len(); {
		end := start + 1
		for end < chunk.Len() && left[end] == left[start] {
			end++
		}
		if err := write(chunk.Slice3(start, end, end)); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// setRowidKeys gives the rows of one INSERT their rowids as keys: they are
// consecutive and end at LastInsertId (see rowidKey), where the INSERT
// wrote every row.
func setRowidKeys(stmt *gorm.Statement, field *schema.Field, rows reflect.Value, result sql.Result) error {
	last, err := result.LastInsertId()
	if err != nil {
		return err
	}
	if n, err := result.RowsAffected(); err != nil || n != int64(rows.Len()) {
		return fmt.Errorf("gormbulk: cannot tell the rows' keys from their rowids: the INSERT wrote %d of %d rows (%v)", n, rows.Len(), err)
	}
	first := last - int64(rows.Len()) + 1
	return setKeys(stmt, field, rows, func(i int) int64 { return first + int64(i) })
}

// Keys where rows may be skipped, elsewhere. On SQLite and MySQL no key
// can be drawn ahead without changing the table's keys (a skipped row
// takes no rowid, and draws no auto-increment value after an INSERT
// IGNORE's), and on PostgreSQL a random key (a uuid default) cannot be
// drawn at all; so a chunk that may skip rows is written as one INSERT, and
// only where it wrote fewer rows than it was sent does it go back to a
// savepoint, to be written again in halves: a half that writes all its
// rows reads their keys as any chunk does, one row's INSERT reads its own
// key or nothing. k skipped rows cost about 2k·log₂(n) INSERTs more. The
// savepoint rolls SQLite's rowids and AUTOINCREMENT counter back with the
// rows, so the table is GORM's; InnoDB keeps the values it reserved, which
// the guide's gaps allow.

// ownRows reports whether the statement's rows are written by writeOwn:
// it may skip rows (ON CONFLICT DO NOTHING, a DO UPDATE with a WHERE, an
// INSERT OR IGNORE, or a table that skips rows of its own accord; on
// MySQL, whose builder makes DO NOTHING an update, INSERT IGNORE only) and
// is not one of the creates GORM makes for associations, whose positional
// read-back GORM builds join rows and foreign keys from (see keysAhead).
func ownRows(stmt *gorm.Statement, tableSkips bool) bool {
	if stmt.Context.Value(inAssociations{}) != nil {
		return false
	}
	if c, ok := stmt.Clauses["INSERT"].Expression.(clause.Insert); ok && strings.Contains(strings.ToUpper(c.Modifier), "IGNORE") {
		return true
	}
	if c, ok := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict); ok && (doesNothing(stmt) || len(c.Where.Exprs) > 0) {
		return stmt.Dialector.Name() != "mysql"
	}
	return tableSkips
}

// writeOwn writes a chunk whose INSERT may skip rows (see ownRows) and
// returns the rows written. Where the key's sequence may be drawn from
// (an upsert that updates WHERE, on PostgreSQL), the rows without a key
// get theirs drawn first, in row order, as the INSERT's defaults would
// have drawn them, so that undoing a statement draws nothing again; a
// row no statement wrote gives its drawn key back.
func (w *statementWriter) writeOwn(chunk reflect.Value) (int64, error) {
	drawn := make([]bool, chunk.Len())
	if w.ahead != nil {
		stmt := w.db.Statement
		if err := withPgx(stmt.ConnPool, func(c *pgx.Conn) error {
			return drawMissing(stmt, c, w.ahead, stmt.Schema.PrioritizedPrimaryField, chunk, false, func(i int) { drawn[i] = true })
		}); err != nil {
			return 0, err
		}
	}
	return w.writeHalves(chunk, drawn)
}

// writeHalves is writeOwn's undo and halving; drawn tells the rows whose
// keys were drawn for them.
func (w *statementWriter) writeHalves(chunk reflect.Value, drawn []bool) (int64, error) {
	n := chunk.Len()
	if n == 1 {
		tx := w.writeChunk(chunk)
		if tx.Error == nil && tx.RowsAffected == 0 && drawn[0] {
			pk := w.db.Statement.Schema.PrioritizedPrimaryField
			tx.AddError(pk.Set(w.db.Statement.Context, reflect.Indirect(chunk.Index(0)), reflect.Zero(pk.FieldType).Interface()))
		}
		return tx.RowsAffected, tx.Error
	}
	ctx, pool := w.db.Statement.Context, unprepared(w.conn.ConnPool)
	saved := snapshot(chunk)
	if _, err := pool.ExecContext(ctx, "SAVEPOINT gormbulk_rows"); err != nil {
		return 0, err
	}
	tx := w.writeChunk(chunk)
	if tx.Error != nil {
		return 0, tx.Error
	}
	if tx.RowsAffected == int64(n) {
		_, err := pool.ExecContext(ctx, "RELEASE SAVEPOINT gormbulk_rows")
		return tx.RowsAffected, err
	}
	restoreRows(chunk, saved)
	for _, undo := range []string{"ROLLBACK TO SAVEPOINT gormbulk_rows", "RELEASE SAVEPOINT gormbulk_rows"} {
		if _, err := pool.ExecContext(ctx, undo); err != nil {
			return 0, err
		}
	}
	first, err := w.writeHalves(chunk.Slice(0, n/2), drawn[:n/2])
	if err != nil {
		return first, err
	}
	second, err := w.writeHalves(chunk.Slice(n/2, n), drawn[n/2:])
	return first + second, err
}

// scanCounted runs the chunk's INSERT and reads what RETURNING hands back
// into its rows in order, as GORM's scan does without ON CONFLICT DO
// NOTHING's skipping of rows that hold a key (writeOwn tells by the count
// whether the order is the rows'). It returns the rows handed back.
func scanCounted(tx *gorm.DB, pool gorm.ConnPool) (int64, error) {
	stmt := tx.Statement
	result, err := pool.QueryContext(stmt.Context, stmt.SQL.String(), stmt.Vars...)
	if err != nil {
		return 0, err
	}
	counted := &countedRows{Rows: result}
	gorm.Scan(counted, tx, gorm.ScanUpdate)
	return int64(counted.n), errors.Join(tx.Error, result.Close())
}

// countedRows counts the rows GORM's scan reads.
type countedRows struct {
	*sql.Rows
	n int
}

func (r *countedRows) Next() bool {
	if r.Rows.Next() {
		r.n++
		return true
	}
	return false
}

// snapshot copies a slice's rows: the structs themselves, for pointers.
func snapshot(rows reflect.Value) reflect.Value {
	saved := reflect.MakeSlice(reflect.SliceOf(rows.Type().Elem()), rows.Len(), rows.Len())
	for i := range rows.Len() {
		row := rows.Index(i)
		if row.Kind() == reflect.Pointer {
			copied := reflect.New(row.Type().Elem())
			copied.Elem().Set(row.Elem())
			row = copied
		}
		saved.Index(i).Set(row)
	}
	return saved
}

// restoreRows puts a slice's rows back as snapshot saw them.
func restoreRows(rows, saved reflect.Value) {
	for i := range rows.Len() {
		if row := rows.Index(i); row.Kind() == reflect.Pointer {
			row.Elem().Set(saved.Index(i).Elem())
		} else {
			row.Set(saved.Index(i))
		}
	}
}

// zeroRows counts the rows of a slice of structs whose field is zero, the
// rows that leave it to the database, and calls each, where given, with
// their indexes.
func zeroRows(stmt *gorm.Statement, field *schema.Field, rows reflect.Value, each func(i int)) int {
	model := stmt.Schema.ModelType
	plan := planOf(model, field)
	at := rowAddrs(model, rows)
	zeros := 0
	for i := 0; i < rows.Len(); i++ {
		var zero bool
		if addr := at(i); plan.zero != nil && addr != nil {
			zero = plan.zero(addr)
		} else {
			row := reflect.Indirect(rows.Index(i))
			_, zero = readField(stmt, field, plan, row, rowAddr(model, row))
		}
		if zero {
			zeros++
			if each != nil {
				each(i)
			}
		}
	}
	return zeros
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

// pgSequence is what the catalog says of a key's sequence.
type pgSequence struct {
	oid       uint32
	name      string // as regclass text, quoted where needed
	increment int64
	// provable: no per-session cache, no CYCLE, and readable, so proveKeys
	// can tell which keys a COPY's rows got.
	provable bool
	// drawable: the user may call nextval on it. An identity column's
	// default needs no grant on its sequence; drawing keys ahead does.
	drawable bool
}

// next returns the value the sequence hands out next. Reading a sequence
// is not transactional: it shows what nextval would give now. It is read
// with pg_sequence_last_value, under the buffer lock nextval takes: a
// SELECT from the sequence reads its tuple unlocked, and may catch the
// moment nextval writes ahead the value it logs (32 further on). That
// function says nothing for a sequence not yet called, which stays
// unchanged until its first nextval, and is then read by SELECT.
func (seq *pgSequence) next(stmt *gorm.Statement, c *pgx.Conn) (int64, error) {
	var last *int64
	if err := c.QueryRow(stmt.Context, "SELECT pg_sequence_last_value($1::regclass)", seq.name).Scan(&last); err != nil {
		return 0, err
	}
	if last != nil {
		return *last + seq.increment, nil
	}
	var next int64
	var called bool
	if err := c.QueryRow(stmt.Context, "SELECT last_value, is_called FROM "+seq.name).Scan(&next, &called); err != nil {
		return 0, err
	}
	if called {
		next += seq.increment
	}
	return next, nil
}

// draw takes n values from the sequence in one round trip, in the order
// the rows of one INSERT would take them: nextval runs in generate_series
// order, before the aggregate's sort.
func (seq *pgSequence) draw(stmt *gorm.Statement, c *pgx.Conn, n int) ([]int64, error) {
	var keys []int64
	err := c.QueryRow(stmt.Context, "SELECT array_agg(nextval($1::regclass) ORDER BY g) FROM generate_series(1, $2) AS g", seq.name, n).Scan(&keys)
	if err == nil && len(keys) != n {
		err = fmt.Errorf("gormbulk: drew %d keys from %s, wanted %d", len(keys), seq.name, n)
	}
	return keys, err
}

// Keys by identity. GORM reads RETURNING back by position, so where
// ON CONFLICT DO NOTHING skips rows, the rows after them get other rows'
// keys. On PostgreSQL, where the key comes from a sequence, the plugin
// draws every row's key ahead (draw: the values the rows' defaults would
// have drawn, in the same order, skipped rows included, as the INSERT
// draws them), writes them, and keeps the keys RETURNING hands back: a
// skipped row's struct gets its zero key back (keepReturned).

// keysAhead returns the sequence to draw a statement's keys ahead from,
// and whether they are written OVERRIDING SYSTEM VALUE (the key is an
// identity GENERATED ALWAYS, which refuses given keys otherwise): the
// statement skips conflicting rows (ON CONFLICT DO NOTHING, or an update
// WHERE that reads back nothing but the key), reads its generated key
// back, the key's default is its sequence's nextval, and the user may draw
// from it. The creates GORM makes for associations
// keep GORM's read-back: GORM builds the join rows and foreign keys it
// writes next from those keys, and a skipped target's zero key would
// change what it writes.
func keysAhead(stmt *gorm.Statement, info *pgTableInfo) (seq *pgSequence, overriding bool) {
	c, ok := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	nothing := doesNothing(stmt)
	updateWhere := !nothing && len(c.Where.Exprs) > 0
	if !ok || !(nothing || updateWhere) || info == nil || stmt.Schema == nil || stmt.Context.Value(inAssociations{}) != nil {
		return nil, false
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil || !pk.Readable || !slices.Contains(stmt.Schema.FieldsWithDefaultDBValue, pk) {
		return nil, false
	}
	// An update undoes statements (writeOwn), which would draw other
	// columns' defaults again.
	if updateWhere && len(stmt.Schema.FieldsWithDefaultDBValue) != 1 {
		return nil, false
	}
	col := info.columns[pk.DBName]
	if col.seq == nil || !col.seq.drawable {
		return nil, false
	}
	return col.seq, col.identity == identityKey
}

// overridingSystemValue builds a VALUES clause as clause.Values does, with
// OVERRIDING SYSTEM VALUE after its columns, so that an identity
// GENERATED ALWAYS takes the keys drawn ahead for it.
func overridingSystemValue(c clause.Clause, builder clause.Builder) {
	values, ok := c.Expression.(clause.Values)
	if !ok || len(values.Columns) == 0 {
		c.Expression.Build(builder)
		return
	}
	builder.WriteByte('(')
	for i, column := range values.Columns {
		if i > 0 {
			builder.WriteByte(',')
		}
		builder.WriteQuoted(column)
	}
	builder.WriteString(") OVERRIDING SYSTEM VALUE VALUES ")
	for i, row := range values.Values {
		if i > 0 {
			builder.WriteByte(',')
		}
		builder.WriteByte('(')
		builder.AddVar(builder, row...)
		builder.WriteByte(')')
	}
}

// keepReturned runs the chunk's INSERT, whose rows all hold their keys,
// given or drawn ahead (drawn tells which), and gives each row what
// RETURNING handed back with its key. A row whose key did not come back
// was skipped by ON CONFLICT: it gets its zero key back where it was drawn
// for it, and keeps the key it gave. Rows giving one key are one row to
// the INSERT, which writes the first and skips the others. It returns the
// rows written.
func keepReturned(tx *gorm.DB, pool gorm.ConnPool, drawn []bool) (int64, error) {
	stmt := tx.Statement
	chunk, pk := stmt.ReflectValue, stmt.Schema.PrioritizedPrimaryField
	rowOf := make(map[int64]int, chunk.Len())
	for i := chunk.Len() - 1; i >= 0; i-- {
		key, _ := keyInt(pk.ReflectValueOf(stmt.Context, reflect.Indirect(chunk.Index(i))))
		rowOf[key] = i
	}
	scratch, n, err := scanScratch(tx, pool)
	if err != nil {
		return 0, err
	}
	written := make([]bool, chunk.Len())
	fields := returnedFields(stmt)
	for j := range n {
		returned := reflect.Indirect(scratch.Index(j))
		key, _ := keyInt(pk.ReflectValueOf(stmt.Context, returned))
		i, ok := rowOf[key]
		if !ok || written[i] {
			return 0, fmt.Errorf("gormbulk: RETURNING handed back key %d, not one of the chunk's rows", key)
		}
		written[i] = true
		copyReturned(stmt, fields, reflect.Indirect(chunk.Index(i)), returned)
	}
	zero := reflect.Zero(pk.FieldType).Interface()
	for i, drew := range drawn {
		if drew && !written[i] {
			if err := pk.Set(stmt.Context, reflect.Indirect(chunk.Index(i)), zero); err != nil {
				return 0, err
			}
		}
	}
	return int64(n), nil
}

// unshare returns the chunk with each appearance of a struct shared by
// pointer after its first replaced by a copy of it. GORM writes a row per
// appearance, each with generated values of its own, which one struct
// cannot hold for all while the chunk's rows get keys before they are
// written (drawn ahead) or between its statements (writeOwn's halves):
// the later rows would be written with the earlier row's key. merge then
// gives a struct that left its key to the database what GORM's read-back
// leaves it (see leftToDB): with keepFirst, where its first appearance was
// skipped, its first copy written; otherwise its last copy written.
func unshare(stmt *gorm.Statement, chunk reflect.Value, keepFirst bool) (reflect.Value, func()) {
	if _, _, ok := sharedRows(chunk); !ok {
		return chunk, func() {}
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	copies := reflect.MakeSlice(chunk.Type(), chunk.Len(), chunk.Len())
	seen := make(map[uintptr]bool, chunk.Len())
	var later []int // the copied rows whose structs leave the key to the database
	for i := range chunk.Len() {
		row := chunk.Index(i)
		if seen[row.Pointer()] {
			copied := reflect.New(row.Type().Elem())
			copied.Elem().Set(row.Elem())
			if _, zero := pk.ValueOf(stmt.Context, copied.Elem()); zero {
				later = append(later, i)
			}
			row = copied
		}
		seen[row.Pointer()] = true
		copies.Index(i).Set(row)
	}
	return copies, func() {
		for _, j := range later {
			shared, copied := chunk.Index(j).Elem(), copies.Index(j).Elem()
			if _, zero := pk.ValueOf(stmt.Context, copied); zero {
				continue // skipped
			}
			if _, zero := pk.ValueOf(stmt.Context, shared); zero || !keepFirst {
				shared.Set(copied)
			}
		}
	}
}

// scanCounting runs the chunk's INSERT, whose rows' keys cannot be drawn
// ahead, and reads what RETURNING hands back by position: where it handed
// back a row for every row sent, row i's is the i-th; where fewer, nothing
// tells which were skipped, and the rows get what GORM's own read-back
// gives them, which passes over rows already holding a value it reads
// back (see the README's differences). It returns the rows written.
func scanCounting(tx *gorm.DB, pool gorm.ConnPool) (int64, error) {
	stmt := tx.Statement
	scratch, n, err := scanScratch(tx, pool)
	if err != nil {
		return 0, err
	}
	chunk := stmt.ReflectValue
	if n == chunk.Len() {
		restoreRows(chunk, scratch)
		return int64(n), nil
	}
	fields := returnedFields(stmt)
	holdsValue := func(row reflect.Value) bool {
		for _, f := range fields {
			if _, zero := f.ValueOf(stmt.Context, row); !zero {
				return true
			}
		}
		return false
	}
	for i, j := 0, 0; j < n && i < chunk.Len(); i++ {
		if row := reflect.Indirect(chunk.Index(i)); !holdsValue(row) {
			copyReturned(stmt, fields, row, reflect.Indirect(scratch.Index(j)))
			j++
		}
	}
	return int64(n), nil
}

// scanScratch runs the chunk's INSERT and reads what RETURNING hands back,
// in order, into copies of the chunk's rows, leaving the rows themselves
// as they were until it is known which row each returned row is. It
// returns the copies and how many rows came back.
func scanScratch(tx *gorm.DB, pool gorm.ConnPool) (reflect.Value, int, error) {
	stmt := tx.Statement
	chunk := stmt.ReflectValue
	scratch := snapshot(chunk)
	stmt.ReflectValue = scratch
	n, err := scanCounted(tx, pool)
	stmt.ReflectValue = chunk
	return scratch, int(n), err
}

// returnedFields are the fields the statement's RETURNING reads back.
func returnedFields(stmt *gorm.Statement) []*schema.Field {
	returning, _ := stmt.Clauses["RETURNING"].Expression.(clause.Returning)
	fields := make([]*schema.Field, 0, len(returning.Columns))
	for _, c := range returning.Columns {
		if f := stmt.Schema.LookUpField(c.Name); f != nil && f.Readable {
			fields = append(fields, f)
		}
	}
	return fields
}

// copyReturned gives row to what RETURNING handed back into from.
func copyReturned(stmt *gorm.Statement, fields []*schema.Field, to, from reflect.Value) {
	for _, f := range fields {
		f.ReflectValueOf(stmt.Context, to).Set(f.ReflectValueOf(stmt.Context, from))
	}
}

// keyInt returns an integer key's value, through a pointer.
func keyInt(v reflect.Value) (int64, bool) {
	switch v = reflect.Indirect(v); {
	case v.CanInt():
		return v.Int(), true
	case v.CanUint():
		return int64(v.Uint()), true
	}
	return 0, false
}

// nextKey returns a value the key's sequence hands out no earlier than
// the COPY's first key: after an earlier chunk of the call or of its
// stream, the value after its last key (the sequence only goes on); for
// the first, what the stamp's round trip read (catalog_postgres.go), else
// what it hands out now. A
// value read early only makes runKeys take the slower proof when others
// drew in between.
func (plan *copyPlan) nextKey(db *gorm.DB, c *pgx.Conn) (int64, error) {
	if plan.lastKey != nil {
		return *plan.lastKey + plan.seq.increment, nil
	}
	if last, ok := streamLoad(db).lastKey(plan.seq.oid); ok {
		return last + plan.seq.increment, nil
	}
	if v, ok := db.InstanceGet(sequenceLastKey); ok {
		if last, ok := v.(map[uint32]int64)[plan.seq.oid]; ok {
			return last + plan.seq.increment, nil
		}
	}
	return plan.seq.next(db.Statement, c)
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
	plan.lastKey = &last
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
// values, in row order, as RETURNING would have handed them out.
func (plan *copyPlan) reserveKeys(stmt *gorm.Statement, c *pgx.Conn, chunk reflect.Value) error {
	if plan.key == nil {
		return nil
	}
	return drawMissing(stmt, c, plan.seq, plan.key, chunk, plan.replaceKeys, nil)
}

// drawMissing gives the rows without a key (every row, with all) the
// sequence's next values, in row order, and tells each, where given,
// which rows got one.
func drawMissing(stmt *gorm.Statement, c *pgx.Conn, seq *pgSequence, key *schema.Field, chunk reflect.Value, all bool, each func(i int)) error {
	var missing []int
	if all {
		missing = make([]int, chunk.Len())
		for i := range missing {
			missing[i] = i
		}
	} else {
		zeroRows(stmt, key, chunk, func(i int) { missing = append(missing, i) })
	}
	if len(missing) == 0 {
		return nil
	}
	keys, err := seq.draw(stmt, c, len(missing))
	if err != nil {
		return err
	}
	for i, row := range missing {
		if err := key.Set(stmt.Context, reflect.Indirect(chunk.Index(row)), keys[i]); err != nil {
			return err
		}
		if each != nil {
			each(row)
		}
	}
	return nil
}

// Chunking stays invisible. GORM decides what its one statement writes
// before any generated value comes back, while the plugin reads each
// chunk's values back before it writes the next. A struct shared by
// pointer among the rows (GORM collects a new association target once per
// parent that holds it, and writes it once per appearance) would then be
// written by a later chunk with the key an earlier one read back: a
// conflict, a skipped row, other keys. So the call records, before the
// first chunk, which rows leave which columns to the database, and every
// chunk is written from that record (leftToDB).

// leftToDB records which of a call's rows leave which generated columns
// (the schema's database-default fields) to the database.
type leftToDB struct {
	stmt   *gorm.Statement
	fields []*schema.Field
	plans  []fieldPlan
	zero   []bool // row i leaves fields[k]: zero[i*len(fields)+k]
	// keepFirst: GORM's read-back skips a row that already holds its key
	// (a scan under ON CONFLICT DO NOTHING, LastInsertId arithmetic), so a
	// shared struct keeps the values of its first appearance; otherwise
	// each appearance's values overwrite the last.
	keepFirst bool
	// held is what reset took from the chunk being written, which starts
	// at row start.
	held  []heldValue
	start int
	// repeats[i] is set where row i's struct appears among the rows
	// before it; nil where no struct appears twice.
	repeats []bool
	// base is the call's row the rows start at, for rows another writer
	// hands on (from).
	base int
}

// from returns the record of the call's rows from row base on, for the
// rows a faster writer hands to statements as a call of their own.
func (l *leftToDB) from(base int) *leftToDB {
	if l == nil {
		return nil
	}
	v := *l
	v.base, v.held = l.base+base, nil
	return &v
}

// recordLeftToDB records the rows of a call of pointers to structs, or
// returns nil where nothing is read back or no row can be written twice.
func (r *registration) recordLeftToDB(stmt *gorm.Statement, opts Options) *leftToDB {
	rows := stmt.ReflectValue
	if stmt.DB.DryRun || stmt.Schema == nil || rows.Len() < 2 || rows.Type().Elem().Kind() != reflect.Pointer ||
		!readsBack(stmt, opts) || reflect.Indirect(rows.Index(0)).Type() != stmt.Schema.ModelType {
		return nil
	}
	l := &leftToDB{stmt: stmt}
	if returning := hasReturning(stmt); returning {
		// MySQL's clause builder turns DO NOTHING into an update of the key.
		l.keepFirst = doesNothing(stmt) && stmt.Dialector.Name() != "mysql"
	} else {
		l.keepFirst = r.dialect.lastInsertID
	}
	for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
		if f.Readable {
			l.fields = append(l.fields, f)
			l.plans = append(l.plans, planOf(stmt.Schema.ModelType, f))
		}
	}
	if l.keepFirst {
		l.repeats = repeatedRows(rows)
	}
	l.zero = make([]bool, rows.Len()*len(l.fields))
	for i := range rows.Len() {
		row := reflect.Indirect(rows.Index(i))
		addr := rowAddr(stmt.Schema.ModelType, row)
		for k, f := range l.fields {
			_, l.zero[i*len(l.fields)+k] = readField(stmt, f, l.plans[k], row, addr)
		}
	}
	return l
}

// repeatedRows marks the rows of a slice of pointers whose struct appears
// among the rows before them, or returns nil where none does.
func repeatedRows(rows reflect.Value) []bool {
	if rows.Type().Elem().Kind() != reflect.Pointer {
		return nil
	}
	repeats, seen, repeated := make([]bool, rows.Len()), make(map[uintptr]bool, rows.Len()), false
	for i := range rows.Len() {
		p := rows.Index(i).Pointer()
		repeats[i], seen[p] = seen[p], true
		repeated = repeated || repeats[i]
	}
	if !repeated {
		return nil
	}
	return repeats
}

// heldValue is a value a row held where the record says it leaves the
// field to the database.
type heldValue struct {
	row   reflect.Value
	field *schema.Field
	value any
}

// reset gives the rows of the chunk starting at row start back the zero
// values the record holds for them, and keeps the values they held: those
// a shared struct got from an earlier chunk's read-back. The first chunk's
// rows are as recorded: nothing has been read back before it.
func (l *leftToDB) reset(start int, chunk reflect.Value) error {
	if l == nil {
		return nil
	}
	start += l.base
	l.start, l.held = start, nil
	if start == 0 {
		return nil
	}
	for i := range chunk.Len() {
		row := reflect.Indirect(chunk.Index(i))
		addr := rowAddr(l.stmt.Schema.ModelType, row)
		for k, f := range l.fields {
			if !l.zero[(start+i)*len(l.fields)+k] {
				continue
			}
			v, zero := readField(l.stmt, f, l.plans[k], row, addr)
			if zero {
				continue
			}
			l.held = append(l.held, heldValue{row, f, v})
			if err := f.Set(l.stmt.Context, row, reflect.Zero(f.FieldType).Interface()); err != nil {
				return err
			}
		}
	}
	return nil
}

// passesOver reports whether GORM's read-back passes over rows of the call
// that hold their key: keepFirst, and a struct twice among the rows.
func (l *leftToDB) passesOver() bool { return l != nil && l.keepFirst && l.repeats != nil }

// passedOver counts, once settle has run before the read-back, the structs of the chunk
// GORM's LastInsertId arithmetic gives keys (each once, at its first row
// holding none) and the rows it passes over though the INSERT wrote them
// for a key of the database's: a shared struct's later rows, in this chunk
// or (holding an earlier chunk's key again) before it.
func (l *leftToDB) passedOver(chunk reflect.Value) (keyed, passed int) {
	if !l.passesOver() {
		return 0, 0
	}
	pk := l.stmt.Schema.PrioritizedPrimaryField
	k := slices.Index(l.fields, pk)
	if k < 0 {
		return 0, 0
	}
	written := 0
	for i := range chunk.Len() {
		if l.zero[(l.start+i)*len(l.fields)+k] {
			written++
		}
	}
	structs := map[uintptr]bool{}
	zeroRows(l.stmt, pk, chunk, func(i int) { structs[chunk.Index(i).Pointer()] = true })
	return len(structs), written - len(structs)
}

// ownKeys gives the structs whose first row of the call is in the chunk
// their own row's key, where the chunk's INSERT wrote every row and the
// rows that left the key to the database took keys from first up by step.
// GORM's arithmetic passes over a shared struct's later rows, which hold a
// key by then, and gives the rows after them the keys of the rows before.
// The creates GORM makes for associations keep its arithmetic (handOn):
// it builds their join rows from those keys.
func (l *leftToDB) ownKeys(chunk reflect.Value, first, step int64) error {
	pk := l.stmt.Schema.PrioritizedPrimaryField
	k := slices.Index(l.fields, pk)
	if k < 0 {
		return nil
	}
	next := first
	for i := range chunk.Len() {
		if !l.zero[(l.start+i)*len(l.fields)+k] {
			continue
		}
		if !l.repeats[l.start+i] {
			if err := pk.Set(l.stmt.Context, reflect.Indirect(chunk.Index(i)), next); err != nil {
				return err
			}
		}
		next += step
	}
	return nil
}

// settle gives the shared structs of the chunk back what reset took, where
// GORM's read-back keeps a shared struct's first values: it passes over
// rows that already hold theirs. It runs once the chunk's statement is
// built, before GORM's positional read-back of it (its RETURNING scan, its
// LastInsertId arithmetic), so that the read-back passes over them as over
// GORM's one statement, where their first appearance holds its values by
// then; and again once the chunk is written, for the read-backs of the
// plugin's own, which give every row its own values.
func (l *leftToDB) settle() error {
	if l == nil || !l.keepFirst {
		return nil
	}
	return l.restore()
}

// restore gives the rows back the values reset took from them.
func (l *leftToDB) restore() error {
	if l == nil {
		return nil
	}
	for _, h := range l.held {
		if err := h.field.Set(l.stmt.Context, h.row, h.value); err != nil {
			return err
		}
	}
	return nil
}
