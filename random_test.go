package bulk_test

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gormbulk/bulk"
)

// TestParityRandom is parity on models nobody wrote by hand: each case
// builds a model at random (reflect.StructOf, from the field types, tags
// and keys GORM users write), rows for it at random (zero values, NULLs,
// awkward text, negative zero, times in other zones), and a way of
// creating them at random (chunk sizes, methods, prepared statements,
// GORM's transaction off, Select and Omit, upserts over existing rows,
// Save, CreateInBatches), and requires of the plugin GORM's error (or
// none), RowsAffected, table and structs. On MySQL generated keys are
// compared by rank (InnoDB's gaps, the guide's exception).
//
// GORMBULK_RANDOM sets the cases per dialect (default 40, 12 under
// -short) and GORMBULK_SEED the first case's seed; a failure names its
// seed, which reruns it alone: GORMBULK_SEED=<seed> GORMBULK_RANDOM=1.
func TestParityRandom(t *testing.T) {
	cases, first := 40, uint64(1)
	if testing.Short() {
		cases = 12
	}
	if v := os.Getenv("GORMBULK_RANDOM"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("GORMBULK_RANDOM=%q: %v", v, err)
		}
		cases = n
	}
	if v := os.Getenv("GORMBULK_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GORMBULK_SEED=%q: %v", v, err)
		}
		first = n
	}
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		on := tmDialectOf(strings.TrimSuffix(dialect, "-lastinsertid"))
		plain := open(t)
		// The tables are made without foreign keys: they would name the
		// unnamed model's table.
		admin := open(t, &gorm.Config{DisableForeignKeyConstraintWhenMigrating: true})
		dbs := map[string]*gorm.DB{
			"auto": withPlugin(t, open(t), bulk.Config{Auto: true}),
			// A bounded cache: each case's table is new, and MySQL caps the
			// statements prepared on the server (max_prepared_stmt_count).
			"prepared":       withPlugin(t, open(t, &gorm.Config{PrepareStmt: true, PrepareStmtMaxSize: 256}), bulk.Config{Auto: true}),
			"no transaction": withPlugin(t, open(t, &gorm.Config{SkipDefaultTransaction: true}), bulk.Config{Auto: true}),
		}
		plainNoTx := open(t, &gorm.Config{SkipDefaultTransaction: true})
		for seed := first; seed < first+uint64(cases); seed++ {
			c := newRandomCase(seed, on)
			t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
				gormDB := plain
				if c.db == "no transaction" {
					gormDB = plainNoTx
				}
				want, wantTables, wantResult := c.run(t, admin, gormDB, dialect)
				got, gotTables, gotResult := c.run(t, admin, c.options(dbs[c.db]), dialect)
				if reason := c.incomparable(wantResult.Error, gotResult.Error); reason != "" {
					t.Skip(reason)
				}
				fail := func(format string, args ...any) {
					t.Helper()
					t.Errorf("%s\n%s", c, fmt.Sprintf(format, args...))
				}
				t.Logf("%s\nGORM's tables hold %d rows, %d kids, %d toys, %d refs", c, len(wantTables[0]), len(wantTables[1]), len(wantTables[2]), len(wantTables[3]))
				if wantResult.Error != nil && gotResult.Error != nil {
					t.Logf("both fail: %v", wantResult.Error)
				}
				switch {
				case (wantResult.Error == nil) != (gotResult.Error == nil):
					fail("error %v, GORM's %v", gotResult.Error, wantResult.Error)
				case wantResult.Error == nil && gotResult.RowsAffected != wantResult.RowsAffected &&
					// GORM's DO NOTHING read-back counts the rows it passed over.
					!(c.keyed() && gotResult.RowsAffected == int64(len(gotTables[0])-len(gotTables[4]))):
					fail("RowsAffected %d, GORM's %d", gotResult.RowsAffected, wantResult.RowsAffected)
				}
				for k, gotTable := range gotTables {
					wantTable := wantTables[k]
					if k == 1 && c.keyed() {
						// The kids' owners are GORM's keys there (ownKeys).
						gotTable, wantTable = withoutColumn(gotTable, "owner_id"), withoutColumn(wantTable, "owner_id")
					}
					for i := range max(len(gotTable), len(wantTable)) {
						var g, w map[string]any
						if i < len(gotTable) {
							g = gotTable[i]
						}
						if i < len(wantTable) {
							w = wantTable[i]
						}
						if !reflect.DeepEqual(g, w) {
							fail("table %d: %d rows, GORM's %d; first difference at %d\n got %v\nwant %v", k, len(gotTable), len(wantTable), i, g, w)
							break
						}
					}
				}
				switch {
				case wantResult.Error != nil || gotResult.Error != nil:
				case c.keyed():
					problems := c.ownKeys(got, want, gotTables)
					if dialect == "mysql-lastinsertid" && reflect.DeepEqual(addr(got), addr(want)) {
						// Upserts, and rows that mix given and generated keys
						// and share a struct, keep GORM's LastInsertId
						// arithmetic (README).
						problems = nil
					}
					for _, problem := range problems {
						fail("%s", problem)
					}
				default:
					sameRows(t, c.String(), addr(got), addr(want))
				}
			})
		}
	})
}

// rfType is a field type a random model may have.
type rfType struct {
	typ reflect.Type
	// tag is the field's type tag where GORM's own is not wanted.
	tag string
	// dflt is a value for a default: tag, "" where none can be written.
	dflt string
	on   tmDialect
	// value returns a value of typ, often not zero; unique, where set, one
	// that no other row's is.
	value  func(r *rand.Rand) any
	unique func(i int) any
	// always is set for a type whose zero value the column refuses.
	always bool
}

