package bulk_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gormbulk/bulk"
)

// The shape models are the less usual ways GORM models are written: a key
// alone, small integer keys, gorm.Model, reserved words and other names
// that need quoting, a serializer that turns an integer into a time, an
// embedded pointer whose fields have defaults, a schema-qualified table,
// hooks that set fields, associations that refer to a column other than
// the key, keys of a named type, and associations that are polymorphic,
// self-referential or nested three deep.

// ShapeKeyOnly has no column but its generated key: GORM writes one row of
// defaults for any number of structs (INSERT … DEFAULT VALUES, MySQL's
// VALUES()), and only where some row gives a key does it write them all.
type ShapeKeyOnly struct {
	ID uint `gorm:"primaryKey"`
}

type ShapeSmallKey struct {
	ID   int16 `gorm:"primaryKey"`
	Name string
}

type ShapeModel struct {
	gorm.Model
	Name  string
	Price float64
}

type ShapeQuoted struct {
	ID    uint   `gorm:"primaryKey;column:Id"`
	Order int    `gorm:"column:order"`
	Group string `gorm:"column:group;size:32"`
	Mixed string `gorm:"column:Mixed Case;size:32"`
	When  int64  `gorm:"column:when;serializer:unixtime;type:timestamp"`
}

type shapeStyle struct {
	Color string `gorm:"size:16;default:blue"`
	Size  int    `gorm:"default:7"`
}

type ShapeStyled struct {
	ID uint `gorm:"primaryKey"`
	*shapeStyle
	Name string
}

// shapeSchema is the schema ShapeQualified's table is named in: SQLite's
// main database, PostgreSQL's current schema, MySQL's current database.
var shapeSchema string

type ShapeQualified struct {
	ID   uint
	Name string
}

func (ShapeQualified) TableName() string { return shapeSchema + ".shape_qualifieds" }

type ShapeHooked struct {
	ID    int `gorm:"primaryKey"`
	Name  string
	Upper string
	Seen  int `gorm:"-"`
}

func (h *ShapeHooked) BeforeCreate(*gorm.DB) error { h.Upper = strings.ToUpper(h.Name); return nil }
func (h *ShapeHooked) AfterCreate(*gorm.DB) error  { h.Seen = h.ID * 2; return nil }

type ShapeToy struct {
	ID        uint `gorm:"primaryKey"`
	Name      string
	OwnerID   uint
	OwnerType string
}

type ShapeKid struct {
	ID   uint `gorm:"primaryKey"`
	Name string
	Toys []ShapeToy `gorm:"polymorphic:Owner"`
	Pet  *ShapeToy  `gorm:"polymorphic:Owner"`
}

type ShapeEmployee struct {
	ID        uint `gorm:"primaryKey"`
	Name      string
	ManagerID *uint
	Manager   *ShapeEmployee
	Reports   []ShapeEmployee `gorm:"foreignKey:ManagerID"`
}

type ShapeAuthor struct {
	ID    uint `gorm:"primaryKey"`
	Name  string
	Books []ShapeBook
}

type ShapeBook struct {
	ID            uint `gorm:"primaryKey"`
	ShapeAuthorID uint
	Title         string
	Chapters      []ShapeChapter
}

type ShapeChapter struct {
	ID          uint `gorm:"primaryKey"`
	ShapeBookID uint
	Title       string
	Echo        uint `gorm:"-"` // the key AfterCreate saw
}

func (c *ShapeChapter) AfterCreate(*gorm.DB) error { c.Echo = c.ID; return nil }

// ShapeHolder's has-many and has-one refer to its code, not its key.
type ShapeHolder struct {
	ID      uint
	Code    string          `gorm:"uniqueIndex;size:32"`
	Entries []ShapeEntry    `gorm:"foreignKey:HolderCode;references:Code"`
	Card    *ShapeCard      `gorm:"foreignKey:OwnerCode;references:Code"`
	Ledger  ShapeLedgerID   // a named key type as a plain column
	Notes   []ShapeNamedKey `gorm:"foreignKey:HolderID"`
}

type ShapeEntry struct {
	ID         uint
	HolderCode string `gorm:"size:32"`
	Amount     int
}

