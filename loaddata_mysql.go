package bulk

// LOAD DATA. On MySQL and MariaDB the rows can stream to the server as
// LOAD DATA LOCAL INFILE from a reader registered with the driver for the
// call (go-sql-driver's Reader:: handlers: no file, no allowAllFiles), in
// place of multi-row INSERTs. It must store what GORM's INSERT stores, and
// two things make that hard. Every value goes as text the server parses
// per column, where the INSERT sends a typed parameter; so a value goes by
// LOAD DATA only where its text parses to what its parameter stores
// (appendLoadValue), and a chunk holding another goes by statements. And
// LOCAL implies IGNORE: a duplicate key skips the row, and a value the
// server cannot store as given (too long, out of range) is stored as it
// can, all with warnings, not errors. So each chunk loads after a
// savepoint, and a chunk that loaded fewer rows than sent or raised a
// warning above a note is rolled back to it and written again by
// statements, which store GORM's rows or fail with GORM's error.
//
// Keys. Under innodb_autoinc_lock_mode 0 or 1 one LOAD DATA holds the
// table's AUTO-INC lock to its end, so its rows' generated keys run from
// LastInsertId in steps of auto_increment_increment, in row order, where
// every row generates its key and every row was loaded.
//
// Upserts. Where no row meets a duplicate key, INSERT … ON DUPLICATE KEY
// UPDATE stores what a LOAD DATA stores. No row can where the table's only
// unique key is its AUTO_INCREMENT primary key and every row leaves the
// key to it (GORM's has-many and has-one upserts of new rows): a value
// InnoDB hands out is above every key in the table. Should one meet a
// duplicate all the same, the load skips the row and goes back to its
// savepoint, and the chunk goes as the upsert's statements. What the
// upsert may ask of the user beyond a load (UPDATE on the columns it
// updates, which MariaDB asks only of a row that meets a duplicate) the
// call's first row proves, written by a statement before anything is
// loaded. Other upserts load into a staging table (a temporary table
// shaped as the written columns, under names of its own) and move by one
// INSERT … SELECT … ORDER BY the rows' order … ON DUPLICATE KEY UPDATE …
// RETURNING (staging.go); without RETURNING they stay with statements.

