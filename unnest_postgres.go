package bulk

import (
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// On PostgreSQL a chunk is written as
//
//	INSERT INTO t (a, b) SELECT * FROM unnest($1::text[], $2::bigint[]) RETURNING id
//
// one array parameter per column rather than one parameter per value. The
// server plans a handful of parameters instead of thousands and the arrays
// travel in binary: measured here, 1.6× the rows per second of the same
// rows as a VALUES list. The rows keep their order (RETURNING hands the
// keys back in it, as for VALUES), and each array is cast to its column's
// type, so values are stored exactly as a VALUES list would store them.
// Chunks that need DEFAULT for a missing value, or hold values GORM writes
// as SQL (expressions), stay with VALUES.

// pgColumn is what the catalog says of a column.
type pgColumn struct {
	typ      string // its type as SQL, for array casts
	identity string // pg_attribute.attidentity: "a" ALWAYS, "d" BY DEFAULT, ""
}

// pgTable returns the statement's table as a pgx identifier. GORM keeps
// the schema of db.Table("schema.table") only in TableExpr; a table
// expression that is not a plain name (an alias, a subquery) reports false.
func pgTable(stmt *gorm.Statement) (pgx.Identifier, bool) {
	if stmt.TableExpr == nil {
		return pgx.Identifier{stmt.Table}, stmt.Table != ""
	}
	if len(stmt.TableExpr.Vars) > 0 {
		return nil, false
	}
	parts := strings.Split(stmt.TableExpr.SQL, ".")
	for i, part := range parts {
		parts[i] = strings.Trim(part, `"`)
	}
	// Only a name quotes back to the text it came from.
	if stmt.Quote(strings.Join(parts, ".")) != stmt.TableExpr.SQL {
		return nil, false
	}
	return pgx.Identifier(parts), true
}

// tableColumns reads the statement's table's columns from the catalog, or
// returns nil when they cannot be read; the chunks then use VALUES.
func (p *Plugin) tableColumns(db *gorm.DB) map[string]pgColumn {
	stmt := db.Statement
	table, ok := pgTable(stmt)
	if !ok {
		return nil
	}
	rows, err := stmt.ConnPool.QueryContext(stmt.Context,
		`SELECT attname, format_type(atttypid, atttypmod), attidentity::text FROM pg_attribute
		  WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, table.Sanitize())
	if err != nil {
		return nil
	}
	defer rows.Close()
	columns := map[string]pgColumn{}
	for rows.Next() {
		var name string
		var col pgColumn
		if rows.Scan(&name, &col.typ, &col.identity) != nil {
			return nil
		}
		columns[name] = col
	}
	if rows.Err() != nil || len(columns) == 0 {
		return nil
	}
	return columns
}

// unnestable reports whether every column's type is known.
func unnestable(values clause.Values, types map[string]pgColumn) bool {
	if types == nil {
		return false
	}
	for _, col := range values.Columns {
		if _, ok := types[col.Name]; !ok {
			return false
		}
	}
	return true
}

// columnArrays turns the chunk's rows into one slice per column.
func columnArrays(values clause.Values) []any {
	arrays := make([]any, len(values.Columns))
	for i := range values.Columns {
		column := make([]any, len(values.Values))
		for r, row := range values.Values {
			column[r] = row[i]
		}
		arrays[i] = column
	}
	return arrays
}

// buildUnnest writes the chunk's INSERT with one array per column. Values
// must be plain (see plainValues) and every column's type known.
func buildUnnest(stmt *gorm.Statement, values clause.Values, types map[string]pgColumn) {
	addCreateClauses(stmt)
	stmt.AddClauseIfNotExists(clause.Insert{})
	stmt.Build("INSERT")
	stmt.WriteString(" (")
	for i, col := range values.Columns {
		if i > 0 {
			stmt.WriteByte(',')
		}
		stmt.WriteQuoted(col)
	}
	stmt.WriteString(") SELECT * FROM unnest(")
	for i, array := range columnArrays(values) {
		if i > 0 {
			stmt.WriteByte(',')
		}
		// AddVar would expand a slice into a list; an array is one value.
		stmt.Vars = append(stmt.Vars, array)
		stmt.DB.Dialector.BindVarTo(stmt, stmt, array)
		stmt.WriteString("::")
		stmt.WriteString(types[values.Columns[i].Name].typ)
		stmt.WriteString("[]")
	}
	stmt.WriteByte(')')
	if _, ok := stmt.Clauses["RETURNING"]; ok {
		stmt.WriteByte(' ')
		stmt.Build("RETURNING")
	}
}