type ShapeCard struct {
	ID        uint
	OwnerCode string `gorm:"size:32"`
	Number    string
}

type ShapeLedgerID uint64

// ShapeNamedKey has a key of a named type and a pointer foreign key.
type ShapeNamedKey struct {
	ID       ShapeLedgerID `gorm:"primaryKey"`
	HolderID *uint
	Text     string
}

// shapeCase is one model (and its associations' models), with the tables
// they fill and fresh rows to create.
type shapeCase struct {
	name   string
	models []any
	tables []string
	rows   func() any
	// mixedKeys is set where some rows give their key and others leave
	// it to the database: without RETURNING, GORM's LastInsertId
	// arithmetic gives the rows after a given key other rows' keys, and
	// the plugin's structs hold their own (TestMySQLMixedKeys).
	mixedKeys bool
}

func shapeCases() []shapeCase {
	epoch := time.Date(2024, 3, 1, 2, 3, 4, 0, time.UTC).Unix()
	keyOnly := func(n int, given func(i int) bool) shapeCase {
		return shapeCase{models: []any{&ShapeKeyOnly{}}, tables: []string{"shape_key_onlies"}, rows: tmRows(n, func(i int) ShapeKeyOnly {
			if given(i) {
				return ShapeKeyOnly{ID: uint(100000 + i)}
			}
			return ShapeKeyOnly{}
		})}
	}
	cases := []shapeCase{
		keyOnly(5, func(int) bool { return false }),
		keyOnly(1300, func(int) bool { return false }),
		// Chunks of 7 without a given key write no column of their own.
		keyOnly(1300, func(i int) bool { return i%500 == 3 }),
		{models: []any{&ShapeSmallKey{}}, tables: []string{"shape_small_keys"}, rows: tmRows(1300, func(i int) ShapeSmallKey {
			return ShapeSmallKey{Name: fmt.Sprint(i)}
		})},
		{models: []any{&ShapeModel{}}, tables: []string{"shape_models"}, rows: tmRows(300, func(i int) ShapeModel {
			r := ShapeModel{Name: fmt.Sprint(i), Price: float64(i) / 8}
			if i%7 == 0 {
				r.CreatedAt = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			return r
		})},
		{models: []any{&ShapeQuoted{}}, tables: []string{"shape_quoteds"}, rows: tmRows(300, func(i int) ShapeQuoted {
			return ShapeQuoted{Order: i, Group: "g", Mixed: "M", When: epoch + int64(i)}
		})},
		{models: []any{&ShapeStyled{}}, tables: []string{"shape_styleds"}, rows: tmRows(300, func(i int) ShapeStyled {
			r := ShapeStyled{Name: fmt.Sprint(i)}
			if i%2 == 0 {
				r.shapeStyle = &shapeStyle{Color: "red"}
			}
			return r
		})},
		{models: []any{&ShapeQualified{}}, tables: []string{"shape_qualifieds"}, rows: tmRows(300, func(i int) ShapeQualified {
			return ShapeQualified{Name: fmt.Sprint(i)}
		})},
		{models: []any{&ShapeHooked{}}, tables: []string{"shape_hookeds"}, rows: tmRows(300, func(i int) *ShapeHooked {
			return &ShapeHooked{Name: fmt.Sprint("h", i)}
		})},
		{models: []any{&ShapeKid{}, &ShapeToy{}}, tables: []string{"shape_kids", "shape_toys"}, rows: tmRows(300, func(i int) ShapeKid {
			r := ShapeKid{Name: fmt.Sprint("k", i), Toys: []ShapeToy{{Name: "a"}, {Name: "b"}}}
			if i%2 == 0 {
				r.Pet = &ShapeToy{Name: "pet"}
			}
			return r
		})},
		{models: []any{&ShapeHolder{}, &ShapeEntry{}, &ShapeCard{}, &ShapeNamedKey{}}, tables: []string{"shape_holders", "shape_entries", "shape_cards", "shape_named_keys"},
			rows: tmRows(300, func(i int) ShapeHolder {
				r := ShapeHolder{Code: fmt.Sprint("c", i), Ledger: ShapeLedgerID(i * 3), Entries: []ShapeEntry{{Amount: i}, {Amount: -i}}, Notes: []ShapeNamedKey{{Text: "n"}}}
				if i%2 == 0 {
					r.Card = &ShapeCard{Number: fmt.Sprint("n", i)}
				}
				return r
			})},
		{models: []any{&ShapeEmployee{}}, tables: []string{"shape_employees"}, rows: tmRows(200, func(i int) ShapeEmployee {
			r := ShapeEmployee{Name: fmt.Sprint("e", i), Reports: []ShapeEmployee{{Name: fmt.Sprint("r", i)}}}
			if i%3 == 0 {
				r.Manager = &ShapeEmployee{Name: fmt.Sprint("m", i)}
			}
			return r
		})},
		{models: []any{&ShapeAuthor{}, &ShapeBook{}, &ShapeChapter{}}, tables: []string{"shape_authors", "shape_books", "shape_chapters"}, rows: tmRows(200, func(i int) ShapeAuthor {
			return ShapeAuthor{Name: fmt.Sprint("a", i), Books: []ShapeBook{{Title: "b1", Chapters: []ShapeChapter{{Title: "c1"}, {Title: "c2"}}}, {Title: "b2"}}}
		})},
	}
	for i := range cases[:3] {
		cases[i].name = fmt.Sprint("key only ", []string{"5 rows", "1300 rows", "some keys given"}[i])
	}
	cases[2].mixedKeys = true
	for i := range cases[3:] {
		cases[3+i].name = strings.TrimPrefix(reflect.TypeOf(cases[3+i].models[0]).Elem().Name(), "Shape")
	}
	return cases
}

// TestParityShapes creates each shape with GORM and with the plugin, in
// Auto mode, in chunks of 7, by statements, with prepared statements and
// without GORM's transaction, and requires GORM's tables, structs and
// RowsAffected.
func TestParityShapes(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		switch {
		case dialect == "sqlite":
			shapeSchema = "main"
		case dialect == "postgres":
			if err := plain.Raw("SELECT current_schema()").Scan(&shapeSchema).Error; err != nil {
				t.Fatal(err)
			}
		default:
			shapeSchema = plain.Migrator().CurrentDatabase()
		}
		auto := withPlugin(t, open(t), bulk.Config{Auto: true})
		runs := []struct {
			name string
			db   *gorm.DB
		}{
			{"auto", auto},
			{"batch 7", auto.Clauses(bulk.Options{BatchSize: 7}).Session(&gorm.Session{})},
			{"values", auto.Clauses(bulk.Options{Method: bulk.Values}).Session(&gorm.Session{})},
			{"prepared", withPlugin(t, open(t, &gorm.Config{PrepareStmt: true}), bulk.Config{Auto: true})},
			{"no transaction", withPlugin(t, open(t, &gorm.Config{SkipDefaultTransaction: true}), bulk.Config{Auto: true})},
		}
		for _, c := range shapeCases() {
			t.Run(c.name, func(t *testing.T) {
				run := func(db *gorm.DB) (any, *gorm.DB, [][]map[string]any) {
					t.Helper()
					recreate(t, plain, c.models...)
					rows := c.rows()
					result := db.Create(rows)
					var tables [][]map[string]any
					for _, table := range c.tables {
						tables = append(tables, tableRows(t, plain, table))
					}
					return rows, result, tables
				}
				want, wantResult, wantTables := run(plain)
				if wantResult.Error != nil {
					t.Fatalf("plain GORM: %v", wantResult.Error)
				}
				for _, r := range runs {
					got, result, gotTables := run(r.db)
					if result.Error != nil {
						t.Errorf("%s: %v", r.name, result.Error)
						continue
					}
					if result.RowsAffected != wantResult.RowsAffected {
						t.Errorf("%s: RowsAffected %d, GORM %d", r.name, result.RowsAffected, wantResult.RowsAffected)
					}
					if c.mixedKeys && dialect == "mysql-lastinsertid" {
						holdsTableKeys(t, r.name, got, gotTables[0])
					} else {
						sameRows(t, r.name, got, want)
					}
					for i, table := range c.tables {
						if !reflect.DeepEqual(gotTables[i], wantTables[i]) {
							t.Errorf("%s: %s differs from GORM's: %d rows, GORM %d\n got %.2000v\nwant %.2000v", r.name, table, len(gotTables[i]), len(wantTables[i]), gotTables[i], wantTables[i])
						}
					}
				}
			})
		}
	})
}