import (
	"bufio"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// mysqlLoad is what the server and the DSN say of LOAD DATA LOCAL.
type mysqlLoad struct {
	// refused is set where the server's local_infile is off, read at
	// db.Use, or where it refused LOCAL since (see refused).
	refused atomic.Bool
	// lockMode is innodb_autoinc_lock_mode, -1 where it cannot be read.
	lockMode int64
	// charset is character_set_client: the data's CHARACTER SET, as
	// statements' strings are read in it.
	charset string
	// loc is the DSN's loc, which the driver renders times in; truncates
	// is set where the DSN's timeTruncate cuts them first.
	loc       *time.Location
	truncates bool
	// conditions prefixes a load, on MariaDB, so that the server keeps
	// every condition it raises (up to 65,535, not max_error_count's
	// default 64) for loadWarnings: a time's extra digits raise a note
	// per row, and a warning among many notes would otherwise send the
	// chunk to statements.
	conditions string
}

// loadMinRows is the fewest rows the automatic choice loads with LOAD
// DATA: a load costs round trips a statement does not (the table's column
// types, the savepoint, the warnings).
const loadMinRows = 1000

// loadRows is how many rows one LOAD DATA takes when BatchSize is 0: the
// chunk is encoded in memory before it is sent.
const loadRows = 100_000

// loadPlan is how a call's rows go by LOAD DATA.
type loadPlan struct {
	query   string   // LOAD DATA … 'Reader::%s' …, for the reader's name
	types   []string // each written column's DATA_TYPE
	cols    insertColumns
	given   []*schema.Field // database-default columns every row gives
	key     *schema.Field   // the key LastInsertId gives the rows, or nil
	step    int64
	load    *mysqlLoad
	display string

	lastTime time.Time // the time lastText renders
	lastText []byte

	upsert bool // the statement has ON CONFLICT: see Upserts above
	// staged: the upsert's rows may meet a duplicate, and load into a
	// staging table an INSERT … SELECT moves (staging.go); written names
	// the columns the rows give, staging the staging table's for them:
	// names of its own, which the upsert's UPDATE cannot mistake for the
	// table's (MySQL's INSERT … SELECT sees both).
	staged           bool
	written, staging []string
	createStage      string
}

// planLoad returns how to load the statement's rows, or why LOAD DATA
// cannot give GORM's result.
func (r *registration) planLoad(db *gorm.DB, opts Options, now time.Time, record *leftToDB) (*loadPlan, string) {
	stmt := db.Statement
	server := r.dialect.mysql.get()
	l := server.load
	switch {
	case r.dialect.mysql == nil:
		return nil, "LOAD DATA needs MySQL or MariaDB"
	case l == nil:
		return nil, "the server has not been read, or is not proven for LOAD DATA (TiDB, Vitess)"
	case l.refused.Load():
		return nil, "the server refuses LOAD DATA LOCAL (local_infile is OFF)"
	case db.DryRun:
		return nil, "DryRun shows statements, and LOAD DATA is none"
	case !r.dialect.buildsAhead(stmt, stmt.ReflectValue):
		return nil, "LOAD DATA takes slices of structs"
	case l.truncates:
		return nil, "the DSN truncates times (timeTruncate) before it sends them"
	}
	if _, ok := stmt.ConnPool.(gorm.TxCommitter); !ok {
		return nil, "LOAD DATA needs the call's transaction, for its savepoints"
	}
	if _, ok := stmt.Clauses["RETURNING"]; ok && !opts.SkipReturning {
		return nil, "the statement names its own RETURNING columns"
	}
	table, ok := tableParts(stmt)
	if !ok || len(table) > 2 {
		return nil, "the table is an expression, not a name"
	}
	plan := &loadPlan{cols: newInsertColumns(stmt, now), step: server.step, load: l, upsert: hasOnConflict(stmt)}
	rows := stmt.ReflectValue
	pk := stmt.Schema.PrioritizedPrimaryField
	if plan.upsert {
		// Where no row can meet a duplicate the rows load into the table;
		// otherwise through a staging table, whose move reads back with
		// RETURNING. What the rows tell is checked before the catalog.
		_, _, zero := plan.cols.defaulted(stmt, pk, rows)
		keyLeft := pk != nil && pk.AutoIncrement && slices.Contains(stmt.Schema.FieldsWithDefaultDBValue, pk) && zero == rows.Len()
		if why := upsertLoadRefusal(stmt, opts, !keyLeft); why != "" {
			return nil, why
		}
		keys, err := uniqueKeys(stmt, table)
		if err != nil {
			return nil, fmt.Sprintf("the table's keys cannot be read: %v", err)
		}
		plan.staged = len(keys.unique) > 0 || !keyLeft
		if why := upsertLoadRefusal(stmt, opts, plan.staged); why != "" {
			return nil, why
		}
	}
	types, engine, err := tableTypes(stmt, table)
	if err != nil {
		return nil, fmt.Sprintf("the table's columns cannot be read: %v", err)
	}
	var columns []string
	add := func(f *schema.Field) string {
		if why := sqlValued(f); why != "" {
			return why
		}
		typ, ok := types[f.DBName]
		if !ok {
			return fmt.Sprintf("column %s is not in the table", f.DBName)
		}
		columns = append(columns, stmt.Quote(f.DBName))
		plan.written = append(plan.written, f.DBName)
		plan.types = append(plan.types, typ)
		return ""
	}
	for _, f := range plan.cols.fields {
		if why := add(f); why != "" {
			return nil, why
		}
	}
	// A LOAD DATA column is written for every row or none: a row cannot
	// leave one to its default as an INSERT's DEFAULT does.
	for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
		_, given, zero := plan.cols.defaulted(stmt, f, rows)
		readBack := f.Readable && !opts.SkipReturning && (hasReturning(stmt) || f == stmt.Schema.PrioritizedPrimaryField)
		switch {
		case zero == 0:
			if why := add(f); why != "" {
				return nil, why
			}
			plan.given = append(plan.given, f)
		case given > 0:
			return nil, fmt.Sprintf("column %s is given by some rows and left to its default by others", f.DBName)
		case !readBack || plan.staged: // a staged move reads it back with RETURNING
		case f != stmt.Schema.PrioritizedPrimaryField || !f.AutoIncrement:
			return nil, fmt.Sprintf("column %s takes a database default that only RETURNING can read back", f.DBName)
		case engine != "InnoDB" || (l.lockMode != 0 && l.lockMode != 1):
			return nil, fmt.Sprintf("the keys cannot be proven: LOAD DATA's keys run in one sequence only in InnoDB under innodb_autoinc_lock_mode 0 or 1 (the table is %s, the mode %d)", engine, l.lockMode)
		case plan.step == 0:
			return nil, "the keys cannot be proven: the server's auto_increment_increment could not be read"
		default:
			if record.passesOver() {
				// GORM's arithmetic gives a struct twice among the rows its
				// first row's key and passes over the later ones, which the
				// statements keep.
				return nil, "a struct appears twice among the rows, and GORM's LastInsertId arithmetic gives it its first row's key"
			}
			plan.key = f
		}
	}
	quoted := stmt.Quote(strings.Join(table, "."))
	target := quoted
	if plan.staged {
		target = stagingTable
		shape := make([]string, len(columns))
		for i, c := range columns {
			plan.staging = append(plan.staging, fmt.Sprintf("gormbulk_c%d", i+1))
			shape[i] = c + " AS " + plan.staging[i]
		}
		plan.createStage = fmt.Sprintf("CREATE TEMPORARY TABLE %s AS SELECT CAST(0 AS UNSIGNED) AS %s, %s FROM %s LIMIT 0",
			stagingTable, stagingOrder, strings.Join(shape, ","), quoted)
		columns = append([]string{stagingOrder}, plan.staging...)
	}
	plan.display = fmt.Sprintf("LOAD DATA LOCAL INFILE 'Reader::gormbulk' INTO TABLE %s (%s)", target, strings.Join(columns, ","))
	// Every value but NULL is enclosed in quotes, a quote in it doubled,
	// and nothing is escaped: the format then does not depend on
	// NO_BACKSLASH_ESCAPES, and needs no escape for tabs, newlines or NUL.
	plan.query = fmt.Sprintf(l.conditions+"LOAD DATA LOCAL INFILE 'Reader::%%s' INTO TABLE %s CHARACTER SET %s FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '' LINES TERMINATED BY 0x0a (%s)",
		target, l.charset, strings.Join(columns, ","))
	return plan, ""
}

