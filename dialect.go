package bulk

import (
	"context"
	"database/sql/driver"
	"reflect"
	"strconv"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"
)

// dialect is what the plugin knows of a DB's dialect: what one statement
// may carry (a zero limit means the dialect sets none), how statements are
// sent, and which of the faster paths the dialect and driver offer.
type dialect struct {
	maxParams int // bind parameters per statement

	// targetParams sizes statements when the caller sets no BatchSize.
	// Measured here (BenchmarkCreate), PostgreSQL and MariaDB load fastest
	// with statements of some thousands of parameters rather than the
	// maximum: 1,000-2,000 rows of 8 columns ran 10-30% faster than 8,000.
	targetParams int

	maxRows int // rows per VALUES list

	// prepare reuses one prepared statement across chunks of equal shape.
	// Drivers that cache statements themselves (pgx) or do not prepare
	// server-side (go-mssqldb) gain nothing from it. prepareFirst prepares
	// it from a shape's first chunk on, where the driver prepares every
	// statement it runs (SQLite): there the first chunk's preparing costs
	// nothing more, and the second chunk's is saved.
	prepare, prepareFirst bool

	// gormCreate is set where the dialect creates with GORM's own handler,
	// which executes SQL built ahead of it (see buildsAhead).
	gormCreate bool

	// postgres asks Initialize to look for pgx (see preparePostgres), which
	// sets copy, where rows can be streamed with COPY (copy_postgres.go),
	// and arrays, which tells where a chunk can go as one array per column
	// (unnest_postgres.go).
	postgres, copy bool
	arrays         *pgxArrays

	// server is what a PostgreSQL connection's server says it is
	// (server_postgres.go).
	server *pgServer

	// rowid is set for SQLite, whose keys LastInsertId can give (see
	// rowidKey).
	rowid bool

	// timeText is the layout in which the SQLite driver binds a time.Time
	// (mattn/go-sqlite3 binds the text of SQLiteTimestampFormats[0]), where
	// binding that text was seen to store the same value (sqliteTimeText);
	// else "". The statement's clock reading, which every row's
	// autoCreateTime and autoUpdateTime take, is then formatted once per
	// call instead of by the driver for each row.
	timeText string

	// lastInsertID is set where GORM reads generated keys back through
	// LastInsertId arithmetic when the dialect has no RETURNING.
	lastInsertID bool

	// mysql is what a MySQL or MariaDB server says of itself: its packet
	// limit, the step between the keys of one INSERT (Galera and
	// multi-primary setups raise auto_increment_increment), LOAD DATA
	// LOCAL (server_mysql.go).
	mysql *mysqlServer
}

// SQLite's compiled-in default for SQLITE_MAX_VARIABLE_NUMBER since 3.32.0;
// 999 before it.
const (
	sqliteDefaultVariables = 32766
	sqliteLegacyVariables  = 999
)

// pgx reports whether COPY, arrays and the catalog reads may run: on
// PostgreSQL itself, through pgx's database/sql driver.
func (l dialect) pgx() bool { return l.copy && l.server.other() == "" }

// readServer reads what the server says of itself where db.Use could not
// reach it (server_postgres.go, server_mysql.go).
func (l dialect) readServer(db *gorm.DB) {
	l.server.read(db.Statement.Context, db.Statement.ConnPool)
	l.mysql.read(db.Statement.Context, db, db.Statement.ConnPool)
}

// discoverDialect reads the profile of db's dialect and connection. It reports
// false for a dialect the plugin does not know, whose statements then go to
// GORM's own create.
func discoverDialect(db *gorm.DB) (dialect, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	switch db.Dialector.Name() {
	case "postgres":
		d := dialect{maxParams: 65535, targetParams: 16384, gormCreate: true, postgres: true, server: &pgServer{}}
		d.server.read(ctx, db.ConnPool)
		return d, true
	case "sqlite":
		return dialect{maxParams: sqliteVariableLimit(ctx, db), targetParams: 16384, prepare: true, prepareFirst: true, gormCreate: true, rowid: true,
			timeText: sqliteTimeText(ctx, db)}, true
	case "mysql":
		server := &mysqlServer{}
		server.read(ctx, db, db.ConnPool)
		return dialect{maxParams: 65535, targetParams: 8192, prepare: !interpolates(db), gormCreate: true, lastInsertID: true, mysql: server}, true
	case "sqlserver":
		// 2,100 parameters per request, two of which go-mssqldb's
		// sp_executesql call takes for the statement and its declarations.
		return dialect{maxParams: 2100 - 2, maxRows: 1000}, true
	}
	return dialect{}, false
}

