package bulk_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/url"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below must load wherever the tests run

	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gormbulk/bulk"
)

// TestTypeMatrix creates the same rows of one column type at a time with
// plain GORM and with every path the plugin can take, and requires the same
// outcome: both refuse or both accept, the same table contents (read as
// text, so the exact stored value shows), the same structs and the same
// RowsAffected. A refused value sits in row 3 of 10, so a partial write
// would show in the table.
//
// Paths, each compared with plain GORM on the same rows and connection
// settings:
//   - PostgreSQL: copy, copy-chunks (forced COPY; ErrMethodUnavailable is
//     accepted as a step-aside), unnest, unnest-chunks (Method Values on
//     pgx's extended protocol), values (Method Values under pgx's simple
//     protocol), auto-large (Config.Auto, ≥ 600 rows: COPY's range) and
//     one-row (Options{} on a one-row slice);
//   - SQLite and MariaDB: values, values-chunks, auto-large, one-row; on
//     MariaDB also without RETURNING, under a non-strict sql_mode, and
//     (time cases) with loc=Asia/Kolkata.

// tmDialect says where a case applies.
type tmDialect int

const (
	tmPG tmDialect = 1 << iota
	tmMy
	tmLite
	tmAll = tmPG | tmMy | tmLite
)

func tmDialectOf(name string) tmDialect {
	switch name {
	case "postgres":
		return tmPG
	case "mysql":
		return tmMy
	case "sqlite":
		return tmLite
	}
	return 0
}

// tmBadRow is the row that holds a value the database refuses (or
// coerces), among valid ones.
const tmBadRow = 3

// tmLargeRows is the size of the auto-large row sets: above the 500 rows
// from which the automatic choice copies on PostgreSQL.
const tmLargeRows = 600

// tmCase is one column type with its rows.
type tmCase struct {
	name  string
	on    tmDialect
	model any
	// ddl creates the table by hand where AutoMigrate cannot (enums,
	// generated columns, STRICT tables), per dialect.
	ddl map[tmDialect]string
	// rows returns a pointer to a fresh slice of rows; calls return equal
	// rows (shared locations, no random values).
	rows func() any
	// large returns the auto-large rows; by default rows() repeated.
	large func() any
	// one is the row the one-row path writes; bad sets it to tmBadRow.
	one int
	bad bool
	// create writes the rows; db.Create by default.
	create func(db *gorm.DB, rows any) *gorm.DB
	// random names fields the database fills with random values (field,
	// column): where the input row left them zero, the struct must hold
	// what the table holds, and both are then blanked before comparing.
	random [][2]string
	// zones runs the case on MariaDB with loc=Asia/Kolkata too.
	zones bool
}

func (c *tmCase) oneIndex() int {
	if c.bad {
		return tmBadRow
	}
	return c.one
}

type tmSet int

const (
	tmSmall tmSet = iota
	tmLarge
	tmOne
	tmKeyed // the small rows, each giving its key (ID i+1), as Save's do
)

func (s tmSet) String() string { return [...]string{"small", "large", "one", "keyed"}[s] }

// rowsFor returns fresh rows of the set.
func (c *tmCase) rowsFor(set tmSet) any {
	switch set {
	case tmLarge:
		if c.large != nil {
			return c.large()
		}
		first := reflect.ValueOf(c.rows()).Elem()
		out := reflect.MakeSlice(first.Type(), 0, tmLargeRows+first.Len())
		for out.Len() < tmLargeRows {
			out = reflect.AppendSlice(out, reflect.ValueOf(c.rows()).Elem())
		}
		return tmPtrTo(out)
	case tmOne:
		all := reflect.ValueOf(c.rows()).Elem()
		one := reflect.MakeSlice(all.Type(), 1, 1)
		one.Index(0).Set(all.Index(c.oneIndex()))
		return tmPtrTo(one)
	case tmKeyed:
		rows := c.rows()
		all := reflect.ValueOf(rows).Elem()
		for i := range all.Len() {
			if row := reflect.Indirect(all.Index(i)); row.Kind() == reflect.Struct {
				if id := row.FieldByName("ID"); id.IsValid() && id.CanInt() {
					id.SetInt(int64(i + 1))
				} else if id.IsValid() && id.CanUint() {
					id.SetUint(uint64(i + 1))
				}
			}
		}
		return rows
	}
	return c.rows()
}

func tmPtrTo(v reflect.Value) any {
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return p.Interface()
}

// tmRows returns n rows made by f.
func tmRows[T any](n int, f func(i int) T) func() any {
	return func() any {
		r := make([]T, n)
		for i := range r {
			r[i] = f(i)
		}
		return &r
	}
}

// tmPick cycles through vals.
func tmPick[T any](i int, vals ...T) T { return vals[i%len(vals)] }

// tmBadAt returns bad for row tmBadRow and good otherwise.
func tmBadAt[T any](i int, good, bad T) T {
	if i == tmBadRow {
		return bad
	}
	return good
}

var (
	tmNewYork = mustLoadLocation("America/New_York")
	tmKolkata = mustLoadLocation("Asia/Kolkata")
)

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Array types stored through driver.Valuer as PostgreSQL array literals,
// as lib/pq's StringArray and Int64Array do.

type tmStrings []string

func (a tmStrings) Value() (driver.Value, error) {
	if a == nil {
		return nil, nil
	}
	quote := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + quote.Replace(s) + `"`)
	}
	b.WriteByte('}')
	return b.String(), nil
}

type tmInt64s []int64

func (a tmInt64s) Value() (driver.Value, error) {
	if a == nil {
		return nil, nil
	}
	parts := make([]string, len(a))
	for i, n := range a {
		parts[i] = fmt.Sprint(n)
	}
	return "{" + strings.Join(parts, ",") + "}", nil
}

type tmMatrix [][]int32

func (m tmMatrix) Value() (driver.Value, error) {
	if m == nil {
		return nil, nil
	}
	rows := make([]string, len(m))
	for i, r := range m {
		parts := make([]string, len(r))
		for j, n := range r {
			parts[j] = fmt.Sprint(n)
		}
		rows[i] = "{" + strings.Join(parts, ",") + "}"
	}
	return "{" + strings.Join(rows, ",") + "}", nil
}

// tmUpper writes SQL rather than data: GORM's Valuer interface.
type tmUpper string

func (u tmUpper) GormValue(context.Context, *gorm.DB) clause.Expr {
	return clause.Expr{SQL: "upper(?)", Vars: []any{string(u)}}
}

type tmMoodKind string

type tmMeta struct {
	Name string
	N    int
	List []int
}

type tmDoc struct {
	Title string   `json:"title"`
	Tags  []string `json:"tags"`
}

// The models: one table each. Types defined from another keep its tags.

type TmVarchar struct {
	ID int64  `gorm:"primaryKey"`
	S  string `gorm:"type:varchar(8)"`
}
type TmVarcharLong TmVarchar

type TmChar struct {
	ID int64  `gorm:"primaryKey"`
	S  string `gorm:"type:char(3)"`
}
type TmCharLong TmChar

type TmBit struct {
	ID int64  `gorm:"primaryKey"`
	S  string `gorm:"type:bit(3)"`
}
type TmBitLong TmBit
type TmBitShort TmBit

type TmVarbit struct {
	ID int64  `gorm:"primaryKey"`
	S  string `gorm:"type:varbit(4)"`
}
type TmVarbitLong TmVarbit

type TmNumFloat struct {
	ID int64   `gorm:"primaryKey"`
	N  float64 `gorm:"type:numeric(5,2)"`
}
type TmNumFloatOverflow TmNumFloat

// TmNumFloatScale holds floats of every scale in numeric without a
// typmod, which keeps each one's shortest decimal whole.
type TmNumFloatScale struct {
	ID  int64   `gorm:"primaryKey"`
	N   float64 `gorm:"type:numeric"`
	N32 float32 `gorm:"type:numeric"`
}

type TmNumString struct {
	ID int64  `gorm:"primaryKey"`
	N  string `gorm:"type:numeric(5,2)"`
}
type TmNumStringOverflow TmNumString
type TmNumStringInvalid TmNumString

type TmStrInt struct {
	ID int64  `gorm:"primaryKey"`
	S  string `gorm:"type:integer"`
}
type TmStrIntBad TmStrInt

type TmTextArray struct {
	ID   int64     `gorm:"primaryKey"`
	Tags tmStrings `gorm:"type:text[]"`
}

type TmBigintArray struct {
	ID   int64    `gorm:"primaryKey"`
	Nums tmInt64s `gorm:"type:bigint[]"`
}

type TmMatrix struct {
	ID int64    `gorm:"primaryKey"`
	M  tmMatrix `gorm:"type:integer[][]"`
}
type TmMatrixRagged TmMatrix

type TmJSON struct {
	ID int64  `gorm:"primaryKey"`
	J  string `gorm:"type:json"`
	B  string `gorm:"type:jsonb"`
}
type TmJSONInvalid TmJSON
type TmJSONNul TmJSON

type TmJSONBytes struct {
	ID int64  `gorm:"primaryKey"`
	J  []byte `gorm:"type:json"`
	B  []byte `gorm:"type:jsonb"`
}

