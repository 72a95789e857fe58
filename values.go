package bulk

import (
	"reflect"

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

// buildInsert writes the chunk's INSERT the way GORM's create handler does:
// the schema's create clauses, RETURNING for database-filled columns where
// the dialect has it, then INSERT and VALUES through the dialect's clause
// builders.
func buildInsert(stmt *gorm.Statement, values clause.Values) {
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
	stmt.AddClauseIfNotExists(clause.Insert{})
	stmt.AddClause(values)
	stmt.SQL.Grow(len(values.Values) * 18)
	stmt.Vars = make([]any, 0, len(values.Values)*len(values.Columns))
	stmt.Build(stmt.BuildClauses...)
}