var rfTexts = []string{"a", "é", `"`, "'", `\`, "\t", "\n", "\r\n", ",", "|", `\N`, "NULL", " ", "😀", "x y", "0", "-", "{}", "[1]"}

func rfText(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString(rfTexts[r.IntN(len(rfTexts))])
	}
	return b.String()
}

func rfTime(r *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+1800), time.FixedZone("", -8*3600)}
	t := time.Unix(r.Int64N(2_000_000_000), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	if r.IntN(3) == 0 {
		t = t.Truncate(time.Second)
	}
	return t
}

func rfFloat(r *rand.Rand) float64 {
	switch r.IntN(8) {
	case 0:
		return math.Copysign(0, -1)
	case 1:
		return float64(r.IntN(1000))
	case 2:
		return r.NormFloat64() * 1e15
	}
	return math.Round(r.NormFloat64()*1e6*1e4) / 1e4
}

var rfTypes = []rfType{
	{typ: reflect.TypeFor[int](), dflt: "7", on: tmAll, value: func(r *rand.Rand) any { return int(r.Int32N(2e9) - 1e9) }, unique: func(i int) any { return i*7 - 3000 }},
	{typ: reflect.TypeFor[int8](), dflt: "-3", on: tmAll, value: func(r *rand.Rand) any { return int8(r.IntN(256) - 128) }},
	{typ: reflect.TypeFor[int16](), on: tmAll, value: func(r *rand.Rand) any { return int16(r.IntN(65536) - 32768) }},
	{typ: reflect.TypeFor[int64](), dflt: "5", on: tmAll, value: func(r *rand.Rand) any { return r.Int64() - r.Int64() }, unique: func(i int) any { return int64(i) << 40 }},
	{typ: reflect.TypeFor[uint8](), on: tmAll, value: func(r *rand.Rand) any { return uint8(r.IntN(256)) }},
	{typ: reflect.TypeFor[uint32](), dflt: "9", on: tmAll, value: func(r *rand.Rand) any { return r.Uint32() }},
	{typ: reflect.TypeFor[uint64](), on: tmAll, value: func(r *rand.Rand) any { return r.Uint64() >> 1 }},
	{typ: reflect.TypeFor[float32](), dflt: "0.5", on: tmAll, value: func(r *rand.Rand) any { return float32(rfFloat(r)) }},
	{typ: reflect.TypeFor[float64](), dflt: "1.25", on: tmAll, value: func(r *rand.Rand) any { return rfFloat(r) }},
	{typ: reflect.TypeFor[float64](), tag: "type:decimal(20,4)", dflt: "2.5", on: tmAll, value: func(r *rand.Rand) any { return math.Round(r.NormFloat64()*1e6*1e4) / 1e4 }},
	{typ: reflect.TypeFor[bool](), dflt: "true", on: tmAll, value: func(r *rand.Rand) any { return r.IntN(2) == 0 }},
	{typ: reflect.TypeFor[string](), tag: "size:200", dflt: "dflt", on: tmAll, value: func(r *rand.Rand) any { return rfText(r) }, unique: func(i int) any { return fmt.Sprint("u", i, "é") }},
	{typ: reflect.TypeFor[string](), tag: "type:text", on: tmAll, value: func(r *rand.Rand) any { return rfText(r) }},
	{typ: reflect.TypeFor[*string](), tag: "size:200", dflt: "pd", on: tmAll, value: func(r *rand.Rand) any { s := rfText(r); return &s }},
	{typ: reflect.TypeFor[*int64](), dflt: "4", on: tmAll, value: func(r *rand.Rand) any { v := r.Int64N(1000) - 500; return &v }},
	{typ: reflect.TypeFor[time.Time](), on: tmAll, value: func(r *rand.Rand) any { return rfTime(r) }},
	{typ: reflect.TypeFor[*time.Time](), on: tmAll, value: func(r *rand.Rand) any { v := rfTime(r); return &v }},
	{typ: reflect.TypeFor[[]byte](), on: tmAll, value: func(r *rand.Rand) any {
		b := make([]byte, r.IntN(5))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}},
	{typ: reflect.TypeFor[sql.NullString](), tag: "size:200", dflt: "ns", on: tmAll, value: func(r *rand.Rand) any { return sql.NullString{String: rfText(r), Valid: r.IntN(4) > 0} }},
	{typ: reflect.TypeFor[sql.NullInt64](), dflt: "3", on: tmAll, value: func(r *rand.Rand) any { return sql.NullInt64{Int64: r.Int64N(100), Valid: r.IntN(4) > 0} }},
	{typ: reflect.TypeFor[sql.NullFloat64](), on: tmAll, value: func(r *rand.Rand) any { return sql.NullFloat64{Float64: rfFloat(r), Valid: r.IntN(4) > 0} }},
	{typ: reflect.TypeFor[sql.NullBool](), on: tmAll, value: func(r *rand.Rand) any { return sql.NullBool{Bool: r.IntN(2) == 0, Valid: r.IntN(4) > 0} }},
	{typ: reflect.TypeFor[sql.NullTime](), on: tmAll, value: func(r *rand.Rand) any { return sql.NullTime{Time: rfTime(r), Valid: r.IntN(4) > 0} }},
	{typ: reflect.TypeFor[[]string](), tag: "serializer:json;type:text", on: tmAll, value: func(r *rand.Rand) any {
		return []string{rfText(r), rfText(r)}[:r.IntN(3)]
	}},
	{typ: reflect.TypeFor[string](), tag: "type:uuid", on: tmPG, always: true, value: func(r *rand.Rand) any {
		return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xfff, r.Uint32()&0xfff, r.Uint64()&0xffffffffffff)
	}},
	{typ: reflect.TypeFor[int64](), tag: "autoCreateTime:milli", on: tmAll, value: func(r *rand.Rand) any { return r.Int64N(1e12) }},
	{typ: reflect.TypeFor[int64](), tag: "autoUpdateTime:nano", on: tmAll, value: func(r *rand.Rand) any { return r.Int64N(1e18) }},
	{typ: reflect.TypeFor[int](), tag: "autoCreateTime", on: tmAll, value: func(r *rand.Rand) any { return int(r.Int32N(2e9)) }},
	{typ: reflect.TypeFor[time.Time](), tag: "autoUpdateTime", on: tmAll, value: func(r *rand.Rand) any { return rfTime(r) }},
	{typ: reflect.TypeFor[rfPoint](), tag: "type:text", on: tmAll, value: func(r *rand.Rand) any { return rfPoint{X: r.IntN(100) - 50, Y: r.IntN(9)} }},
	{typ: reflect.TypeFor[*rfPoint](), tag: "type:text", on: tmAll, value: func(r *rand.Rand) any { return &rfPoint{X: r.IntN(100), Y: -r.IntN(9)} }},
	{typ: reflect.TypeFor[rfLevel](), dflt: "2", on: tmAll, value: func(r *rand.Rand) any { return rfLevel(r.IntN(200) - 100) }},
	{typ: reflect.TypeFor[rfName](), tag: "size:40", dflt: "anon", on: tmAll, value: func(r *rand.Rand) any { return rfName(rfText(r)) }},
	{typ: reflect.TypeFor[gorm.DeletedAt](), on: tmAll, value: func(r *rand.Rand) any { return gorm.DeletedAt{Time: rfTime(r), Valid: r.IntN(3) > 0} }},
	{typ: reflect.TypeFor[time.Time](), tag: "type:date", on: tmPG | tmMy, value: func(r *rand.Rand) any { return rfTime(r) }},
	{typ: reflect.TypeFor[string](), tag: "type:char(5)", on: tmAll, value: func(r *rand.Rand) any {
		return []string{"ab", "abc  ", " a", "é", "abcde", "", "  "}[r.IntN(7)]
	}},
	{typ: reflect.TypeFor[int64](), tag: "serializer:unixtime;type:timestamp", on: tmPG | tmMy, always: true, value: func(r *rand.Rand) any { return 86400 + r.Int64N(2_000_000_000) }},
	{typ: reflect.TypeFor[rfEmbedded](), tag: "embedded", on: tmAll, value: func(r *rand.Rand) any {
		e := rfEmbedded{X: int(r.Int32N(100)), Y: rfText(r)}
		if r.IntN(2) == 0 {
			b := r.IntN(2) == 0
			e.Z = &b
		}
		return e
	}},
}

// rfPoint is stored as text through its Valuer.
type rfPoint struct{ X, Y int }

func (p rfPoint) Value() (driver.Value, error) { return fmt.Sprintf("(%d,%d)", p.X, p.Y), nil }

func (p *rfPoint) Scan(v any) error {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("rfPoint from %T", v)
	}
	_, err := fmt.Sscanf(s, "(%d,%d)", &p.X, &p.Y)
	return err
}

// rfLevel and rfName are named types without a Valuer.
type (
	rfLevel int16
	rfName  string
)

// rfEmbedded is a struct a random model embeds, under a prefix.
type rfEmbedded struct {
	X int    `gorm:"default:4"`
	Y string `gorm:"size:60"`
	Z *bool
}

// rfKid is a has-many child of random models, with children of its own.
type rfKid struct {
	ID      uint
	OwnerID uint
	Name    string `gorm:"size:60;default:kid"`
	Score   float64
	Toys    []rfToy `gorm:"foreignKey:KidID"`
}

type rfToy struct {
	ID    uint
	KidID uint
	Label string `gorm:"size:60"`
}

// rfRef is what random models belong to; rows share them.
type rfRef struct {
	ID   uint
	Code string `gorm:"size:40"`
}

// rfPermissions are the field permissions a random field may have.
var rfPermissions = []string{"", "", "", "", "<-:create", "<-:update", "->", "->:false;<-:create"}

// rfKey is how a random model's rows are keyed.
type rfKey int

const (
	rfAutoKey      rfKey = iota // ID uint, generated; some rows may give theirs
	rfNamedAutoKey              // Num int64 primaryKey, generated
	rfGivenKey                  // ID int64, autoIncrement:false
	rfStringKey                 // Code string
	rfCompositeKey              // A int and B string
	rfNoKey                     // no primary key
)

func (k rfKey) String() string {
	return [...]string{"auto", "named auto", "given", "string", "composite", "none"}[k]
}

// generated reports whether the database makes the keys.
func (k rfKey) generated() bool { return k == rfAutoKey || k == rfNamedAutoKey }

// randomCase is one model, its rows and a way of creating them.
type randomCase struct {
	seed   uint64
	key    rfKey
	fields []reflect.StructField
	types  []int // index into rfTypes of each field past the keys
	keys   int   // the number of key fields
	typ    reflect.Type
	n      int
	// given is set where some generated keys are given (rfAutoKey).
	given bool
	// existing is set where some rows exist before the create.
	existing bool
	// shared is set where the rows are pointers, some of them to an
	// earlier row's struct.
	shared bool
	// bad is the row (-1: none) whose badField holds a string longer than
	// its column allows.
	bad, badField int
	db            string // key of the plugin's DB
	batch         int    // Options.BatchSize
	method        bulk.Method
	// createBatchSize is the session's CreateBatchSize.
	createBatchSize int
	omit, sel       []string
	way             string // "create", "batches", "save", "do nothing", "update all", "do updates"
	updates         []string
	// target names the field whose unique index an upsert's conflict
	// target is, "" for the key.
	target string
	// kids is 0 for a model without children, 1 for []rfKid, 2 for
	// []*rfKid; ref is set where the model belongs to an rfRef.
	kids int
	ref  bool
	// full is set where the session saves associations in full
	// (FullSaveAssociations: the children's upserts update every column).
	full bool
}

func (c *randomCase) String() string {
	var fields []string
	for _, f := range c.fields {
		fields = append(fields, fmt.Sprintf("%s %s `%s`", f.Name, f.Type, f.Tag))
	}
	return fmt.Sprintf("seed %d: %d rows, key %s, given %v, existing %v, shared %v, bad row %d, db %s, batch %d, method %s, CreateBatchSize %d, omit %v, select %v, way %s %v, target %q, full %v\nmodel: %s",
		c.seed, c.n, c.key, c.given, c.existing, c.shared, c.bad, c.db, c.batch, c.method, c.createBatchSize, c.omit, c.sel, c.way, c.updates, c.target, c.full, strings.Join(fields, "; "))
}

func newRandomCase(seed uint64, on tmDialect) *randomCase {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	c := &randomCase{seed: seed, key: rfKey(r.IntN(6))}
	field := func(name string, typ reflect.Type, tag string) {
		c.fields = append(c.fields, reflect.StructField{Name: name, Type: typ, Tag: reflect.StructTag(`gorm:"` + tag + `"`)})
	}
	switch c.key {
	case rfAutoKey:
		field("ID", reflect.TypeFor[uint](), "")
		c.given = r.IntN(4) == 0
	case rfNamedAutoKey:
		field("Num", reflect.TypeFor[int64](), "primaryKey")
	case rfGivenKey:
		field("ID", reflect.TypeFor[int64](), "primaryKey;autoIncrement:false")
	case rfStringKey:
		field("Code", reflect.TypeFor[string](), "primaryKey;size:40")
	case rfCompositeKey:
		field("A", reflect.TypeFor[int](), "primaryKey;autoIncrement:false")
		field("B", reflect.TypeFor[string](), "primaryKey;size:40")
	}
	c.keys = len(c.fields)
	columns := []string{"", "", "", "order", "group", "Mixed Case", "select"}
	for i := range 1 + r.IntN(12) {
		k := r.IntN(len(rfTypes))
		for rfTypes[k].on&on == 0 {
			k = r.IntN(len(rfTypes))
		}
		ft := rfTypes[k]
		var tags []string
		if ft.tag == "embedded" {
			field(fmt.Sprint("F", i), ft.typ, fmt.Sprintf("embedded;embeddedPrefix:e%d_", i))
			c.types = append(c.types, k)
			continue
		}
		if ft.tag != "" {
			tags = append(tags, ft.tag)
		}
		if name := columns[r.IntN(len(columns))]; name != "" && !slices.Contains(tags, "column:"+name) && !c.hasColumn(name) {
			tags = append(tags, "column:"+name)
		}
		switch {
		case ft.unique != nil && r.IntN(5) == 0:
			// Each row's own value, as given: no default, no permission.
			tags = append(tags, "uniqueIndex")
		default:
			if ft.dflt != "" && r.IntN(3) == 0 {
				tags = append(tags, "default:"+ft.dflt)
			}
			if p := rfPermissions[r.IntN(len(rfPermissions))]; p != "" && !strings.HasPrefix(ft.tag, "auto") {
				tags = append(tags, p)
			}
		}
		field(fmt.Sprint("F", i), ft.typ, strings.Join(tags, ";"))
		c.types = append(c.types, k)
	}
	if (c.key == rfAutoKey || c.key == rfGivenKey) && r.IntN(2) == 0 {
		if r.IntN(3) > 0 {
			c.kids = 1 + r.IntN(2)
			field("Kids", []reflect.Type{reflect.TypeFor[[]rfKid](), reflect.TypeFor[[]*rfKid]()}[c.kids-1], "foreignKey:OwnerID")
		}
		c.full = r.IntN(4) == 0
		if r.IntN(2) == 0 {
			c.ref = true
			field("RefID", reflect.TypeFor[*uint](), "")
			field("Ref", reflect.TypeFor[*rfRef](), "foreignKey:RefID")
		}
	}
	c.typ = reflect.StructOf(c.fields)
	c.n = []int{1, 2, 3, 5, 20, 150, 700, 2100}[r.IntN(8)]
	c.bad = -1
	if r.IntN(8) == 0 {
		for j, k := range c.types {
			if rfTypes[k].typ.Kind() == reflect.String && rfTypes[k].tag == "size:200" {
				c.bad, c.badField = r.IntN(c.n), c.keys+j
				break
			}
		}
	}
	c.db = []string{"auto", "auto", "auto", "prepared", "no transaction"}[r.IntN(5)]
	c.batch = []int{0, 0, 0, 1, 7, 100}[r.IntN(6)]
	if r.IntN(4) == 0 {
		c.method = bulk.Values
		switch {
		case on == tmPG && r.IntN(2) == 0:
			c.method = bulk.Copy
		case on == tmMy && r.IntN(2) == 0:
			c.method = bulk.LoadData
		}
	}
	if r.IntN(6) == 0 {
		c.createBatchSize = 50
	}
	names := c.valueFields()
	switch r.IntN(8) {
	case 0:
		c.omit = []string{names[r.IntN(len(names))]}
	case 1:
		c.sel = []string{names[r.IntN(len(names))]}
		for _, f := range c.fields[:c.keys] {
			c.sel = append(c.sel, f.Name)
		}
		if c.kids > 0 && r.IntN(2) == 0 {
			c.sel = append(c.sel, "Kids")
		}
	case 2:
		if c.kids > 0 || c.ref {
			c.omit = []string{[]string{clause.Associations, "Kids", "Ref", "Kids.Name", "Kids.Toys"}[r.IntN(5)]}
		}
	}
	c.way = "create"
	switch r.IntN(8) {
	case 0:
		c.way = "batches"
	case 1:
		// Not under CreateBatchSize: GORM's CreateInBatches panics on
		// the maps RETURNING appends.
		if c.kids == 0 && !c.ref && c.createBatchSize == 0 {
			c.way = "maps"
		}
	}
	// Generated keys over existing rows, and structs shared by pointer,
	// are where GORM's read-back gives rows other rows' keys: their
	// structs are compared under the guide's exception (ownKeys), and
	// without associations, whose upserts over existing rows GORM writes
	// from those keys.
	plain := !c.key.generated() || c.kids == 0 && !c.ref
	if plain && c.key != rfNoKey && r.IntN(3) == 0 {
		c.existing = true
		c.way = []string{"save", "do nothing", "update all", "do updates", "create"}[r.IntN(5)]
		if c.way == "do updates" {
			c.updates = []string{names[r.IntN(len(names))]}
		}
		if on != tmMy && strings.HasPrefix(c.way, "do ") && r.IntN(2) == 0 {
			for _, f := range c.fields[c.keys : c.keys+len(c.types)] {
				if strings.Contains(string(f.Tag), "uniqueIndex") {
					c.target = f.Name
				}
			}
		}
	}
	c.shared = plain && c.way != "maps" && r.IntN(5) == 0
	return c
}

// keyed reports whether the case's structs may hold other rows' keys in
// GORM's read-back (see ownKeys).
func (c *randomCase) keyed() bool {
	return c.key.generated() && c.way != "maps" && (c.existing || c.shared || c.given)
}

// hasColumn reports whether a field of the case is already named name.
func (c *randomCase) hasColumn(name string) bool {
	for _, f := range c.fields {
		if strings.Contains(string(f.Tag), "column:"+name+";") || strings.HasSuffix(string(f.Tag), "column:"+name+`"`) {
			return true
		}
	}
	return false
}