type TmUUID struct {
	ID int64  `gorm:"primaryKey"`
	U  string `gorm:"type:uuid"`
}
type TmUUIDInvalid TmUUID

type TmUUIDDefault struct {
	ID int64  `gorm:"primaryKey"`
	U  string `gorm:"type:uuid;default:gen_random_uuid()"`
	N  int
}

// TmPgtype holds pgx's own types, which pgx encodes in binary and GORM
// passes through as they are (Valid false is NULL).
type TmPgtype struct {
	ID   int64 `gorm:"primaryKey"`
	Txt  pgtype.Text
	Num  pgtype.Numeric `gorm:"type:numeric(20,4)"`
	At   pgtype.Timestamptz
	U    pgtype.UUID `gorm:"type:uuid"`
	I8   pgtype.Int8
	Flag pgtype.Bool
	Day  pgtype.Date
	F    pgtype.Float8
}

type TmInet struct {
	ID int64  `gorm:"primaryKey"`
	A  string `gorm:"type:inet"`
}
type TmInetInvalid TmInet

// tmText is a string through driver.Valuer, and tmName a named string
// type: pgx tries their values in binary first, parsing them in the
// client, where GORM's plain strings go as text the server parses.
type tmText string

func (s tmText) Value() (driver.Value, error) { return string(s), nil }

type tmName string

type TmValuerText struct {
	ID    int64   `gorm:"primaryKey"`
	U     tmText  `gorm:"type:uuid"`
	A     tmName  `gorm:"type:inet"`
	P     *string `gorm:"type:uuid"`
	Stamp tmText  `gorm:"type:timestamptz"`
	Span  tmText  `gorm:"type:interval"`
	Num   tmName  `gorm:"type:numeric(8,3)"`
}

type TmIntNarrow struct {
	ID int64 `gorm:"primaryKey"`
	N  int64 `gorm:"type:integer"`
	S  int   `gorm:"type:smallint"`
}

type TmCidr struct {
	ID int64  `gorm:"primaryKey"`
	A  string `gorm:"type:cidr"`
}
type TmCidrBits TmCidr

type TmEnum struct {
	ID int64      `gorm:"primaryKey"`
	M  string     `gorm:"type:tm_mood"`
	K  tmMoodKind `gorm:"type:tm_mood"`
}
type TmEnumInvalid TmEnum

type TmDomainInt struct {
	ID int64 `gorm:"primaryKey"`
	P  int   `gorm:"type:tm_posint"`
}
type TmDomainIntNegative TmDomainInt

type TmDomainShort struct {
	ID int64  `gorm:"primaryKey"`
	S  string `gorm:"type:tm_short"`
}
type TmDomainShortLong TmDomainShort

type TmGenerated struct {
	ID int64 `gorm:"primaryKey"`
	A  int
	B  int `gorm:"->"`
}

type TmTime struct {
	ID int64     `gorm:"primaryKey"`
	T  time.Time `gorm:"type:timestamp"`
	TZ time.Time `gorm:"type:timestamptz"`
	T0 time.Time `gorm:"type:timestamptz(0)"`
}

type TmMyTime struct {
	ID int64     `gorm:"primaryKey"`
	D  time.Time // GORM's datetime(3)
	D6 time.Time `gorm:"type:datetime(6)"`
	TS time.Time `gorm:"type:timestamp(6) NULL"`
}
type TmMyTimestampRange TmMyTime

// TmZoneTime takes each dialect's own time type.
type TmZoneTime struct {
	ID int64 `gorm:"primaryKey"`
	T  time.Time
}

type TmFloatSpecial struct {
	ID int64   `gorm:"primaryKey"`
	F  float64 `gorm:"type:double precision"`
	N  float64 `gorm:"type:numeric"`
}

// TmFloatZeroDefault has float fields with defaults: -0.0 is zero to
// GORM (reflect's IsZero), so it takes the default, and is written as it
// is where no default replaces it.
type TmFloatZeroDefault struct {
	ID int64   `gorm:"primaryKey"`
	F  float64 `gorm:"default:1.5"`
	G  float32 `gorm:"default:2.5"`
	H  float64
}

type TmFloatNaN struct {
	ID int64 `gorm:"primaryKey"`
	F  float64
}
type TmFloatInf TmFloatNaN

type TmBigint struct {
	ID int64 `gorm:"primaryKey"`
	I  int64
}

type TmUintBig struct {
	ID int64  `gorm:"primaryKey"`
	U  uint64 `gorm:"type:bigint"`
}

type TmNumeric20 struct {
	ID int64  `gorm:"primaryKey"`
	U  uint64 `gorm:"type:numeric(20,0)"`
}

type TmUnsigned struct {
	ID int64  `gorm:"primaryKey"`
	U  uint64 `gorm:"type:bigint unsigned"`
	I  int64  `gorm:"type:int unsigned"`
}
type TmUnsignedNegative TmUnsigned

type TmBytes struct {
	ID int64 `gorm:"primaryKey"`
	B  []byte
}

type TmTextNul struct {
	ID int64 `gorm:"primaryKey"`
	S  string
}
type TmTextUTF8 TmTextNul

type TmHuge struct {
	ID int64 `gorm:"primaryKey"`
	S  string
	B  []byte
}

type TmSerial struct {
	ID   int64    `gorm:"primaryKey"`
	Tags []string `gorm:"serializer:json"`
	Meta tmMeta   `gorm:"serializer:gob;type:bytes"`
}

type TmSerialJSONB struct {
	ID  int64          `gorm:"primaryKey"`
	Doc map[string]any `gorm:"serializer:json;type:jsonb"`
	J   tmDoc          `gorm:"serializer:json;type:json"`
}

type TmGormValuer struct {
	ID int64 `gorm:"primaryKey"`
	U  tmUpper
}

type TmMap struct {
	ID   int64 `gorm:"primaryKey"`
	Name string
	N    int
}
type TmMapRefused TmMap

type TmMyEnum struct {
	ID int64  `gorm:"primaryKey"`
	M  string `gorm:"type:enum('sad','ok','happy')"`
}
type TmMyEnumInvalid TmMyEnum

type TmUTF8MB3 struct {
	ID int64  `gorm:"primaryKey"`
	S  string `gorm:"type:varchar(20) CHARACTER SET utf8mb3"`
	S4 string `gorm:"type:varchar(20)"`
}
type TmUTF8MB3Emoji TmUTF8MB3

type TmStrictInt struct {
	ID int64 `gorm:"primaryKey"`
	N  string
	S  string
}
type TmStrictIntBad TmStrictInt

// tmTimes are times in several zones and precisions; the zero time last.
func tmTimes(i int) time.Time {
	return tmPick(i,
		time.Date(2024, 3, 10, 1, 59, 59, 0, tmNewYork), // before the DST gap
		time.Date(2024, 11, 3, 1, 30, 0, 0, tmNewYork),  // in the DST overlap
		time.Date(2024, 6, 1, 12, 0, 0, 123456789, tmKolkata),
		time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC), // rounds into the next year
		time.Date(2024, 1, 1, 0, 0, 0, 500_000_000, time.UTC),    // half a second
		time.Date(2024, 1, 1, 0, 0, 0, 1500, time.UTC),           // 1.5 µs
		time.Date(1969, 12, 31, 23, 59, 59, 999999500, tmKolkata),
		time.Time{},
	)
}

var tmJSONTexts = []string{`{"a": 1,  "a" : 2}`, `[1, 2 ,3]`, `"x"`, `null`, ` {"b":{"c":[true,false]}} `, `{"n": 1.0e2, "s": "é\n"}`}

