package bulk_test

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gormbulk/bulk"
)

// The parity models cover what GORM decides per column on create: Go-side
// defaults, timestamps in every unit, database defaults, permissions,
// embedded structs, pointers, Null types, serializers and keys of every kind.

type ParityBasic struct {
	ID        uint   `gorm:"primaryKey"`
	Email     string `gorm:"uniqueIndex;size:191"`
	Name      string
	Age       int
	Score     float64
	Active    bool
	Nickname  *string
	Note      sql.NullString
	Born      *time.Time
	Tags      []string `gorm:"serializer:json"`
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt gorm.DeletedAt `gorm:"index"`
}

type ParityDefaults struct {
	ID       int64   `gorm:"primaryKey;autoIncrement"`
	Status   string  `gorm:"size:32;default:active"`
	Level    int     `gorm:"default:3"`
	Enabled  bool    `gorm:"default:true"`
	Ratio    float64 `gorm:"default:1.5"`
	Computed int     `gorm:"default:(1+2)"`
	Label    string  `gorm:"size:32"`
}

type ParityTimes struct {
	ID          uint `gorm:"primaryKey"`
	Label       string
	CreatedSec  int64     `gorm:"autoCreateTime"`
	CreatedMS   int64     `gorm:"autoCreateTime:milli"`
	CreatedNS   int64     `gorm:"autoCreateTime:nano"`
	UpdatedSec  int       `gorm:"autoUpdateTime"`
	UpdatedMS   int64     `gorm:"autoUpdateTime:milli"`
	UpdatedNS   int64     `gorm:"autoUpdateTime:nano"`
	CreatedTime time.Time `gorm:"autoCreateTime"`
	UpdatedTime time.Time `gorm:"autoUpdateTime"`
}

type parityAudit struct {
	By   string `gorm:"size:64"`
	Note string
}

type ParityPermissions struct {
	ID       uint        `gorm:"primaryKey"`
	Name     string      `gorm:"size:64"`
	ReadOnly string      `gorm:"->;size:64"`
	NoWrite  string      `gorm:"<-:false;size:64"`
	OnCreate string      `gorm:"<-:create;size:64"`
	OnUpdate string      `gorm:"<-:update;size:64"`
	Ignored  string      `gorm:"-"`
	Audit    parityAudit `gorm:"embedded;embeddedPrefix:audit_"`
	parityAudit
}

// ParityKeys has an application-chosen string key.
type ParityKeys struct {
	Code  string `gorm:"primaryKey;size:64"`
	Value int
}

// ParityComposite has a composite key with no generated part.
type ParityComposite struct {
	Tenant int    `gorm:"primaryKey;autoIncrement:false"`
	Key    string `gorm:"primaryKey;size:64"`
	Value  string
}

// Cents is a custom type stored through driver.Valuer and sql.Scanner.
type Cents int64

func (c Cents) Value() (driver.Value, error) { return int64(c) * 1, nil }

func (c *Cents) Scan(v any) error {
	switch v := v.(type) {
	case int64:
		*c = Cents(v)
	case []byte:
		n, err := strconv.ParseInt(string(v), 10, 64)
		*c = Cents(n)
		return err
	default:
		return fmt.Errorf("Cents: cannot scan %T", v)
	}
	return nil
}

type parityExtra struct {
	Color string `gorm:"size:16"`
	Rank  int
}

// ParityMixed covers custom column names, declared types, custom value
// types, named basic types, bytes, big unsigned numbers and an embedded
// pointer that may be nil.
type ParityMixed struct {
	ID      uint   `gorm:"primaryKey;column:mixed_id"`
	Title   string `gorm:"column:heading;type:varchar(100);not null"`
	Price   Cents
	Kind    parityKind `gorm:"size:16"`
	Payload []byte
	Big     uint64
	Small   int8
	*parityExtra
}

type parityKind string

// ParityUUID takes its string key from a BeforeCreate hook, as many
// models do.
type ParityUUID struct {
	ID    string `gorm:"primaryKey;size:36"`
	Name  string `gorm:"size:64"`
	Valid bool
}

