package bulk

import (
	"database/sql"
	"math"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// On SQLite the keys of a multi-row INSERT can be had without RETURNING,
// whose row-by-row read-back costs a fifth of the load. One INSERT gives its
// rows consecutive rowids ending at LastInsertId, since SQLite has one
// writer at a time and picks max(rowid)+1 for each new row. That gives every
// row its key when the key column is the rowid itself and nothing else
// inserts in between:
//   - the key is the only column GORM would read back, an integer declared
//     INTEGER PRIMARY KEY (not DESC) in a table with rowids;
//   - the table has no triggers, and no conflict clause among its
//     constraints (ON CONFLICT IGNORE or REPLACE skip or replace rows);
//   - every row of the chunk leaves the key to the database;
//   - the largest rowid leaves room for the rows (past 2^63-1 SQLite picks
//     rowids at random).
// Where any of this fails the chunk reads its keys back with RETURNING.

var (
	descPrimaryKey = regexp.MustCompile(`(?i)primary\s+key\s+desc`)
	ignoreClause   = regexp.MustCompile(`(?i)on\s+conflict\s+ignore`)
)

// sqliteCatalog caches per table what its schema says, with the
// schema_version it was read at: SQLite raises it with every change to the
// schema, so a call checks it in the query it makes anyway for the largest
// rowid, and reads the table again only when it moved.
type sqliteCatalog struct {
	tables sync.Map // table name → sqliteTable
}

type sqliteTable struct {
	version int64
	rowid   string // the column that is the rowid, or ""
	// skips is set where an INSERT may write fewer rows than it is given
	// with no clause of its own saying so: an ON CONFLICT IGNORE among the
	// table's constraints, or a trigger (a BEFORE trigger's RAISE(IGNORE)).
	skips bool
}

// table returns what the schema says of the statement's table and its
// largest rowid (0 for a table without rowids), or false where it cannot
// be read.
func (c *sqliteCatalog) table(stmt *gorm.Statement) (sqliteTable, int64, bool) {
	var (
		maxRowid sql.NullInt64
		version  int64
	)
	query := "SELECT (SELECT max(rowid) FROM " + stmt.Quote(stmt.Table) + "), (SELECT schema_version FROM pragma_schema_version)"
	if err := unprepared(stmt.ConnPool).QueryRowContext(stmt.Context, query).Scan(&maxRowid, &version); err != nil {
		// A table without rowids refuses to name rowid.
		if err := unprepared(stmt.ConnPool).QueryRowContext(stmt.Context, "PRAGMA schema_version").Scan(&version); err != nil {
			return sqliteTable{}, 0, false
		}
	}
	cached, ok := c.tables.Load(stmt.Table)
	if !ok || cached.(sqliteTable).version != version {
		table, ok := readSqliteTable(stmt)
		if !ok {
			return sqliteTable{}, 0, false
		}
		table.version = version
		c.tables.Store(stmt.Table, table)
		cached = table
	}
	return cached.(sqliteTable), maxRowid.Int64, true
}

// rowidKey returns the key field whose values SQLite's rowids give for the
// statement's rows, or nil.
func (t sqliteTable) rowidKey(stmt *gorm.Statement, maxRowid int64) *schema.Field {
	s := stmt.Schema
	if s == nil || len(s.FieldsWithDefaultDBValue) != 1 || t.rowid == "" {
		return nil
	}
	if _, ok := stmt.Clauses["RETURNING"]; ok {
		// The statement reads back columns of its own choosing.
		return nil
	}
	pk := s.PrioritizedPrimaryField
	if pk == nil || pk != s.FieldsWithDefaultDBValue[0] || !pk.Readable || len(s.PrimaryFields) != 1 ||
		pk.DBName != t.rowid || maxRowid > math.MaxInt64-2*int64(stmt.ReflectValue.Len()) {
		return nil
	}
	switch pk.FieldType.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return pk
	}
	return nil
}

// readSqliteTable reads the table's schema: whether it may skip rows, and
// its column that is its rowid where the rowid arithmetic holds for the
// table: an INTEGER PRIMARY KEY (not DESC) of a table with rowids, no
// triggers, and no conflict clause in the table's constraints (ON CONFLICT
// IGNORE or REPLACE skip or replace rows inside an INSERT).
func readSqliteTable(stmt *gorm.Statement) (sqliteTable, bool) {
	pool, ctx, table := unprepared(stmt.ConnPool), stmt.Context, stmt.Table
	var (
		ddl      string
		triggers int
	)
	if err := pool.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&ddl); err != nil {
		return sqliteTable{}, false
	}
	if err := pool.QueryRowContext(ctx, "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1) + (SELECT count(*) FROM sqlite_temp_master WHERE type = 'trigger' AND tbl_name = ?1)", table).Scan(&triggers); err != nil {
		return sqliteTable{}, false
	}
	info := sqliteTable{skips: triggers > 0 || ignoreClause.MatchString(ddl)}
	upper := strings.ToUpper(ddl)
	if triggers > 0 || strings.Contains(upper, "WITHOUT ROWID") || strings.Contains(upper, "ON CONFLICT") || descPrimaryKey.MatchString(ddl) {
		return info, true
	}
	rows, err := pool.QueryContext(ctx, "SELECT name, type, pk FROM pragma_table_info(?)", table)
	if err != nil {
		return sqliteTable{}, false
	}
	defer rows.Close()
	key := ""
	for rows.Next() {
		var name, typ string
		var pkIndex int
		if rows.Scan(&name, &typ, &pkIndex) != nil {
			return sqliteTable{}, false
		}
		if pkIndex > 1 || (pkIndex == 1 && !strings.EqualFold(typ, "INTEGER")) {
			return info, rows.Err() == nil
		}
		if pkIndex == 1 {
			key = name
		}
	}
	if rows.Err() != nil {
		return sqliteTable{}, false
	}
	info.rowid = key
	return info, true
}