func tmCases() []*tmCase {
	huge := strings.Repeat("abcdefghij", 100_000)
	hugeBytes := make([]byte, 1<<20)
	for i := range hugeBytes {
		hugeBytes[i] = byte(i % 251)
	}
	negZero := math.Copysign(0, -1)
	maps := func(bad bool) func() any {
		return func() any {
			r := make([]map[string]any, 10)
			for i := range r {
				r[i] = map[string]any{"name": fmt.Sprint("m", i)}
				if i%2 == 0 {
					r[i]["n"] = gorm.Expr("? * 2", i)
				}
				if bad && i == tmBadRow {
					r[i]["n"] = gorm.Expr("1 / 0")
				}
			}
			return &r
		}
	}
	return []*tmCase{
		// Strings and their lengths.
		{name: "varchar8", on: tmAll, model: &TmVarchar{}, one: 3, rows: tmRows(10, func(i int) TmVarchar {
			return TmVarchar{S: tmPick(i, "abcdefgh", "", "äöü日本語xy", "abcdefgh   ", "x", "  ", "a b")}
		})},
		{name: "varchar8-overlong", on: tmAll, bad: true, model: &TmVarcharLong{}, rows: tmRows(10, func(i int) TmVarcharLong {
			return TmVarcharLong{S: tmBadAt(i, fmt.Sprint("row", i), "abcdefghijk")}
		})},
		{name: "char3", on: tmAll, model: &TmChar{}, rows: tmRows(10, func(i int) TmChar {
			return TmChar{S: tmPick(i, "ab", "abc", "a", "", "abc   ", "é")}
		})},
		{name: "char3-overlong", on: tmAll, bad: true, model: &TmCharLong{}, rows: tmRows(10, func(i int) TmCharLong {
			return TmCharLong{S: tmBadAt(i, "ab", "abcdef")}
		})},
		{name: "bit3", on: tmPG, model: &TmBit{}, rows: tmRows(10, func(i int) TmBit {
			return TmBit{S: tmPick(i, "101", "000", "111", "010")}
		})},
		{name: "bit3-overlong", on: tmPG, bad: true, model: &TmBitLong{}, rows: tmRows(10, func(i int) TmBitLong {
			return TmBitLong{S: tmBadAt(i, "101", "1011")}
		})},
		{name: "bit3-short", on: tmPG, bad: true, model: &TmBitShort{}, rows: tmRows(10, func(i int) TmBitShort {
			return TmBitShort{S: tmBadAt(i, "101", "10")}
		})},
		{name: "varbit4", on: tmPG, model: &TmVarbit{}, rows: tmRows(10, func(i int) TmVarbit {
			return TmVarbit{S: tmPick(i, "1", "1111", "", "0101")}
		})},
		{name: "varbit4-overlong", on: tmPG, bad: true, model: &TmVarbitLong{}, rows: tmRows(10, func(i int) TmVarbitLong {
			return TmVarbitLong{S: tmBadAt(i, "1", "11111")}
		})},

		// Numbers: rounding, overflow, text input.
		{name: "numeric5_2-float", on: tmAll, model: &TmNumFloat{}, rows: tmRows(10, func(i int) TmNumFloat {
			return TmNumFloat{N: tmPick(i, 1.005, 2.345, 999.994, -1.005, 0.125, 0, 123.455, 0.1)}
		})},
		{name: "numeric-float-scales", on: tmPG, model: &TmNumFloatScale{}, rows: tmRows(10, func(i int) TmNumFloatScale {
			f := tmPick(i, 0, math.Copysign(0, -1), 1.0/3, -2e-7, 0.00005, 10000.5, 1e20, -123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64)
			return TmNumFloatScale{N: f, N32: tmPick[float32](i, 0.1, -1.5, 1e-5, 3.4e38, 16777217, 0, 2.5e-3, -7, 1e10, 0.3)}
		})},
		{name: "numeric5_2-float-overflow", on: tmAll, bad: true, model: &TmNumFloatOverflow{}, rows: tmRows(10, func(i int) TmNumFloatOverflow {
			return TmNumFloatOverflow{N: tmBadAt(i, 1.5, 12345.6)}
		})},
		{name: "numeric5_2-string", on: tmAll, one: 2, model: &TmNumString{}, rows: tmRows(10, func(i int) TmNumString {
			return TmNumString{N: tmPick(i, "1.005", "2.345", " 3.14 ", "1e2", "-0.005", "+7", ".5")}
		})},
		{name: "numeric5_2-string-overflow", on: tmAll, bad: true, model: &TmNumStringOverflow{}, rows: tmRows(10, func(i int) TmNumStringOverflow {
			return TmNumStringOverflow{N: tmBadAt(i, "1.5", "12345.6")}
		})},
		{name: "numeric5_2-string-invalid", on: tmAll, bad: true, model: &TmNumStringInvalid{}, rows: tmRows(10, func(i int) TmNumStringInvalid {
			return TmNumStringInvalid{N: tmBadAt(i, "1.5", "abc")}
		})},
		{name: "string-into-integer", on: tmAll, one: 3, model: &TmStrInt{}, rows: tmRows(10, func(i int) TmStrInt {
			return TmStrInt{S: tmPick(i, "12", "-3", "+5", " 7 ", "0", "007")}
		})},
		{name: "string-into-integer-invalid", on: tmAll, bad: true, model: &TmStrIntBad{}, rows: tmRows(10, func(i int) TmStrIntBad {
			return TmStrIntBad{S: tmBadAt(i, "12", "12abc")}
		})},
		{name: "float-special", on: tmPG, model: &TmFloatSpecial{}, rows: tmRows(10, func(i int) TmFloatSpecial {
			f := tmPick(i, math.NaN(), math.Inf(1), math.Inf(-1), negZero, 1e308, 5e-324, 0.1)
			return TmFloatSpecial{F: f, N: f}
		})},
		{name: "float-negative-zero-default", on: tmAll, model: &TmFloatZeroDefault{}, rows: tmRows(10, func(i int) TmFloatZeroDefault {
			return TmFloatZeroDefault{F: tmPick(i, negZero, 0, 0.5), G: float32(tmPick(i, 0.25, negZero, 0)), H: negZero}
		})},
		{name: "float-nan", on: tmAll, bad: true, model: &TmFloatNaN{}, rows: tmRows(10, func(i int) TmFloatNaN {
			return TmFloatNaN{F: tmBadAt(i, float64(i)+0.5, math.NaN())}
		})},
		{name: "float-inf", on: tmAll, bad: true, model: &TmFloatInf{}, rows: tmRows(10, func(i int) TmFloatInf {
			return TmFloatInf{F: tmBadAt(i, float64(i)+0.5, math.Inf(1))}
		})},
		{name: "int64-extremes", on: tmAll, model: &TmBigint{}, rows: tmRows(10, func(i int) TmBigint {
			return TmBigint{I: tmPick[int64](i, math.MaxInt64, math.MinInt64, 0, -1)}
		})},
		{name: "uint64-over-int64-into-bigint", on: tmAll, bad: true, model: &TmUintBig{}, rows: tmRows(10, func(i int) TmUintBig {
			return TmUintBig{U: tmBadAt[uint64](i, uint64(i), 1<<63)}
		})},
		{name: "uint64-into-numeric20", on: tmPG | tmMy, model: &TmNumeric20{}, rows: tmRows(10, func(i int) TmNumeric20 {
			return TmNumeric20{U: tmPick[uint64](i, math.MaxUint64, 1<<63, 0, 12)}
		})},

		// Bytes and text content.
		{name: "bytes", on: tmAll, one: 2, model: &TmBytes{}, rows: tmRows(10, func(i int) TmBytes {
			return TmBytes{B: tmPick(i, []byte{0, 1, 0, 255}, nil, []byte{}, []byte{0}, []byte(`\x00`), []byte{'\\', ','})}
		})},
		{name: "text-nul", on: tmAll, bad: true, model: &TmTextNul{}, rows: tmRows(10, func(i int) TmTextNul {
			return TmTextNul{S: tmBadAt(i, fmt.Sprint("t", i), "a\x00b")}
		})},
		{name: "text-invalid-utf8", on: tmAll, bad: true, model: &TmTextUTF8{}, rows: tmRows(10, func(i int) TmTextUTF8 {
			return TmTextUTF8{S: tmBadAt(i, fmt.Sprint("t", i), "a\xffb")}
		})},
		{name: "1mb", on: tmAll, one: 1, model: &TmHuge{}, rows: tmRows(3, func(i int) TmHuge {
			if i == 1 {
				return TmHuge{S: huge, B: hugeBytes}
			}
			return TmHuge{S: fmt.Sprint("small", i), B: []byte{byte(i)}}
		}), large: tmRows(tmLargeRows, func(i int) TmHuge {
			if i == 5 {
				return TmHuge{S: huge, B: hugeBytes}
			}
			return TmHuge{S: fmt.Sprint("small", i), B: []byte{byte(i)}}
		})},

		// PostgreSQL's arrays, JSON, UUID, network types.
		{name: "text-array-valuer", on: tmPG, model: &TmTextArray{}, rows: tmRows(10, func(i int) TmTextArray {
			return TmTextArray{Tags: tmPick(i, tmStrings{"a", "b c", `q"uote`, `back\slash`, "", "NULL"}, nil, tmStrings{}, tmStrings{"x"})}
		})},
		{name: "bigint-array-valuer", on: tmPG, model: &TmBigintArray{}, rows: tmRows(10, func(i int) TmBigintArray {
			return TmBigintArray{Nums: tmPick(i, tmInt64s{1, -2, math.MaxInt64}, nil, tmInt64s{}, tmInt64s{0})}
		})},
		{name: "integer-2d-array", on: tmPG, model: &TmMatrix{}, rows: tmRows(10, func(i int) TmMatrix {
			return TmMatrix{M: tmPick(i, tmMatrix{{1, 2}, {3, 4}}, tmMatrix{}, nil, tmMatrix{{5}})}
		})},
		{name: "integer-2d-array-ragged", on: tmPG, bad: true, model: &TmMatrixRagged{}, rows: tmRows(10, func(i int) TmMatrixRagged {
			return TmMatrixRagged{M: tmBadAt(i, tmMatrix{{1, 2}, {3, 4}}, tmMatrix{{1}, {2, 3}})}
		})},
		{name: "json-string", on: tmPG, model: &TmJSON{}, rows: tmRows(10, func(i int) TmJSON {
			s := tmPick(i, tmJSONTexts...)
			return TmJSON{J: s, B: s}
		})},
		{name: "json-bytes", on: tmPG, model: &TmJSONBytes{}, rows: tmRows(10, func(i int) TmJSONBytes {
			if i == 7 {
				return TmJSONBytes{}
			}
			s := tmPick(i, tmJSONTexts...)
			return TmJSONBytes{J: []byte(s), B: []byte(s)}
		})},
		{name: "json-invalid", on: tmPG, bad: true, model: &TmJSONInvalid{}, rows: tmRows(10, func(i int) TmJSONInvalid {
			s := tmBadAt(i, `{"ok":true}`, `{bad`)
			return TmJSONInvalid{J: `{}`, B: s}
		})},
		{name: "jsonb-nul-escape", on: tmPG, bad: true, model: &TmJSONNul{}, rows: tmRows(10, func(i int) TmJSONNul {
			s := tmBadAt(i, `{"ok":true}`, `{"u":"\u0000"}`)
			return TmJSONNul{J: s, B: s}
		})},
		{name: "uuid-forms", on: tmPG, one: 1, model: &TmUUID{}, rows: tmRows(10, func(i int) TmUUID {
			return TmUUID{U: tmPick(i,
				"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
				"{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}",
				"a0eebc999c0b4ef8bb6d6bb9bd380a13",
				"a0eebc99-9c0b4ef8-bb6d6bb9-bd380a14",
				"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a15")}
		})},
		{name: "uuid-invalid", on: tmPG, bad: true, model: &TmUUIDInvalid{}, rows: tmRows(10, func(i int) TmUUIDInvalid {
			return TmUUIDInvalid{U: tmBadAt(i, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "not-a-uuid")}
		})},
		{name: "uuid-db-default", on: tmPG, random: [][2]string{{"U", "u"}}, model: &TmUUIDDefault{}, rows: tmRows(10, func(i int) TmUUIDDefault {
			return TmUUIDDefault{N: i, U: tmBadAt(i, "", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")}
		})},
		{name: "pgtype", on: tmPG, one: 1, model: &TmPgtype{}, rows: tmRows(10, func(i int) TmPgtype {
			if i%4 == 0 {
				return TmPgtype{}
			}
			return TmPgtype{Txt: pgtype.Text{String: fmt.Sprint("t", i), Valid: true},
				Num:  pgtype.Numeric{Int: big.NewInt(int64(i) * 123456789), Exp: int32(-i), Valid: true},
				At:   pgtype.Timestamptz{Time: time.Date(2024, 1, 2, 3, 4, 5, i*1000, tmKolkata), Valid: true},
				U:    pgtype.UUID{Bytes: [16]byte{1, 2, 3, byte(i)}, Valid: true},
				I8:   pgtype.Int8{Int64: int64(i) << 40, Valid: true},
				Flag: pgtype.Bool{Bool: i%2 == 0, Valid: true},
				Day:  pgtype.Date{Time: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), Valid: true},
				F:    pgtype.Float8{Float64: float64(i) / 3, Valid: true},
			}
		})},
		{name: "inet", on: tmPG, one: 1, model: &TmInet{}, rows: tmRows(10, func(i int) TmInet {
			return TmInet{A: tmPick(i, "10.0.0.1", "010.0.0.1", "::1", "192.168.0.1/24", "10.0.0.1/32", "::ffff:1.2.3.4")}
		})},
		{name: "valuer-and-named-text", on: tmPG, one: 1, model: &TmValuerText{}, rows: tmRows(10, func(i int) TmValuerText {
			p := tmPick(i, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}")
			return TmValuerText{
				U:     tmPick[tmText](i, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}", "a0eebc999c0b4ef8bb6d6bb9bd380a13"),
				A:     tmPick[tmName](i, "10.0.0.1", "010.0.0.1", "::ffff:1.2.3.4", "192.168.0.1/24"),
				P:     tmPick(i, &p, nil),
				Stamp: tmPick[tmText](i, "2024-01-01 10:00:00", "2024-01-01 10:00:00+05:30", "2024-01-01T10:00:00Z", "epoch", "infinity"),
				Span:  tmPick[tmText](i, "1 day 02:00:00", "1.5 days", "P1DT2H", "-1 mons +2 days"),
				Num:   tmPick[tmName](i, "1.2345", "1e3", "NaN", " 7 ", "-0.0005"),
			}
		})},
		{name: "valuer-text-invalid", on: tmPG, bad: true, model: &TmValuerText{}, rows: tmRows(10, func(i int) TmValuerText {
			return TmValuerText{U: tmBadAt[tmText](i, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99"), A: "10.0.0.1", Stamp: "epoch", Span: "1 day", Num: "1"}
		})},
		{name: "int-into-narrower", on: tmAll, model: &TmIntNarrow{}, rows: tmRows(10, func(i int) TmIntNarrow {
			return TmIntNarrow{N: tmPick[int64](i, math.MaxInt32, math.MinInt32, 0), S: tmPick(i, math.MaxInt16, math.MinInt16, 1)}
		})},
		{name: "int-into-narrower-overflow", on: tmAll, bad: true, model: &TmIntNarrow{}, rows: tmRows(10, func(i int) TmIntNarrow {
			return TmIntNarrow{N: tmBadAt[int64](i, 1, math.MaxInt32+1), S: 1}
		})},
		{name: "inet-invalid", on: tmPG, bad: true, model: &TmInetInvalid{}, rows: tmRows(10, func(i int) TmInetInvalid {
			return TmInetInvalid{A: tmBadAt(i, "10.0.0.1", "999.0.0.1")}
		})},
		{name: "cidr", on: tmPG, one: 1, model: &TmCidr{}, rows: tmRows(10, func(i int) TmCidr {
			return TmCidr{A: tmPick(i, "10.0.0.0/8", "10", "10.1", "192.168.0.0/24", "2001:db8::/32")}
		})},
		{name: "cidr-bits-right-of-mask", on: tmPG, bad: true, model: &TmCidrBits{}, rows: tmRows(10, func(i int) TmCidrBits {
			return TmCidrBits{A: tmBadAt(i, "10.0.0.0/8", "10.1.2.3/8")}
		})},

		// PostgreSQL's enums, domains, generated columns.
		{name: "enum", on: tmPG, model: &TmEnum{}, rows: tmRows(10, func(i int) TmEnum {
			m := tmPick(i, "sad", "ok", "happy")
			return TmEnum{M: m, K: tmMoodKind(tmPick(i, "happy", "sad", "ok"))}
		})},
		{name: "enum-invalid-label", on: tmPG, bad: true, model: &TmEnumInvalid{}, rows: tmRows(10, func(i int) TmEnumInvalid {
			return TmEnumInvalid{M: tmBadAt(i, "ok", "angry"), K: "sad"}
		})},
		{name: "domain-posint", on: tmPG, model: &TmDomainInt{}, rows: tmRows(10, func(i int) TmDomainInt {
			return TmDomainInt{P: tmPick(i, 5, 1, math.MaxInt32)}
		})},
		{name: "domain-posint-negative", on: tmPG, bad: true, model: &TmDomainIntNegative{}, rows: tmRows(10, func(i int) TmDomainIntNegative {
			return TmDomainIntNegative{P: tmBadAt(i, 5, -1)}
		})},
		{name: "domain-varchar4", on: tmPG, model: &TmDomainShort{}, rows: tmRows(10, func(i int) TmDomainShort {
			return TmDomainShort{S: tmPick(i, "abcd", "ab", "", "abcd    ")}
		})},
		{name: "domain-varchar4-overlong", on: tmPG, bad: true, model: &TmDomainShortLong{}, rows: tmRows(10, func(i int) TmDomainShortLong {
			return TmDomainShortLong{S: tmBadAt(i, "abcd", "abcdef")}
		})},
		{name: "generated-column", on: tmAll, model: &TmGenerated{}, ddl: map[tmDialect]string{
			tmPG:   `CREATE TABLE tm_generateds (id bigserial PRIMARY KEY, a integer, b integer GENERATED ALWAYS AS (a*2) STORED)`,
			tmMy:   "CREATE TABLE tm_generateds (id bigint AUTO_INCREMENT PRIMARY KEY, a int, b int AS (a*2) STORED)",
			tmLite: `CREATE TABLE tm_generateds (id integer PRIMARY KEY AUTOINCREMENT, a integer, b integer GENERATED ALWAYS AS (a*2) STORED)`,
		}, rows: tmRows(10, func(i int) TmGenerated {
			return TmGenerated{A: i, B: tmBadAt(i, 0, 99)}
		})},

		// Times.
		{name: "timestamp-zones", on: tmPG, one: 2, model: &TmTime{}, rows: tmRows(10, func(i int) TmTime {
			t := tmTimes(i)
			return TmTime{T: t, TZ: t, T0: t}
		})},
		{name: "datetime-zones", on: tmMy, one: 2, zones: true, model: &TmMyTime{}, rows: tmRows(10, func(i int) TmMyTime {
			t := tmTimes(i)
			ts := t
			if !ts.IsZero() && ts.Year() < 1971 {
				ts = time.Date(1999, 1, 2, 3, 4, 5, 999_999_500, tmKolkata)
			}
			return TmMyTime{D: t, D6: t, TS: ts}
		})},
		{name: "timestamp-out-of-range", on: tmMy, bad: true, zones: true, model: &TmMyTimestampRange{}, rows: tmRows(10, func(i int) TmMyTimestampRange {
			t := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
			return TmMyTimestampRange{D: t, D6: t, TS: tmBadAt(i, t, time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))}
		})},
		{name: "time-default-type", on: tmAll, one: 2, zones: true, model: &TmZoneTime{}, rows: tmRows(10, func(i int) TmZoneTime {
			return TmZoneTime{T: tmTimes(i)}
		})},

		// Values that write SQL, serializers, maps.
		{name: "serializers", on: tmAll, model: &TmSerial{}, rows: tmRows(10, func(i int) TmSerial {
			return TmSerial{
				Tags: tmPick(i, []string{"a", `"q"`}, nil, []string{}),
				Meta: tmMeta{Name: fmt.Sprint("m", i), N: i, List: tmPick(i, []int{1, 2}, nil)},
			}
		})},
		{name: "serializer-json-columns", on: tmPG, model: &TmSerialJSONB{}, rows: tmRows(10, func(i int) TmSerialJSONB {
			r := TmSerialJSONB{J: tmDoc{Title: fmt.Sprint("t", i), Tags: tmPick(i, []string{"x"}, nil)}}
			if i%3 != 0 {
				r.Doc = map[string]any{"k": i, "nested": map[string]any{"z": true, "a": nil}}
			}
			return r
		})},
		{name: "gorm-valuer", on: tmAll, model: &TmGormValuer{}, rows: tmRows(10, func(i int) TmGormValuer {
			return TmGormValuer{U: tmUpper(tmPick(i, "abc", "déjà", "", "MiXeD"))}
		})},
		{name: "maps-gorm-expr", on: tmAll, model: &TmMap{}, rows: maps(false),
			create: func(db *gorm.DB, rows any) *gorm.DB { return db.Model(&TmMap{}).Create(rows) }},
		{name: "maps-refused-expr", on: tmAll, bad: true, model: &TmMapRefused{}, rows: maps(true),
			create: func(db *gorm.DB, rows any) *gorm.DB { return db.Model(&TmMapRefused{}).Create(rows) }},

		// MariaDB's own types.
		{name: "unsigned", on: tmMy, model: &TmUnsigned{}, rows: tmRows(10, func(i int) TmUnsigned {
			return TmUnsigned{U: tmPick[uint64](i, math.MaxUint64, 1<<63, 0), I: tmPick[int64](i, 5, math.MaxUint32)}
		})},
		{name: "unsigned-negative", on: tmMy, bad: true, model: &TmUnsignedNegative{}, rows: tmRows(10, func(i int) TmUnsignedNegative {
			return TmUnsignedNegative{U: 1, I: tmBadAt[int64](i, 5, -1)}
		})},
		{name: "enum-column", on: tmMy, model: &TmMyEnum{}, rows: tmRows(10, func(i int) TmMyEnum {
			return TmMyEnum{M: tmPick(i, "sad", "ok", "happy", "OK")}
		})},
		{name: "enum-column-invalid", on: tmMy, bad: true, model: &TmMyEnumInvalid{}, rows: tmRows(10, func(i int) TmMyEnumInvalid {
			return TmMyEnumInvalid{M: tmBadAt(i, "ok", "angry")}
		})},
		{name: "utf8mb4-emoji", on: tmMy, model: &TmUTF8MB3{}, rows: tmRows(10, func(i int) TmUTF8MB3 {
			return TmUTF8MB3{S: tmPick(i, "abc", "日本語", "é"), S4: tmPick(i, "😀", "a😀b", "abc")}
		})},
		{name: "utf8mb3-emoji", on: tmMy, bad: true, model: &TmUTF8MB3Emoji{}, rows: tmRows(10, func(i int) TmUTF8MB3Emoji {
			return TmUTF8MB3Emoji{S: tmBadAt(i, "abc", "a😀b"), S4: "😀"}
		})},

		// SQLite's STRICT tables.
		{name: "strict-integer", on: tmLite, model: &TmStrictInt{}, ddl: map[tmDialect]string{
			tmLite: `CREATE TABLE tm_strict_ints (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, s TEXT) STRICT`,
		}, rows: tmRows(10, func(i int) TmStrictInt {
			return TmStrictInt{N: tmPick(i, "12", "-3", "0"), S: fmt.Sprint("s", i)}
		})},
		{name: "strict-integer-text", on: tmLite, bad: true, model: &TmStrictIntBad{}, ddl: map[tmDialect]string{
			tmLite: `CREATE TABLE tm_strict_int_bads (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, s TEXT) STRICT`,
		}, rows: tmRows(10, func(i int) TmStrictIntBad {
			return TmStrictIntBad{N: tmBadAt(i, "12", "abc"), S: fmt.Sprint("s", i)}
		})},
	}
}

// tmVariant is one way of connecting: plain GORM, the plugin, the plugin
// with Auto, all over the same settings.
type tmVariant struct {
	name                string
	plain, plugin, auto *gorm.DB
	zonesOnly           bool // only cases with zones run on it
}

// tmPath is one way the plugin writes a case's rows.
type tmPath struct {
	name    string
	variant *tmVariant
	set     tmSet
	db      func() *gorm.DB
	copy    bool // forced COPY: ErrMethodUnavailable is a step-aside
	// gaps: auto-increment keys may differ from GORM's by the values InnoDB
	// reserved for a load rolled back to its savepoint (the guide's
	// exception); keys are compared by rank.
	gaps bool
	// upsert, when set, is the ON CONFLICT clause both GORM and the plugin
	// create with: upserts take the plugin's own conversion, not GORM's.
	upsert *clause.OnConflict
}

// tmEnv is one dialect's connections and paths.
type tmEnv struct {
	dialect tmDialect
	name    string
	admin   *gorm.DB // DDL and reads
	paths   []tmPath
	columns map[string][]tmColumn
	tables  map[string]bool
}

type tmColumn struct{ name, expr string }

func newTmVariant(t *testing.T, name string, dialector func() gorm.Dialector) *tmVariant {
	return &tmVariant{
		name:   name,
		plain:  openDB(t, dialector()),
		plugin: withPlugin(t, openDB(t, dialector())),
		auto:   withPlugin(t, openDB(t, dialector()), bulk.Config{Auto: true}),
	}
}

// loadPaths are MySQL's LOAD DATA paths, forced: ErrMethodUnavailable is a
// step-aside, as for COPY. Chunks of 7 rows leave InnoDB no gaps between
// their keys (it reserves 1, 2, then 4 values for a load).
func loadPaths(v *tmVariant, prefix string) []tmPath {
	return []tmPath{
		{name: prefix + "loaddata", variant: v, copy: true, gaps: true, db: func() *gorm.DB { return v.plugin.Clauses(bulk.Options{Method: bulk.LoadData}) }},
		{name: prefix + "loaddata-chunks", variant: v, copy: true, gaps: true, db: func() *gorm.DB { return v.plugin.Clauses(bulk.Options{Method: bulk.LoadData, BatchSize: 7}) }},
		{name: prefix + "loaddata-upsert", variant: v, copy: true, gaps: true, upsert: &clause.OnConflict{UpdateAll: true}, db: func() *gorm.DB {
			return v.plugin.Clauses(bulk.Options{Method: bulk.LoadData, BatchSize: 7})
		}},
		// Rows that give their keys may meet a duplicate: they go staged.
		{name: prefix + "loaddata-staged", variant: v, set: tmKeyed, copy: true, gaps: true, upsert: &clause.OnConflict{UpdateAll: true}, db: func() *gorm.DB {
			return v.plugin.Clauses(bulk.Options{Method: bulk.LoadData, BatchSize: 7})
		}},
	}
}

// statementPaths are the paths every dialect's statement path takes.
func statementPaths(v *tmVariant, prefix string) []tmPath {
	return []tmPath{
		{name: prefix + "values", variant: v, db: func() *gorm.DB { return v.plugin.Clauses(bulk.Options{Method: bulk.Values}) }},
		{name: prefix + "values-chunks", variant: v, db: func() *gorm.DB { return v.plugin.Clauses(bulk.Options{Method: bulk.Values, BatchSize: 7}) }},
		{name: prefix + "auto-large", variant: v, set: tmLarge, db: func() *gorm.DB { return v.auto }},
		{name: prefix + "one-row", variant: v, set: tmOne, db: func() *gorm.DB { return v.plugin.Clauses(bulk.Options{}) }},
	}
}

// upsertPaths are the paths an upsert takes: GORM's UpdateAll rewrite and
// DO NOTHING, in one statement and in chunks.
func upsertPaths(v *tmVariant, prefix string) []tmPath {
	updateAll, doNothing := &clause.OnConflict{UpdateAll: true}, &clause.OnConflict{DoNothing: true}
	return []tmPath{
		{name: prefix + "upsert", variant: v, upsert: updateAll, db: func() *gorm.DB { return v.plugin.Clauses(bulk.Options{}) }},
		{name: prefix + "upsert-chunks", variant: v, upsert: updateAll, db: func() *gorm.DB { return v.plugin.Clauses(bulk.Options{BatchSize: 7}) }},
		{name: prefix + "donothing-chunks", variant: v, upsert: doNothing, db: func() *gorm.DB { return v.plugin.Clauses(bulk.Options{BatchSize: 7}) }},
	}
}

func TestTypeMatrix(t *testing.T) {
	t.Cleanup(bulk.SetCatalogMinRows(1))
	selected := selectedDialects(t)
	want := func(name string) bool { return selected == nil || selected[name] }
	sqliteFile := filepath.Join(t.TempDir(), "types.db")
	for _, d := range dialects {
		if d.name == "mysql-lastinsertid" {
			continue // a variant of the mysql entry here
		}
		t.Run(d.name, func(t *testing.T) {
			if d.name != "mysql" || !want("mysql-lastinsertid") {
				skipUnselected(t, selected, d.name)
			}
			dsn := dialectDSN(t, d.name, d.env, d.open, sqliteFile)
			env := &tmEnv{dialect: tmDialectOf(d.name), name: d.name, columns: map[string][]tmColumn{}, tables: map[string]bool{}}
			switch d.name {
			case "postgres":
				env.postgres(t, dsn)
			case "mysql":
				env.mysql(t, dsn, want("mysql"), want("mysql-lastinsertid"))
			case "sqlite":
				v := newTmVariant(t, "sqlite", func() gorm.Dialector { return d.open(dsn) })
				env.admin = v.plain
				env.paths = append(statementPaths(v, ""), upsertPaths(v, "")...)
			}
			t.Cleanup(func() { env.dropTables() })
			for _, c := range tmCases() {
				if c.on&env.dialect == 0 {
					continue
				}
				t.Run(c.name, func(t *testing.T) { env.run(t, c) })
			}
		})
	}
}

func (env *tmEnv) postgres(t *testing.T, dsn string) {
	ext := newTmVariant(t, "extended", func() gorm.Dialector { return postgres.Open(dsn) })
	simple := newTmVariant(t, "simple", func() gorm.Dialector {
		return postgres.New(postgres.Config{DSN: dsn, PreferSimpleProtocol: true})
	})
	env.admin = ext.plain
	// Types are created once, before any statement uses them: pgx caches
	// statements with the types' OIDs.
	types := []string{
		"DROP TYPE IF EXISTS tm_mood CASCADE",
		"DROP DOMAIN IF EXISTS tm_posint CASCADE",
		"DROP DOMAIN IF EXISTS tm_short CASCADE",
		"CREATE TYPE tm_mood AS ENUM ('sad', 'ok', 'happy')",
		"CREATE DOMAIN tm_posint AS integer CHECK (VALUE > 0)",
		"CREATE DOMAIN tm_short AS varchar(4)",
	}
	for _, q := range types {
		if err := env.admin.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		for _, q := range types[:3] {
			env.admin.Exec(q)
		}
	})
	plugin := func(o bulk.Options) func() *gorm.DB {
		return func() *gorm.DB { return ext.plugin.Clauses(o) }
	}
	env.paths = []tmPath{
		{name: "copy", variant: ext, copy: true, db: plugin(bulk.Options{Method: bulk.Copy})},
		{name: "copy-chunks", variant: ext, copy: true, db: plugin(bulk.Options{Method: bulk.Copy, BatchSize: 7})},
		{name: "unnest", variant: ext, db: plugin(bulk.Options{Method: bulk.Values})},
		{name: "unnest-chunks", variant: ext, db: plugin(bulk.Options{Method: bulk.Values, BatchSize: 7})},
		{name: "values", variant: simple, db: func() *gorm.DB { return simple.plugin.Clauses(bulk.Options{Method: bulk.Values}) }},
		{name: "auto-large", variant: ext, set: tmLarge, db: func() *gorm.DB { return ext.auto }},
		{name: "one-row", variant: ext, set: tmOne, db: plugin(bulk.Options{})},
	}
	env.paths = append(env.paths, upsertPaths(ext, "")...)
	env.paths = append(env.paths, upsertPaths(simple, "simple-")...)
	// An upsert on the key whose rows leave it to the sequence goes by COPY;
	// one whose target is inferred otherwise (a WHERE on it) through the
	// staging table.
	updateAll := &clause.OnConflict{UpdateAll: true}
	inferred := &clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, TargetWhere: clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "true"}}}, UpdateAll: true}
	env.paths = append(env.paths,
		tmPath{name: "copy-upsert", variant: ext, copy: true, upsert: updateAll, db: plugin(bulk.Options{Method: bulk.Copy})},
		tmPath{name: "copy-upsert-chunks", variant: ext, copy: true, upsert: updateAll, db: plugin(bulk.Options{Method: bulk.Copy, BatchSize: 7})},
		tmPath{name: "copy-staged", variant: ext, copy: true, upsert: inferred, db: plugin(bulk.Options{Method: bulk.Copy})},
		tmPath{name: "copy-staged-chunks", variant: ext, copy: true, upsert: inferred, db: plugin(bulk.Options{Method: bulk.Copy, BatchSize: 7})},
		tmPath{name: "copy-staged-keyed", variant: ext, set: tmKeyed, copy: true, upsert: updateAll, db: plugin(bulk.Options{Method: bulk.Copy})})
}

