package bulk_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
	"github.com/gormbulk/bulk/internal/ceiling"
)

// Each live dialect reads its DSN from the environment, defaulting to the
// local servers. Outside CI an unreachable server skips its dialect; with
// CI=true it fails the test.
var dialects = []struct {
	name, env, dsn string
	open           func(dsn string) gorm.Dialector
}{
	{"sqlite", "GORMBULK_SQLITE_DSN", "", sqlite.Open},
	{"postgres", "GORMBULK_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable", postgres.Open},
	{"mysql", "GORMBULK_MYSQL_DSN", mysqlDSN, mysql.Open},
	// MySQL before 8.0 and MariaDB before 10.5 have no RETURNING: GORM then
	// reads keys back through LastInsertId, which this entry exercises.
	{"mysql-lastinsertid", "GORMBULK_MYSQL_DSN", mysqlDSN, func(dsn string) gorm.Dialector {
		return mysql.New(mysql.Config{DSN: dsn, DisableWithReturning: true})
	}},
}

const mysqlDSN = "root:@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC"

// fixedNow makes GORM's timestamps identical across the runs compared.
var fixedNow = time.Date(2026, 11, 23, 10, 30, 15, 123456000, time.UTC)

// eachDialect runs fn once per reachable dialect, as a subtest; dialects
// left out of GORMBULK_DIALECTS skip.
func eachDialect(t *testing.T, fn func(t *testing.T, name string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB)) {
	sqliteFile := filepath.Join(t.TempDir(), "bulk.db")
	selected := selectedDialects(t)
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			skipUnselected(t, selected, d.name)
			dsn := dialectDSN(t, d.name, d.env, d.open, sqliteFile)
			fn(t, d.name, func(t *testing.T, opts ...gorm.Option) *gorm.DB {
				return openDB(t, d.open(dsn), opts...)
			})
		})
	}
}

// onPostgres runs fn on PostgreSQL only, skipping the other dialects.
func onPostgres(t *testing.T, fn func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB)) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if dialect != "postgres" {
			t.Skip("PostgreSQL only")
		}
		fn(t, open)
	})
}

// onMySQLWithoutReturning runs fn on MySQL without RETURNING only (MariaDB
// under DisableWithReturning), skipping the other dialects.
func onMySQLWithoutReturning(t *testing.T, fn func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB)) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if dialect != "mysql-lastinsertid" {
			t.Skip("MySQL without RETURNING only")
		}
		fn(t, open)
	})
}

// onMySQLSteps runs fn on MySQL without RETURNING with sessions whose
// auto_increment_increment is 1 and 2 (a Galera cluster's), each with a
// plain DB and one with the plugin registered.
func onMySQLSteps(t *testing.T, fn func(t *testing.T, step int, plain, db *gorm.DB)) {
	onMySQLWithoutReturning(t, func(t *testing.T, _ func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		for _, step := range []int{1, 2} {
			dsn := fmt.Sprint(liveDSN("mysql"), "&auto_increment_increment=", step)
			open := func() *gorm.DB {
				return openDB(t, mysql.New(mysql.Config{DSN: dsn, DisableWithReturning: true}))
			}
			fn(t, step, open(), withPlugin(t, open()))
		}
	})
}

// eachDialectB runs fn once per reachable dialect (of those
// GORMBULK_DIALECTS selects), as a sub-benchmark, with the plugin
// registered and its table migrated. The RETURNING-less MySQL entry runs
// only where GORMBULK_DIALECTS names it: it differs in upserts alone.
func eachDialectB(b *testing.B, fn func(b *testing.B, name string, db *gorm.DB)) {
	sqliteFile := filepath.Join(b.TempDir(), "bench.db")
	selected := selectedDialects(b)
	for _, d := range dialects {
		if d.name == "mysql-lastinsertid" && !selected[d.name] {
			continue
		}
		b.Run(d.name, func(b *testing.B) {
			skipUnselected(b, selected, d.name)
			dsn := dialectDSN(b, d.name, d.env, d.open, sqliteFile)
			db := withPlugin(b, openDB(b, d.open(dsn)))
			recreate(b, db, &ceiling.Row{})
			fn(b, d.name, db)
		})
	}
}

