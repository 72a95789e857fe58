package bulk_test

import (
	"database/sql"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/sqlserver"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// No SQL Server is at hand, so the SQL Server dialect is checked through the
// SQL it generates under DryRun: the DSN names a port nothing listens on.
const sqlServerDSN = "sqlserver://sa:x@127.0.0.1:1?database=test"

// SQL Server's limits. The server takes 2100 parameters per request, but
// go-mssqldb sends a statement with arguments through sp_executesql, whose
// own @stmt and @params take two of them.
const (
	sqlServerMaxParams = 2100 - 2
	sqlServerMaxRows   = 1000 // rows in one INSERT ... VALUES list
)

type SQLServerPair struct {
	ID   uint
	Name string
	Age  int
}

// SQLServerCode has no generated key: every column is written for every row.
type SQLServerCode struct {
	Code string `gorm:"primaryKey"`
	Name string
}

type SQLServerTriple struct {
	Code string `gorm:"primaryKey"`
	A, B int
}

// SQLServerWide writes 30 columns per row, 31 with an explicit ID.
type SQLServerWide struct {
	ID                                               uint
	C01, C02, C03, C04, C05, C06, C07, C08, C09, C10 int
	C11, C12, C13, C14, C15, C16, C17, C18, C19, C20 int
	C21, C22, C23, C24, C25, C26, C27, C28, C29, C30 int
}

// noTxPool hides BeginTx from GORM. DryRun reaches no server, but beginning
// a transaction does: with the pool unable to begin one, GORM's and the
// plugin's begin callbacks get ErrInvalidTransaction and carry on, as they do
// inside a user's transaction. TestSQLServerDryRunWithoutServer covers the
// plain DSN.
type noTxPool struct{ gorm.ConnPool }

// openSQLServer opens a DryRun SQL Server DB without the plugin; no
// connection is ever made.
func openSQLServer(t *testing.T) *gorm.DB {
	t.Helper()
	sqlDB, err := sql.Open("sqlserver", sqlServerDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlDB.Close() })
	db, err := gorm.Open(sqlserver.New(sqlserver.Config{Conn: noTxPool{sqlDB}}), sqlServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// sqlServerConfig skips GORM's default transaction, which would dial the
// server even under DryRun (db.ToSQL skips it for the same reason).
func sqlServerConfig() *gorm.Config {
	return &gorm.Config{
		DryRun:                 true,
		DisableAutomaticPing:   true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return fixedNow },
	}
}

// dryCreate runs Create under DryRun, with opts as a clause unless nil, and
// returns the statement's SQL and vars.
func dryCreate(t *testing.T, db *gorm.DB, opts *bulk.Options, rows any) (string, []any) {
	t.Helper()
	tx := db.Session(&gorm.Session{DryRun: true})
	if opts != nil {
		tx = tx.Clauses(*opts)
	}
	tx = tx.Create(rows)
	if tx.Error != nil {
		t.Fatalf("Create: %v", tx.Error)
	}
	return tx.Statement.SQL.String(), tx.Statement.Vars
}

// plainChunks is what GORM itself generates for rows cut into chunks of the
// given sizes, one statement per chunk.
func plainChunks[T any](t *testing.T, plain *gorm.DB, rows []T, sizes []int) ([]string, []any) {
	t.Helper()
	var stmts []string
	var vars []any
	start := 0
	for _, n := range sizes {
		chunk := append([]T(nil), rows[start:start+n]...)
		query, v := dryCreate(t, plain, nil, &chunk)
		stmts = append(stmts, query)
		vars = append(vars, v...)
		start += n
	}
	if start != len(rows) {
		t.Fatalf("chunk sizes %v cover %d of %d rows", sizes, start, len(rows))
	}
	return stmts, vars
}

var placeholder = regexp.MustCompile(`@p(\d+)`)

// checkPlaceholders reports unless stmt numbers its placeholders @p1..@pN in
// order, as one statement sent on its own must, and returns N.
func checkPlaceholders(t *testing.T, i int, stmt string) int {
	t.Helper()
	matches := placeholder.FindAllStringSubmatch(stmt, -1)
	for j, m := range matches {
		if n, _ := strconv.Atoi(m[1]); n != j+1 {
			t.Errorf("statement %d: placeholder %d is @p%d, want @p%d", i, j+1, n, j+1)
			break
		}
	}
	return len(matches)
}

func TestSQLServerDryRunWithoutServer(t *testing.T) {
	// The dialector opens a pool lazily: neither Open nor the plugin's
	// Initialize may need the server.
	db, err := gorm.Open(sqlserver.New(sqlserver.Config{DSN: sqlServerDSN}), sqlServerConfig())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { closeDB(db) })
	withPlugin(t, db)

	// Plain GORM manages under this config without a server.
	rows := []SQLServerPair{{Name: "a", Age: 1}, {Name: "b", Age: 2}}
	want, _ := dryCreate(t, openSQLServer(t), nil, &rows)

	// DryRun writes nothing, so the plugin has no transaction to begin.
	tx := db.Session(&gorm.Session{DryRun: true}).Clauses(bulk.Options{}).Create(&rows)
	if tx.Error != nil {
		t.Fatalf("DryRun Create without a server: %v", tx.Error)
	}
	if got := tx.Statement.SQL.String(); got != want {
		t.Errorf("SQL\n got %q\nwant %q", got, want)
	}
}