func (u *ParityUUID) BeforeCreate(*gorm.DB) error {
	if u.ID == "" {
		u.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", len(u.Name)*1000+int(u.Name[len(u.Name)-1]))
	}
	return nil
}

func str(s string) *string { return &s }

func parityBasicRows(n int) []ParityBasic {
	rows := make([]ParityBasic, n)
	born := time.Date(1990, 5, 17, 8, 0, 0, 0, time.UTC)
	for i := range rows {
		rows[i] = ParityBasic{Email: fmt.Sprintf("user%03d@example.com", i), Name: fmt.Sprintf("User %d", i), Age: i % 90, Score: float64(i) / 4, Active: i%3 == 0}
		if i%2 == 0 {
			rows[i].Nickname = str(fmt.Sprintf("nick%d", i))
			rows[i].Note = sql.NullString{String: "note", Valid: true}
			rows[i].Born = &born
			rows[i].Tags = []string{"a", fmt.Sprint(i)}
		}
		if i%5 == 0 {
			rows[i].CreatedAt = born // given timestamps are kept
		}
	}
	return rows
}

// parityCase is one model and one set of rows, created with GORM and with
// the plugin.
type parityCase struct {
	name   string
	model  any
	rows   func() any                           // pointer to a slice (or array) of fresh rows
	create func(db *gorm.DB, rows any) *gorm.DB // defaults to Create
	skip   map[string]string                    // dialect → reason GORM itself cannot run the case
	// noCopy says why PostgreSQL's COPY cannot give GORM's result here.
	noCopy string
}

