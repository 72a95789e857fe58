package bulk

import (
	"fmt"
	"reflect"
	"slices"
	"time"
	"unsafe"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// insertColumns are the columns GORM's ConvertToCreateValues writes for a
// statement, with what it needs to apply GORM's defaults to each row.
type insertColumns struct {
	// fields are written for every row.
	fields []*schema.Field
	// dbDefaults take a database default; GORM writes one only when some
	// row of the statement has a value for it, the others getting DEFAULT.
	dbDefaults []*schema.Field
	// plans and dbPlans read and write fields and dbDefaults (see planOf).
	plans, dbPlans []fieldPlan

	model           reflect.Type // the schema's; the plans hold its offsets
	now             time.Time
	nowValue        any // now, boxed once for every row that takes it
	updateTrackTime bool
}

// newInsertColumns resolves the statement's columns once, from its Select
// and Omit, as ConvertToCreateValues does for each statement. now is what
// timestamps take: GORM reads the clock once per statement, so one Create
// gives every row the same time however many chunks write them. Save's
// "gorm:update_track_time" setting is read here; GORM drops it once the
// statement's values are taken (see consumeTrackTime).
func newInsertColumns(stmt *gorm.Statement, now time.Time) insertColumns {
	selected, restricted := stmt.SelectAndOmitColumns(true, false)
	_, updateTrackTime := stmt.Get(updateTrackTime)
	cols := insertColumns{model: stmt.Schema.ModelType, now: now, nowValue: now, updateTrackTime: updateTrackTime}
	for _, name := range stmt.Schema.DBNames {
		f := stmt.Schema.FieldsByDBName[name]
		if f.HasDefaultValue && f.DefaultValueInterface == nil {
			continue
		}
		if v, ok := selected[name]; (ok && v) || (!ok && (!restricted || f.AutoCreateTime > 0 || f.AutoUpdateTime > 0)) {
			cols.fields = append(cols.fields, f)
		}
	}
	for _, f := range stmt.Schema.FieldsWithDefaultDBValue {
		if v, ok := selected[f.DBName]; (ok && v) || (!ok && !restricted) {
			cols.dbDefaults = append(cols.dbDefaults, f)
		}
	}
	for _, f := range cols.fields {
		cols.plans = append(cols.plans, planOf(stmt.Schema.ModelType, f))
	}
	for _, f := range cols.dbDefaults {
		cols.dbPlans = append(cols.dbPlans, planOf(stmt.Schema.ModelType, f))
	}
	return cols
}

// readField reads a field of row with its plan where it has a reader (addr is
// the row's address, nil when the row has none), else with GORM's ValueOf.
func readField(stmt *gorm.Statement, f *schema.Field, p fieldPlan, row reflect.Value, addr unsafe.Pointer) (any, bool) {
	if p.read != nil && addr != nil {
		return p.read(addr)
	}
	return f.ValueOf(stmt.Context, row)
}

// rowAddr returns the address of a row for the plans of model's fields, or
// nil when it has none or is not of that type (a Model other than the rows'
// type): the plans' offsets hold only within the schema's type.
func rowAddr(model reflect.Type, row reflect.Value) unsafe.Pointer {
	if !row.CanAddr() || row.Type() != model {
		return nil
	}
	// UnsafeAddr, unlike Addr, makes no pointer type: a load asks once a
	// row, and Addr's lookup of *T showed as a tenth of LOAD DATA's encoder.
	return unsafe.Pointer(row.UnsafeAddr())
}

// rowAddrs returns, for a slice or addressable array of model's structs or
// of pointers to them, the address of row i for the plans of model's
// fields, worked out from the backing array rather than by reflect per
// row: a load asks it of every row. The address is nil for other rows,
// and for a nil pointer.
func rowAddrs(model reflect.Type, rows reflect.Value) func(i int) unsafe.Pointer {
	none := func(int) unsafe.Pointer { return nil }
	var base unsafe.Pointer
	switch {
	case rows.Kind() == reflect.Slice:
		base = rows.UnsafePointer()
	case rows.Kind() == reflect.Array && rows.CanAddr():
		base = unsafe.Pointer(rows.UnsafeAddr())
	default:
		return none
	}
	switch elem := rows.Type().Elem(); {
	case elem == model:
		size := model.Size()
		return func(i int) unsafe.Pointer { return unsafe.Add(base, uintptr(i)*size) }
	case elem.Kind() == reflect.Pointer && elem.Elem() == model:
		size := elem.Size()
		return func(i int) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Add(base, uintptr(i)*size)) }
	}
	return none
}

const updateTrackTime = "gorm:update_track_time"

// consumeTrackTime drops Save's setting from the statement whose values
// were taken, as ConvertToCreateValues does: from a chunk's once its
// values are, and from the call's once every chunk's are, so that the
// writers a chunk falls back to see it.
func consumeTrackTime(stmt *gorm.Statement) { stmt.Settings.Delete(updateTrackTime) }

// values reads row's values for cols.fields into dst, with GORM's effects
// on the row: a zero field takes its `default:` value, and a field that
// takes NowFunc() (see takesNow) gets it, written back into the row.
func (cols *insertColumns) values(stmt *gorm.Statement, row reflect.Value, dst []any) {
	addr := rowAddr(cols.model, row)
	for j, f := range cols.fields {
		p := cols.plans[j]
		v, zero := readField(stmt, f, p, row, addr)
		switch {
		case !cols.takesNow(f, zero):
			if zero && f.DefaultValueInterface != nil {
				v = f.DefaultValueInterface
				stmt.AddError(f.Set(stmt.Context, row, v))
			}
		case p.setTime != nil && addr != nil:
			p.setTime(addr, cols.now)
			v = cols.nowValue
		default:
			stmt.AddError(f.Set(stmt.Context, row, cols.now))
			v, _ = readField(stmt, f, p, row, addr)
		}
		dst[j] = v
	}
}