// loadWriter writes chunks with LOAD DATA, and by statements those it
// cannot load as GORM's INSERT would store them.
type loadWriter struct {
	r      *registration
	db     *gorm.DB
	opts   Options
	now    time.Time
	plan   *loadPlan
	size   int
	stmts  *statementWriter // for the chunks LOAD DATA cannot write
	shown  string           // the first LOAD DATA sent, see writer.go
	record *leftToDB
	next   int // the call's row the next chunk starts at
	// proven is set once an upsert's first row went by statement.
	proven bool
}

func (r *registration) newLoadWriter(db *gorm.DB, plan *loadPlan, opts Options, now time.Time, record *leftToDB) *loadWriter {
	w := &loadWriter{r: r, db: db, opts: opts, now: now, plan: plan, size: loadRows, record: record}
	if opts.BatchSize > 0 {
		w.size = opts.BatchSize
	}
	return w
}

func (w *loadWriter) chunkRows() int { return w.size }

func (w *loadWriter) close() {
	if w.stmts != nil {
		w.stmts.close()
	}
}

func (w *loadWriter) first() (string, []any) {
	if w.shown == "" && w.stmts != nil {
		return w.stmts.first()
	}
	return w.shown, nil
}

// loads numbers the readers registered with the driver, whose registry is
// the process's.
var loads atomic.Uint64

// write loads the chunk, or writes it by statements where it cannot be
// loaded with GORM's result. The rows are encoded as the driver reads
// them, so that encoding overlaps with the server's work; a value that
// cannot go as text ends the data early, and the chunk goes back to its
// savepoint.
func (w *loadWriter) write(chunk reflect.Value) (int64, error) {
	at := w.next
	w.next += chunk.Len()
	return w.writeAt(chunk, at)
}