func parityCases() []parityCase {
	return []parityCase{
		{name: "basic", model: &ParityBasic{}, rows: func() any { r := parityBasicRows(40); return &r }},
		// Past COPY's threshold, so the automatic runs copy, in several
		// chunks for the sized runs.
		{name: "basic large", model: &ParityBasic{}, rows: func() any { r := parityBasicRows(1200); return &r }},
		{name: "pointers", model: &ParityBasic{}, rows: func() any {
			r := parityBasicRows(25)
			ptrs := make([]*ParityBasic, len(r))
			for i := range r {
				ptrs[i] = &r[i]
			}
			return &ptrs
		}},
		{name: "array", model: &ParityBasic{}, rows: func() any {
			var a [9]ParityBasic
			copy(a[:], parityBasicRows(9))
			return &a
		}},
		{name: "explicit keys", model: &ParityBasic{}, rows: func() any {
			r := parityBasicRows(30)
			for i := range r {
				r[i].ID = uint(1000 + i*7)
			}
			return &r
		}},
		{name: "mixed keys", model: &ParityBasic{}, rows: func() any {
			r := parityBasicRows(30)
			for i := range r {
				if i%4 == 0 {
					r[i].ID = uint(5000 + i)
				}
			}
			return &r
		}, skip: map[string]string{
			"sqlite": "GORM writes DEFAULT for the zero keys, which SQLite rejects",
			"mysql":  "GORM assigns LastInsertId to zero keys regardless of the given ones",
			// TestMySQLMixedKeys requires the table's keys, and each struct its own.
			"mysql-lastinsertid": "GORM's LastInsertId arithmetic gives the rows after a given key other rows' keys",
		}},
		{name: "defaults", noCopy: "a database-default column only RETURNING reads back", model: &ParityDefaults{}, rows: func() any {
			r := make([]ParityDefaults, 30)
			for i := range r {
				r[i].Label = fmt.Sprint("row", i)
				if i%3 == 0 {
					r[i].Status, r[i].Level, r[i].Enabled, r[i].Ratio = "given", 9, true, 2.5
				}
			}
			return &r
		}},
		{name: "db default given", model: &ParityDefaults{}, rows: func() any {
			r := make([]ParityDefaults, 12)
			for i := range r {
				r[i].Computed = 40 + i
			}
			return &r
		}},
		{name: "times", model: &ParityTimes{}, rows: func() any {
			r := make([]ParityTimes, 20)
			for i := range r {
				r[i].Label = fmt.Sprint(i)
				if i%4 == 0 {
					r[i].CreatedSec, r[i].UpdatedMS = 1700000000, 1700000000123
				}
			}
			return &r
		}},
		{name: "times large", model: &ParityTimes{}, rows: func() any {
			r := make([]ParityTimes, 700)
			for i := range r {
				r[i].Label = fmt.Sprint(i)
				if i%4 == 0 {
					r[i].CreatedSec, r[i].UpdatedMS = 1700000000, 1700000000123
				}
			}
			return &r
		}},
		{name: "permissions", model: &ParityPermissions{}, rows: func() any {
			r := make([]ParityPermissions, 15)
			for i := range r {
				r[i] = ParityPermissions{Name: fmt.Sprint("n", i), ReadOnly: "ro", NoWrite: "nw", OnCreate: "oc", OnUpdate: "ou", Ignored: "ig",
					Audit: parityAudit{By: "auditor", Note: fmt.Sprint(i)}, parityAudit: parityAudit{By: "embedded"}}
			}
			return &r
		}},
		{name: "string keys", model: &ParityKeys{}, rows: func() any {
			r := make([]ParityKeys, 20)
			for i := range r {
				r[i] = ParityKeys{Code: fmt.Sprintf("k%02d", i), Value: i}
			}
			return &r
		}},
		{name: "composite keys", model: &ParityComposite{}, rows: func() any {
			r := make([]ParityComposite, 20)
			for i := range r {
				r[i] = ParityComposite{Tenant: i % 3, Key: fmt.Sprint("k", i), Value: "v"}
			}
			return &r
		}},
		{name: "omit", model: &ParityBasic{}, rows: func() any { r := parityBasicRows(20); return &r },
			create: func(db *gorm.DB, rows any) *gorm.DB { return db.Omit("Nickname", "Tags", "CreatedAt").Create(rows) }},
		{name: "select", model: &ParityBasic{}, rows: func() any { r := parityBasicRows(20); return &r },
			create: func(db *gorm.DB, rows any) *gorm.DB { return db.Select("Email", "Name", "Age").Create(rows) }},
		{name: "table", model: &ParityKeys{}, rows: func() any {
			r := make([]ParityKeys, 10)
			for i := range r {
				r[i] = ParityKeys{Code: fmt.Sprint("t", i), Value: i}
			}
			return &r
		}, create: func(db *gorm.DB, rows any) *gorm.DB { return db.Table("parity_keys").Create(rows) }},
		{name: "maps", noCopy: "maps", model: &ParityDefaults{}, rows: func() any {
			r := make([]map[string]any, 12)
			for i := range r {
				r[i] = map[string]any{"label": fmt.Sprint("m", i), "level": i}
				if i%2 == 0 {
					r[i]["status"] = "mapped"
				}
			}
			return &r
		}, create: func(db *gorm.DB, rows any) *gorm.DB { return db.Model(&ParityDefaults{}).Create(rows) }},
		// Some maps give the key as zero, by column or field name, and
		// not all give the same columns: MySQL generates the keys, and
		// GORM sets each map's.
		{name: "maps with zero keys", noCopy: "maps", model: &ParityDefaults{}, skip: map[string]string{
			"sqlite": "0 is a key", "postgres": "0 is a key",
		}, rows: func() any {
			r := make([]map[string]any, 12)
			for i := range r {
				r[i] = map[string]any{"label": fmt.Sprint("m", i)}
				switch i % 3 {
				case 0:
					r[i]["id"] = int64(0)
				case 1:
					r[i]["ID"], r[i]["level"] = int64(0), i
				}
			}
			return &r
		}, create: func(db *gorm.DB, rows any) *gorm.DB { return db.Model(&ParityDefaults{}).Create(rows) }},
		// Select leaves none of the maps' keys: GORM writes one row of
		// defaults for all of them.
		{name: "maps without a selected key", noCopy: "maps", model: &ParityDefaults{}, rows: func() any {
			r := make([]map[string]any, 12)
			for i := range r {
				r[i] = map[string]any{"label": fmt.Sprint("m", i)}
			}
			return &r
		}, create: func(db *gorm.DB, rows any) *gorm.DB { return db.Model(&ParityDefaults{}).Select("Level").Create(rows) }},
		{name: "key only", noCopy: "no column", model: &ShapeKeyOnly{}, rows: func() any { r := make([]ShapeKeyOnly, 5); return &r }},
		{name: "on conflict do nothing", model: &ParityKeys{}, rows: func() any {
			r := make([]ParityKeys, 16)
			for i := range r {
				r[i] = ParityKeys{Code: fmt.Sprintf("c%02d", i%10), Value: i}
			}
			return &r
		}, create: func(db *gorm.DB, rows any) *gorm.DB {
			return db.Clauses(clause.OnConflict{DoNothing: true}).Create(rows)
		}},
		{name: "mixed types large", model: &ParityMixed{}, rows: func() any {
			r := make([]ParityMixed, 600)
			for i := range r {
				r[i] = ParityMixed{Title: fmt.Sprint("t", i), Price: Cents(i * 250), Kind: parityKind("k" + fmt.Sprint(i%2)), Big: 1<<62 + uint64(i), Small: int8(i % 100)}
				if i%2 == 0 {
					r[i].Payload = []byte{0, byte(i), 255}
					r[i].parityExtra = &parityExtra{Color: "red", Rank: i}
				}
			}
			return &r
		}},
		{name: "mixed types", model: &ParityMixed{}, rows: func() any {
			r := make([]ParityMixed, 14)
			for i := range r {
				r[i] = ParityMixed{Title: fmt.Sprint("t", i), Price: Cents(i * 250), Kind: parityKind("k" + fmt.Sprint(i%2)), Big: 1<<62 + uint64(i), Small: int8(-i)}
				if i%2 == 0 {
					r[i].Payload = []byte{0, byte(i), 255}
					r[i].parityExtra = &parityExtra{Color: "red", Rank: i}
				}
			}
			return &r
		}},
		{name: "keys from a hook", model: &ParityUUID{}, rows: func() any {
			r := make([]ParityUUID, 20)
			for i := range r {
				r[i] = ParityUUID{Name: fmt.Sprint("uuid", i), Valid: i%2 == 1}
			}
			return &r
		}},
		// RETURNING * reads back what the database stored: PostgreSQL and
		// MySQL keep microseconds of the nanoseconds given.
		{name: "returning all", noCopy: "the statement's own RETURNING", model: &ParityBasic{}, rows: func() any {
			r := parityBasicRows(20)
			for i := range r {
				born := time.Date(1990, 5, 17, 8, 0, 0, 123456789+i, time.UTC)
				r[i].Born = &born
			}
			return &r
		}, create: func(db *gorm.DB, rows any) *gorm.DB {
			return db.Clauses(clause.Returning{}).Create(rows)
		}},
		{name: "upsert all", model: &ParityKeys{}, rows: func() any {
			r := make([]ParityKeys, 10)
			for i := range r {
				r[i] = ParityKeys{Code: fmt.Sprintf("u%02d", i), Value: i}
			}
			return &r
		}, create: func(db *gorm.DB, rows any) *gorm.DB {
			return db.Clauses(clause.OnConflict{UpdateAll: true}).Create(rows)
		}},
	}
}

