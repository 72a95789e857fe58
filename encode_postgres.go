package bulk

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"gorm.io/gorm"
)

// GORM's statement sends each value as a parameter of its column's type,
// and pgx's query builder picks the parameter's format by the Go value: a
// string or *string in text, which the server parses with the type's input
// function; anything else in the format the type map prefers for the type
// (binary for PostgreSQL's own types, text for a domain, an enum or a type
// pgx does not know), and in the other format where that one fails to
// encode. In binary, pgx's codec does the parsing: a Valuer's string into
// uuid or an array is parsed by pgx, and may not mean what the server's
// input function makes of it.
//
// Arrays and COPY carry a whole column in one format, so they keep GORM's
// result only where every value of the column goes in the format its
// parameter would: pgParams asks the connection's type map, value by value,
// as the query builder does. A column whose values would go in both
// formats is written as VALUES; a table with a column whose values go in
// text is not copied (binary COPY has no text). For the text types
// (textLike) both formats carry the same bytes, which the server reads
// alike, so a string goes into them in binary too.

// textLike lists the built-in types whose binary form is their text.
var textLike = map[string]bool{"text": true, "varchar": true, "bpchar": true, "name": true, "json": true, "jsonb": true}

// alwaysBinary lists, per Go type, the built-in types pgx encodes every
// value of it into in binary, where it prefers binary: a column of such a
// type and field needs no look at its values. Integers into narrower ones
// and anything else can fail in binary and then go in text, so those are
// asked value by value.
var alwaysBinary = map[reflect.Type][]string{
	reflect.TypeFor[int64]():     {"int8", "numeric"},
	reflect.TypeFor[int]():       {"int8", "numeric"},
	reflect.TypeFor[int32]():     {"int4", "int8", "numeric"},
	reflect.TypeFor[int16]():     {"int2", "int4", "int8", "numeric"},
	reflect.TypeFor[int8]():      {"int2", "int4", "int8", "numeric"},
	reflect.TypeFor[uint16]():    {"int4", "int8", "numeric"},
	reflect.TypeFor[uint8]():     {"int2", "int4", "int8", "numeric"},
	reflect.TypeFor[uint32]():    {"int8", "numeric"},
	reflect.TypeFor[float64]():   {"float8", "numeric"},
	reflect.TypeFor[float32]():   {"float4", "float8", "numeric"},
	reflect.TypeFor[bool]():      {"bool"},
	reflect.TypeFor[time.Time](): {"timestamptz", "timestamp", "date"},
	reflect.TypeFor[[]byte]():    {"bytea"},
	// pgx encodes the standard Valuers by their Value, of the type listed.
	reflect.TypeFor[sql.NullInt64]():   {"int8", "numeric"},
	reflect.TypeFor[sql.NullInt32]():   {"int4", "int8", "numeric"},
	reflect.TypeFor[sql.NullInt16]():   {"int2", "int4", "int8", "numeric"},
	reflect.TypeFor[sql.NullByte]():    {"int2", "int4", "int8", "numeric"},
	reflect.TypeFor[sql.NullFloat64](): {"float8", "numeric"},
	reflect.TypeFor[sql.NullBool]():    {"bool"},
	reflect.TypeFor[sql.NullTime]():    {"timestamptz", "timestamp", "date"},
	reflect.TypeFor[gorm.DeletedAt]():  {"timestamptz", "timestamp", "date"},
}