// writeAt writes the chunk that starts at the call's row at.
func (w *loadWriter) writeAt(chunk reflect.Value, at int) (int64, error) {
	if w.plan.upsert && !w.proven {
		w.proven = true
		first, err := w.statements(chunk.Slice3(0, 1, 1), at)
		if err != nil || chunk.Len() == 1 {
			return first, err
		}
		// The rest is a chunk of its own: what the first row read back
		// must not reach a later appearance of its struct (leftToDB).
		rows, record := chunk.Slice3(1, chunk.Len(), chunk.Len()), w.record.from(at+1)
		var rest int64
		err = record.reset(0, rows)
		if err == nil {
			rest, err = w.writeAt(rows, at+1)
		}
		if err == nil {
			err = record.settle()
		}
		if ce, ok := err.(*ChunkError); ok {
			err = &ChunkError{First: ce.First + 1, Last: ce.Last + 1, Err: ce.Err}
		}
		return first + rest, err
	}
	if w.plan.staged {
		return w.writeStaged(chunk, at)
	}
	loaded, why, err := w.load(chunk)
	if err != nil {
		return 0, err
	}
	if why != "" {
		return w.byStatements(chunk, at, why)
	}
	if w.plan.key != nil {
		// The OK packet's insert id is 0 after LOAD DATA; the session's
		// LAST_INSERT_ID() is its first key.
		var firstKey int64
		if err := unprepared(w.db.Statement.ConnPool).QueryRowContext(w.db.Statement.Context, "SELECT LAST_INSERT_ID()").Scan(&firstKey); err != nil {
			return 0, err
		}
		step := w.plan.step
		if err := setKeys(w.db.Statement, w.plan.key, chunk, func(i int) int64 { return firstKey + int64(i)*step }); err != nil {
			return 0, err
		}
	}
	return loaded, nil
}

// writeStaged loads an upsert's chunk into the staging table, and moves
// it with the upsert's INSERT … SELECT; by statements where the role may
// not create the table or the load cannot store the rows as given.
func (w *loadWriter) writeStaged(chunk reflect.Value, at int) (int64, error) {
	stmt := w.db.Statement
	ctx, pool := stmt.Context, unprepared(stmt.ConnPool)
	// A failed statement leaves MySQL's transaction as it was.
	if _, err := pool.ExecContext(ctx, w.plan.createStage); err != nil {
		return w.byStatements(chunk, at, "the staging table cannot be created: "+err.Error())
	}
	_, why, err := w.load(chunk)
	if err == nil && why == "" {
		var n int64
		n, err = moveStaged(w.db, chunk, w.plan.written, w.plan.staging, w.now, w.opts.SkipReturning)
		if m := matchOf(stmt); err == nil && m != nil {
			err = m.setStagedKeys(stmt, chunk, w.plan.written, w.plan.staging)
		}
		if err == nil {
			_, err = pool.ExecContext(ctx, "DROP TEMPORARY TABLE "+stagingTable)
			return n, err
		}
	}
	if _, dropErr := pool.ExecContext(ctx, "DROP TEMPORARY TABLE "+stagingTable); err == nil {
		err = dropErr
	}
	if err != nil {
		return 0, err
	}
	return w.byStatements(chunk, at, why)
}