func (env *tmEnv) mysql(t *testing.T, dsn string, withStrict, withNoReturning bool) {
	cfg, err := mysqldrv.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	variantDSN := func(change func(c *mysqldrv.Config)) string {
		c := cfg.Clone()
		change(c)
		return c.FormatDSN()
	}
	strict := newTmVariant(t, "strict", func() gorm.Dialector { return mysql.Open(dsn) })
	env.admin = strict.plain
	if withStrict {
		env.paths = append(env.paths, statementPaths(strict, "")...)
		env.paths = append(env.paths, loadPaths(strict, "")...)
		env.paths = append(env.paths, upsertPaths(strict, "")...)
	}
	if withNoReturning {
		v := newTmVariant(t, "noreturning", func() gorm.Dialector {
			return mysql.New(mysql.Config{DSN: dsn, DisableWithReturning: true})
		})
		env.paths = append(env.paths, statementPaths(v, "noreturning-")...)
		env.paths = append(env.paths, loadPaths(v, "noreturning-")...)
		env.paths = append(env.paths, upsertPaths(v, "noreturning-")...)
	}
	if !withStrict {
		return
	}
	// Without a strict sql_mode GORM's INSERT stores what the server makes
	// of a bad value, with a warning.
	nonStrictDSN := variantDSN(func(c *mysqldrv.Config) {
		if c.Params == nil {
			c.Params = map[string]string{}
		}
		c.Params["sql_mode"] = "''"
	})
	nonStrict := newTmVariant(t, "nonstrict", func() gorm.Dialector { return mysql.Open(nonStrictDSN) })
	var mode string
	if err := nonStrict.plain.Raw("SELECT @@SESSION.sql_mode").Scan(&mode).Error; err != nil || mode != "" {
		t.Fatalf("non-strict session has sql_mode %q (%v)", mode, err)
	}
	env.paths = append(env.paths, statementPaths(nonStrict, "nonstrict-")...)
	env.paths = append(env.paths, loadPaths(nonStrict, "nonstrict-")...)
	env.paths = append(env.paths, upsertPaths(nonStrict, "nonstrict-")...)
	kolkataDSN := variantDSN(func(c *mysqldrv.Config) { c.Loc = tmKolkata })
	kolkata := newTmVariant(t, "kolkata", func() gorm.Dialector { return mysql.Open(kolkataDSN) })
	kolkata.zonesOnly = true
	env.paths = append(env.paths, statementPaths(kolkata, "kolkata-")...)
	env.paths = append(env.paths, loadPaths(kolkata, "kolkata-")...)
}

