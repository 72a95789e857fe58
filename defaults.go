package bulk

import (
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// createValues is GORM's callbacks.ConvertToCreateValues for a slice of
// structs, with the same effects on the rows: a zero field takes its
// `default:` value, a zero autoCreateTime/autoUpdateTime field takes
// NowFunc() in its unit (and autoUpdateTime a given one too when Save asks
// for it), and a database-default column is written only when some row of
// the statement has a value for it, the others getting the dialect's
// DEFAULT. GORM's version looks each field up by name and allocates a slice
// for every row; this one resolves the columns once per chunk and gives all
// rows one backing array.
func createValues(stmt *gorm.Statement, rows reflect.Value) clause.Values {
	ctx := stmt.Context
	selected, restricted := stmt.SelectAndOmitColumns(true, false)
	_, updateTrackTime := stmt.Get("gorm:update_track_time")
	stmt.Settings.Delete("gorm:update_track_time")
	now := stmt.DB.NowFunc()

	var fields, dbDefaults []*schema.Field
	for _, name := range stmt.Schema.DBNames {
		f := stmt.Schema.FieldsByDBName[name]
		if f.HasDefaultValue && f.DefaultValueInterface == nil {
			continue
		}
		if v, ok := selected[name]; (ok && v) || (!ok && (!restricted || f.AutoCreateTime > 0 || f.AutoUpdateTime > 0)) {
			fields = append(fields, f)
		}
	}
	for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
		if v, ok := selected[f.DBName]; (ok && v) || (!ok && !restricted) {
			dbDefaults = append(dbDefaults, f)
		}
	}

	n, width := rows.Len(), len(fields)+len(dbDefaults)
	backing := make([]any, n*width)
	present := make([]bool, len(dbDefaults))
	values := clause.Values{Values: make([][]any, n)}
	for i := 0; i < n; i++ {
		rv := reflect.Indirect(rows.Index(i))
		if !rv.IsValid() {
			stmt.AddError(fmt.Errorf("slice data #%v is invalid: %w", i, gorm.ErrInvalidData))
			return values
		}
		row := backing[i*width : (i+1)*width]
		for j, f := range fields {
			v, zero := f.ValueOf(ctx, rv)
			switch {
			case zero && f.DefaultValueInterface != nil:
				v = f.DefaultValueInterface
				stmt.AddError(f.Set(ctx, rv, v))
			case zero && (f.AutoCreateTime > 0 || f.AutoUpdateTime > 0),
				!zero && f.AutoUpdateTime > 0 && updateTrackTime:
				stmt.AddError(f.Set(ctx, rv, now))
				v, _ = f.ValueOf(ctx, rv)
			}
			row[j] = v
		}
		for k, f := range dbDefaults {
			if v, zero := f.ValueOf(ctx, rv); !zero {
				present[k] = true
				row[len(fields)+k] = v
			}
		}
		values.Values[i] = row
	}

	values.Columns = make([]clause.Column, 0, width)
	for _, f := range fields {
		values.Columns = append(values.Columns, clause.Column{Name: f.DBName})
	}
	// Keep only the database-default columns some row gives a value, moving
	// them left over the absent ones.
	kept := len(fields)
	for k, f := range dbDefaults {
		if !present[k] {
			continue
		}
		values.Columns = append(values.Columns, clause.Column{Name: f.DBName})
		for _, row := range values.Values {
			if row[len(fields)+k] == nil {
				row[kept] = stmt.DefaultValueOf(f)
			} else {
				row[kept] = row[len(fields)+k]
			}
		}
		kept++
	}
	for i, row := range values.Values {
		values.Values[i] = row[:kept]
	}
	return values
}