// interpolates reports whether go-sql-driver/mysql writes arguments into the
// statement's text (interpolateParams=true). GORM's statements then go as
// text, and a prepared statement, whose arguments travel in binary, could
// store a value differently (a float into a DECIMAL, a time's fraction).
func interpolates(db *gorm.DB) bool {
	d, ok := db.Dialector.(*mysql.Dialector)
	return ok && d.Config != nil && d.DSNConfig != nil && d.DSNConfig.InterpolateParams
}

// sqliteVariableLimit asks the driver for the connection's variable limit
// (mattn/go-sqlite3 exposes GetLimit) and otherwise infers SQLite's default
// from its version.
func sqliteVariableLimit(ctx context.Context, db *gorm.DB) int {
	const sqliteLimitVariableNumber = 9
	if sqlDB, err := db.DB(); err == nil {
		if conn, err := sqlDB.Conn(ctx); err == nil {
			limit := 0
			_ = conn.Raw(func(c any) error {
				if l, ok := c.(interface{ GetLimit(int) int }); ok {
					limit = l.GetLimit(sqliteLimitVariableNumber)
				}
				return nil
			})
			_ = conn.Close()
			if limit > 0 {
				return limit
			}
		}
	}
	var version string
	if err := db.ConnPool.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err == nil && versionBefore(version, 3, 32) {
		return sqliteLegacyVariables
	}
	return sqliteDefaultVariables
}

// sqliteTimeLayout is mattn/go-sqlite3's SQLiteTimestampFormats[0], the
// layout it binds a time.Time in.
const sqliteTimeLayout = "2006-01-02 15:04:05.999999999-07:00"

// sqliteTimeText returns sqliteTimeLayout where the driver stores a
// time.Time as the text of that layout (as mattn/go-sqlite3 does), checked
// by binding two times and their texts, else "".
func sqliteTimeText(ctx context.Context, db *gorm.DB) string {
	for _, t := range []time.Time{
		time.Date(2001, 2, 3, 4, 5, 6, 789000123, time.FixedZone("", -(3*3600+30*60))),
		time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC),
	} {
		var same bool
		text := t.Format(sqliteTimeLayout)
		if err := db.ConnPool.QueryRowContext(ctx, "SELECT typeof(?) = 'text' AND ? = ?", t, t, text).Scan(&same); err != nil || !same {
			return ""
		}
	}
	return sqliteTimeLayout
}

// versionBefore reports whether a dotted version string is older than
// major.minor.
func versionBefore(version string, major, minor int) bool {
	var parts [2]int
	for i, field := 0, 0; i < len(version) && field < 2; field++ {
		j := i
		for j < len(version) && version[j] >= '0' && version[j] <= '9' {
			j++
		}
		parts[field], _ = strconv.Atoi(version[i:j])
		i = j + 1
	}
	return parts[0] < major || (parts[0] == major && parts[1] < minor)
}

// check reports a *limitError when a statement would exceed the limits.
func (l dialect) check(query string, args []any) error {
	if l.maxParams > 0 && len(args) > l.maxParams {
		return &limitError{what: "bind parameters", got: len(args), max: l.maxParams}
	}
	if maxBytes := l.mysql.get().maxBytes; maxBytes > 0 {
		size := len(query)
		for _, a := range args {
			size += argBytes(a)
		}
		if size > maxBytes {
			return &limitError{what: "bytes", got: size, max: maxBytes}
		}
	}
	return nil
}

// argBytes is the size an argument takes on the wire, near enough to keep a
// statement under the packet limit.
func argBytes(a any) int {
	const fixed = 16
	switch v := a.(type) {
	case nil:
		return 1
	case string:
		return len(v) + 9
	case []byte:
		return len(v) + 9
	case driver.Valuer:
		// Serializers and custom types decide their size only when valued.
		// A nil pointer is sent as NULL, as database/sql does.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return 1
		}
		if dv, err := v.Value(); err == nil {
			if _, nested := dv.(driver.Valuer); !nested {
				return argBytes(dv)
			}
		}
	}
	return fixed
}