// tmResult is what one create left: its error, the rows, the table.
type tmResult struct {
	err      error
	rows     any
	affected int64
	table    [][]string
	notes    []string // random values the struct does not hold as stored
}

func (env *tmEnv) run(t *testing.T, c *tmCase) {
	table := tmTable(t, env.admin, c.model)
	env.tables[table] = true
	baselines := map[string]*tmResult{}
	for _, p := range env.paths {
		if p.variant.zonesOnly && !c.zones {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			// DO NOTHING is compared with GORM's plain INSERT: into the empty
			// table nothing conflicts, and GORM's DO NOTHING read-back gives
			// keys by position, skipping rows that hold a value it reads
			// back (the guide's exception; TestSkippedRowsKeys shows both).
			upsert := p.upsert
			if upsert != nil && upsert.DoNothing {
				upsert = nil
			}
			key := p.variant.name + "/" + p.set.String()
			if upsert != nil {
				key += fmt.Sprintf("/%+v", *upsert)
			}
			want := baselines[key]
			if want == nil {
				want = env.execute(t, c, table, p.variant.plain, p.set, upsert)
				baselines[key] = want
				if len(want.notes) > 0 {
					t.Logf("GORM (%s): %s", key, strings.Join(want.notes, "; "))
				}
			}
			got := env.execute(t, c, table, p.db(), p.set, p.upsert)
			if p.gaps {
				renumberKeys(want, got)
			}
			tmCompare(t, table, p.copy, want, got)
		})
	}
}

