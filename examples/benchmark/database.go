package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// dialects lists the databases, the environment variable the tests read
// each one's DSN from, and the DSN of the local server.
var dialects = map[string]struct {
	env, dsn string
	open     func(string) gorm.Dialector
}{
	"sqlite":   {"GORMBULK_SQLITE_DSN", "", sqlite.Open},
	"postgres": {"GORMBULK_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable", postgres.Open},
	"mysql":    {"GORMBULK_MYSQL_DSN", "root:@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC", mysql.Open},
}

// bench is the database under test, with the plugin registered.
type bench struct {
	dialect   string
	version   string // server (or library) version
	db        *gorm.DB
	sqlDB     *sql.DB
	maxParams int  // bind parameters one statement may carry
	infile    bool // MySQL: the server accepts LOAD DATA LOCAL INFILE
}

// open connects to the dialect's database. The cleanup it returns closes
// the pool and removes SQLite's temporary directory.
func open(ctx context.Context, dialect, dsn string) (*bench, func(), error) {
	d, ok := dialects[dialect]
	if !ok {
		return nil, nil, fmt.Errorf("unknown -dialect %q (want sqlite, postgres or mysql)", dialect)
	}
	if dsn == "" {
		dsn = os.Getenv(d.env)
	}
	if dsn == "" {
		dsn = d.dsn
	}
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	if dialect == "sqlite" && dsn == "" {
		dir, err := os.MkdirTemp("", "gormbulk-benchmark-")
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		dsn = filepath.Join(dir, "benchmark.db") + "?_busy_timeout=5000"
	}

	db, err := gorm.Open(d.open(dsn), &gorm.Config{Logger: logger.Discard})
	if err == nil {
		err = db.Use(bulk.New())
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("open %s: %w", dialect, err)
	}
	b := &bench{dialect: dialect, db: db.WithContext(ctx), maxParams: 65535}
	b.sqlDB, _ = db.DB()
	cleanups = append(cleanups, func() { b.sqlDB.Close() })

	version := map[string]string{"sqlite": "SELECT 'SQLite ' || sqlite_version()", "postgres": "SELECT 'PostgreSQL ' || current_setting('server_version')", "mysql": "SELECT VERSION()"}
	err = b.sqlDB.QueryRowContext(ctx, version[dialect]).Scan(&b.version)
	b.version, _, _ = strings.Cut(b.version, " (") // PostgreSQL's build details
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("prepare %s: %w", dialect, err)
	}
	switch dialect {
	case "sqlite":
		// SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite (3.32.0 and later).
		b.maxParams = 32766
	case "mysql":
		var on sql.NullBool
		b.infile = b.sqlDB.QueryRowContext(ctx, "SELECT @@local_infile").Scan(&on) == nil && on.Bool
	}
	return b, cleanup, nil
}

// recreate drops the models' tables and creates them again.
func (b *bench) recreate(models ...any) error {
	if err := b.db.Migrator().DropTable(models...); err != nil {
		return err
	}
	return b.db.AutoMigrate(models...)
}

// empty empties a table and restarts its key sequence. TRUNCATE leaves no
// dead rows behind to slow the next run's unique checks, as DELETE would on
// PostgreSQL; SQLite truncates on an unqualified DELETE.
func (b *bench) empty(table string) error {
	switch b.dialect {
	case "sqlite":
		if err := b.db.Exec("DELETE FROM " + table).Error; err != nil {
			return err
		}
		return b.db.Exec("DELETE FROM sqlite_sequence WHERE name = ?", table).Error
	case "postgres":
		return b.db.Exec("TRUNCATE TABLE " + table + " RESTART IDENTITY").Error
	default:
		return b.db.Exec("TRUNCATE TABLE " + table).Error
	}
}

// verifyCount checks that table holds n rows.
func (b *bench) verifyCount(table string, n int) error {
	var count int64
	if err := b.db.Table(table).Count(&count).Error; err != nil {
		return err
	}
	if count != int64(n) {
		return fmt.Errorf("%s holds %d rows, want %d", table, count, n)
	}
	return nil
}

// verifyID checks that the row of table whose email is email has the key
// id, which a method that reads keys back gave the row's struct.
func (b *bench) verifyID(table, email string, id uint) error {
	var stored uint
	if err := b.db.Table(table).Select("id").Where("email = ?", email).Scan(&stored).Error; err != nil {
		return err
	}
	if id == 0 || id != stored {
		return fmt.Errorf("%s has ID %d in the struct, %d in the table", email, id, stored)
	}
	return nil
}
