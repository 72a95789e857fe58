package bulk

import (
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// buildsAhead reports whether the chunk's INSERT can be built here, ahead
// of the create handler: GORM's own handler executes SQL it finds already
// built (SQL Server's handler would lose its OUTPUT read-back), and upserts
// and maps keep GORM's conversion, which also rewrites ON CONFLICT.
func (l limits) buildsAhead(stmt *gorm.Statement, rows reflect.Value) bool {
	if !l.gormCreate || stmt.Schema == nil {
		return false
	}
	if _, upsert := stmt.Clauses["ON CONFLICT"]; upsert {
		return false
	}
	elem := rows.Type().Elem()
	for elem.Kind() == reflect.Pointer {
		elem = elem.Elem()
	}
	return elem.Kind() == reflect.Struct
}

// sqlCache keeps the text of the last INSERT built. Chunks of one shape (the
// same columns, row count and read-back) whose values all bind as plain
// parameters have the same text, so GORM's builders run once per shape and
// later chunks only bind their values. Array-per-column inserts (see
// unnest_postgres.go) have one text whatever the row count.
type sqlCache struct {
	key, sql string
}

// buildInsert writes the chunk's INSERT into stmt as GORM's create handler
// would, or with an array per column where types has every column's type
// and params tells that the values fit arrays (see columnArrays), reusing the cached text
// where the chunk's shape allows. It returns why a chunk that could have
// gone as arrays did not, or "".
func (c *sqlCache) buildInsert(stmt *gorm.Statement, values clause.Values, skipReturning bool, types map[string]pgColumn, params *pgParams) (why string) {
	if !plainValues(values) {
		buildInsert(stmt, values)
		return ""
	}
	arrays, ways, why := columnArrays(values, types, params)
	unnest := why == "" && types != nil
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
	fmt.Fprintf(&key, "%d,%t", rows, skipReturning)

	switch {
	case key.String() == c.key && unnest:
		stmt.SQL.WriteString(c.sql)
		stmt.Vars = arrays
		return ""
	case key.String() == c.key:
		stmt.SQL.WriteString(c.sql)
		stmt.Vars = flatVars(values)
		return why
	case unnest:
		buildUnnest(stmt, values.Columns, arrays, ways, types)
	default:
		buildInsert(stmt, values)
	}
	c.key, c.sql = key.String(), stmt.SQL.String()
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