// TestParity creates the same rows with plain GORM and with the plugin, in
// several chunk sizes, and requires identical tables, identical structs and
// the same RowsAffected.
func TestParity(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		auto := withPlugin(t, open(t), bulk.Config{Auto: true})
		perCall := withPlugin(t, open(t))

		for _, c := range parityCases() {
			t.Run(c.name, func(t *testing.T) {
				if why, ok := c.skip[dialect]; ok {
					t.Skip(why)
				}
				create := c.create
				if create == nil {
					create = func(db *gorm.DB, rows any) *gorm.DB { return db.Create(rows) }
				}
				table := tableName(t, plain, c.model)

				recreate(t, plain, c.model)
				wantRows := c.rows()
				want := create(plain, wantRows)
				if want.Error != nil {
					t.Fatalf("plain GORM: %v", want.Error)
				}
				wantTable := tableRows(t, plain, table)

				runs := []struct {
					name string
					db   *gorm.DB
				}{
					{"auto", auto},
					{"batch 1", perCall.Clauses(bulk.Options{BatchSize: 1})},
					{"batch 7", perCall.Clauses(bulk.Options{BatchSize: 7})},
					{"sized", perCall.Clauses(bulk.Options{})},
					{"values", perCall.Clauses(bulk.Options{Method: bulk.Values, BatchSize: 7})},
				}
				if dialect == "postgres" {
					runs = append(runs, struct {
						name string
						db   *gorm.DB
					}{"copy", perCall.Clauses(bulk.Options{Method: bulk.Copy, BatchSize: 7})})
				}
				if strings.HasPrefix(dialect, "mysql") {
					// Chunks of 7 rows leave InnoDB no gaps between keys.
					runs = append(runs, struct {
						name string
						db   *gorm.DB
					}{"load data", perCall.Clauses(bulk.Options{Method: bulk.LoadData, BatchSize: 7})})
				}
				for _, run := range runs {
					recreate(t, plain, c.model)
					gotRows := c.rows()
					got := create(run.db, gotRows)
					if run.name == "copy" && c.noCopy != "" {
						if !errors.Is(got.Error, bulk.ErrMethodUnavailable) {
							t.Errorf("copy: error %v, want ErrMethodUnavailable (%s)", got.Error, c.noCopy)
						}
						continue
					}
					if run.name == "load data" && errors.Is(got.Error, bulk.ErrMethodUnavailable) {
						t.Logf("load data steps aside: %v", got.Error)
						continue
					}
					if got.Error != nil {
						t.Fatalf("%s: %v", run.name, got.Error)
					}
					if got.RowsAffected != want.RowsAffected {
						t.Errorf("%s: RowsAffected = %d, GORM %d", run.name, got.RowsAffected, want.RowsAffected)
					}
					if !reflect.DeepEqual(gotRows, wantRows) {
						t.Errorf("%s: structs differ from GORM's\n got: %s\nwant: %s", run.name, describe(gotRows), describe(wantRows))
					}
					if gotTable := tableRows(t, plain, table); !reflect.DeepEqual(gotTable, wantTable) {
						t.Errorf("%s: table differs from GORM's\n got: %v\nwant: %v", run.name, gotTable, wantTable)
					}
				}
			})
		}
	})
}

