package bulk

import (
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"gorm.io/gorm/schema"
)

// fieldReader reads one field of a row, as GORM's Field.ValueOf does, from
// the row's address: the value and whether it is zero.
type fieldReader func(row unsafe.Pointer) (any, bool)

// fieldPlan is how the bulk path reads and writes one field of a row from
// the row's address, worked out once per field. A nil read means GORM's
// ValueOf must be used: a serializer (ValueOf hands out a wrapper), an
// embedded pointer on the way to the field (ValueOf gives nil when it is
// nil), or a type other than the builtin ones GORM binds as they are.
type fieldPlan struct {
	// read reads a builtin type straight from memory at the field's offset,
	// boxed as ValueOf boxes it; zero means all bits zero, as reflect's
	// IsZero has it.
	read fieldReader
	// zero tells what read's second result tells, without boxing the
	// value: a load asks it of every row's key.
	zero func(row unsafe.Pointer) bool
	// setTime, for a time.Time field, assigns a time as GORM's setter does.
	setTime func(row unsafe.Pointer, t time.Time)
	// setInt, for an integer field, assigns a generated key as GORM's
	// setter assigns an int64: converted to the field's type.
	setInt func(row unsafe.Pointer, v int64)
	// fitsInt64, for a uint or uint64 field (GORM's usual keys and foreign
	// keys), reports whether the value fits an int64, as which pgx encodes
	// it in binary (see valuesCopyable).
	fitsInt64 func(row unsafe.Pointer) bool
}

// plans caches a fieldPlan per field of a model type. GORM parses a
// model's schema again for every DB (each has its own schema cache), so the
// key is the field's place in the type, not GORM's *schema.Field: the cache
// grows with the models, not with the DBs opened.
var plans sync.Map // planKey → fieldPlan

type planKey struct {
	model reflect.Type
	// index is the field's StructField.Index, for a field at most
	// planDepth structs deep (embedded ones count); deeper fields are
	// planned afresh each time.
	index [planDepth]int
	depth int
}

const planDepth = 4

// planOf returns the field's plan within rows of the model's type.
func planOf(model reflect.Type, f *schema.Field) fieldPlan {
	if len(f.StructField.Index) > planDepth {
		return newFieldPlan(model, f)
	}
	key := planKey{model: model, depth: len(f.StructField.Index)}
	copy(key.index[:], f.StructField.Index)
	if p, ok := plans.Load(key); ok {
		return p.(fieldPlan)
	}
	p := newFieldPlan(model, f)
	plans.Store(key, p)
	return p
}

func newFieldPlan(model reflect.Type, f *schema.Field) fieldPlan {
	if f.Serializer != nil || model.Kind() != reflect.Struct {
		return fieldPlan{}
	}
	var offset uintptr
	t := model
	for _, i := range f.StructField.Index {
		if i < 0 || t.Kind() != reflect.Struct || i >= t.NumField() {
			return fieldPlan{}
		}
		sf := t.Field(i)
		offset, t = offset+sf.Offset, sf.Type
	}
	if t != f.FieldType {
		return fieldPlan{}
	}
	if t == reflect.TypeFor[time.Time]() {
		read, zero := readAt[time.Time](offset)
		return fieldPlan{
			read: read, zero: zero,
			setTime: func(row unsafe.Pointer, v time.Time) { *(*time.Time)(unsafe.Add(row, offset)) = v },
		}
	}
	read, zero := readerAt(t, offset)
	p := fieldPlan{read: read, zero: zero, setInt: intSetterAt(t, offset)}
	switch t {
	case reflect.TypeFor[uint]():
		p.fitsInt64 = func(row unsafe.Pointer) bool { return uint64(*(*uint)(unsafe.Add(row, offset))) <= math.MaxInt64 }
	case reflect.TypeFor[uint64]():
		p.fitsInt64 = func(row unsafe.Pointer) bool { return *(*uint64)(unsafe.Add(row, offset)) <= math.MaxInt64 }
	}
	return p
}

// intSetterAt returns the int64 setter of an integer type at offset, or nil.
func intSetterAt(t reflect.Type, offset uintptr) func(unsafe.Pointer, int64) {
	switch t {
	case reflect.TypeFor[int]():
		return setIntAt[int](offset)
	case reflect.TypeFor[int64]():
		return setIntAt[int64](offset)
	case reflect.TypeFor[int32]():
		return setIntAt[int32](offset)
	case reflect.TypeFor[uint]():
		return setIntAt[uint](offset)
	case reflect.TypeFor[uint64]():
		return setIntAt[uint64](offset)
	case reflect.TypeFor[uint32]():
		return setIntAt[uint32](offset)
	}
	return nil
}

func setIntAt[T int | int64 | int32 | uint | uint64 | uint32](offset uintptr) func(unsafe.Pointer, int64) {
	return func(row unsafe.Pointer, v int64) { *(*T)(unsafe.Add(row, offset)) = T(v) }
}

// readerAt returns the reader and the zero test of a builtin type at
// offset, or nils.
func readerAt(t reflect.Type, offset uintptr) (fieldReader, func(unsafe.Pointer) bool) {
	switch t {
	case reflect.TypeFor[string]():
		return readAt[string](offset)
	case reflect.TypeFor[int]():
		return readAt[int](offset)
	case reflect.TypeFor[int64]():
		return readAt[int64](offset)
	case reflect.TypeFor[int32]():
		return readAt[int32](offset)
	case reflect.TypeFor[uint]():
		return readAt[uint](offset)
	case reflect.TypeFor[uint64]():
		return readAt[uint64](offset)
	case reflect.TypeFor[uint32]():
		return readAt[uint32](offset)
	case reflect.TypeFor[bool]():
		return readAt[bool](offset)
	case reflect.TypeFor[float64]():
		// Not readAt: -0.0 is zero, as reflect's IsZero (GORM's test) has
		// it since Go 1.22, yet it is written as it is where no default
		// replaces it.
		zero := func(row unsafe.Pointer) bool { return *(*float64)(unsafe.Add(row, offset)) == 0 }
		return func(row unsafe.Pointer) (any, bool) {
			return *(*float64)(unsafe.Add(row, offset)), zero(row)
		}, zero
	}
	return nil, nil
}

// readAt reads a comparable builtin type whose zero value has all bits zero.
// A zero value comes back boxed once, not per row: zero fields are the ones
// a bulk create replaces (timestamps, keys), and boxing a time.Time
// allocates.
func readAt[T comparable](offset uintptr) (fieldReader, func(unsafe.Pointer) bool) {
	var zero T
	boxedZero := any(zero)
	read := func(row unsafe.Pointer) (any, bool) {
		v := *(*T)(unsafe.Add(row, offset))
		if v == zero {
			return boxedZero, true
		}
		return v, false
	}
	return read, func(row unsafe.Pointer) bool { return *(*T)(unsafe.Add(row, offset)) == zero }
}