// load loads the chunk after a savepoint, and returns the rows loaded, or
// why the chunk must go by statements, having gone back to the savepoint.
func (w *loadWriter) load(chunk reflect.Value) (int64, string, error) {
	stmt := w.db.Statement
	pool := unprepared(stmt.ConnPool)
	ctx := stmt.Context
	if _, err := pool.ExecContext(ctx, "SAVEPOINT gormbulk_load"); err != nil {
		return 0, "", err
	}
	pr, pw := io.Pipe()
	var (
		why      string
		panicked any // a Valuer's or a hook's panic, raised again below
	)
	encoded := make(chan struct{})
	go func() {
		defer close(encoded)
		defer func() {
			if panicked = recover(); panicked != nil {
				pw.CloseWithError(errUnloadable)
			}
		}()
		bw := bufio.NewWriterSize(pw, 64<<10)
		why = w.plan.encode(stmt, chunk, bw)
		if why != "" {
			pw.CloseWithError(errUnloadable)
			return
		}
		pw.CloseWithError(bw.Flush())
	}()
	name := fmt.Sprintf("gormbulk-%d", loads.Add(1))
	mysqldriver.RegisterReaderHandler(name, func() io.Reader { return pr })
	begin := time.Now()
	result, err := pool.ExecContext(ctx, fmt.Sprintf(w.plan.query, name))
	mysqldriver.DeregisterReaderHandler(name)
	pr.Close() // the encoder stops where the server stopped reading
	<-encoded
	if panicked != nil {
		// On the caller's goroutine, where inTransaction rolls back.
		panic(panicked)
	}
	var loaded int64
	if err == nil {
		loaded, _ = result.RowsAffected()
	}
	w.db.Logger.Trace(ctx, begin, func() (string, int64) { return w.plan.display, loaded }, err)
	if w.shown == "" {
		w.shown = w.plan.display
	}
	switch {
	case why != "" || stmt.Error != nil:
		err = stmt.Error
	case err == nil:
		why, err = loadWarnings(ctx, pool, loaded, chunk.Len())
	case refused(err):
		w.plan.load.refused.Store(true)
		why, err = "the server refuses LOAD DATA LOCAL: "+err.Error(), nil
	case ctx.Err() == nil:
		// The statements give GORM's error for what the server refused.
		why, err = "the server refused the load: "+err.Error(), nil
	}
	if err != nil {
		return 0, "", err
	}
	if why != "" {
		if _, err := pool.ExecContext(ctx, "ROLLBACK TO SAVEPOINT gormbulk_load"); err != nil {
			return 0, "", err
		}
	}
	return loaded, why, nil
}

// errUnloadable ends a load's data where a value cannot go as text.
var errUnloadable = errors.New("gormbulk: a value cannot be loaded as text")

// byStatements writes the chunk by the statement path, and says why at
// Info, once per table and reason.
func (w *loadWriter) byStatements(chunk reflect.Value, at int, why string) (int64, error) {
	w.r.reasons.stepAside(w.db, "LOAD DATA", "statements", why)
	return w.statements(chunk, at)
}

// statements writes the chunk that starts at the call's row at by the
// statement path.
func (w *loadWriter) statements(chunk reflect.Value, at int) (int64, error) {
	if w.stmts == nil {
		w.stmts = w.r.newStatementWriter(w.db, w.opts, w.now)
	}
	return w.stmts.handedOn(chunk, at, w.record)
}

// refused reports whether the server refused LOCAL: older servers' 1148,
// MySQL 8's 3948, MariaDB 10.11's 4166.
func refused(err error) bool {
	var myErr *mysqldriver.MySQLError
	return errors.As(err, &myErr) && (myErr.Number == 1148 || myErr.Number == 3948 || myErr.Number == 4166)
}

// loadWarnings says why a load that took loaded of n rows did not store
// GORM's rows, or "": rows skipped (a duplicate key), a warning above a
// note (a value stored otherwise than given), or more conditions than the
// server lists (max_error_count): notes (a time's digits past the
// column's precision, as GORM's parameter gets them) can hide a warning
// behind them.
func loadWarnings(ctx context.Context, pool gorm.ConnPool, loaded int64, n int) (string, error) {
	if loaded != int64(n) {
		return fmt.Sprintf("the server loaded %d of %d rows (LOCAL skips duplicates)", loaded, n), nil
	}
	// Diagnostic statements, which keep the load's conditions.
	var count int
	if err := pool.QueryRowContext(ctx, "SHOW COUNT(*) WARNINGS").Scan(&count); err != nil || count == 0 {
		return "", err
	}
	rows, err := pool.QueryContext(ctx, "SHOW WARNINGS")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	listed := 0
	for rows.Next() {
		var level, message string
		var code int64
		if err := rows.Scan(&level, &code, &message); err != nil {
			return "", err
		}
		if level != "Note" {
			return fmt.Sprintf("the server stored a value otherwise than given (%s %d: %s)", level, code, message), nil
		}
		listed++
	}
	if err := rows.Err(); err != nil || listed == count {
		return "", err
	}
	return fmt.Sprintf("the server noted %d conditions and lists %d (max_error_count): one not listed may be a warning", count, listed), nil
}