// valueFields returns the names of the fields past the keys.
func (c *randomCase) valueFields() []string {
	var names []string
	for _, f := range c.fields[c.keys : c.keys+len(c.types)] {
		names = append(names, f.Name)
	}
	return names
}

// rows returns the case's rows, the same on every call; existing rows,
// where the case has them, hold the keys (and unique values) of every
// third row with other values.
func (c *randomCase) rows(existing bool) reflect.Value {
	order := rand.New(rand.NewPCG(c.seed, 7)).Perm(c.n)
	r := rand.New(rand.NewPCG(c.seed, map[bool]uint64{false: 8, true: 9}[existing]))
	rows := reflect.MakeSlice(reflect.SliceOf(c.typ), c.n, c.n)
	refs := make([]*rfRef, 3)
	for k := range refs {
		refs[k] = &rfRef{Code: fmt.Sprint("r", k)}
		if r.IntN(3) == 0 {
			refs[k].ID = uint(7_000_000 + k)
		}
	}
	givenKids := 5_000_000
	for i := range c.n {
		row := rows.Index(i)
		switch c.key {
		case rfAutoKey:
			if c.given && r.IntN(3) == 0 {
				row.Field(0).SetUint(uint64(2_000_000 - i))
			}
		case rfGivenKey:
			row.Field(0).SetInt(int64(order[i] + 1000))
		case rfStringKey:
			row.Field(0).SetString(fmt.Sprint("k", order[i]))
		case rfCompositeKey:
			row.Field(0).SetInt(int64(order[i] % 4))
			row.Field(1).SetString(fmt.Sprint("b", order[i]))
		}
		for j, k := range c.types {
			ft := rfTypes[k]
			f := row.Field(c.keys + j)
			switch {
			case strings.Contains(string(c.fields[c.keys+j].Tag), "uniqueIndex"):
				f.Set(reflect.ValueOf(ft.unique(i)))
			case ft.always || r.IntN(4) > 0:
				f.Set(reflect.ValueOf(ft.value(r)))
			}
		}
		if c.ref && r.IntN(4) > 0 {
			row.FieldByName("Ref").Set(reflect.ValueOf(refs[r.IntN(len(refs))]))
		}
		if c.kids > 0 {
			kids := row.FieldByName("Kids")
			for k := range r.IntN(4) {
				kid := &rfKid{Name: fmt.Sprint("k", i, "-", k), Score: rfFloat(r)}
				if r.IntN(3) == 0 {
					kid.Name = ""
				}
				if r.IntN(10) == 0 {
					kid.ID, givenKids = uint(givenKids), givenKids-1
				}
				for range r.IntN(3) {
					kid.Toys = append(kid.Toys, rfToy{Label: rfText(r)})
				}
				if c.kids == 1 {
					kids.Set(reflect.Append(kids, reflect.ValueOf(*kid)))
				} else {
					kids.Set(reflect.Append(kids, reflect.ValueOf(kid)))
				}
			}
		}
	}
	if !existing {
		if c.bad >= 0 {
			rows.Index(c.bad).Field(c.badField).SetString(strings.Repeat("x", 201))
		}
		if c.shared {
			ptrs := reflect.MakeSlice(reflect.SliceOf(reflect.PointerTo(c.typ)), c.n, c.n)
			for i := range c.n {
				if i > 0 && r.IntN(5) == 0 {
					ptrs.Index(i).Set(ptrs.Index(r.IntN(i)))
				} else {
					ptrs.Index(i).Set(rows.Index(i).Addr())
				}
			}
			return ptrs
		}
		return rows
	}
	out := reflect.MakeSlice(rows.Type(), 0, c.n/3+1)
	for i := 0; i < c.n; i += 3 {
		out = reflect.Append(out, rows.Index(i))
	}
	return out
}

