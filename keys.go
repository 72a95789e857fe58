package bulk

import (
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

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