// execute recreates the table, creates the set's rows through db (with
// upsert, if any) and reads the table back.
func (env *tmEnv) execute(t *testing.T, c *tmCase, table string, db *gorm.DB, set tmSet, upsert *clause.OnConflict) *tmResult {
	t.Helper()
	env.reset(t, c, table)
	if upsert != nil {
		db = db.Clauses(*upsert)
	}
	rows := c.rowsFor(set)
	create := c.create
	if create == nil {
		create = func(db *gorm.DB, rows any) *gorm.DB { return db.Create(rows) }
	}
	r := &tmResult{rows: rows}
	func() {
		defer func() {
			if p := recover(); p != nil {
				r.err = fmt.Errorf("panic: %v", p)
			}
		}()
		res := create(db, rows)
		r.err, r.affected = res.Error, res.RowsAffected
	}()
	r.table = env.snapshot(t, table)
	if r.err == nil {
		r.notes = blankRandom(c, set, r)
	}
	return r
}

// tmCompare compares a path's result with plain GORM's: error presence and
// kind, the table, and (where both succeeded) RowsAffected and the structs.
// A forced COPY may step aside instead, writing nothing.
func tmCompare(t *testing.T, table string, copyPath bool, want, got *tmResult) {
	t.Helper()
	if copyPath && errors.Is(got.err, bulk.ErrMethodUnavailable) {
		t.Logf("step-aside: %v", got.err)
		if len(got.table) > 0 {
			t.Errorf("COPY stepped aside but %s holds %d rows", table, len(got.table))
		}
		return
	}
	switch {
	case want.err == nil && got.err != nil:
		t.Errorf("GORM succeeded, the plugin failed: %v", got.err)
	case want.err != nil && got.err == nil:
		t.Errorf("GORM failed, the plugin succeeded (GORM: %v)", want.err)
	case want.err != nil:
		t.Logf("both refused\n  GORM:   %v\n  plugin: %v", want.err, got.err)
		if wc, gc := tmErrCode(want.err), tmErrCode(got.err); wc != gc {
			t.Errorf("refused differently: GORM %q, plugin %q (%v)", wc, gc, got.err)
		}
	}
	if len(got.notes) > 0 {
		t.Errorf("plugin's structs do not hold the stored defaults: %s", strings.Join(got.notes, "; "))
	}
	tmCompareTables(t, table, want.table, got.table)
	if want.err != nil || got.err != nil {
		if want.err != nil && got.err != nil {
			if i, ok := tmFirstDiff(got.rows, want.rows); !ok {
				t.Logf("after the failure the structs differ from GORM's (documented for failed chunks) at row %d\n  got:  %s\n  want: %s",
					i, tmElem(got.rows, i), tmElem(want.rows, i))
			}
		}
		return
	}
	if got.affected != want.affected {
		t.Errorf("RowsAffected = %d, GORM %d", got.affected, want.affected)
	}
	if i, ok := tmFirstDiff(got.rows, want.rows); !ok {
		t.Errorf("structs differ from GORM's at row %d\n  got:  %s\n  want: %s", i, tmElem(got.rows, i), tmElem(want.rows, i))
	}
}