// maps returns the rows as maps from column names (and field names, for
// one row in five) to values, each leaving out a column now and then, as
// GORM users create them: with the model, and no defaults or hooks.
func (c *randomCase) maps(rows reflect.Value, db *gorm.DB) []map[string]any {
	r := rand.New(rand.NewPCG(c.seed, 10))
	out := make([]map[string]any, rows.Len())
	for i := range out {
		m := map[string]any{}
		for j, f := range c.fields {
			if strings.Contains(string(f.Tag), "embedded") || strings.Contains(string(f.Tag), "serializer") || strings.Contains(string(f.Tag), "->") {
				continue
			}
			if j >= c.keys && r.IntN(6) == 0 {
				continue
			}
			key := columnOf(db, f)
			if r.IntN(5) == 0 {
				key = f.Name
			}
			m[key] = rows.Index(i).Field(j).Interface()
		}
		out[i] = m
	}
	return out
}

// options returns db with the case's options for the plugin.
func (c *randomCase) options(db *gorm.DB) *gorm.DB {
	return db.Clauses(bulk.Options{BatchSize: c.batch, Method: c.method})
}

// run recreates the tables (through admin), writes the existing rows, and
// creates the case's rows through db; it returns the rows, the tables as
// read back (the model's, then its kids', their toys' and the refs',
// where it has them, and the model's before the create), and the
// create's result.
func (c *randomCase) run(t *testing.T, admin, db *gorm.DB, dialect string) (reflect.Value, [][]map[string]any, *gorm.DB) {
	t.Helper()
	// A table per case: a pgx connection's statement cache would
	// otherwise serve a plan whose result type changed.
	randomTable := fmt.Sprint("parity_random_", c.seed)
	drop := func() error {
		return errors.Join(admin.Migrator().DropTable(randomTable), admin.Migrator().DropTable(&rfToy{}, &rfKid{}, &rfRef{}))
	}
	t.Cleanup(func() { _ = drop() })
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	// CreateTable, not AutoMigrate: a model's relations are also kept on
	// the other side's schema, and AutoMigrate fails to order an unnamed
	// model (StructOf's) among them.
	if err := admin.Migrator().CreateTable(&rfRef{}, &rfKid{}, &rfToy{}); err != nil {
		t.Fatal(err)
	}
	model := reflect.New(c.typ).Interface()
	if err := admin.Table(randomTable).Migrator().CreateTable(model); err != nil {
		t.Fatalf("%s\nmigrate: %v", c, err)
	}
	tables := make([][]map[string]any, 5)
	if c.existing {
		old := c.rows(true)
		if err := admin.Table(randomTable).Create(addr(old)).Error; err != nil {
			t.Fatalf("%s\nexisting rows: %v", c, err)
		}
		if err := admin.Table(randomTable).Find(&tables[4]).Error; err != nil {
			t.Fatal(err)
		}
	}
	rows := c.rows(false)
	tx := db.Table(randomTable)
	if c.createBatchSize > 0 || c.full {
		tx = tx.Session(&gorm.Session{CreateBatchSize: c.createBatchSize, FullSaveAssociations: c.full})
	}
	if c.omit != nil {
		tx = tx.Omit(c.omit...)
	}
	if c.sel != nil {
		tx = tx.Select(c.sel)
	}
	var keys []clause.Column
	for _, f := range c.fields[:c.keys] {
		keys = append(keys, clause.Column{Name: tx.NamingStrategy.ColumnName("", f.Name)})
	}
	if c.target != "" {
		f, _ := c.typ.FieldByName(c.target)
		keys = []clause.Column{{Name: columnOf(tx, f)}}
	}
	var result *gorm.DB
	switch c.way {
	case "create":
		result = tx.Create(addr(rows))
	case "batches":
		result = tx.CreateInBatches(addr(rows), 40)
	case "maps":
		maps := c.maps(rows, tx)
		result = tx.Model(model).Create(&maps)
		rows = reflect.ValueOf(maps)
	case "save":
		result = tx.Save(addr(rows))
	case "do nothing":
		result = tx.Clauses(clause.OnConflict{Columns: keys, DoNothing: true}).Create(addr(rows))
	case "update all":
		result = tx.Clauses(clause.OnConflict{Columns: keys, UpdateAll: true}).Create(addr(rows))
	case "do updates":
		var columns []string
		for _, name := range c.updates {
			f, _ := c.typ.FieldByName(name)
			columns = append(columns, columnOf(tx, f))
		}
		result = tx.Clauses(clause.OnConflict{Columns: keys, DoUpdates: clause.AssignmentColumns(columns)}).Create(addr(rows))
	}
	for k, name := range []string{randomTable, "rf_kids", "rf_toys", "rf_refs"} {
		if err := admin.Table(name).Find(&tables[k]).Error; err != nil {
			t.Fatal(err)
		}
	}
	if strings.HasPrefix(dialect, "mysql") {
		c.rank(rows, tables)
	}
	for _, table := range tables {
		slices.SortFunc(table, func(a, b map[string]any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	return rows, tables, result
}

// columnOf returns the column GORM names for f.
func columnOf(db *gorm.DB, f reflect.StructField) string {
	for _, part := range strings.Split(f.Tag.Get("gorm"), ";") {
		if name, ok := strings.CutPrefix(part, "column:"); ok {
			return name
		}
	}
	return db.NamingStrategy.ColumnName("", f.Name)
}

// rank replaces MySQL's generated keys, in the tables and in the rows, by
// their rank among their table's keys, and the foreign keys that hold
// them likewise.
func (c *randomCase) rank(rows reflect.Value, tables [][]map[string]any) {
	parent := strings.ToLower(c.fields[0].Name)
	owners, kids, toys, refs := ranksOf(tables[0], parent), ranksOf(tables[1], "id"), ranksOf(tables[2], "id"), ranksOf(tables[3], "id")
	if !c.key.generated() {
		owners = nil
	}
	for _, r := range tables[0] {
		owners.replace(r, parent)
		refs.replace(r, "ref_id")
	}
	for _, r := range tables[4] {
		owners.replace(r, parent)
	}
	for _, r := range tables[1] {
		kids.replace(r, "id")
		owners.replace(r, "owner_id")
	}
	for _, r := range tables[2] {
		toys.replace(r, "id")
		kids.replace(r, "kid_id")
	}
	for _, r := range tables[3] {
		refs.replace(r, "id")
	}
	if maps, ok := rows.Interface().([]map[string]any); ok {
		for _, m := range maps {
			for _, k := range []string{c.fields[0].Name, parent} {
				if v, ok := m[k]; ok {
					owners.replace(m, k)
					if fmt.Sprint(m[k]) == fmt.Sprint(v) && owners != nil {
						m[k] = v // not a key: left as given
					}
				}
			}
		}
		return
	}
	// Each struct once: rows may share one by pointer.
	var structs []reflect.Value
	shared := map[uintptr]bool{}
	for i := range rows.Len() {
		if row := rows.Index(i); row.Kind() != reflect.Pointer {
			structs = append(structs, row)
		} else if !shared[row.Pointer()] {
			shared[row.Pointer()] = true
			structs = append(structs, row.Elem())
		}
	}
	seen := map[*rfRef]bool{}
	for _, row := range structs {
		if f := row.Field(0); owners != nil && f.CanUint() {
			f.SetUint(owners.of(f.Uint()))
		} else if owners != nil {
			f.SetInt(int64(owners.of(uint64(f.Int()))))
		}
		if !c.ref {
			continue
		}
		if id := row.FieldByName("RefID").Interface().(*uint); id != nil {
			*id = uint(refs.of(uint64(*id)))
		}
		if ref := row.FieldByName("Ref").Interface().(*rfRef); ref != nil && !seen[ref] {
			seen[ref] = true
			ref.ID = uint(refs.of(uint64(ref.ID)))
		}
	}
	for _, row := range structs {
		if c.kids == 0 {
			break
		}
		list := row.FieldByName("Kids")
		for k := range list.Len() {
			kid, ok := list.Index(k).Interface().(*rfKid)
			if !ok {
				kid = list.Index(k).Addr().Interface().(*rfKid)
			}
			kid.ID, kid.OwnerID = uint(kids.of(uint64(kid.ID))), uint(owners.of(uint64(kid.OwnerID)))
			for j := range kid.Toys {
				kid.Toys[j].ID, kid.Toys[j].KidID = uint(toys.of(uint64(kid.Toys[j].ID))), uint(kids.of(uint64(kid.Toys[j].KidID)))
			}
		}
	}
}

// ranks maps a table's keys to their ranks; a nil ranks keeps every key.
type ranks map[uint64]uint64

func ranksOf(table []map[string]any, column string) ranks {
	var keys []uint64
	for _, row := range table {
		if k, err := strconv.ParseUint(fmt.Sprint(row[column]), 10, 64); err == nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := ranks{}
	for i, k := range keys {
		out[k] = uint64(i + 1)
	}
	return out
}

// of returns k's rank; 0 stays 0, and a key the table does not hold
// comes back far from any rank.
func (r ranks) of(k uint64) uint64 {
	if r == nil || k == 0 {
		return k
	}
	if rank, ok := r[k]; ok {
		return rank
	}
	return 1<<40 + k
}

// replace replaces row[column] by its rank, where it holds a key.
func (r ranks) replace(row map[string]any, column string) {
	if k, err := strconv.ParseUint(fmt.Sprint(row[column]), 10, 64); err == nil {
		row[column] = r.of(k)
	}
}

// incomparable says why a case's results are not compared: GORM failed
// on a parameter limit the plugin chunks under (the guide's exception),
// or where two rows update one and the case's BatchSize asks for
// statements of that size, each of which updates the row an earlier one
// wrote (as CreateInBatches; README), or the method the case forces cannot
// keep GORM's result.
func (c *randomCase) incomparable(gormErr, pluginErr error) string {
	if gormErr != nil && pluginErr == nil {
		for _, limit := range []string{"too many SQL variables", "extended protocol limited", "too many placeholders"} {
			if strings.Contains(gormErr.Error(), limit) {
				return "GORM fails on a parameter limit: " + gormErr.Error()
			}
		}
		if c.batch > 0 && strings.Contains(gormErr.Error(), "cannot affect row a second time") {
			return "two rows update one, in statements of the BatchSize asked for: " + gormErr.Error()
		}
	}
	if errors.Is(pluginErr, bulk.ErrMethodUnavailable) {
		return pluginErr.Error()
	}
	return ""
}

// addr returns a pointer to a copy of the slice v.
func addr(v reflect.Value) any {
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return p.Interface()
}

// ownKeys compares the structs under the guide's exception for keys:
// where GORM's read-back gives a struct another row's key, the plugin's
// holds its own row's, or zero where no row was written for it. Every
// field but the key is GORM's, and so is a key the row gave; a key left to
// the database is zero or one of the table's, no two structs hold one,
// and each row the create added with a key of the database's is held by
// a struct, but for the rows of a shared struct's later appearances. A
// row's kids are owned by its key (GORM writes them under the key its
// read-back gave; the caller compares the kids' table without owners). It
// returns what is wrong.
func (c *randomCase) ownKeys(got, want reflect.Value, tables [][]map[string]any) []string {
	var problems []string
	column := strings.ToLower(c.fields[0].Name)
	keysOf := func(table []map[string]any) map[uint64]bool {
		keys := map[uint64]bool{}
		for _, row := range table {
			if k, err := strconv.ParseUint(fmt.Sprint(row[column]), 10, 64); err == nil {
				keys[k] = true
			}
		}
		return keys
	}
	after, before := keysOf(tables[0]), keysOf(tables[4])
	keyOf := func(row reflect.Value) uint64 {
		if f := row.Field(0); f.CanUint() {
			return f.Uint()
		} else {
			return uint64(f.Int())
		}
	}
	// withoutKey copies a row without its key, and its kids without the
	// key they take from it.
	withoutKey := func(row reflect.Value) any {
		v := reflect.New(row.Type()).Elem()
		v.Set(row)
		v.Field(0).SetZero()
		if c.kids > 0 {
			kids := v.FieldByName("Kids")
			copied := reflect.MakeSlice(kids.Type(), kids.Len(), kids.Len())
			for k := range kids.Len() {
				kid := *reflect.Indirect(kids.Index(k)).Addr().Interface().(*rfKid)
				kid.OwnerID = 0
				if c.kids == 1 {
					copied.Index(k).Set(reflect.ValueOf(kid))
				} else {
					copied.Index(k).Set(reflect.ValueOf(&kid))
				}
			}
			kids.Set(copied)
		}
		return v.Interface()
	}
	input := c.rows(false)
	held, given, structs, appearances := map[uint64]int{}, map[uint64]bool{}, map[uintptr]bool{}, 0
	for i := range got.Len() {
		g, w := reflect.Indirect(got.Index(i)), reflect.Indirect(want.Index(i))
		if !reflect.DeepEqual(withoutKey(g), withoutKey(w)) {
			gj, _ := json.Marshal(g.Interface())
			wj, _ := json.Marshal(w.Interface())
			problems = append(problems, fmt.Sprintf("row %d differs from GORM's but for its key\n got %s\nwant %s", i, gj, wj))
			continue
		}
		key := keyOf(g)
		if keyOf(reflect.Indirect(input.Index(i))) != 0 {
			if key != keyOf(w) {
				problems = append(problems, fmt.Sprintf("row %d gave key %d, now %d", i, keyOf(w), key))
			}
			given[key] = true
			continue
		}
		if row := got.Index(i); row.Kind() == reflect.Pointer {
			appearances++
			if structs[row.Pointer()] {
				continue
			}
			structs[row.Pointer()] = true
		}
		if key == 0 {
			continue
		}
		if c.kids > 0 {
			// Kids GORM wrote (Omit leaves them unowned) are owned by the key.
			kids, wantKids := g.FieldByName("Kids"), w.FieldByName("Kids")
			for k := range kids.Len() {
				owner := reflect.Indirect(kids.Index(k)).FieldByName("OwnerID").Uint()
				written := reflect.Indirect(wantKids.Index(k)).FieldByName("OwnerID").Uint() != 0
				if written && owner != key || !written && owner != 0 {
					problems = append(problems, fmt.Sprintf("row %d's kid %d has owner %d, the row's key is %d", i, k, owner, key))
				}
			}
		}
		if !after[key] {
			problems = append(problems, fmt.Sprintf("row %d holds key %d, which no row of the table has", i, key))
		}
		if j, ok := held[key]; ok {
			problems = append(problems, fmt.Sprintf("rows %d and %d hold key %d", j, i, key))
		}
		held[key] = i
	}
	unheld := 0
	for key := range after {
		if _, ok := held[key]; !ok && !before[key] && !given[key] {
			unheld++
		}
	}
	if unheld > appearances-len(structs) {
		problems = append(problems, fmt.Sprintf("%d rows the create added with a key of the database's are held by no struct", unheld))
	}
	return problems
}

// withoutColumn returns a table's rows without the column, in order again.
func withoutColumn(table []map[string]any, column string) []map[string]any {
	out := make([]map[string]any, len(table))
	for i, row := range table {
		out[i] = map[string]any{}
		for k, v := range row {
			if k != column {
				out[i][k] = v
			}
		}
	}
	slices.SortFunc(out, func(a, b map[string]any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return out
}