func TestSQLServerChunksMatchGORM(t *testing.T) {
	named := func(names ...string) []SQLServerPair {
		rows := make([]SQLServerPair, len(names))
		for i, n := range names {
			rows[i] = SQLServerPair{Name: n, Age: i + 1}
		}
		return rows
	}
	withIDs := func(rows []SQLServerPair, ids ...uint) []SQLServerPair {
		for i, id := range ids {
			rows[i].ID = id
		}
		return rows
	}
	const (
		insert   = `INSERT INTO "sql_server_pairs" ("name","age") OUTPUT INSERTED."id" VALUES `
		insertID = `INSERT INTO "sql_server_pairs" ("name","age","id") OUTPUT INSERTED."id" VALUES `
		on       = `SET IDENTITY_INSERT "sql_server_pairs" ON;`
		off      = `SET IDENTITY_INSERT "sql_server_pairs" OFF;`
	)

	tests := []struct {
		name   string
		config bulk.Config
		opts   *bulk.Options // nil: no clause
		rows   []SQLServerPair
		sizes  []int    // rows per statement
		golden []string // literal statements, so a change in GORM shows
		vars   []any
	}{{
		name:  "generated ids",
		opts:  &bulk.Options{BatchSize: 2},
		rows:  named("a", "b", "c"),
		sizes: []int{2, 1},
		golden: []string{
			insert + `(@p1,@p2),(@p3,@p4);`,
			insert + `(@p1,@p2);`,
		},
		vars: []any{"a", 1, "b", 2, "c", 3},
	}, {
		// Every chunk turns IDENTITY_INSERT on and off again itself.
		name:  "explicit ids",
		opts:  &bulk.Options{BatchSize: 2},
		rows:  withIDs(named("a", "b", "c"), 7, 8, 9),
		sizes: []int{2, 1},
		golden: []string{
			on + insertID + `(@p1,@p2,@p3),(@p4,@p5,@p6);` + off,
			on + insertID + `(@p1,@p2,@p3);` + off,
		},
		vars: []any{"a", 1, uint(7), "b", 2, uint(8), "c", 3, uint(9)},
	}, {
		// The driver decides IDENTITY_INSERT and the id column by each
		// chunk's own rows.
		name:  "mixed ids decide per chunk",
		opts:  &bulk.Options{BatchSize: 2},
		rows:  withIDs(named("a", "b", "c"), 0, 0, 9),
		sizes: []int{2, 1},
		golden: []string{
			insert + `(@p1,@p2),(@p3,@p4);`,
			on + insertID + `(@p1,@p2,@p3);` + off,
		},
		vars: []any{"a", 1, "b", 2, "c", 3, uint(9)},
	}, {
		name:  "limits alone: one statement",
		opts:  &bulk.Options{},
		rows:  named("a", "b", "c"),
		sizes: []int{3},
		golden: []string{
			insert + `(@p1,@p2),(@p3,@p4),(@p5,@p6);`,
		},
		vars: []any{"a", 1, "b", 2, "c", 3},
	}, {
		name:  "single row with options",
		opts:  &bulk.Options{BatchSize: 2},
		rows:  named("a"),
		sizes: []int{1},
	}, {
		name:   "config batch size",
		config: bulk.Config{BatchSize: 2},
		opts:   &bulk.Options{},
		rows:   named("a", "b", "c", "d", "e"),
		sizes:  []int{2, 2, 1},
	}, {
		name:   "option overrides config",
		config: bulk.Config{BatchSize: 2},
		opts:   &bulk.Options{BatchSize: 3},
		rows:   named("a", "b", "c", "d", "e"),
		sizes:  []int{3, 2},
	}, {
		name:   "auto without options",
		config: bulk.Config{Auto: true, BatchSize: 2},
		rows:   named("a", "b", "c"),
		sizes:  []int{2, 1},
	}, {
		name:   "disabled: GORM's single statement",
		config: bulk.Config{Auto: true, BatchSize: 2},
		opts:   &bulk.Options{Disable: true},
		rows:   named("a", "b", "c"),
		sizes:  []int{3},
	}}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := openSQLServer(t)
			db := withPlugin(t, openSQLServer(t), tt.config)

			wantStmts, wantVars := plainChunks(t, plain, tt.rows, tt.sizes)
			if tt.golden != nil && !reflect.DeepEqual(wantStmts, tt.golden) {
				t.Fatalf("GORM's own statements changed:\n got %q\nwant %q", wantStmts, tt.golden)
			}
			if tt.vars != nil && !reflect.DeepEqual(wantVars, tt.vars) {
				t.Fatalf("GORM's own vars changed:\n got %#v\nwant %#v", wantVars, tt.vars)
			}

			rows := append([]SQLServerPair(nil), tt.rows...)
			query, vars := dryCreate(t, db, tt.opts, &rows)

			// DryRun joins the chunks' statements and appends their vars.
			if want := strings.Join(wantStmts, ";\n"); query != want {
				t.Errorf("SQL\n got %q\nwant %q", query, want)
			}
			if !reflect.DeepEqual(vars, wantVars) {
				t.Errorf("vars\n got %#v\nwant %#v", vars, wantVars)
			}
			// Each chunk is sent as a statement of its own, numbered from @p1.
			for i, stmt := range strings.Split(query, ";\n") {
				checkPlaceholders(t, i, stmt)
			}
			if !reflect.DeepEqual(rows, tt.rows) {
				t.Errorf("DryRun changed the rows: %s", describe(rows))
			}
		})
	}
}