// dialectsEnv limits the live dialects that run, e.g. "postgres" or
// "sqlite,mysql": CI points it and GORMBULK_POSTGRES_DSN at other
// PostgreSQL versions, where running SQLite and MariaDB again would only
// repeat what the first run proved. Names are exact: "mysql" does not
// include "mysql-lastinsertid".
const dialectsEnv = "GORMBULK_DIALECTS"

// selectedDialects returns the dialects named in GORMBULK_DIALECTS, or nil
// (all of them) when it is unset. A name not in dialects fails the test,
// so that a typo cannot pass by skipping everything.
func selectedDialects(tb testing.TB) map[string]bool {
	tb.Helper()
	v := os.Getenv(dialectsEnv)
	if v == "" {
		return nil
	}
	known := map[string]bool{}
	for _, d := range dialects {
		known[d.name] = true
	}
	selected := map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !known[name] {
			tb.Fatalf("%s=%q: unknown dialect %q", dialectsEnv, v, name)
		}
		selected[name] = true
	}
	if len(selected) == 0 {
		tb.Fatalf("%s=%q names no dialect", dialectsEnv, v)
	}
	return selected
}

// skipUnselected skips a dialect's subtest when GORMBULK_DIALECTS leaves
// it out, before its server is probed: an unlisted server need not run,
// even under CI=true.
func skipUnselected(tb testing.TB, selected map[string]bool, name string) {
	tb.Helper()
	if selected != nil && !selected[name] {
		tb.Skipf("%s not in %s=%s", name, dialectsEnv, os.Getenv(dialectsEnv))
	}
}

// liveDSN returns the DSN of the live dialect name: its variable's value,
// or the local server's.
func liveDSN(name string) string {
	for _, d := range dialects {
		if d.name == name {
			if v := os.Getenv(d.env); v != "" {
				return v
			}
			return d.dsn
		}
	}
	return ""
}

// dialectDSN returns the dialect's DSN, skipping (or under CI=true failing)
// when its server cannot be reached.
func dialectDSN(tb testing.TB, name, env string, open func(string) gorm.Dialector, sqliteFile string) string {
	tb.Helper()
	dsn := liveDSN(name)
	if name == "sqlite" && dsn == "" {
		dsn = sqliteFile + "?_busy_timeout=5000"
	}
	probe, err := gorm.Open(open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s unreachable in CI (%s): %v", name, env, err)
		}
		tb.Skipf("%s unreachable, set %s: %v", name, env, err)
	}
	closeDB(probe)
	return dsn
}

// openDB opens a connection pool that is closed when the test ends.
func openDB(t testing.TB, dialector gorm.Dialector, opts ...gorm.Option) *gorm.DB {
	t.Helper()
	config := &gorm.Config{Logger: logger.Discard, NowFunc: func() time.Time { return fixedNow }}
	for _, o := range opts {
		if c, ok := o.(*gorm.Config); ok {
			c.NowFunc = config.NowFunc
			if c.Logger == nil {
				c.Logger = config.Logger
			}
			config = c
		}
	}
	db, err := gorm.Open(dialector, config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeDB(db) })
	return db
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// withPlugin registers a plugin on db and returns db.
func withPlugin(t testing.TB, db *gorm.DB, config ...bulk.Config) *gorm.DB {
	t.Helper()
	if err := db.Use(bulk.New(config...)); err != nil {
		t.Fatal(err)
	}
	return db
}

// recreate drops and migrates the tables of models.
func recreate(t testing.TB, db *gorm.DB, models ...any) {
	t.Helper()
	if err := db.Migrator().DropTable(models...); err != nil {
		t.Fatal(err)
	}
	if err := db.AutoMigrate(models...); err != nil {
		t.Fatal(err)
	}
}

// tableRows reads a whole table, ordered by its first column, as maps.
func tableRows(t testing.TB, db *gorm.DB, table string) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := db.Table(table).Order("1").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// count returns the number of rows in table.
func count(t testing.TB, db *gorm.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func describe(v any) string { return fmt.Sprintf("%+v", v) }