// holdsTableKeys requires the "id" of each row of a pointer to a slice of rows
// to be the key of a row of the table, each once, every one held.
func holdsTableKeys(t *testing.T, run string, got any, table []map[string]any) {
	t.Helper()
	rows := reflect.ValueOf(got).Elem()
	var held, stored []string
	for i := range rows.Len() {
		held = append(held, fmt.Sprint(reflect.Indirect(rows.Index(i)).FieldByName("ID").Interface()))
	}
	for _, row := range table {
		stored = append(stored, fmt.Sprint(row["id"]))
	}
	slices.Sort(held)
	slices.Sort(stored)
	if !slices.Equal(held, stored) {
		t.Errorf("%s: the structs do not hold the table's keys, each once", run)
	}
}

// sameRows compares two pointers to slices of rows, and names the first
// row that differs, as JSON (which follows pointers).
func sameRows(t *testing.T, run string, got, want any) {
	t.Helper()
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range w.Len() {
		if !reflect.DeepEqual(g.Index(i).Interface(), w.Index(i).Interface()) {
			gj, _ := json.Marshal(g.Index(i).Interface())
			wj, _ := json.Marshal(w.Index(i).Interface())
			t.Errorf("%s: row %d differs from GORM's\n got %s\nwant %s", run, i, gj, wj)
			return
		}
	}
}

