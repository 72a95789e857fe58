package bulk_test

import (
	"fmt"
	"strings"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// TestPostgresUnnest checks which calls PostgreSQL writes as column arrays:
// plain values do from 1,600 values on (ParityBasic writes 12 columns, 13
// with its key), and fewer go as VALUES, sparing the catalog's round trip;
// a chunk that needs DEFAULT for some row's key keeps VALUES. The parity suite checks both store what GORM stores.
func TestPostgresUnnest(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		for _, c := range []struct {
			name   string
			rows   int
			keys   func(rows []ParityBasic)
			unnest bool
		}{
			{"generated keys", 134, func([]ParityBasic) {}, true},
			{"given keys", 124, func(rows []ParityBasic) {
				for i := range rows {
					rows[i].ID = uint(i + 1)
				}
			}, true},
			{"some given keys", 150, func(rows []ParityBasic) { rows[1].ID = 900 }, false},
			{"few values", 133, func([]ParityBasic) {}, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &ParityBasic{})
				rows := parityBasicRows(c.rows)
				c.keys(rows)
				counter.sql = nil
				if err := db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error; err != nil {
					t.Fatal(err)
				}
				var insert string
				for _, s := range counter.sql {
					if strings.HasPrefix(s, "INSERT") {
						insert = s
					}
				}
				if got := strings.Contains(insert, "unnest("); got != c.unnest {
					t.Errorf("unnest used: %v, want %v\n%.300s", got, c.unnest, insert)
				}
			})
		}
	})
}

// UnnestWays has columns whose values GORM's parameters send in text
// (strings into uuid and jsonb) and one whose Valuer pgx parses into a
// binary array.
type UnnestWays struct {
	ID   uint
	UUID string   `gorm:"type:uuid"`
	Doc  string   `gorm:"type:jsonb"`
	Tags CopyTags `gorm:"type:text[]"`
}

// TestPostgresUnnestWays checks each column travels in the format its
// parameter would: strings into uuid as text cast on the server, into
// jsonb as they are; and a chunk whose array column pgx would encode in
// binary keeps VALUES. TestTypeMatrix checks what each stores.
func TestPostgresUnnestWays(t *testing.T) {
	t.Cleanup(bulk.SetCatalogMinRows(1))
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		for _, c := range []struct {
			name string
			tags CopyTags
			want []string // in the INSERT, or none for VALUES
		}{
			{"no tags", nil, []string{"unnest(", "u.c1::uuid,u.c2,", "::jsonb[]"}},
			{"tags", CopyTags{"a", "b"}, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &UnnestWays{})
				rows := make([]UnnestWays, 10)
				for i := range rows {
					rows[i] = UnnestWays{UUID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Doc: `{"i": 1}`, Tags: c.tags}
				}
				counter.sql = nil
				if err := db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error; err != nil {
					t.Fatal(err)
				}
				insert := counter.sql[len(counter.sql)-1]
				if c.want == nil && strings.Contains(insert, "unnest(") {
					t.Errorf("want VALUES, ran %.300s", insert)
				}
				for _, w := range c.want {
					if !strings.Contains(insert, w) {
						t.Errorf("INSERT without %s: %.300s", w, insert)
					}
				}
			})
		}
	})
}

// TestPostgresSimpleProtocol: pgx's simple protocol interpolates arguments
// as text and cannot send an []any as an array, so chunks go as VALUES
// there; COPY is unaffected.
func TestPostgresSimpleProtocol(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		dsn := liveDSN("postgres")
		db := withPlugin(t, openDB(t, postgres.New(postgres.Config{DSN: dsn, PreferSimpleProtocol: true}), &gorm.Config{Logger: counter}))
		recreate(t, db, &ParityBasic{})
		for _, c := range []struct {
			method bulk.Method
			want   string
		}{{bulk.Values, "INSERT"}, {bulk.Copy, "COPY"}} {
			rows := parityBasicRows(10)
			for i := range rows {
				rows[i].Email = fmt.Sprint(c.method, i)
			}
			counter.sql = nil
			if err := db.Clauses(bulk.Options{Method: c.method}).Create(&rows).Error; err != nil {
				t.Fatalf("%v: %v", c.method, err)
			}
			last := counter.sql[len(counter.sql)-1]
			if !strings.HasPrefix(last, c.want) || strings.Contains(last, "unnest(") {
				t.Errorf("%v ran %.80s, want %s without unnest", c.method, last, c.want)
			}
			if rows[9].ID == 0 {
				t.Errorf("%v: IDs not read back", c.method)
			}
		}
	})
}