func TestSQLServerLimits(t *testing.T) {
	const total = 5000
	wide := func(explicitIDs bool) any {
		rows := make([]SQLServerWide, total)
		for i := range rows {
			rows[i].C01, rows[i].C30 = i, -i
			if explicitIDs {
				rows[i].ID = uint(i + 1)
			}
		}
		return &rows
	}
	pairs := make([]SQLServerPair, total)
	codes := make([]SQLServerCode, total)
	triples := make([]SQLServerTriple, total)
	for i := range total {
		pairs[i] = SQLServerPair{Name: "n", Age: i}
		codes[i] = SQLServerCode{Code: strconv.Itoa(i), Name: "n"}
		triples[i] = SQLServerTriple{Code: strconv.Itoa(i), A: i, B: -i}
	}
	// An expression is written as several parameters, which the estimate
	// cannot see: the limit check must catch the chunk and cut it down.
	sums := make([]map[string]any, 2000)
	for i := range sums {
		sums[i] = map[string]any{"total": gorm.Expr("? + ? + ? + ?", i, 1, 2, 3)}
	}

	tests := []struct {
		name   string
		table  string // for map rows
		rows   any
		total  int
		perRow int // parameters each row is written with
	}{
		{name: "30 columns, generated ids", rows: wide(false), total: total, perRow: 30},
		{name: "30 columns, explicit ids", rows: wide(true), total: total, perRow: 31},
		{name: "3 columns", rows: &triples, total: total, perRow: 3},
		// Row limit binds before the parameter limit.
		{name: "2 columns", rows: &codes, total: total, perRow: 2},
		{name: "2 columns, generated ids", rows: &pairs, total: total, perRow: 2},
		{name: "expressions", table: "sql_server_sums", rows: &sums, total: len(sums), perRow: 4},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := withPlugin(t, openSQLServer(t))
			if tt.table != "" {
				db = db.Table(tt.table)
			}
			query, vars := dryCreate(t, db, &bulk.Options{}, tt.rows)

			if want := tt.total * tt.perRow; len(vars) != want {
				t.Errorf("%d vars, want %d rows × %d", len(vars), tt.total, tt.perRow)
			}
			stmts := strings.Split(query, ";\n")
			params, rows, maxParams, maxRows := 0, 0, 0, 0
			for i, stmt := range stmts {
				n := checkPlaceholders(t, i, stmt)
				_, list, _ := strings.Cut(stmt, " VALUES ")
				r := strings.Count(list, "),(") + 1
				if n != r*tt.perRow {
					t.Errorf("statement %d: %d parameters for %d rows", i, n, r)
				}
				params, rows = params+n, rows+r
				maxParams, maxRows = max(maxParams, n), max(maxRows, r)
			}
			if maxParams > sqlServerMaxParams {
				t.Errorf("a statement has %d parameters, SQL Server takes %d", maxParams, sqlServerMaxParams)
			}
			if maxRows > sqlServerMaxRows {
				t.Errorf("a statement has %d rows, SQL Server takes %d", maxRows, sqlServerMaxRows)
			}
			if params != len(vars) || rows != tt.total {
				t.Errorf("statements hold %d parameters and %d rows, want %d and %d", params, rows, len(vars), tt.total)
			}

			// Each statement as large as the limits allow: the fewest.
			per := min(sqlServerMaxRows, sqlServerMaxParams/tt.perRow)
			if want := (tt.total + per - 1) / per; len(stmts) != want {
				t.Errorf("%d statements, the limits allow %d (%d rows each)", len(stmts), want, per)
			}
		})
	}
}

// The driver's Create reads generated values back with OUTPUT INSERTED,
// built from the schema rather than from a RETURNING clause, so
// SkipReturning leaves the SQL as it is: the plugin executes it without
// reading the output, and the rows keep their zero IDs.
func TestSQLServerSkipReturning(t *testing.T) {
	db := withPlugin(t, openSQLServer(t))
	rows := []SQLServerPair{{Name: "a", Age: 1}, {Name: "b", Age: 2}, {Name: "c", Age: 3}}
	want, wantVars := dryCreate(t, db, &bulk.Options{BatchSize: 2}, &rows)
	got, vars := dryCreate(t, db, &bulk.Options{BatchSize: 2, SkipReturning: true}, &rows)
	if got != want || !reflect.DeepEqual(vars, wantVars) {
		t.Errorf("SQL\n got %q %v\nwant %q %v", got, vars, want, wantVars)
	}
}