// The Full models have every kind of association GORM writes.

type FullUser struct {
	gorm.Model
	Name          string
	Age           uint
	Birthday      *time.Time
	Account       FullAccount
	Pets          []*FullPet
	Toys          []FullToy `gorm:"polymorphic:Owner"`
	FullCompanyID *int
	FullCompany   FullCompany
	ManagerID     *uint
	Manager       *FullUser
	Team          []FullUser     `gorm:"foreignkey:ManagerID"`
	Languages     []FullLanguage `gorm:"many2many:FullUserSpeak;"`
	Friends       []*FullUser    `gorm:"many2many:full_user_friends;"`
	Active        bool
}

type FullAccount struct {
	gorm.Model
	FullUserID sql.NullInt64
	Number     string
}

type FullPet struct {
	gorm.Model
	FullUserID *uint
	Name       string
	Toy        FullToy `gorm:"polymorphic:Owner;"`
}

type FullToy struct {
	gorm.Model
	Name      string
	OwnerID   string
	OwnerType string
}

type FullCompany struct {
	ID   int
	Name string
}

type FullLanguage struct {
	Code string `gorm:"primarykey"`
	Name string
}

// fullUsers gives n users two of each has-many and many-to-many (the
// languages seven in all, so most already exist), a company of their own
// and every third a manager.
func fullUsers(n int) []FullUser {
	birthday := time.Date(2000, 1, 2, 3, 4, 5, 0, time.UTC)
	users := make([]FullUser, n)
	for i := range users {
		u := FullUser{Name: fmt.Sprint("u", i), Age: uint(i), Birthday: &birthday, Active: i%2 == 0,
			Account:     FullAccount{Number: fmt.Sprint("a", i)},
			FullCompany: FullCompany{Name: fmt.Sprint("c", i%5)},
		}
		for k := 0; k < 2; k++ {
			u.Pets = append(u.Pets, &FullPet{Name: fmt.Sprint("p", i, k), Toy: FullToy{Name: fmt.Sprint("pt", i, k)}})
			u.Toys = append(u.Toys, FullToy{Name: fmt.Sprint("t", i, k)})
			u.Team = append(u.Team, FullUser{Name: fmt.Sprint("team", i, k)})
			u.Languages = append(u.Languages, FullLanguage{Code: fmt.Sprint("l", (i+k)%7), Name: "x"})
			u.Friends = append(u.Friends, &FullUser{Name: fmt.Sprint("f", i, k)})
		}
		if i%3 == 0 {
			u.Manager = &FullUser{Name: fmt.Sprint("m", i)}
		}
		users[i] = u
	}
	return users
}