// binaryFor reports whether every value of Go type t (or a pointer to it,
// nil being NULL) goes into the column in binary as its parameter would,
// with the same bytes: the column is not a domain, and t is one pgx always
// encodes into the column's type in binary, or a string into a text type.
func (col pgColumn) binaryFor(t reflect.Type) bool {
	if col.domain || t == nil {
		return false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[string]() || t == reflect.TypeFor[sql.NullString]() {
		return textLike[col.builtin]
	}
	for _, name := range alwaysBinary[t] {
		if name == col.builtin {
			return true
		}
	}
	return false
}

// arrayWay is how a column's values travel in an array.
type arrayWay byte

const (
	binaryArray arrayWay = 'b' // as the column's base type
	textArray   arrayWay = 't' // as text, cast by the server
)

// pgParams tells how pgx sends values as parameters of columns' types,
// with the type map of the connection the statement runs on.
type pgParams struct {
	m   *pgtype.Map
	buf []byte
}

func newPgParams(m *pgtype.Map) *pgParams {
	return &pgParams{m: m, buf: make([]byte, 0, 64)}
}

// way returns how v goes into an array of the column's values so that it
// means what GORM's parameter means: binaryArray with the element to put
// in the typed array, textArray with its text, or 0 for NULL. It reports
// false where pgx cannot encode v (GORM's statement then fails in the
// driver) or its parameter would go in binary as a type the column's base
// type is not (a domain whose parameter pgx's text fails on).
func (p *pgParams) way(col pgColumn, v any) (any, arrayWay, bool) {
	if s, ok := v.(string); ok {
		if textLike[col.builtin] && !col.domain {
			return s, binaryArray, true
		}
		return s, textArray, true
	}
	first := p.m.FormatCodeForOID(col.oid)
	if _, ok := v.(*string); ok {
		first = pgtype.TextFormatCode
	}
	for _, format := range [2]int16{first, 1 - first} {
		buf, err := p.m.Encode(col.oid, format, v, p.buf[:0])
		switch {
		case err != nil:
			continue
		case buf == nil:
			return nil, 0, true
		}
		p.buf = buf[:0]
		switch {
		case format == pgtype.TextFormatCode && textLike[col.builtin] && !col.domain:
			return string(buf), binaryArray, true
		case format == pgtype.TextFormatCode:
			return string(buf), textArray, true
		case col.domain:
			return nil, 0, false
		}
		return v, binaryArray, true
	}
	return nil, 0, false
}

// appendNumeric appends f as a binary numeric, the bytes pgx's numeric
// codec writes for a float64 (and a float32, widened): strconv's shortest
// decimal ('f', -1), in base-10,000 digits, with the decimal's scale. pgx
// gets there through that decimal as a string and big.Int arithmetic,
// which made a float64 into a numeric column a third of a COPY's
// encoding; this is the same reading without either. NaN and the
// infinities are numeric's special values, as in pgx.
func appendNumeric(buf []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return binary.BigEndian.AppendUint64(buf, 0xc000_0000)
	case math.IsInf(f, 1):
		return binary.BigEndian.AppendUint64(buf, 0xd000_0000)
	case math.IsInf(f, -1):
		return binary.BigEndian.AppendUint64(buf, 0xf000_0000)
	}
	// The longest decimal is the smallest subnormal's: "-0." and 324
	// digits, and up to three zeros go on after it.
	var text [336]byte
	digits := strconv.AppendFloat(text[:0], f, 'f', -1, 64)
	negative := digits[0] == '-'
	if negative {
		digits = digits[1:]
	}
	// digits × 10^exp is f, as pgx parses it: an integer loses its
	// trailing zeros to exp, a fraction its point.
	exp := 0
	if point := bytes.IndexByte(digits, '.'); point < 0 {
		for len(digits) > 1 && digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
			exp++
		}
	} else {
		exp = point + 1 - len(digits)
		digits = append(digits[:point], digits[point+1:]...)
	}
	scale := max(-exp, 0)
	// Zeros on the right take exp down to a multiple of 4, so that the
	// digits fall into base-10,000 digits from the right.
	for exp%4 != 0 {
		digits = append(digits, '0')
		exp--
	}
	// A fraction's last -exp/4 base-10,000 digits are all written, zeros
	// too; the whole part's leading zeros are not.
	frac := max(-exp, 0) / 4
	whole := max(len(digits)-4*frac, 0)
	first := bytes.IndexFunc(digits[:whole], func(r rune) bool { return r != '0' })
	if first < 0 {
		first = whole
	}
	wholeDigits := (whole - first + 3) / 4
	var weight int
	if wholeDigits > 0 {
		weight = wholeDigits - 1 + max(exp, 0)/4
	} else {
		weight = exp/4 - 1 + frac
	}
	var sign uint16
	if negative && bytes.ContainsFunc(digits, func(r rune) bool { return r != '0' }) {
		sign = 0x4000
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(wholeDigits+frac))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, uint16(scale))
	// The last base-10,000 digit ends where the decimal digits do; a
	// fraction shorter than its base-10,000 digits has zeros on its left.
	for j := len(digits) - 4*(wholeDigits+frac); j < len(digits); j += 4 {
		var d uint16
		for k := j; k < j+4; k++ {
			d *= 10
			if k >= 0 {
				d += uint16(digits[k] - '0')
			}
		}
		buf = binary.BigEndian.AppendUint16(buf, d)
	}
	return buf
}
