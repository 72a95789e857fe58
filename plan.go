package bulk

import (
	"reflect"
	"sync"
	"time"
	"unsafe"

	"gorm.io/gorm/schema"
)

// fieldReader reads one field of a row, as GORM's Field.ValueOf does, from
// the row's address: the value and whether it is zero.
type fieldReader func(row unsafe.Pointer) (any, bool)

// readers caches a fieldReader per GORM field (GORM caches schemas, and so
// their fields, per model), or nil where there is none.
var readers sync.Map // *schema.Field → fieldReader

// readerOf returns the field's reader, or nil where GORM's ValueOf must be
// used: a serializer (ValueOf hands out a wrapper), an embedded pointer on
// the way to the field (ValueOf gives nil when it is nil), or a type other
// than the builtin ones GORM binds as they are. Those builtin types are read
// straight from memory at the field's offset, found once from the model's
// type, and boxed as ValueOf boxes them; zero means all bits zero, as
// reflect's IsZero has it.
func readerOf(model reflect.Type, f *schema.Field) fieldReader {
	if r, ok := readers.Load(f); ok {
		return r.(fieldReader)
	}
	r := newReader(model, f)
	readers.Store(f, r)
	return r
}

func newReader(model reflect.Type, f *schema.Field) fieldReader {
	if f.Serializer != nil || model.Kind() != reflect.Struct {
		return nil
	}
	var offset uintptr
	t := model
	for _, i := range f.StructField.Index {
		if i < 0 || t.Kind() != reflect.Struct || i >= t.NumField() {
			return nil
		}
		sf := t.Field(i)
		offset, t = offset+sf.Offset, sf.Type
	}
	if t != f.FieldType {
		return nil
	}
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
	case reflect.TypeFor[time.Time]():
		return readAt[time.Time](offset)
	case reflect.TypeFor[float64]():
		return func(row unsafe.Pointer) (any, bool) {
			v := *(*float64)(unsafe.Add(row, offset))
			return v, *(*uint64)(unsafe.Add(row, offset)) == 0
		}
	}
	return nil
}

// readAt reads a comparable builtin type whose zero value has all bits zero.
func readAt[T comparable](offset uintptr) fieldReader {
	return func(row unsafe.Pointer) (any, bool) {
		var zero T
		v := *(*T)(unsafe.Add(row, offset))
		return v, v == zero
	}
}