// takesNow reports whether a field takes NowFunc() (in its unit): a zero
// autoCreateTime/autoUpdateTime field without a `default:` value, and a
// given autoUpdateTime field when Save asks for it.
func (cols *insertColumns) takesNow(f *schema.Field, zero bool) bool {
	if zero {
		return f.DefaultValueInterface == nil && (f.AutoCreateTime > 0 || f.AutoUpdateTime > 0)
	}
	return f.AutoUpdateTime > 0 && cols.updateTrackTime
}

// createValues is GORM's callbacks.ConvertToCreateValues for a slice of
// structs, with the same effects on the rows. GORM's version looks each
// field up by name and allocates a slice for every row; this one resolves
// the columns once and gives all rows one backing array. Where timeText
// names the layout the driver binds times in, the rows that take now get
// its text, formatted once (see dialect.timeText).
func createValues(stmt *gorm.Statement, rows reflect.Value, now time.Time, timeText string) clause.Values {
	cols := newInsertColumns(stmt, now)
	if timeText != "" {
		cols.nowValue = now.Format(timeText)
	}
	consumeTrackTime(stmt)
	nFields := len(cols.fields)
	n, width := rows.Len(), nFields+len(cols.dbDefaults)
	backing := make([]any, n*width)
	present := make([]bool, len(cols.dbDefaults))
	values := clause.Values{Values: make([][]any, n)}
	for i := 0; i < n; i++ {
		rv := reflect.Indirect(rows.Index(i))
		if !rv.IsValid() {
			stmt.AddError(fmt.Errorf("slice data #%v is invalid: %w", i, gorm.ErrInvalidData))
			return values
		}
		row := backing[i*width : (i+1)*width]
		cols.values(stmt, rv, row)
		addr := rowAddr(cols.model, rv)
		for k, f := range cols.dbDefaults {
			if v, zero := readField(stmt, f, cols.dbPlans[k], rv, addr); !zero {
				present[k] = true
				row[nFields+k] = v
			}
		}
		values.Values[i] = row
	}

	values.Columns = make([]clause.Column, 0, width)
	for _, f := range cols.fields {
		values.Columns = append(values.Columns, clause.Column{Name: f.DBName})
	}
	// Keep only the database-default columns some row gives a value, moving
	// them left over the absent ones.
	kept := nFields
	for k, f := range cols.dbDefaults {
		if !present[k] {
			continue
		}
		values.Columns = append(values.Columns, clause.Column{Name: f.DBName})
		for _, row := range values.Values {
			if row[nFields+k] == nil {
				row[kept] = stmt.DefaultValueOf(f)
			} else {
				row[kept] = row[nFields+k]
			}
		}
		kept++
	}
	if kept == 0 && len(cols.dbDefaults) > 0 {
		// No row of the chunk gives a column that rows of other chunks give
		// (writesNoColumn sends calls with none to GORM): the chunk's rows
		// take the database's default as GORM's statement gives them, not
		// one row of defaults.
		f := cols.dbDefaults[0]
		values.Columns = append(values.Columns, clause.Column{Name: f.DBName})
		for _, row := range values.Values {
			row[0] = stmt.DefaultValueOf(f)
		}
		kept = 1
	}
	for i, row := range values.Values {
		values.Values[i] = row[:kept]
	}
	return values
}

// writesNoColumn reports whether GORM's create writes no column for the
// statement's rows: every column it would write is left to the database by
// every row (a model of a generated key alone, say), or no map has a key
// it writes. GORM then writes one row of defaults for the whole slice
// (INSERT … DEFAULT VALUES, MySQL's VALUES()), and so does the bulk path,
// by leaving the call to GORM.
func writesNoColumn(stmt *gorm.Statement) bool {
	rows := stmt.ReflectValue
	if maps, ok := rows.Interface().([]map[string]any); ok {
		return !mapsWriteColumn(stmt, maps)
	}
	if stmt.Schema == nil || rowType(rows) != stmt.Schema.ModelType {
		return false
	}
	// Without Select or Omit, a model with a field the database does not
	// default writes it (newInsertColumns), whatever the rows hold: most
	// models, told without resolving the columns on every call.
	if len(stmt.Selects) == 0 && len(stmt.Omits) == 0 && slices.ContainsFunc(stmt.Schema.Fields, func(f *schema.Field) bool {
		return f.DBName != "" && f.Creatable && (!f.HasDefaultValue || f.DefaultValueInterface != nil)
	}) {
		return false
	}
	cols := newInsertColumns(stmt, time.Time{})
	if len(cols.fields) > 0 {
		return false
	}
	for _, f := range cols.dbDefaults {
		if zeroRows(stmt, f, rows, nil) < rows.Len() {
			return false
		}
	}
	return true
}

// defaulted reports, for a field the database defaults, whether the
// statement writes its column, and how many rows give it a value and how
// many leave it to the database (all of them where the column is not
// written): what COPY and LOAD DATA, which write a column for every row or
// none, decide from.
func (cols *insertColumns) defaulted(stmt *gorm.Statement, f *schema.Field, rows reflect.Value) (written bool, given, zero int) {
	for _, d := range cols.dbDefaults {
		if d == f {
			zero = zeroRows(stmt, f, rows, nil)
			return true, rows.Len() - zero, zero
		}
	}
	return false, 0, rows.Len()
}