// TestParityEveryAssociation creates users with every kind of association
// at once, as GORM's own test models have them: has-one with a
// sql.NullInt64 foreign key, has-many of pointers whose rows have a
// polymorphic has-one, polymorphic has-many with a string foreign key,
// belongs-to, a self-referential belongs-to and has-many, many-to-many to
// another table and to the users' own. Tables and structs are GORM's; on
// MySQL, whose keys may differ by InnoDB's gaps, every table with its
// keys and foreign keys replaced by the keys' ranks.
func TestParityEveryAssociation(t *testing.T) {
	models := []any{&FullUser{}, &FullAccount{}, &FullPet{}, &FullToy{}, &FullCompany{}, &FullLanguage{}}
	tables := []string{"full_users", "full_accounts", "full_pets", "full_toys", "full_companies", "full_languages", "full_user_speaks", "full_user_friends"}
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		auto := withPlugin(t, open(t), bulk.Config{Auto: true})
		for _, size := range []struct{ users, batch int }{{40, 0}, {40, 7}, {1500, 0}, {1500, 700}} {
			if testing.Short() && size.users > 100 {
				continue
			}
			t.Run(fmt.Sprint(size.users, " users, batch ", size.batch), func(t *testing.T) {
				run := func(db *gorm.DB) ([]FullUser, [][]map[string]any) {
					t.Helper()
					if err := plain.Migrator().DropTable("full_user_speaks", "full_user_friends"); err != nil {
						t.Fatal(err)
					}
					recreate(t, plain, models...)
					users := fullUsers(size.users)
					if err := db.Create(&users).Error; err != nil {
						t.Fatal(err)
					}
					var out [][]map[string]any
					for _, table := range tables {
						out = append(out, tableRows(t, plain, table))
					}
					return users, out
				}
				want, wantTables := run(plain)
				got, gotTables := run(auto.Clauses(bulk.Options{BatchSize: size.batch}))
				if strings.HasPrefix(dialect, "mysql") {
					fullRanks(wantTables)
					fullRanks(gotTables)
				} else {
					sameRows(t, "plugin", &got, &want)
				}
				for i, table := range tables {
					if !reflect.DeepEqual(gotTables[i], wantTables[i]) {
						t.Errorf("%s differs from GORM's: %d rows, GORM %d\n got %.2000v\nwant %.2000v", table, len(gotTables[i]), len(wantTables[i]), gotTables[i], wantTables[i])
					}
				}
			})
		}
	})
}

// fullRanks replaces the keys in a TestParityEveryAssociation run's tables
// (users, accounts, pets, toys, companies, languages, the two join tables),
// and the foreign keys that hold them, by their ranks in their tables.
func fullRanks(tables [][]map[string]any) {
	rank := map[int]map[string]any{}
	for _, k := range []int{0, 1, 2, 3, 4} {
		rank[k] = map[string]any{}
		for i, r := range tables[k] {
			rank[k][fmt.Sprint(r["id"])] = i + 1
		}
	}
	of := func(k int, v any) any {
		if v == nil {
			return nil
		}
		return rank[k][fmt.Sprint(v)]
	}
	for _, k := range []int{0, 1, 2, 3, 4} {
		for _, r := range tables[k] {
			r["id"] = of(k, r["id"])
		}
	}
	for _, r := range tables[0] {
		r["manager_id"], r["full_company_id"] = of(0, r["manager_id"]), of(4, r["full_company_id"])
	}
	for _, r := range tables[1] {
		r["full_user_id"] = of(0, r["full_user_id"])
	}
	for _, r := range tables[2] {
		r["full_user_id"] = of(0, r["full_user_id"])
	}
	for _, r := range tables[3] {
		if fmt.Sprint(r["owner_type"]) == "full_users" {
			r["owner_id"] = of(0, r["owner_id"])
		} else {
			r["owner_id"] = of(2, r["owner_id"])
		}
	}
	for _, r := range tables[6] {
		r["full_user_id"] = of(0, r["full_user_id"])
	}
	for _, r := range tables[7] {
		r["full_user_id"], r["friend_id"] = of(0, r["full_user_id"]), of(0, r["friend_id"])
	}
	for _, k := range []int{6, 7} {
		slices.SortFunc(tables[k], func(a, b map[string]any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
}
