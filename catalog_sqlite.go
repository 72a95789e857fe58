package bulk

import (
	"database/sql"
	"math"
	"reflect"
	"regexp"
	"strings"

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
//   - the table has no triggers;
//   - every row of the chunk leaves the key to the database;
//   - the largest rowid leaves room for the rows (past 2^63-1 SQLite picks
//     rowids at random).
// Where any of this fails the chunk reads its keys back with RETURNING.

var descPrimaryKey = regexp.MustCompile(`(?i)primary\s+key\s+desc`)

// rowidKey returns the key field whose values SQLite's rowids give for the
// statement's rows, or nil.
func rowidKey(db *gorm.DB) *schema.Field {
	s := db.Statement.Schema
	if s == nil || len(s.FieldsWithDefaultDBValue) != 1 {
		return nil
	}
	if _, ok := db.Statement.Clauses["RETURNING"]; ok {
		// The statement reads back columns of its own choosing.
		return nil
	}
	pk := s.PrioritizedPrimaryField
	if pk == nil || pk != s.FieldsWithDefaultDBValue[0] || !pk.Readable || len(s.PrimaryFields) != 1 {
		return nil
	}
	switch pk.FieldType.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
	default:
		return nil
	}

	pool, ctx, table := db.Statement.ConnPool, db.Statement.Context, db.Statement.Table
	var (
		ddl      string
		triggers int
		maxRowid sql.NullInt64
	)
	if err := pool.QueryRowContext(ctx, "SELECT max(rowid) FROM "+db.Statement.Quote(table)).Scan(&maxRowid); err != nil ||
		maxRowid.Int64 > math.MaxInt64-2*int64(db.Statement.ReflectValue.Len()) {
		return nil
	}
	if err := pool.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&ddl); err != nil {
		return nil
	}
	if err := pool.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", table).Scan(&triggers); err != nil || triggers > 0 {
		return nil
	}
	if strings.Contains(strings.ToUpper(ddl), "WITHOUT ROWID") || descPrimaryKey.MatchString(ddl) {
		return nil
	}
	rows, err := pool.QueryContext(ctx, "SELECT name, type, pk FROM pragma_table_info(?)", table)
	if err != nil {
		return nil
	}
	defer rows.Close()
	alias := false
	for rows.Next() {
		var name, typ string
		var pkIndex int
		if rows.Scan(&name, &typ, &pkIndex) != nil {
			return nil
		}
		if pkIndex > 0 {
			alias = pkIndex == 1 && name == pk.DBName && strings.EqualFold(typ, "INTEGER")
			if !alias {
				return nil
			}
		}
	}
	if rows.Err() != nil || !alias {
		return nil
	}
	return pk
}