func tableName(t *testing.T, db *gorm.DB, model any) string {
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(model); err != nil {
		t.Fatal(err)
	}
	return strings.Trim(stmt.Table, `"`)
}

// The association models follow GORM's own test models: has-one,
// has-many, belongs-to and many-to-many, saved by GORM's association
// callbacks around the bulk create.
type ParityCompany struct {
	ID   int
	Name string
}

type ParityPet struct {
	ID           uint `gorm:"primaryKey"`
	ParityUserID *uint
	Name         string
}

type ParityAccount struct {
	ID           uint `gorm:"primaryKey"`
	ParityUserID uint
	Number       string
}

type ParityLanguage struct {
	Code string `gorm:"primaryKey;size:16"`
	Name string
}

type ParityUser struct {
	ID        uint `gorm:"primaryKey"`
	Name      string
	Age       uint
	Birthday  *time.Time
	Account   ParityAccount
	Pets      []*ParityPet
	CompanyID *int
	Company   ParityCompany
	Languages []ParityLanguage `gorm:"many2many:parity_user_languages"`
	CreatedAt time.Time
	UpdatedAt time.Time
	DeletedAt gorm.DeletedAt `gorm:"index"`
}

func parityUsers(n int) []ParityUser {
	users := make([]ParityUser, n)
	birthday := time.Date(2000, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range users {
		users[i] = ParityUser{
			Name:      fmt.Sprint("user", i),
			Age:       uint(20 + i),
			Birthday:  &birthday,
			Account:   ParityAccount{Number: fmt.Sprint("acct", i)},
			Pets:      []*ParityPet{{Name: fmt.Sprint("pet", i, "a")}, {Name: fmt.Sprint("pet", i, "b")}},
			Company:   ParityCompany{Name: fmt.Sprint("company", i%3)},
			Languages: []ParityLanguage{{Code: "en", Name: "English"}, {Code: fmt.Sprint("l", i%4), Name: "other"}},
		}
	}
	return users
}

// TestParityAssociations creates users with their associations through
// GORM and through the plugin, and compares every table and the structs.
func TestParityAssociations(t *testing.T) {
	t.Cleanup(bulk.SetUpsertCopyMinRows(1))
	models := []any{&ParityCompany{}, &ParityLanguage{}, &ParityUser{}, &ParityPet{}, &ParityAccount{}}
	tables := []string{"parity_companies", "parity_languages", "parity_users", "parity_pets", "parity_accounts", "parity_user_languages"}
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		auto := withPlugin(t, open(t), bulk.Config{Auto: true, BatchSize: 3})
		reset := func() {
			if err := plain.Migrator().DropTable("parity_user_languages"); err != nil {
				t.Fatal(err)
			}
			recreate(t, plain, models...)
		}
		snapshot := func() [][]map[string]any {
			var out [][]map[string]any
			for _, table := range tables {
				out = append(out, tableRows(t, plain, table))
			}
			return out
		}

		// 150 users: their associations' creates read the catalog, and
		// take SQLite's rowids and PostgreSQL's COPY (from any size, here)
		// through GORM's upserts on the key.
		// What a GORM user chains before the create keeps GORM's meaning
		// for the associations too.
		ways := []struct {
			name   string
			create func(db *gorm.DB, users *[]ParityUser) error
		}{
			{"create", func(db *gorm.DB, users *[]ParityUser) error { return db.Create(users).Error }},
			{"omit associations", func(db *gorm.DB, users *[]ParityUser) error { return db.Omit(clause.Associations).Create(users).Error }},
			{"select pets", func(db *gorm.DB, users *[]ParityUser) error {
				return db.Select("Name", "Age", "Pets").Create(users).Error
			}},
			{"omit pets", func(db *gorm.DB, users *[]ParityUser) error { return db.Omit("Pets").Create(users).Error }},
			{"full save", func(db *gorm.DB, users *[]ParityUser) error {
				return db.Session(&gorm.Session{FullSaveAssociations: true}).Create(users).Error
			}},
			{"skip hooks", func(db *gorm.DB, users *[]ParityUser) error {
				return db.Session(&gorm.Session{SkipHooks: true}).Create(users).Error
			}},
			{"save", func(db *gorm.DB, users *[]ParityUser) error { return db.Save(users).Error }},
		}
		for _, size := range []struct {
			users int
			db    func() *gorm.DB
		}{{8, func() *gorm.DB { return auto }}, {150, func() *gorm.DB { return auto.Clauses(bulk.Options{BatchSize: 40}) }}} {
			for _, way := range ways {
				t.Run(fmt.Sprint(size.users, " users/", way.name), func(t *testing.T) {
					reset()
					want := parityUsers(size.users)
					if err := way.create(plain, &want); err != nil {
						t.Fatalf("plain GORM: %v", err)
					}
					wantTables := snapshot()

					reset()
					got := parityUsers(size.users)
					if err := way.create(size.db(), &got); err != nil {
						t.Fatalf("plugin: %v", err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Errorf("structs differ from GORM's\n got: %s\nwant: %s", describe(got), describe(want))
					}
					if gotTables := snapshot(); !reflect.DeepEqual(gotTables, wantTables) {
						for i := range tables {
							if !reflect.DeepEqual(gotTables[i], wantTables[i]) {
								t.Errorf("%s differs from GORM's\n got: %v\nwant: %v", tables[i], gotTables[i], wantTables[i])
							}
						}
					}
				})
			}
		}
	})
}