// encode writes the chunk's rows to out as LOAD DATA reads them, with
// GORM's defaults applied to the rows, or says why a value cannot go.
func (plan *loadPlan) encode(stmt *gorm.Statement, chunk reflect.Value, out *bufio.Writer) string {
	row := make([]any, len(plan.cols.fields)+len(plan.given))
	var line []byte
	for i := 0; i < chunk.Len(); i++ {
		rv := reflect.Indirect(chunk.Index(i))
		plan.cols.values(stmt, rv, row)
		offset := len(plan.cols.fields)
		for k, f := range plan.given {
			row[offset+k], _ = f.ValueOf(stmt.Context, rv)
		}
		if stmt.Error != nil {
			return "a value failed"
		}
		line = line[:0]
		if plan.staged {
			// The staging table's first column orders its rows as given.
			line = strconv.AppendInt(append(line, '"'), int64(i), 10)
			line = append(line, '"', ',')
		}
		for j, v := range row {
			if j > 0 {
				line = append(line, ',')
			}
			var ok bool
			if line, ok = plan.appendValue(line, v, plan.types[j]); !ok {
				return fmt.Sprintf("row %d's %T for a %s column goes as a parameter the server does not read as it reads text", i, v, plan.types[j])
			}
		}
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			return "" // the server stopped reading: the load's error says why
		}
	}
	return ""
}

// Column types a value's text is read into as its parameter is: strings
// and times go as text parameters, so any; integers and booleans as
// integers, read as their digits into numbers and strings (not into ENUM,
// SET, BIT or dates, where a number means something else); floats as
// doubles, read as their shortest digits into DOUBLE and FLOAT only (a
// double into DECIMAL converts otherwise than its digits).
var (
	integerColumns = map[string]bool{"tinyint": true, "smallint": true, "mediumint": true, "int": true, "bigint": true,
		"decimal": true, "float": true, "double": true, "char": true, "varchar": true, "tinytext": true, "text": true, "mediumtext": true, "longtext": true}
	floatColumns = map[string]bool{"float": true, "double": true}
)

// appendValue appends v as LOAD DATA reads it into a column of type typ,
// or reports false where its text would not store what its parameter
// stores. v is first made what the driver sends: a Valuer's value,
// pointers followed, integers widened.
func (plan *loadPlan) appendValue(buf []byte, v any, typ string) ([]byte, bool) {
	v, ok := driverValue(v)
	if !ok {
		return buf, false
	}
	switch v := v.(type) {
	case nil:
		return append(buf, "NULL"...), true
	case string:
		return appendEnclosed(buf, v), true
	case []byte:
		if v == nil {
			return append(buf, "NULL"...), true
		}
		return appendEnclosed(buf, v), true
	case int64:
		return append(strconv.AppendInt(append(buf, '"'), v, 10), '"'), integerColumns[typ]
	case uint64:
		return append(strconv.AppendUint(append(buf, '"'), v, 10), '"'), integerColumns[typ]
	case bool:
		digit := byte('0')
		if v {
			digit = '1'
		}
		return append(buf, '"', digit, '"'), integerColumns[typ]
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return buf, false
		}
		return append(strconv.AppendFloat(append(buf, '"'), v, 'g', -1, 64), '"'), floatColumns[typ]
	case time.Time:
		if v.IsZero() {
			return append(buf, `"0000-00-00"`...), true
		}
		// A call's timestamps are mostly one time: render it once.
		if v != plan.lastTime || plan.lastText == nil {
			var ok bool
			if plan.lastText, ok = appendDateTime(plan.lastText[:0], v.In(plan.load.loc)); !ok {
				return buf, false
			}
			plan.lastTime = v
		}
		buf = append(buf, '"')
		buf = append(buf, plan.lastText...)
		return append(buf, '"'), true
	}
	return buf, false
}

