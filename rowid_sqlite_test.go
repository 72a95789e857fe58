package bulk_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// TestSQLiteRowidKeys checks when SQLite's keys come from LastInsertId
// instead of RETURNING, and that they are the keys the table holds. Calls
// under 100 rows spare the schema's reads and use RETURNING.
func TestSQLiteRowidKeys(t *testing.T) {
	cases := []struct {
		name      string
		setup     []string // run after the table is migrated
		keys      func(rows []HookRow)
		rows      int // 100 unless set
		returning bool
	}{
		{name: "rowid table", returning: false},
		{name: "table with a trigger", setup: []string{"CREATE TRIGGER hook_rows_t AFTER INSERT ON hook_rows BEGIN SELECT 1; END"}, returning: true},
		{name: "given keys", keys: func(rows []HookRow) {
			for i := range rows {
				rows[i].ID = uint(100 + 2*i)
			}
		}, returning: false},
		{name: "some given keys", keys: func(rows []HookRow) { rows[3].ID = 5000 }, returning: true},
		{name: "without rowid", setup: []string{"DROP TABLE hook_rows", "CREATE TABLE hook_rows (id integer PRIMARY KEY, name text UNIQUE, seen text) WITHOUT ROWID"}, keys: func(rows []HookRow) {
			for i := range rows {
				rows[i].ID = uint(i + 1)
			}
		}, returning: true},
		{name: "integer key not the rowid", setup: []string{"DROP TABLE hook_rows", "CREATE TABLE hook_rows (id bigint PRIMARY KEY, name text UNIQUE, seen text)"}, keys: func(rows []HookRow) {
			for i := range rows {
				rows[i].ID = uint(i + 1)
			}
		}, returning: true},
		{name: "rows deleted before", setup: []string{"INSERT INTO hook_rows (id, name) VALUES (900, 'x')", "DELETE FROM hook_rows"}, returning: false},
		{name: "few rows", rows: 99, returning: true},
		{name: "conflict clause in the table", setup: []string{"DROP TABLE hook_rows", "CREATE TABLE hook_rows (id integer PRIMARY KEY, name text UNIQUE ON CONFLICT IGNORE, seen text)"}, returning: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counter := &statementCounter{Interface: logger.Discard}
			db := withPlugin(t, openDB(t, sqlite.Open(filepath.Join(t.TempDir(), "rowid.db")), &gorm.Config{Logger: counter}))
			recreate(t, db, &HookRow{})
			for _, s := range c.setup {
				if err := db.Exec(s).Error; err != nil {
					t.Fatal(err)
				}
			}
			resetHooks("", "")
			n := c.rows
			if n == 0 {
				n = 100
			}
			rows := hookRows(n)
			if c.keys != nil {
				c.keys(rows)
			}
			counter.sql = nil
			if err := db.Session(&gorm.Session{SkipHooks: true}).Clauses(bulk.Options{BatchSize: 20}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			returning := false
			for _, s := range counter.sql {
				returning = returning || strings.Contains(s, "RETURNING")
			}
			if returning != c.returning {
				t.Errorf("RETURNING used: %v, want %v", returning, c.returning)
			}
			var stored []HookRow
			if err := db.Order("name").Find(&stored).Error; err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stored, rows) {
				t.Errorf("structs and table differ:\n structs %v\n table   %v", rows, stored)
			}
		})
	}
}

// TestSQLiteRowidSchemaChange adds a trigger between two calls: the second
// must see it (SQLite's schema_version moved) and read its keys back with
// RETURNING, not from the cached answer.
func TestSQLiteRowidSchemaChange(t *testing.T) {
	counter := &statementCounter{Interface: logger.Discard}
	db := withPlugin(t, openDB(t, sqlite.Open(filepath.Join(t.TempDir(), "rowid.db")), &gorm.Config{Logger: counter}))
	recreate(t, db, &HookRow{})
	returning := func() bool {
		t.Helper()
		resetHooks("", "")
		rows := hookRows(100)
		counter.sql = nil
		if err := db.Session(&gorm.Session{SkipHooks: true}).Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("DELETE FROM hook_rows").Error; err != nil {
			t.Fatal(err)
		}
		for _, s := range counter.sql {
			if strings.Contains(s, "RETURNING") {
				return true
			}
		}
		return false
	}
	if returning() {
		t.Fatal("RETURNING used before the trigger")
	}
	if err := db.Exec("CREATE TRIGGER hook_rows_t AFTER INSERT ON hook_rows BEGIN SELECT 1; END").Error; err != nil {
		t.Fatal(err)
	}
	if !returning() {
		t.Error("rowids used after a trigger was added")
	}
}

// TimeTextRow's timestamps take the statement's clock reading; Born is
// given by each row.
type TimeTextRow struct {
	ID        uint
	Born      time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TestSQLiteTimesAsText creates rows whose timestamps take a clock reading
// with nanoseconds in another zone, through plain GORM and through the
// plugin (which binds that reading as the driver's text, formatted once),
// and requires the same text stored, byte for byte, and the same type.
func TestSQLiteTimesAsText(t *testing.T) {
	zoned := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("", 5*3600+45*60))
	stored := func(db *gorm.DB) []string {
		t.Helper()
		db.Config.NowFunc = func() time.Time { return zoned }
		recreate(t, db, &TimeTextRow{})
		rows := make([]TimeTextRow, 300)
		for i := range rows {
			rows[i].Born = zoned.Add(time.Duration(i) * time.Hour).In(time.UTC)
		}
		if err := db.Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		var out []string
		if err := db.Raw("SELECT CAST(born AS TEXT) || '|' || typeof(born) || '|' || CAST(created_at AS TEXT) || '|' || typeof(created_at) || '|' || CAST(updated_at AS TEXT) FROM time_text_rows ORDER BY id").Scan(&out).Error; err != nil {
			t.Fatal(err)
		}
		return out
	}
	file := filepath.Join(t.TempDir(), "times.db")
	want := stored(openDB(t, sqlite.Open(file)))
	got := stored(withPlugin(t, openDB(t, sqlite.Open(file)), bulk.Config{Auto: true}))
	if len(want) != 300 || !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %d rows, GORM %d; first %q, GORM's %q", len(got), len(want), fmt.Sprint(got[:min(1, len(got))]), fmt.Sprint(want[:min(1, len(want))]))
	}
}