// reset drops and creates the case's table.
func (env *tmEnv) reset(t *testing.T, c *tmCase, table string) {
	t.Helper()
	if env.dialect == tmPG {
		// A create that panicked left its transaction open, holding its
		// lock on the table: end that session so the table can be dropped.
		err := env.admin.Exec(`SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.relation = to_regclass(?) AND l.pid <> pg_backend_pid() AND a.state LIKE 'idle in transaction%'`, table).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	ddl, ok := c.ddl[env.dialect]
	if !ok {
		recreate(t, env.admin, c.model)
		return
	}
	for _, q := range []string{"DROP TABLE IF EXISTS " + env.admin.Statement.Quote(table), ddl} {
		if err := env.admin.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func (env *tmEnv) dropTables() {
	for table := range env.tables {
		env.admin.Exec("DROP TABLE IF EXISTS " + env.admin.Statement.Quote(table))
	}
}

// snapshot reads the whole table, ordered by its first column, each value
// as the database's own text for it.
func (env *tmEnv) snapshot(t *testing.T, table string) [][]string {
	t.Helper()
	cols, ok := env.columns[table]
	if !ok {
		cols = tmColumns(t, env.admin, env.dialect, table)
		env.columns[table] = cols
	}
	return tmSnapshot(t, env.admin, table, cols)
}

// tmColumns returns the table's columns with, per dialect, the expression
// that shows a value exactly: PostgreSQL's text output; MariaDB's text, in
// hex for binary columns; SQLite's storage class and quoted value, in hex
// too where text holds a NUL.
func tmColumns(t testing.TB, db *gorm.DB, dialect tmDialect, table string) []tmColumn {
	t.Helper()
	var query string
	switch dialect {
	case tmPG:
		query = `SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`
	case tmMy:
		query = `SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS
			WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`
	case tmLite:
		query = `SELECT name, type FROM pragma_table_xinfo(?) ORDER BY cid`
	}
	rows, err := db.Raw(query, table).Rows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []tmColumn
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		q := db.Statement.Quote(name)
		var expr string
		switch dialect {
		case tmPG:
			expr = q + "::text"
		case tmMy:
			expr = "CAST(" + q + " AS CHAR)"
			if strings.Contains(typ, "blob") || strings.Contains(typ, "binary") {
				expr = "HEX(" + q + ")"
			}
		case tmLite:
			expr = fmt.Sprintf(`typeof(%[1]s) || ':' || quote(%[1]s) || CASE WHEN typeof(%[1]s) = 'text' AND instr(CAST(%[1]s AS BLOB), x'00') > 0 THEN ' hex:' || hex(%[1]s) ELSE '' END`, q)
		}
		cols = append(cols, tmColumn{name: name, expr: expr})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cols) == 0 {
		t.Fatalf("table %s has no columns", table)
	}
	return cols
}

func tmSnapshot(t testing.TB, db *gorm.DB, table string, cols []tmColumn) [][]string {
	t.Helper()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = c.expr
	}
	query := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", strings.Join(exprs, ", "), db.Statement.Quote(table), db.Statement.Quote(cols[0].name))
	rows, err := db.Raw(query).Rows()
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = "NULL"
			if v.Valid {
				row[i] = tmShorten(cols[i].name + "=" + v.String)
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// tmShorten keeps a long value comparable and its report short.
func tmShorten(s string) string {
	if len(s) <= 200 {
		return s
	}
	return fmt.Sprintf("%.60q… (%d bytes, sha256 %x)", s, len(s), sha256.Sum256([]byte(s)))
}

func tmCompareTables(t *testing.T, table string, want, got [][]string) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	// Show the first few rows that differ: where one side is empty that
	// reaches the row the other side coerced.
	var diffs []string
	for i := 0; i < max(len(got), len(want)) && len(diffs) < 4; i++ {
		var g, w []string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !reflect.DeepEqual(g, w) {
			diffs = append(diffs, fmt.Sprintf("row %d\n    got:  %q\n    want: %q", i, g, w))
		}
	}
	t.Errorf("table %s differs from GORM's (%d rows, GORM %d)\n  %s", table, len(got), len(want), strings.Join(diffs, "\n  "))
}

// blankRandom checks, for the case's random columns, that each row the
// input left zero holds in its struct what the table holds, then blanks
// both so that runs compare.
func blankRandom(c *tmCase, set tmSet, r *tmResult) []string {
	if len(c.random) == 0 || len(r.table) == 0 {
		return nil
	}
	fresh := reflect.ValueOf(c.rowsFor(set)).Elem()
	rows := reflect.ValueOf(r.rows).Elem()
	byID := map[string][]string{}
	for _, row := range r.table {
		byID[strings.TrimPrefix(row[0], "id=")] = row
	}
	var notes []string
	for _, rf := range c.random {
		field, column := rf[0], rf[1]
		for i := 0; i < rows.Len(); i++ {
			if !reflect.Indirect(fresh.Index(i)).FieldByName(field).IsZero() {
				continue
			}
			row := reflect.Indirect(rows.Index(i))
			f := row.FieldByName(field)
			stored := byID[fmt.Sprint(row.FieldByName("ID").Interface())]
			for k, cell := range stored {
				if name, value, _ := strings.Cut(cell, "="); name == column {
					if value != fmt.Sprint(f.Interface()) {
						notes = append(notes, fmt.Sprintf("row %d %s: struct %q, table %q", i, field, f.Interface(), value))
					}
					stored[k] = column + "=<database default>"
				}
			}
			if stored == nil {
				notes = append(notes, fmt.Sprintf("row %d: no table row with its ID %v", i, row.FieldByName("ID").Interface()))
			}
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return notes
}

// tmErrCode names the database's error code, or "" for an error the
// driver raised itself.
func tmErrCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return "SQLSTATE " + pgErr.Code
	}
	var myErr *mysqldrv.MySQLError
	if errors.As(err, &myErr) {
		return fmt.Sprint("MySQL ", myErr.Number)
	}
	return ""
}

func tmTable(t testing.TB, db *gorm.DB, model any) string {
	t.Helper()
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(model); err != nil {
		t.Fatal(err)
	}
	return stmt.Table
}

// tmFirstDiff compares two pointers to slices element by element, NaN
// equal to NaN, and returns the first differing index.
func tmFirstDiff(a, b any) (int, bool) {
	av, bv := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := 0; i < min(av.Len(), bv.Len()); i++ {
		if !tmEqual(av.Index(i), bv.Index(i), map[tmVisit]bool{}) {
			return i, false
		}
	}
	if av.Len() != bv.Len() {
		return min(av.Len(), bv.Len()), false
	}
	return 0, true
}

func tmElem(rows any, i int) string {
	v := reflect.ValueOf(rows).Elem()
	if i >= v.Len() {
		return "<none>"
	}
	s := fmt.Sprintf("%+v", reflect.Indirect(v.Index(i)).Interface())
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

type tmVisit struct {
	a, b uintptr
	t    reflect.Type
}

// tmEqual is reflect.DeepEqual with NaN equal to NaN.
func tmEqual(a, b reflect.Value, seen map[tmVisit]bool) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || (math.IsNaN(x) && math.IsNaN(y))
	case reflect.Complex64, reflect.Complex128:
		return a.Complex() == b.Complex()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.String:
		return a.String() == b.String()
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		if a.Pointer() == b.Pointer() {
			return true
		}
		v := tmVisit{a.Pointer(), b.Pointer(), a.Type()}
		if seen[v] {
			return true
		}
		seen[v] = true
		return tmEqual(a.Elem(), b.Elem(), seen)
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return tmEqual(a.Elem(), b.Elem(), seen)
	case reflect.Slice:
		if a.IsNil() != b.IsNil() {
			return false
		}
		fallthrough
	case reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !tmEqual(a.Index(i), b.Index(i), seen) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if !tmEqual(a.MapIndex(k), b.MapIndex(k), seen) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !tmEqual(a.Field(i), b.Field(i), seen) {
				return false
			}
		}
		return true
	case reflect.Func:
		return a.IsNil() && b.IsNil()
	default:
		return a.Pointer() == b.Pointer()
	}
}