// TestUpsertParity upserts 300 rows of which half exist, through plain GORM
// and the plugin (Auto, and chunks of 7), with each kind of ON CONFLICT
// GORM writes and with Save: tables, structs and RowsAffected are GORM's.
func TestUpsertParity(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		auto := withPlugin(t, open(t), bulk.Config{Auto: true})
		email := []clause.Column{{Name: "email"}}
		cases := []struct {
			name   string
			create func(db *gorm.DB, rows *[]ParityBasic) *gorm.DB
		}{
			{"update all", func(db *gorm.DB, rows *[]ParityBasic) *gorm.DB {
				return db.Clauses(clause.OnConflict{Columns: email, UpdateAll: true}).Create(rows)
			}},
			{"do updates", func(db *gorm.DB, rows *[]ParityBasic) *gorm.DB {
				return db.Clauses(clause.OnConflict{Columns: email, DoUpdates: clause.AssignmentColumns([]string{"name", "age"})}).Create(rows)
			}},
			{"do nothing", func(db *gorm.DB, rows *[]ParityBasic) *gorm.DB {
				return db.Clauses(clause.OnConflict{DoNothing: true}).Create(rows)
			}},
			{"save", func(db *gorm.DB, rows *[]ParityBasic) *gorm.DB { return db.Save(rows) }},
			{"save given keys", func(db *gorm.DB, rows *[]ParityBasic) *gorm.DB { return db.Save(rows) }},
		}
		type way struct {
			name string
			db   *gorm.DB
		}
		with := func(opts bulk.Options) *gorm.DB { return auto.Clauses(opts).Session(&gorm.Session{}) }
		ways := []way{{"auto", auto}, {"chunks of 7", with(bulk.Options{BatchSize: 7})}}
		switch dialect {
		case "postgres":
			ways = append(ways, way{"copy", with(bulk.Options{Method: bulk.Copy})})
		case "mysql":
			ways = append(ways, way{"load data", with(bulk.Options{Method: bulk.LoadData})})
		}
		for _, c := range cases {
			for _, run := range ways {
				t.Run(c.name+"/"+run.name, func(t *testing.T) {
					do := func(db *gorm.DB) ([]ParityBasic, *gorm.DB, []map[string]any) {
						recreate(t, plain, &ParityBasic{})
						existing := parityBasicRows(150)
						if err := plain.Create(&existing).Error; err != nil {
							t.Fatal(err)
						}
						rows := parityBasicRows(300)
						for i := range rows {
							rows[i].Name = fmt.Sprint("new ", i)
							if i%4 == 0 {
								// Kept, but by Save's upsert (GORM's
								// update_track_time), whichever way
								// the plugin writes the row.
								rows[i].UpdatedAt = rows[i].CreatedAt.Add(time.Hour)
							}
							switch {
							case strings.HasPrefix(c.name, "save") && i < 150:
								rows[i].ID = existing[i].ID
							case c.name == "save given keys":
								rows[i].ID = uint(10_000 + i)
							}
						}
						res := c.create(db, &rows)
						return rows, res, tableRows(t, plain, "parity_basics")
					}
					wantRows, want, wantTable := do(plain)
					gotRows, got, gotTable := do(run.db)
					if errors.Is(got.Error, bulk.ErrMethodUnavailable) && run.name != "auto" && run.name != "chunks of 7" {
						t.Skip(got.Error)
					}
					if (got.Error == nil) != (want.Error == nil) {
						t.Fatalf("error %v, GORM's %v", got.Error, want.Error)
					}
					if strings.HasPrefix(dialect, "mysql") {
						// Chunks change what InnoDB reserves for the rows
						// ON DUPLICATE KEY UPDATE updates: keys by rank.
						rankKeys(gotTable, gotRows, parityBasicKey)
						rankKeys(wantTable, wantRows, parityBasicKey)
					}
					if dialect == "mysql-lastinsertid" && !strings.HasPrefix(c.name, "save") && run.name != "auto" {
						// Without RETURNING GORM steps LastInsertId past
						// the rows that met a duplicate; the plugin looks
						// each row's key up by the unique email where it
						// writes chunks (TestMySQLUpsertKeysWithoutReturning).
						if wrong := notOwnKeys(gotTable, gotRows, parityBasicKey, parityBasicEmail); len(wrong) > 0 {
							t.Fatalf("structs %v hold other rows' keys", wrong)
						}
						if len(notOwnKeys(wantTable, wantRows, parityBasicKey, parityBasicEmail)) == 0 {
							t.Error("GORM's structs all hold their own keys: the case shows nothing")
						}
						for i := range gotRows {
							gotRows[i].ID = wantRows[i].ID
						}
					}
					if (dialect == "postgres" || dialect == "sqlite") && c.name == "do nothing" {
						// The plugin gives each row its own key, or zero
						// where it was skipped (TestSkippedRowsKeys);
						// GORM's are positional.
						keys := map[string]any{}
						for _, r := range gotTable {
							keys[r["email"].(string)] = r["id"]
						}
						for i := range gotRows {
							own := fmt.Sprint(keys[gotRows[i].Email])
							if i < 150 {
								own = "0"
							}
							if fmt.Sprint(gotRows[i].ID) != own {
								t.Fatalf("struct %d holds key %d, its own is %s", i, gotRows[i].ID, own)
							}
							gotRows[i].ID = wantRows[i].ID
						}
					}
					if got.RowsAffected != want.RowsAffected {
						t.Errorf("RowsAffected %d, GORM %d", got.RowsAffected, want.RowsAffected)
					}
					if !reflect.DeepEqual(gotTable, wantTable) {
						for i := range gotTable {
							if i < len(wantTable) && !reflect.DeepEqual(gotTable[i], wantTable[i]) {
								t.Errorf("row %d differs:\n got %v\nwant %v", i, gotTable[i], wantTable[i])
								break
							}
						}
						t.Errorf("table differs: %d rows, GORM %d", len(gotTable), len(wantTable))
					}
					if !reflect.DeepEqual(gotRows, wantRows) {
						for i := range gotRows {
							if !reflect.DeepEqual(gotRows[i], wantRows[i]) {
								t.Errorf("struct %d differs:\n got %+v\nwant %+v", i, gotRows[i], wantRows[i])
								break
							}
						}
					}
				})
			}
		}
	})
}

