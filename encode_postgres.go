package bulk

import (
	"database/sql"
	"database/sql/driver"
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// GORM's statement sends each value as a parameter of the column's type,
// and pgx encodes a parameter by its Go value: a string in text, which the
// server parses with the type's input function, anything else in binary
// with pgx's codec for the type (in text where pgx knows no codec, as for
// enums and domains). Arrays and COPY encode a column in one format, so
// they keep GORM's result only where that format carries every value as
// its parameter would:
//   - binary, as the column's base type, where the value's Go kind is the
//     type's own (naturalKinds): pgx's codec is the parameter's codec, and
//     the column's length, precision and domain rules then apply as they
//     apply to a parameter;
//   - text, cast to the column's type by the server, where the value is a
//     string and the column is not text (arrays only: a COPY has one
//     format for all its columns);
// and nothing else: a column whose values fit neither goes as VALUES, and
// a table with such a column is not copied.

// valueKind is what a Go value is, as far as the encoding is concerned.
type valueKind uint8

const (
	kindNull valueKind = iota
	kindBool
	kindInt
	kindFloat
	kindString
	kindBytes
	kindTime
	kindOther
)

// naturalKinds lists, per built-in base type, the kinds pgx encodes into
// it in binary. A string into text is the same bytes in either format.
var naturalKinds = map[string][]valueKind{
	"bool":        {kindBool},
	"int2":        {kindInt},
	"int4":        {kindInt},
	"int8":        {kindInt},
	"float4":      {kindInt, kindFloat},
	"float8":      {kindInt, kindFloat},
	"numeric":     {kindInt, kindFloat},
	"text":        {kindString},
	"varchar":     {kindString},
	"bpchar":      {kindString},
	"bytea":       {kindBytes},
	"date":        {kindTime},
	"timestamp":   {kindTime},
	"timestamptz": {kindTime},
}

// natural reports whether values of kind k go into the column in binary as
// GORM's parameters do.
func (col pgColumn) natural(k valueKind) bool {
	if col.domain {
		return false
	}
	for _, n := range naturalKinds[col.builtin] {
		if n == k {
			return true
		}
	}
	return false
}

// driverValue returns v as pgx encodes it, with its kind: a Valuer's value,
// a pointer's target, a named basic type's string.
func driverValue(v any) (any, valueKind) {
	switch x := v.(type) {
	case nil:
		return nil, kindNull
	case string:
		return x, kindString
	case int64, int, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		return v, kindInt
	case float64, float32:
		return v, kindFloat
	case bool:
		return v, kindBool
	case time.Time:
		return v, kindTime
	case []byte:
		if x == nil {
			return nil, kindNull
		}
		return v, kindBytes
	case driver.Valuer:
		if rv := reflect.ValueOf(x); rv.Kind() == reflect.Pointer && rv.IsNil() {
			// Whether a nil Valuer is NULL or valued is the driver's call.
			return v, kindOther
		}
		dv, err := x.Value()
		if _, nested := dv.(driver.Valuer); err != nil || nested {
			return v, kindOther
		}
		return driverValue(dv)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			return nil, kindNull
		}
		return driverValue(rv.Elem().Interface())
	case reflect.String:
		return rv.String(), kindString
	}
	if k := basicKind(rv.Type()); k != kindOther {
		return v, k
	}
	return v, kindOther
}

// basicKind is the kind of a type that is not a Valuer.
func basicKind(t reflect.Type) valueKind {
	if t == reflect.TypeFor[time.Time]() {
		return kindTime
	}
	switch t.Kind() {
	case reflect.String:
		return kindString
	case reflect.Bool:
		return kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return kindInt
	case reflect.Float32, reflect.Float64:
		return kindFloat
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return kindBytes
		}
	}
	return kindOther
}

// valuerKinds are the kinds of the values the standard Valuers give.
var valuerKinds = map[reflect.Type]valueKind{
	reflect.TypeFor[sql.NullString]():  kindString,
	reflect.TypeFor[sql.NullInt64]():   kindInt,
	reflect.TypeFor[sql.NullInt32]():   kindInt,
	reflect.TypeFor[sql.NullInt16]():   kindInt,
	reflect.TypeFor[sql.NullByte]():    kindInt,
	reflect.TypeFor[sql.NullFloat64](): kindFloat,
	reflect.TypeFor[sql.NullBool]():    kindBool,
	reflect.TypeFor[sql.NullTime]():    kindTime,
	reflect.TypeFor[gorm.DeletedAt]():  kindTime,
}

var driverValuerType = reflect.TypeFor[driver.Valuer]()

// fieldKind returns the kind of every value a field can hold, or false
// when only the values can tell: a serializer or a Valuer of its own.
func fieldKind(f *schema.Field) (valueKind, bool) {
	if f.Serializer != nil {
		return kindOther, false
	}
	t := f.FieldType
	for {
		if k, ok := valuerKinds[t]; ok {
			return k, true
		}
		if t.Implements(driverValuerType) {
			return kindOther, false
		}
		if t.Kind() != reflect.Pointer {
			return basicKind(t), true
		}
		t = t.Elem()
	}
}