// TmRoleRow is the model of TestPostgresRoles; each case has its own table.
type TmRoleRow struct {
	ID int64 `gorm:"primaryKey"`
	N  int
	S  string `gorm:"size:32"`
}
type TmRolePlain TmRoleRow
type TmRoleRLS TmRoleRow
type TmRoleRefusing TmRoleRow
type TmRoleSeqUsage TmRoleRow

const tmWriter = "gormbulk_writer"

// TestPostgresRoles runs plain GORM and the plugin as an ordinary role
// (no superuser, no BYPASSRLS) with INSERT and SELECT on the tables only:
// row-level security that admits every row, a policy that refuses some,
// and a role that may use the key's sequence but not read it.
func TestPostgresRoles(t *testing.T) {
	var dsn string
	for _, d := range dialects {
		if d.name == "postgres" {
			skipUnselected(t, selectedDialects(t), d.name)
			dsn = dialectDSN(t, d.name, d.env, d.open, "")
		}
	}
	su := openDB(t, postgres.Open(dsn))
	cases := []struct {
		name   string
		model  any
		extra  []string // after CREATE TABLE; %[1]s is the table
		seq    string   // privileges on the key's sequence
		refuse bool     // GORM is expected to fail
	}{
		{name: "plain", model: &TmRolePlain{}, seq: "USAGE, SELECT"},
		{name: "rls-permissive", model: &TmRoleRLS{}, seq: "USAGE, SELECT", extra: []string{
			"ALTER TABLE %[1]s ENABLE ROW LEVEL SECURITY",
			"CREATE POLICY tm_all ON %[1]s FOR ALL USING (true) WITH CHECK (true)",
		}},
		{name: "rls-refusing", model: &TmRoleRefusing{}, seq: "USAGE, SELECT", refuse: true, extra: []string{
			"ALTER TABLE %[1]s ENABLE ROW LEVEL SECURITY",
			"CREATE POLICY tm_some ON %[1]s FOR ALL USING (true) WITH CHECK (n < 500)",
		}},
		{name: "sequence-usage-only", model: &TmRoleSeqUsage{}, seq: "USAGE"},
	}
	tables := make([]string, len(cases))
	for i, c := range cases {
		tables[i] = tmTable(t, su, c.model)
	}
	dropAll := func() {
		for _, table := range tables {
			su.Exec("DROP TABLE IF EXISTS " + table + " CASCADE")
		}
		su.Exec(fmt.Sprintf(`DO $$ BEGIN
			IF EXISTS (SELECT FROM pg_roles WHERE rolname = '%[1]s') THEN
				EXECUTE 'REASSIGN OWNED BY %[1]s TO ' || quote_ident(current_user);
				EXECUTE 'DROP OWNED BY %[1]s';
			END IF;
		END $$`, tmWriter))
		su.Exec("DROP ROLE IF EXISTS " + tmWriter)
	}
	dropAll()
	// Registered before the role's pools open, so it runs after they close.
	t.Cleanup(dropAll)
	if err := su.Exec("CREATE ROLE " + tmWriter + " LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE").Error; err != nil {
		t.Skipf("cannot create role %s: %v", tmWriter, err)
	}

	writerDSN := dsn + " user=" + tmWriter
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.User = url.User(tmWriter)
		writerDSN = u.String()
	}
	plain := openDB(t, postgres.Open(writerDSN))
	plugin := withPlugin(t, openDB(t, postgres.Open(writerDSN)))
	auto := withPlugin(t, openDB(t, postgres.Open(writerDSN)), bulk.Config{Auto: true})
	var who string
	if err := plain.Raw("SELECT current_user").Scan(&who).Error; err != nil || who != tmWriter {
		t.Fatalf("connected as %q (%v), want %s", who, err, tmWriter)
	}

	rowsOf := func() *[]TmRoleRow {
		r := make([]TmRoleRow, tmLargeRows)
		for i := range r {
			r[i] = TmRoleRow{N: i, S: fmt.Sprintf("s%03d", i)}
		}
		return &r
	}

	for i, c := range cases {
		table := tables[i]
		t.Run(c.name, func(t *testing.T) {
			reset := func() {
				t.Helper()
				stmts := []string{
					"DROP TABLE IF EXISTS %[1]s CASCADE",
					"CREATE TABLE %[1]s (id bigserial PRIMARY KEY, n integer, s varchar(32))",
				}
				stmts = append(stmts, c.extra...)
				stmts = append(stmts,
					"GRANT INSERT, SELECT ON %[1]s TO "+tmWriter,
					"GRANT "+c.seq+" ON SEQUENCE %[1]s_id_seq TO "+tmWriter)
				for _, q := range stmts {
					if err := su.Exec(fmt.Sprintf(q, table)).Error; err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
			}
			cols := []tmColumn{{"id", "id::text"}, {"n", "n::text"}, {"s", "s::text"}}
			run := func(db *gorm.DB) *tmResult {
				reset()
				rows := rowsOf()
				res := db.Table(table).Create(rows)
				return &tmResult{err: res.Error, rows: rows, affected: res.RowsAffected, table: tmSnapshot(t, su, table, cols)}
			}

			want := run(plain)
			if (want.err != nil) != c.refuse {
				t.Fatalf("plain GORM as %s: error %v, expected failure: %v", tmWriter, want.err, c.refuse)
			}
			for _, p := range []struct {
				name string
				db   *gorm.DB
				copy bool
			}{
				{"auto-large", auto, false},
				{"copy", plugin.Clauses(bulk.Options{Method: bulk.Copy}), true},
				{"values", plugin.Clauses(bulk.Options{Method: bulk.Values}), false},
			} {
				t.Run(p.name, func(t *testing.T) {
					tmCompare(t, table, p.copy, want, run(p.db))
				})
			}
		})
	}
}

// renumberKeys gives got's rows GORM's keys by rank: the table's id
// column, and the ID field of the structs, where both tables have the
// same number of rows, in key order.
func renumberKeys(want, got *tmResult) {
	ids := func(table [][]string) []string {
		var out []string
		for _, row := range table {
			for _, col := range row {
				if v, ok := strings.CutPrefix(col, "id="); ok {
					out = append(out, v)
				}
			}
		}
		return out
	}
	wantIDs, gotIDs := ids(want.table), ids(got.table)
	if len(wantIDs) != len(gotIDs) || len(gotIDs) != len(got.table) {
		return
	}
	rank := map[string]string{}
	for i, id := range gotIDs {
		rank[id] = wantIDs[i]
	}
	for _, row := range got.table {
		for j, col := range row {
			if v, ok := strings.CutPrefix(col, "id="); ok {
				row[j] = "id=" + rank[v]
			}
		}
	}
	rows := reflect.Indirect(reflect.ValueOf(got.rows))
	if rows.Kind() != reflect.Slice && rows.Kind() != reflect.Array {
		return
	}
	for i := 0; i < rows.Len(); i++ {
		f := reflect.Indirect(rows.Index(i))
		if f.Kind() != reflect.Struct {
			return
		}
		switch id := f.FieldByName("ID"); {
		case !id.IsValid():
		case id.CanUint():
			if to, ok := rank[fmt.Sprint(id.Uint())]; ok {
				n, _ := strconv.ParseUint(to, 10, 64)
				id.SetUint(n)
			}
		case id.CanInt():
			if to, ok := rank[fmt.Sprint(id.Int())]; ok {
				n, _ := strconv.ParseInt(to, 10, 64)
				id.SetInt(n)
			}
		}
	}
}