// appendEnclosed appends s in quotes, each quote in it doubled.
func appendEnclosed[T string | []byte](buf []byte, s T) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			buf = append(buf, '"')
		}
		buf = append(buf, s[i])
	}
	return append(buf, '"')
}

// driverValue returns what go-sql-driver sends for v: a Valuer's value,
// a pointer's element or nil, integers as int64 or uint64, floats as
// float64; false for what it would refuse or this file does not know.
func driverValue(v any) (any, bool) {
	for range 8 {
		switch x := v.(type) {
		case nil, string, []byte, int64, uint64, bool, float64, time.Time:
			return v, true
		case driver.Valuer:
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
				return nil, true
			}
			var err error
			if v, err = x.Value(); err != nil {
				return nil, false
			}
			continue
		}
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Pointer:
			if rv.IsNil() {
				return nil, true
			}
			v = rv.Elem().Interface()
			continue
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return rv.Int(), true
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			return rv.Uint(), true
		case reflect.Float32, reflect.Float64:
			return rv.Float(), true
		case reflect.Bool:
			return rv.Bool(), true
		case reflect.String:
			return rv.String(), true
		case reflect.Slice:
			if rv.Type().Elem().Kind() == reflect.Uint8 {
				return rv.Bytes(), true
			}
		}
		return nil, false
	}
	return nil, false
}

// appendDateTime appends t as go-sql-driver sends a time: the date, then
// the clock where it is not midnight, then the nanoseconds without their
// trailing zeros; false outside the years 1 to 9999, which it refuses.
func appendDateTime(buf []byte, t time.Time) ([]byte, bool) {
	year, month, day := t.Date()
	if year < 1 || year > 9999 {
		return buf, false
	}
	two := func(buf []byte, n int) []byte { return append(buf, byte('0'+n/10), byte('0'+n%10)) }
	buf = two(two(buf, year/100), year%100)
	buf = two(append(buf, '-'), int(month))
	buf = two(append(buf, '-'), day)
	hour, minute, sec := t.Clock()
	nsec := t.Nanosecond()
	if hour == 0 && minute == 0 && sec == 0 && nsec == 0 {
		return buf, true
	}
	buf = two(append(buf, ' '), hour)
	buf = two(append(buf, ':'), minute)
	buf = two(append(buf, ':'), sec)
	if nsec == 0 {
		return buf, true
	}
	buf = append(buf, '.')
	for div := 100_000_000; div > 0 && nsec > 0; div /= 10 {
		buf = append(buf, byte('0'+nsec/div))
		nsec %= div
	}
	return buf, true
}

// upsertLoadRefusal says why an upsert cannot load, straight (no row can
// meet a duplicate) or staged, or "": a staged move reads back with
// RETURNING.
func upsertLoadRefusal(stmt *gorm.Statement, opts Options, staged bool) string {
	switch {
	case !staged:
		return ""
	case readsBack(stmt, opts) && !hasReturning(stmt) && matchOf(stmt) == nil:
		return "an upsert whose rows may meet a duplicate reads its keys back with RETURNING, which the server lacks"
	case opts.Method != LoadData && stmt.ReflectValue.Len() < loadStagingMinRows && matchOf(stmt) == nil:
		return fmt.Sprintf("an upsert of fewer than %d rows goes faster by statements than staged", loadStagingMinRows)
	}
	return ""
}

// loadStagingMinRows is the fewest rows the automatic choice loads an
// upsert that may meet a duplicate with, through a staging table: the
// table's creation, the load's round trips and the move cost more than
// they save below it. Measured on MariaDB, paired with GORM's
// CreateInBatches(1000): 8,000 rows in one call 1.13× GORM staged, 1.30×
// by statements; 16,000 rows 1.31× and 1.23×; 30,000 rows 1.47× and 1.33×.
// Without RETURNING, where the keys are looked up by a unique key, the
// lookup from the staging table costs less than sending the values again
// (10,000 rows 1.10× GORM staged, 0.87× by statements): any upsert that
// loads (from loadMinRows) goes staged.
var loadStagingMinRows = 16000
