package bulk_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/gormbulk/bulk"
)

// emptyCatalogRows empties catalog_rows and restarts its keys, as a role
// that does not own the sequence may (TRUNCATE … RESTART IDENTITY needs
// its owner).
var emptyCatalogRows = []string{"TRUNCATE catalog_rows", "SELECT setval(pg_get_serial_sequence('catalog_rows', 'id'), 1, false)"}

// CatalogRow is written before and after its table changes under the
// plugin's cached catalog.
type CatalogRow struct {
	ID   uint
	Code string
}

// TestCatalogChanges changes what the catalog says of a table between two
// calls and requires the second to store what plain GORM stores: the
// cached answer is never served once the table's definition, the table
// behind the name (search_path, drop and recreate), the table's triggers
// or the role (SET ROLE, under row-level security) changed. A stale cast to uuid would fail on the text given; a
// stale COPY would prove keys from the sequence that a new trigger
// changes.
func TestCatalogChanges(t *testing.T) {
	t.Cleanup(bulk.SetCatalogMinRows(1))
	const upper = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		exec := func(t *testing.T, db *gorm.DB, qs ...string) {
			t.Helper()
			for _, q := range qs {
				if err := db.Exec(q).Error; err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
		}
		t.Cleanup(func() {
			exec(t, plain, "DROP TABLE IF EXISTS catalog_rows", "DROP SCHEMA IF EXISTS gormbulk_other CASCADE", "DROP FUNCTION IF EXISTS catalog_rows_shift",
				"DROP ROLE IF EXISTS gormbulk_catalog")
		})
		for _, c := range []struct {
			name          string
			before, after []string
			method        bulk.Method
			rows          int
		}{
			{"column type", []string{"CREATE TABLE catalog_rows (id bigserial PRIMARY KEY, code uuid)"},
				[]string{"ALTER TABLE catalog_rows ALTER COLUMN code TYPE text"}, bulk.Values, 10},
			{"recreated", []string{"CREATE TABLE catalog_rows (id bigserial PRIMARY KEY, code uuid)"},
				[]string{"DROP TABLE catalog_rows", "CREATE TABLE catalog_rows (code text, id bigserial PRIMARY KEY)"}, bulk.Values, 10},
			{"search_path", []string{
				"CREATE TABLE catalog_rows (id bigserial PRIMARY KEY, code uuid)",
				"CREATE SCHEMA gormbulk_other", "CREATE TABLE gormbulk_other.catalog_rows (id bigserial PRIMARY KEY, code text)"},
				[]string{"SET search_path TO gormbulk_other, public"}, bulk.Values, 10},
			{"trigger", []string{"CREATE TABLE catalog_rows (id bigserial PRIMARY KEY, code text)"}, []string{
				"CREATE OR REPLACE FUNCTION catalog_rows_shift() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.id := NEW.id + 1000; RETURN NEW; END$$",
				"CREATE TRIGGER catalog_rows_shift BEFORE INSERT ON catalog_rows FOR EACH ROW EXECUTE FUNCTION catalog_rows_shift()"}, bulk.AnyMethod, 600},
			// Row-level security does not apply to the superuser who made
			// the first call, and applies to the role: COPY refuses it.
			{"role", []string{
				"CREATE TABLE catalog_rows (id bigserial PRIMARY KEY, code text)",
				"ALTER TABLE catalog_rows ENABLE ROW LEVEL SECURITY",
				"CREATE POLICY catalog_all ON catalog_rows FOR ALL USING (true) WITH CHECK (true)",
				"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gormbulk_catalog') THEN CREATE ROLE gormbulk_catalog; END IF; END $$",
				"GRANT SELECT, INSERT, TRUNCATE ON catalog_rows TO gormbulk_catalog",
				"GRANT USAGE, SELECT, UPDATE ON SEQUENCE catalog_rows_id_seq TO gormbulk_catalog"},
				[]string{"SET ROLE gormbulk_catalog"}, bulk.AnyMethod, 600},
		} {
			t.Run(c.name, func(t *testing.T) {
				// One connection, so that SET search_path holds for both
				// calls and for GORM's.
				db := withPlugin(t, open(t))
				sqlDB, err := db.DB()
				if err != nil {
					t.Fatal(err)
				}
				sqlDB.SetMaxOpenConns(1)
				exec(t, db, "RESET ROLE", "DROP TABLE IF EXISTS catalog_rows", "DROP SCHEMA IF EXISTS gormbulk_other CASCADE", "RESET search_path")
				exec(t, db, c.before...)
				rows := make([]CatalogRow, c.rows)
				for i := range rows {
					rows[i].Code = strings.ToLower(upper)
				}
				if err := db.Clauses(bulk.Options{Method: c.method}).Create(&rows).Error; err != nil {
					t.Fatalf("before: %v", err)
				}
				exec(t, db, c.after...)
				exec(t, db, emptyCatalogRows...)

				want := make([]CatalogRow, c.rows)
				got := make([]CatalogRow, c.rows)
				for i := range want {
					want[i].Code, got[i].Code = fmt.Sprint(upper, i), fmt.Sprint(upper, i)
				}
				if err := db.Session(&gorm.Session{}).Create(&want).Error; err != nil {
					t.Fatalf("GORM: %v", err)
				}
				wantTable := tableRows(t, db, "catalog_rows")
				exec(t, db, emptyCatalogRows...)
				if err := db.Clauses(bulk.Options{Method: c.method}).Create(&got).Error; err != nil {
					t.Fatalf("after: %v", err)
				}
				if gotTable := tableRows(t, db, "catalog_rows"); !reflect.DeepEqual(gotTable, wantTable) {
					t.Errorf("table differs from GORM's:\n got %v\nwant %v", gotTable[:3], wantTable[:3])
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("structs differ from GORM's:\n got %v\nwant %v", got[:3], want[:3])
				}
				exec(t, db, "RESET search_path", "RESET ROLE")
			})
		}
	})
}