// notOwnKeys returns the rows that hold another key than the table's row
// with their email.
func notOwnKeys[T any](table []map[string]any, rows []T, key func(*T) *uint, email func(*T) string) []int {
	keys := map[string]string{}
	for _, r := range table {
		keys[r["email"].(string)] = fmt.Sprint(r["id"])
	}
	var wrong []int
	for i := range rows {
		if fmt.Sprint(*key(&rows[i])) != keys[email(&rows[i])] {
			wrong = append(wrong, i)
		}
	}
	return wrong
}

func parityBasicEmail(r *ParityBasic) string { return r.Email }

// rankKeys replaces the table's keys, and the structs' that hold them
// (key gives a row's), by their rank in the table.
func rankKeys[T any](table []map[string]any, rows []T, key func(*T) *uint) {
	rank := map[string]uint{}
	for i, r := range table {
		rank[fmt.Sprint(r["id"])] = uint(i + 1)
		r["id"] = uint(i + 1)
	}
	for i := range rows {
		if k, ok := rank[fmt.Sprint(*key(&rows[i]))]; ok {
			*key(&rows[i]) = k
		}
	}
}

func parityBasicKey(r *ParityBasic) *uint { return &r.ID }

// upsertResult is what one create left: the rows (a pointer to the
// slice), the table, and the error.
type upsertResult struct {
	rows  any
	table []map[string]any
	err   error
}

// sameAsGORM compares a create's result with GORM's: GORM's error as
// creates says, the error's presence, the table, and where both
// succeeded, the rows.
func sameAsGORM(t *testing.T, creates bool, want, got upsertResult) {
	t.Helper()
	if (want.err == nil) != creates {
		t.Fatalf("GORM's error: %v", want.err)
	}
	if (got.err == nil) != (want.err == nil) {
		t.Fatalf("error %v, GORM's %v", got.err, want.err)
	}
	if !reflect.DeepEqual(got.table, want.table) {
		t.Errorf("table differs from GORM's: %d rows, GORM %d", len(got.table), len(want.table))
	}
	if i, same := tmFirstDiff(got.rows, want.rows); want.err == nil && !same {
		t.Errorf("row %d: %s, GORM %s", i, tmElem(got.rows, i), tmElem(want.rows, i))
	}
}
