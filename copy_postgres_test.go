package bulk_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
	"github.com/gormbulk/bulk/internal/ceiling"
)

// CopyRow is ceiling.Row in a table of its own: 9 columns, with a unique
// column to match rows with.
type CopyRow ceiling.Row

// CopyRaceRow is CopyRow in its own table, for the concurrent writer.
type CopyRaceRow CopyRow

func copyRowsOf(n int, prefix string) []CopyRow {
	rows := make([]CopyRow, n)
	for i := range rows {
		rows[i] = CopyRow{Email: fmt.Sprintf("%s%07d@example.com", prefix, i), Name: fmt.Sprintf("User %d", i), Age: i % 90, Score: float64(i) / 3, Active: i%2 == 0}
	}
	return rows
}

// copyStatements returns the statements logged since the last call that
// start with prefix, and forgets them all.
func copyStatements(c *statementCounter, prefix string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.sql {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	c.sql = nil
	return out
}

// copyKeys reads the table's keys by email.
func copyKeys(t *testing.T, db *gorm.DB, table string) map[string]uint {
	t.Helper()
	var rs []struct {
		ID    uint
		Email string
	}
	if err := db.Table(table).Select("id", "email").Find(&rs).Error; err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]uint, len(rs))
	for _, r := range rs {
		if _, dup := keys[r.Email]; dup {
			t.Fatalf("email %s twice in %s", r.Email, table)
		}
		keys[r.Email] = r.ID
	}
	return keys
}

// checkCopyKeys requires the table to hold exactly the rows, each under
// the key its struct carries.
func checkCopyKeys(t *testing.T, db *gorm.DB, table string, rows []CopyRow) {
	t.Helper()
	keys := copyKeys(t, db, table)
	if len(keys) != len(rows) {
		t.Errorf("%s holds %d rows, want %d", table, len(keys), len(rows))
	}
	bad := 0
	for i, r := range rows {
		if id, ok := keys[r.Email]; !ok || id != r.ID {
			if bad++; bad <= 5 {
				t.Errorf("row %d (%s): struct ID %d, table ID %d (present %v)", i, r.Email, r.ID, id, ok)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d rows in all with the wrong key", bad)
	}
}

// TestCopyIsUsed checks that a plain struct create on PostgreSQL is one
// COPY into the statement's table and that the keys it gives are the
// table's.
func TestCopyIsUsed(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		for _, c := range []struct {
			name, table, copy string
			db                *gorm.DB
		}{
			{"model", "copy_rows", `COPY "copy_rows" (`, db},
			// GORM keeps the schema of Table("schema.table") in TableExpr
			// and only the name in Statement.Table; its INSERT writes to
			// TableExpr.
			{"Table in another schema", "copy_schema.copy_rows", `COPY "copy_schema"."copy_rows" (`, db.Table("copy_schema.copy_rows")},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &CopyRow{})
				if c.table != "copy_rows" {
					if err := db.Exec("CREATE SCHEMA IF NOT EXISTS copy_schema").Error; err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { db.Exec("DROP SCHEMA IF EXISTS copy_schema CASCADE") })
					if err := db.Table(c.table).Migrator().DropTable(c.table); err != nil {
						t.Fatal(err)
					}
					if err := db.Table(c.table).AutoMigrate(&CopyRow{}); err != nil {
						t.Fatal(err)
					}
				}
				rows := copyRowsOf(500, "used")
				copyStatements(counter, "")
				res := c.db.Clauses(bulk.Options{}).Create(&rows)
				if res.Error != nil {
					t.Fatal(res.Error)
				}
				if res.RowsAffected != 500 {
					t.Errorf("RowsAffected = %d, want 500", res.RowsAffected)
				}
				if copies := copyStatements(counter, "COPY"); len(copies) != 1 || !strings.HasPrefix(copies[0], c.copy) {
					t.Errorf("COPY statements logged: %.120q, want one starting %s", copies, c.copy)
				}
				if c.table != "copy_rows" {
					if n := count(t, db, "copy_rows"); n != 0 {
						t.Errorf("%d rows written to public.copy_rows instead of %s", n, c.table)
					}
				}
				var ids []uint
				if err := db.Table(c.table).Order("email").Pluck("id", &ids).Error; err != nil {
					t.Fatal(err)
				}
				got := make([]uint, len(rows))
				for i, r := range rows {
					got[i] = r.ID
				}
				if !reflect.DeepEqual(got, ids) {
					t.Errorf("struct IDs differ from %s's (by email)\nstructs: %v...\n  table: %v...", c.table, got[:min(10, len(got))], ids[:min(10, len(ids))])
				}
				if got[0] == 0 {
					t.Errorf("no IDs set")
				}
				if rows[0].Status != "active" {
					t.Errorf("Go-side default not set in the struct: %q", rows[0].Status)
				}
			})
		}
	})
}

// TestCopyFewRows: the automatic choice leaves calls of a hundred or so
// rows to the statement path, whose one round trip beats COPY's several
// there: under 100 rows, and under 150 of fewer than 4 columns; Method:
// Copy still copies them.
func TestCopyFewRows(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		narrow := []string{"email"} // and GORM's timestamps: 3 columns
		for _, c := range []struct {
			rows    int
			columns []string // selected, or nil: all 8
			method  bulk.Method
			copies  int
		}{
			{99, nil, bulk.AnyMethod, 0}, {100, nil, bulk.AnyMethod, 1},
			{149, narrow, bulk.AnyMethod, 0}, {150, narrow, bulk.AnyMethod, 1},
			{20, nil, bulk.Copy, 1},
		} {
			recreate(t, db, &CopyRow{})
			rows := copyRowsOf(c.rows, "few")
			copyStatements(counter, "")
			tx := db.Clauses(bulk.Options{Method: c.method})
			if c.columns != nil {
				tx = tx.Select(c.columns)
			}
			if err := tx.Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, "COPY")); n != c.copies {
				t.Errorf("%d rows selecting %v, method %v: %d COPY statements, want %d", c.rows, c.columns, c.method, n, c.copies)
			}
			checkCopyKeys(t, db, "copy_rows", rows)
		}
	})
}

// CopyPart is written to a partitioned table.
type CopyPart struct {
	ID     int64 `gorm:"primaryKey"`
	Email  string
	Active bool
}

// TestCopyTarget: COPY is taken only into tables where it does what GORM's
// INSERT does. COPY applies no rules, and RETURNING reads back what BEFORE
// INSERT row triggers change; partitioned tables take COPY.
func TestCopyTarget(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		exec := func(t *testing.T, queries ...string) {
			t.Helper()
			for _, q := range queries {
				if err := db.Exec(q).Error; err != nil {
					t.Fatal(err)
				}
			}
		}

		t.Run("BEFORE INSERT trigger", func(t *testing.T) {
			recreate(t, db, &CopyRow{})
			exec(t, `CREATE OR REPLACE FUNCTION copy_rows_shift() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.id := NEW.id + 1000; RETURN NEW; END $$`,
				`CREATE TRIGGER copy_rows_shift BEFORE INSERT ON copy_rows FOR EACH ROW EXECUTE FUNCTION copy_rows_shift()`)
			t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS copy_rows"); db.Exec("DROP FUNCTION IF EXISTS copy_rows_shift") })

			rows := copyRowsOf(300, "trig")
			err := db.Clauses(bulk.Options{Method: bulk.Copy}).Create(&rows).Error
			if !errors.Is(err, bulk.ErrMethodUnavailable) {
				t.Errorf("forced COPY: error %v, want ErrMethodUnavailable", err)
			}
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, "COPY")); n != 0 {
				t.Errorf("%d COPY statements, want 0", n)
			}
			for i, r := range rows {
				if r.ID != uint(1001+i) {
					t.Fatalf("row %d has ID %d, want %d as the trigger set it", i, r.ID, 1001+i)
				}
			}
			checkCopyKeys(t, db, "copy_rows", rows)

			// Without read-back the trigger changes nothing COPY reports.
			exec(t, "TRUNCATE copy_rows")
			rows = copyRowsOf(600, "trig")
			if err := db.Clauses(bulk.Options{SkipReturning: true}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, "COPY")); n != 1 {
				t.Errorf("SkipReturning: %d COPY statements, want 1", n)
			}
			if keys := copyKeys(t, db, "copy_rows"); len(keys) != 600 || keys[rows[0].Email] <= 1000 {
				t.Errorf("SkipReturning: %d rows, first key %d: the trigger did not run", len(keys), keys[rows[0].Email])
			}
		})

		t.Run("rule", func(t *testing.T) {
			recreate(t, db, &CopyRow{})
			exec(t, "DROP TABLE IF EXISTS copy_rule_log", "CREATE TABLE copy_rule_log (email text)",
				"CREATE RULE copy_rows_log AS ON INSERT TO copy_rows DO ALSO INSERT INTO copy_rule_log VALUES (NEW.email)")
			t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS copy_rows"); db.Exec("DROP TABLE IF EXISTS copy_rule_log") })

			rows := copyRowsOf(300, "rule")
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, "COPY")); n != 0 {
				t.Errorf("%d COPY statements, want 0", n)
			}
			if n := count(t, db, "copy_rule_log"); n != 300 {
				t.Errorf("the rule logged %d rows, want 300", n)
			}
			checkCopyKeys(t, db, "copy_rows", rows)
		})

		t.Run("partitioned", func(t *testing.T) {
			exec(t, "DROP TABLE IF EXISTS copy_parts",
				"CREATE TABLE copy_parts (id bigserial, email text NOT NULL, active boolean NOT NULL, PRIMARY KEY (id, active)) PARTITION BY LIST (active)",
				"CREATE TABLE copy_parts_on PARTITION OF copy_parts FOR VALUES IN (true)",
				"CREATE TABLE copy_parts_off PARTITION OF copy_parts FOR VALUES IN (false)")
			t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS copy_parts") })

			rows := make([]CopyPart, 1_000)
			for i := range rows {
				rows[i] = CopyPart{Email: fmt.Sprintf("part%04d@example.com", i), Active: i%3 == 0}
			}
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{BatchSize: 400}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, `COPY "copy_parts"`)); n != 3 {
				t.Errorf("%d COPY statements, want 3", n)
			}
			var stored []CopyPart
			if err := db.Order("id").Find(&stored).Error; err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stored, rows) || rows[999].ID != 1000 {
				t.Errorf("table differs from the structs: %v… vs %v…", stored[:min(3, len(stored))], rows[:3])
			}
		})
	})
}

// TestCopyTransactions: rows COPY wrote inside a transaction the caller
// rolls back, wholly or to a savepoint, are gone.
func TestCopyTransactions(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		errAbort := errors.New("abort")
		create := func(tx *gorm.DB, n int, prefix string) error {
			rows := copyRowsOf(n, prefix)
			if err := tx.Clauses(bulk.Options{BatchSize: 1000}).Create(&rows).Error; err != nil {
				return err
			}
			if n := count(t, tx, "copy_rows"); n < int64(len(rows)) {
				t.Errorf("inside the transaction: %d rows, want at least %d", n, len(rows))
			}
			return nil
		}
		for _, c := range []struct {
			name   string
			run    func() error
			copies int
			left   int64
		}{
			{"Transaction returns an error", func() error {
				err := db.Transaction(func(tx *gorm.DB) error {
					if err := create(tx, 3000, "tx"); err != nil {
						return err
					}
					return errAbort
				})
				if !errors.Is(err, errAbort) {
					return fmt.Errorf("Transaction = %v, want the abort", err)
				}
				return nil
			}, 3, 0},
			{"Begin and Rollback", func() error {
				tx := db.Begin()
				if err := create(tx, 2500, "begin"); err != nil {
					tx.Rollback()
					return err
				}
				return tx.Rollback().Error
			}, 3, 0},
			{"nested transaction rolled back to its savepoint", func() error {
				return db.Transaction(func(tx *gorm.DB) error {
					if err := create(tx, 1000, "outer"); err != nil {
						return err
					}
					err := tx.Transaction(func(tx *gorm.DB) error {
						if err := create(tx, 2000, "inner"); err != nil {
							return err
						}
						return errAbort
					})
					if !errors.Is(err, errAbort) {
						return fmt.Errorf("nested Transaction = %v, want the abort", err)
					}
					return nil
				})
			}, 3, 1000},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &CopyRow{})
				copyStatements(counter, "")
				if err := c.run(); err != nil {
					t.Fatal(err)
				}
				if copies := copyStatements(counter, "COPY"); len(copies) != c.copies {
					t.Errorf("%d COPY statements logged, want %d", len(copies), c.copies)
				}
				if n := count(t, db, "copy_rows"); n != c.left {
					t.Errorf("%d rows afterwards, want %d", n, c.left)
				}
				var inner int64
				if err := db.Table("copy_rows").Where("email LIKE 'inner%'").Count(&inner).Error; err != nil || inner != 0 {
					t.Errorf("%d rows of the rolled-back savepoint remain (%v)", inner, err)
				}
			})
		}
	})
}

// TestCopyUniqueViolation: a duplicate at input line 73,451 of 100,000 is
// reported as that row (0-based index 73,450), with the server's error,
// and nothing remains, whichever COPY chunk it falls in.
func TestCopyUniqueViolation(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		noTx := withPlugin(t, open(t, &gorm.Config{Logger: counter, SkipDefaultTransaction: true}))
		const bad = 73450 // 0-based; COPY reports line 73451 of the first chunk
		for _, c := range []struct {
			name   string
			db     *gorm.DB
			batch  int
			copies int
			source int // the earlier row duplicated
		}{
			{"one chunk", db, 0, 1, 1234},
			{"third chunk of 30000", db, 30000, 3, 1234},
			{"duplicate in the same chunk, SkipDefaultTransaction", noTx, 30000, 3, 60001},
		} {
			// COPY numbers the lines of its input from 1, per chunk.
			line := bad + 1
			if c.batch > 0 {
				line = bad%c.batch + 1
			}
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &CopyRow{})
				rows := copyRowsOf(100_000, "dup")
				rows[bad].Email = rows[c.source].Email
				copyStatements(counter, "")
				err := c.db.Clauses(bulk.Options{BatchSize: c.batch}).Create(&rows).Error
				var chunkErr *bulk.ChunkError
				if !errors.As(err, &chunkErr) {
					t.Fatalf("error %v (%T), want a *bulk.ChunkError", err, err)
				}
				if chunkErr.First != bad || chunkErr.Last != bad {
					t.Errorf("ChunkError rows %d-%d, want %d-%d (%v)", chunkErr.First, chunkErr.Last, bad, bad, err)
				}
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) {
					t.Fatalf("no *pgconn.PgError in %v", err)
				}
				if pgErr.Code != "23505" {
					t.Errorf("SQLSTATE %s, want 23505 (%v)", pgErr.Code, pgErr)
				}
				if want := fmt.Sprintf("COPY copy_rows, line %d", line); pgErr.Where != want {
					t.Errorf("server's context %q, want %q", pgErr.Where, want)
				}
				// The offending row is the one the error names.
				if !strings.Contains(pgErr.Detail, rows[chunkErr.First].Email) {
					t.Errorf("detail %q does not name row %d's email %s", pgErr.Detail, chunkErr.First, rows[chunkErr.First].Email)
				}
				if copies := copyStatements(counter, "COPY"); len(copies) != c.copies {
					t.Errorf("%d COPY statements logged, want %d", len(copies), c.copies)
				}
				if n := count(t, db, "copy_rows"); n != 0 {
					t.Errorf("%d rows left, want 0", n)
				}
			})
		}

		t.Run("TranslateError", func(t *testing.T) {
			tdb := withPlugin(t, open(t, &gorm.Config{TranslateError: true}))
			recreate(t, db, &CopyRow{})
			rows := copyRowsOf(1_000, "translated")
			rows[700].Email = rows[3].Email
			err := tdb.Clauses(bulk.Options{BatchSize: 300}).Create(&rows).Error
			if !errors.Is(err, gorm.ErrDuplicatedKey) {
				t.Errorf("error %v is not gorm.ErrDuplicatedKey", err)
			}
			var chunkErr *bulk.ChunkError
			if !errors.As(err, &chunkErr) || chunkErr.First != 700 || chunkErr.Last != 700 {
				t.Errorf("error %v (%T), want a *bulk.ChunkError for row 700", err, err)
			}
			if n := count(t, db, "copy_rows"); n != 0 {
				t.Errorf("%d rows left, want 0", n)
			}
		})

		// A value the column refuses fails in the server's input function,
		// whose context names the line and the column.
		t.Run("value too long", func(t *testing.T) {
			recreate(t, db, &CopyRow{})
			const bad = 4321
			rows := copyRowsOf(5_000, "long")
			rows[bad].Name = strings.Repeat("x", 65)
			err := db.Clauses(bulk.Options{BatchSize: 2_000}).Create(&rows).Error
			var chunkErr *bulk.ChunkError
			if !errors.As(err, &chunkErr) {
				t.Fatalf("error %v (%T), want a *bulk.ChunkError", err, err)
			}
			if chunkErr.First != bad || chunkErr.Last != bad {
				t.Errorf("ChunkError rows %d-%d, want %d-%d (%v)", chunkErr.First, chunkErr.Last, bad, bad, err)
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "22001" {
				t.Errorf("error %v, want SQLSTATE 22001", err)
			}
			if n := count(t, db, "copy_rows"); n != 0 {
				t.Errorf("%d rows left, want 0", n)
			}
		})
	})
}

// TestCopyKeys checks the keys COPY gets from the key's sequence.
func TestCopyKeys(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))

		t.Run("contiguous", func(t *testing.T) {
			recreate(t, db, &CopyRow{})
			rows := copyRowsOf(10_000, "contig")
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, "COPY")); n != 1 {
				t.Errorf("%d COPY statements, want 1", n)
			}
			for i, r := range rows {
				if r.ID != uint(i+1) {
					t.Fatalf("row %d has ID %d, want %d", i, r.ID, i+1)
				}
			}
			checkCopyKeys(t, db, "copy_rows", rows)
		})

		// Sequences proveKeys can prove leave the key to the COPY's default;
		// the others have their keys drawn ahead and written.
		for _, c := range []struct {
			name, alter string
			proven      bool
			want        func(i int) uint
		}{
			{"increment 5", "INCREMENT BY 5", true, func(i int) uint { return uint(1 + 5*i) }},
			{"descending", "INCREMENT BY -1 MAXVALUE 10000000 START 10000000 RESTART", true, func(i int) uint { return uint(10_000_000 - i) }},
			{"session cache", "CACHE 20", false, func(i int) uint { return uint(1 + i) }},
			{"cycle", "CYCLE", false, func(i int) uint { return uint(1 + i) }},
		} {
			t.Run("sequence "+c.name, func(t *testing.T) {
				recreate(t, db, &CopyRow{})
				if err := db.Exec("ALTER SEQUENCE copy_rows_id_seq " + c.alter).Error; err != nil {
					t.Fatal(err)
				}
				rows := copyRowsOf(5_000, "seq")
				copyStatements(counter, "")
				if err := db.Clauses(bulk.Options{BatchSize: 2_000}).Create(&rows).Error; err != nil {
					t.Fatal(err)
				}
				copies := copyStatements(counter, "COPY")
				if len(copies) != 3 {
					t.Errorf("%d COPY statements, want 3", len(copies))
				}
				for _, s := range copies {
					if written := strings.Contains(s, `"id"`); written == c.proven {
						t.Errorf("%s: key written %v, want %v (keys proven from the sequence: %v)", s, written, !c.proven, c.proven)
					}
				}
				for i, r := range rows {
					if r.ID != c.want(i) {
						t.Fatalf("row %d has ID %d, want %d", i, r.ID, c.want(i))
					}
				}
				checkCopyKeys(t, db, "copy_rows", rows)
			})
		}

		t.Run("given keys kept, zero keys drawn", func(t *testing.T) {
			recreate(t, db, &CopyRow{})
			rows := copyRowsOf(1_000, "mixed")
			for i := range rows {
				if i%10 == 3 {
					rows[i].ID = uint(1_000_000 + i)
				}
			}
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{Method: bulk.Copy}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			next := uint(1)
			for i, r := range rows {
				want := next
				if i%10 == 3 {
					want = uint(1_000_000 + i)
				} else {
					next++
				}
				if r.ID != want {
					t.Fatalf("row %d has ID %d, want %d", i, r.ID, want)
				}
			}
			checkCopyKeys(t, db, "copy_rows", rows)
		})

		// The writer's keys break the run of keys the COPY draws: the rows'
		// keys are then read from the table.
		for _, order := range []struct{ name, alter string }{
			{"ascending", "INCREMENT BY 1"},
			{"descending", "INCREMENT BY -1 MAXVALUE 10000000 START 10000000 RESTART"},
		} {
			t.Run("concurrent writer "+order.name, func(t *testing.T) {
				recreate(t, db, &CopyRaceRow{})
				if err := db.Exec("ALTER SEQUENCE copy_race_rows_id_seq " + order.alter).Error; err != nil {
					t.Fatal(err)
				}
				writerDB := open(t) // no plugin, its own pool
				sqlDB, err := writerDB.DB()
				if err != nil {
					t.Fatal(err)
				}
				const bulkRows, maxWriter = 200_000, 20_000
				var (
					wg       sync.WaitGroup
					done     = make(chan struct{})
					started  = make(chan struct{})
					once     sync.Once
					written  []string
					writeErr error
				)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer once.Do(func() { close(started) })
					for i := 0; i < maxWriter; i++ {
						select {
						case <-done:
							return
						default:
						}
						email := fmt.Sprintf("writer%07d@example.com", i)
						_, err := sqlDB.ExecContext(context.Background(),
							`INSERT INTO copy_race_rows (email, name, age, score, active, status, created_at, updated_at) VALUES ($1, 'writer', 1, 1, true, 'w', now(), now())`, email)
						if err != nil {
							writeErr = err
							return
						}
						written = append(written, email)
						if i == 9 {
							once.Do(func() { close(started) })
						}
					}
				}()
				<-started

				rows := copyRowsOf(bulkRows, "race")
				race := make([]CopyRaceRow, len(rows))
				for i := range rows {
					race[i] = CopyRaceRow(rows[i])
				}
				copyStatements(counter, "")
				createErr := db.Clauses(bulk.Options{}).Create(&race).Error
				close(done)
				wg.Wait()
				if createErr != nil {
					t.Fatal(createErr)
				}
				if writeErr != nil {
					t.Fatalf("writer: %v", writeErr)
				}
				if n := len(copyStatements(counter, "COPY")); n != 2 {
					t.Errorf("%d COPY statements, want 2", n)
				}
				if len(written) == 0 {
					t.Fatal("the writer wrote nothing")
				}

				for i := range race {
					rows[i] = CopyRow(race[i])
				}
				keys := copyKeys(t, db, "copy_race_rows")
				if want := bulkRows + len(written); len(keys) != want || count(t, db, "copy_race_rows") != int64(want) {
					t.Errorf("table holds %d rows, want %d bulk + %d writer", len(keys), bulkRows, len(written))
				}
				seen := make(map[uint]string, len(keys))
				for email, id := range keys {
					if other, dup := seen[id]; dup {
						t.Errorf("ID %d held by %s and %s", id, other, email)
					}
					seen[id] = email
				}
				bad := 0
				lo, hi := rows[0].ID, rows[0].ID
				for i, r := range rows {
					lo, hi = min(lo, r.ID), max(hi, r.ID)
					if id, ok := keys[r.Email]; !ok || id != r.ID {
						if bad++; bad <= 5 {
							t.Errorf("row %d (%s): struct ID %d, table ID %d (present %v)", i, r.Email, r.ID, id, ok)
						}
					}
				}
				inside := 0
				for _, email := range written {
					if id := keys[email]; id >= lo && id <= hi {
						inside++
					}
				}
				t.Logf("writer: %d rows, %d with IDs inside the bulk's range %d-%d", len(written), inside, lo, hi)
				if inside == 0 {
					t.Errorf("no writer row took a key while the bulk create drew its keys: the race was not exercised")
				}
			})
		}

		// The key's default, not the sequence the column owns, is what
		// GORM's INSERT draws from: a serial column whose default was
		// changed must get the keys the new default gives.
		for _, c := range []struct {
			name, def string
			want      func(i int) uint
		}{
			{"default from another sequence", "nextval('copy_other_seq')", func(i int) uint { return uint(1_000_000 + i) }},
			{"default is an expression over the owned sequence", "nextval('copy_rows_id_seq') * 10", func(i int) uint { return uint(10 * (i + 1)) }},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &CopyRow{})
				for _, q := range []string{
					"DROP SEQUENCE IF EXISTS copy_other_seq",
					"CREATE SEQUENCE copy_other_seq START 1000000",
					"ALTER TABLE copy_rows ALTER COLUMN id SET DEFAULT " + c.def,
				} {
					if err := db.Exec(q).Error; err != nil {
						t.Fatal(err)
					}
				}
				t.Cleanup(func() {
					db.Migrator().DropTable(&CopyRow{})
					db.Exec("DROP SEQUENCE IF EXISTS copy_other_seq")
				})
				rows := copyRowsOf(100, "def")
				if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
					t.Fatal(err)
				}
				for i, r := range rows {
					if r.ID != c.want(i) {
						t.Fatalf("row %d has ID %d, want %d as the column's default gives (GORM's INSERT … RETURNING)", i, r.ID, c.want(i))
					}
				}
				checkCopyKeys(t, db, "copy_rows", rows)
			})
		}

		t.Run("uuid key from a database default", func(t *testing.T) {
			recreate(t, db, &CopyUUIDKey{})
			rows := make([]CopyUUIDKey, 300)
			for i := range rows {
				rows[i].Email = fmt.Sprintf("uuid%04d@example.com", i)
			}
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, "COPY")); n != 0 {
				t.Errorf("%d COPY statements for a key only RETURNING gives, want 0", n)
			}
			var stored []CopyUUIDKey
			if err := db.Order("email").Find(&stored).Error; err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(stored, rows) || rows[0].ID == "" {
				t.Errorf("keys not read back: structs %v..., table %v...", rows[:2], stored[:min(2, len(stored))])
			}

			recreate(t, db, &CopyUUIDKey{})
			rows = make([]CopyUUIDKey, 10)
			for i := range rows {
				rows[i].Email = fmt.Sprintf("uuid%04d@example.com", i)
			}
			err := db.Clauses(bulk.Options{Method: bulk.Copy}).Create(&rows).Error
			if !errors.Is(err, bulk.ErrMethodUnavailable) {
				t.Errorf("forced COPY: error %v, want ErrMethodUnavailable", err)
			}
			if n := count(t, db, "copy_uuid_keys"); n != 0 {
				t.Errorf("forced COPY wrote %d rows", n)
			}
		})

		t.Run("identity by default", func(t *testing.T) {
			copyIdentityTable(t, db, "copy_identity_default", "BY DEFAULT")
			rows := copyIdentityRows[CopyIdentityDefault](2_500)
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{BatchSize: 1_000}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, `COPY "copy_identity_default"`)); n != 3 {
				t.Errorf("%d COPY statements, want 3", n)
			}
			checkIdentityKeys(t, db, "copy_identity_default", rows)
		})

		t.Run("identity always", func(t *testing.T) {
			copyIdentityTable(t, db, "copy_identity_always", "ALWAYS")
			rows := copyIdentityRows[CopyIdentityAlways](2_500)
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, `COPY "copy_identity_always" ("email","name")`)); n != 1 {
				t.Errorf("%d COPY statements leaving the GENERATED ALWAYS key to the database, want 1", n)
			}
			checkIdentityKeys(t, db, "copy_identity_always", rows)

			// With a per-session cache the keys cannot be proven, and a
			// GENERATED ALWAYS key cannot be written.
			copyIdentityTable(t, db, "copy_identity_always", "ALWAYS")
			if err := db.Exec("ALTER TABLE copy_identity_always ALTER COLUMN id SET CACHE 20").Error; err != nil {
				t.Fatal(err)
			}
			rows = copyIdentityRows[CopyIdentityAlways](100)
			err := db.Clauses(bulk.Options{Method: bulk.Copy}).Create(&rows).Error
			if !errors.Is(err, bulk.ErrMethodUnavailable) {
				t.Errorf("forced COPY: error %v, want ErrMethodUnavailable", err)
			}
			if n := count(t, db, "copy_identity_always"); n != 0 {
				t.Errorf("forced COPY wrote %d rows", n)
			}
			for i, r := range rows {
				if r.ID != 0 {
					t.Fatalf("row %d given ID %d by a refused COPY", i, r.ID)
				}
			}
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if n := len(copyStatements(counter, "COPY")); n != 0 {
				t.Errorf("%d COPY statements, want 0", n)
			}
			checkIdentityKeys(t, db, "copy_identity_always", rows)
		})
	})
}

// CopyUUIDKey's key comes from a database default that is no sequence.
type CopyUUIDKey struct {
	ID    string `gorm:"type:uuid;primaryKey;default:gen_random_uuid()"`
	Email string `gorm:"uniqueIndex;size:191"`
}

// The identity tables are created with raw SQL; the models name them.
type copyIdentity struct {
	ID    int64 `gorm:"primaryKey"`
	Email string
	Name  string
}

type CopyIdentityDefault copyIdentity

func (CopyIdentityDefault) TableName() string { return "copy_identity_default" }

type CopyIdentityAlways copyIdentity

func (CopyIdentityAlways) TableName() string { return "copy_identity_always" }

func copyIdentityTable(t *testing.T, db *gorm.DB, table, generated string) {
	t.Helper()
	for _, q := range []string{
		"DROP TABLE IF EXISTS " + table,
		"CREATE TABLE " + table + " (id bigint GENERATED " + generated + " AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL)",
	} {
		if err := db.Exec(q).Error; err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + table) })
}

func copyIdentityRows[T CopyIdentityDefault | CopyIdentityAlways](n int) []T {
	rows := make([]T, n)
	for i := range rows {
		rows[i] = T{Email: fmt.Sprintf("id%06d@example.com", i), Name: fmt.Sprint("n", i)}
	}
	return rows
}

func checkIdentityKeys[T CopyIdentityDefault | CopyIdentityAlways](t *testing.T, db *gorm.DB, table string, rows []T) {
	t.Helper()
	var stored []T
	if err := db.Table(table).Order("id").Find(&stored).Error; err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, rows) {
		t.Errorf("%s differs from the structs (%d rows, %d structs)\nstored: %v\nstruct: %v", table, len(stored), len(rows), stored[:min(3, len(stored))], rows[:min(3, len(rows))])
	}
	for i, r := range rows {
		if id := copyIdentity(r).ID; id != int64(i+1) {
			t.Fatalf("row %d has ID %d, want %d", i, id, i+1)
		}
	}
}

// TestCopyMethodOption: Values keeps PostgreSQL off COPY; Copy is
// unavailable on the other dialects and writes nothing there.
func TestCopyMethodOption(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		recreate(t, db, &CopyRow{})
		rows := copyRowsOf(300, "method")
		if dialect != "postgres" {
			err := db.Clauses(bulk.Options{Method: bulk.Copy}).Create(&rows).Error
			if !errors.Is(err, bulk.ErrMethodUnavailable) {
				t.Errorf("%s: error %v, want ErrMethodUnavailable", dialect, err)
			}
			if n := count(t, db, "copy_rows"); n != 0 {
				t.Errorf("%s: %d rows written", dialect, n)
			}
			// The automatic choice still writes them.
			if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			checkCopyKeys(t, db, "copy_rows", rows)
			return
		}
		copyStatements(counter, "")
		if err := db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		counter.mu.Lock()
		logged := append([]string(nil), counter.sql...)
		counter.mu.Unlock()
		var copies, unnest int
		for _, s := range logged {
			if strings.HasPrefix(s, "COPY") {
				copies++
			}
			if strings.HasPrefix(s, "INSERT") && strings.Contains(s, "unnest(") {
				unnest++
			}
		}
		if copies != 0 || unnest == 0 {
			t.Errorf("Values: %d COPY and %d INSERT … unnest statements, want 0 and some", copies, unnest)
		}
		checkCopyKeys(t, db, "copy_rows", rows)
	})
}

// CopyTags is a text[] through driver.Valuer and sql.Scanner.
type CopyTags []string

var copyTagEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func (t CopyTags) Value() (driver.Value, error) {
	if t == nil {
		return nil, nil
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range t {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(copyTagEscaper.Replace(s))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}

// Scan reads the array literals Value writes and PostgreSQL's output.
func (t *CopyTags) Scan(v any) error {
	var s string
	switch v := v.(type) {
	case nil:
		*t = nil
		return nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("CopyTags: cannot scan %T", v)
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return fmt.Errorf("CopyTags: not an array literal: %q", s)
	}
	out := CopyTags{}
	var cur strings.Builder
	quoted, escaped, inQuotes, nonEmpty := false, false, false, false
	for _, r := range s[1 : len(s)-1] {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			inQuotes, quoted = !inQuotes, true
		case r == ',' && !inQuotes:
			out = append(out, cur.String())
			cur.Reset()
			quoted = false
		default:
			cur.WriteRune(r)
		}
		nonEmpty = true
	}
	if nonEmpty || quoted {
		out = append(out, cur.String())
	}
	*t = out
	return nil
}

type CopyDoc struct {
	Title string
	Count int
	Tags  []string
}

// CopyTypes is one column of each type COPY must write as GORM does.
type CopyTypes struct {
	ID     uint   `gorm:"primaryKey"`
	Code   string `gorm:"uniqueIndex;size:32"`
	I8     int8
	I16    int16
	I32    int32
	I64    int64
	U32    uint32
	F32    float32
	F64    float64
	Flag   bool
	Text   string
	Bytes  []byte
	Stamp  time.Time `gorm:"type:timestamp"`
	StampZ time.Time `gorm:"type:timestamptz"`
	Ptr    *string
	NInt   sql.NullInt64
	NStr   sql.NullString
	NTime  sql.NullTime
	Doc    CopyDoc        `gorm:"serializer:json;type:jsonb"`
	Meta   map[string]any `gorm:"serializer:json;type:jsonb"`
	UUID   string         `gorm:"type:uuid"`
	Amount float64        `gorm:"type:numeric(12,2)"`
	Tags   CopyTags       `gorm:"type:text[]"`
	Mood   string         `gorm:"type:copy_mood"`
}

func copyTypesRows(n int) []CopyTypes {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	base := time.Date(2024, 2, 29, 23, 59, 58, 123456789, zone)
	moods := []string{"sad", "ok", "happy"}
	rows := make([]CopyTypes, n)
	for i := range rows {
		r := &rows[i]
		*r = CopyTypes{
			Code: fmt.Sprintf("c%04d", i),
			I8:   int8(-128 + i%256), I16: int16(-32768 + i*7), I32: int32(-2147483648 + i*1000), I64: -1<<62 + int64(i),
			U32: 4_000_000_000 + uint32(i), F32: float32(i) / 7, F64: float64(i) * 1.1e-3, Flag: i%2 == 1,
			Text:   fmt.Sprintf("text %d, \"quoted\" \\ é\t%d", i, i),
			Stamp:  base.Add(time.Duration(i) * time.Hour),
			StampZ: base.Add(time.Duration(i) * 37 * time.Minute),
			Doc:    CopyDoc{Title: fmt.Sprint("doc", i), Count: i, Tags: []string{"x", fmt.Sprint(i)}},
			UUID:   fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Amount: []float64{0.125, 2.675, 1234567890.99, -0.005, float64(i) / 3}[i%5],
			Mood:   moods[i%3],
		}
		if i%3 != 0 {
			r.Bytes = []byte{0, byte(i), 255, '\\', ','}
			r.Ptr = str(fmt.Sprint("p", i))
			r.NInt = sql.NullInt64{Int64: int64(i) * -3, Valid: true}
			r.NStr = sql.NullString{String: fmt.Sprint("ns", i), Valid: true}
			r.NTime = sql.NullTime{Time: base.AddDate(0, i, 0).UTC(), Valid: true}
			r.Meta = map[string]any{"k": fmt.Sprint(i), "n": float64(i), "nested": map[string]any{"ok": true}}
			r.Tags = CopyTags{"a", fmt.Sprint("b", i), `with "quote", comma`, ""}
		}
		if i%4 == 0 {
			r.Tags = CopyTags{}
		}
		if i%6 == 0 {
			// Empty, not absent: '' rather than NULL.
			r.Bytes, r.Ptr, r.NStr = []byte{}, str(""), sql.NullString{Valid: true}
		}
	}
	return rows
}

// CopyNatural holds the CopyTypes columns whose Go types are their
// column types' own, which binary COPY encodes as GORM's parameters go.
type CopyNatural struct {
	ID     uint   `gorm:"primaryKey"`
	Code   string `gorm:"uniqueIndex;size:32"`
	I8     int8
	I16    int16
	I32    int32
	I64    int64
	U32    uint32
	F32    float32
	F64    float64
	Flag   bool
	Text   string
	Bytes  []byte
	Stamp  time.Time `gorm:"type:timestamp"`
	StampZ time.Time `gorm:"type:timestamptz"`
	Ptr    *string
	NInt   sql.NullInt64
	NStr   sql.NullString
	NTime  sql.NullTime
	Doc    CopyDoc `gorm:"serializer:json;type:text"`
	Amount float64 `gorm:"type:numeric(12,2)"`
}

// TestCopyNaturalTypes: the columns binary COPY writes are stored as GORM
// stores them, by COPY.
func TestCopyNaturalTypes(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		plain := open(t)
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		rows := func() []CopyNatural {
			var out []CopyNatural
			for _, r := range copyTypesRows(60) {
				out = append(out, CopyNatural{Code: r.Code, I8: r.I8, I16: r.I16, I32: r.I32, I64: r.I64, U32: r.U32, F32: r.F32, F64: r.F64,
					Flag: r.Flag, Text: r.Text, Bytes: r.Bytes, Stamp: r.Stamp, StampZ: r.StampZ, Ptr: r.Ptr, NInt: r.NInt, NStr: r.NStr,
					NTime: r.NTime, Doc: r.Doc, Amount: r.Amount})
			}
			return out
		}
		recreate(t, plain, &CopyNatural{})
		want := rows()
		if err := plain.Create(&want).Error; err != nil {
			t.Fatalf("plain GORM: %v", err)
		}
		wantTable := tableRows(t, plain, "copy_naturals")
		for _, batch := range []int{0, 7} {
			recreate(t, plain, &CopyNatural{})
			got := rows()
			copyStatements(counter, "")
			if err := db.Clauses(bulk.Options{Method: bulk.Copy, BatchSize: batch}).Create(&got).Error; err != nil {
				t.Fatalf("COPY: %v", err)
			}
			if n := len(copyStatements(counter, "COPY")); n == 0 {
				t.Errorf("no COPY logged")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("batch %d: structs differ from GORM's\n got: %s\nwant: %s", batch, describe(got[:2]), describe(want[:2]))
			}
			if gotTable := tableRows(t, plain, "copy_naturals"); !reflect.DeepEqual(gotTable, wantTable) {
				t.Errorf("batch %d: table differs from GORM's", batch)
			}
		}
	})
}

// TestCopyColumnTypes creates the same rows with plain GORM and with the
// plugin, and requires identical tables and structs. GORM's parameters for
// strings into uuid and enum columns go as text the server parses, so
// forced COPY steps aside; pgx parses the tags' Valuer text in the client
// into a binary array, which an array of arrays cannot carry, so the
// chunks go as VALUES.
func TestCopyColumnTypes(t *testing.T) {
	t.Cleanup(bulk.SetCatalogMinRows(1))
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		plain := open(t)
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		// The enum is created once: a new type would change the result type
		// of the statements pgx has cached for the table.
		if err := plain.Migrator().DropTable(&CopyTypes{}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"DROP TYPE IF EXISTS copy_mood", "CREATE TYPE copy_mood AS ENUM ('sad','ok','happy')"} {
			if err := plain.Exec(q).Error; err != nil {
				t.Fatal(err)
			}
		}
		reset := func() {
			t.Helper()
			recreate(t, plain, &CopyTypes{})
		}
		t.Cleanup(func() {
			_ = plain.Migrator().DropTable(&CopyTypes{})
			plain.Exec("DROP TYPE IF EXISTS copy_mood")
		})

		reset()
		want := copyTypesRows(60)
		res := plain.Create(&want)
		if res.Error != nil {
			t.Fatalf("plain GORM: %v", res.Error)
		}
		wantTable := tableRows(t, plain, "copy_types")

		for _, batch := range []int{0, 7} {
			t.Run(fmt.Sprint("batch ", batch), func(t *testing.T) {
				reset()
				got := copyTypesRows(60)
				if err := db.Clauses(bulk.Options{Method: bulk.Copy, BatchSize: batch}).Create(&got).Error; !errors.Is(err, bulk.ErrMethodUnavailable) || !strings.Contains(err.Error(), "column uuid is uuid") {
					t.Fatalf("forced COPY: %v, want ErrMethodUnavailable for column uuid", err)
				}
				copyStatements(counter, "")
				gotRes := db.Clauses(bulk.Options{Method: bulk.Values, BatchSize: batch}).Create(&got)
				if gotRes.Error != nil {
					t.Fatalf("Values: %v", gotRes.Error)
				}
				if inserts := copyStatements(counter, "INSERT"); len(inserts) == 0 || strings.Contains(inserts[0], "unnest(") {
					t.Errorf("want INSERT … VALUES, logged: %.300q", inserts)
				}
				if gotRes.RowsAffected != res.RowsAffected {
					t.Errorf("RowsAffected = %d, GORM %d", gotRes.RowsAffected, res.RowsAffected)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("structs differ from GORM's\n got: %s\nwant: %s", describe(got[:2]), describe(want[:2]))
				}
				gotTable := tableRows(t, plain, "copy_types")
				if len(gotTable) != len(wantTable) {
					t.Fatalf("%d rows, GORM %d", len(gotTable), len(wantTable))
				}
				for i := range wantTable {
					for col, w := range wantTable[i] {
						if g := gotTable[i][col]; !reflect.DeepEqual(g, w) {
							t.Errorf("row %d column %s: COPY stored %#v, GORM %#v", i, col, g, w)
						}
					}
				}
			})
		}

		// The stored arrays read back through the Scanner.
		var back []CopyTypes
		if err := plain.Order("id").Find(&back).Error; err != nil {
			t.Fatal(err)
		}
		for i := range back {
			if !reflect.DeepEqual(back[i].Tags, want[i].Tags) && (len(back[i].Tags) != 0 || len(want[i].Tags) != 0) {
				t.Errorf("row %d tags read back %q, wrote %q", i, back[i].Tags, want[i].Tags)
			}
		}
	})
}

// TestCopyMemoryFlat: a COPY's allocations grow with its rows, not
// faster: the per-row allocation count and bytes of 1,000,000 rows are
// within 25% of those of 20,000 rows. Those ratios stay flat for a buffer
// of every row too (it is O(n) as well), so the live heap is also sampled
// at each GC during the call: what the call holds beyond the input must
// stay far below a copy of the rows' values.
func TestCopyMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 1,020,000 rows")
	}
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		type usage struct{ mallocs, bytes, held float64 }
		measure := func(n int) usage {
			recreate(t, db, &CopyRow{})
			rows := copyRowsOf(n, "mem")
			copyStatements(counter, "")
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			base := liveHeap()
			peak := base
			stop, stopped := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(stopped)
				tick := time.NewTicker(100 * time.Microsecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						peak = max(peak, liveHeap())
					}
				}
			}()
			err := db.Clauses(bulk.Options{}).Create(&rows).Error
			runtime.ReadMemStats(&after)
			close(stop)
			<-stopped
			if err != nil {
				t.Fatal(err)
			}
			if len(copyStatements(counter, "COPY")) == 0 {
				t.Fatal("no COPY logged")
			}
			if rows[n-1].ID != uint(n) {
				t.Fatalf("last ID %d, want %d", rows[n-1].ID, n)
			}
			runtime.KeepAlive(rows)
			return usage{
				mallocs: float64(after.Mallocs-before.Mallocs) / float64(n),
				bytes:   float64(after.TotalAlloc-before.TotalAlloc) / float64(n),
				held:    float64(peak-base) / float64(n),
			}
		}
		measure(2_000) // warm the pool and the statement caches
		small, large := measure(20_000), measure(1_000_000)
		t.Logf("per row: 20,000 rows %.2f allocs, %.1f B, %.1f B held; 1,000,000 rows %.2f allocs, %.1f B, %.1f B held",
			small.mallocs, small.bytes, small.held, large.mallocs, large.bytes, large.held)
		if large.mallocs > small.mallocs*1.25 || large.mallocs < small.mallocs*0.75 {
			t.Errorf("allocations per row: %.2f for 1,000,000 rows, %.2f for 20,000", large.mallocs, small.mallocs)
		}
		if large.bytes > small.bytes*1.25 || large.bytes < small.bytes*0.75 {
			t.Errorf("bytes per row: %.1f for 1,000,000 rows, %.1f for 20,000", large.bytes, small.bytes)
		}
		// Keys drawn ahead take 8-24 B a row of a chunk (proven keys none);
		// a [][]any of the rows' 9 values takes over 160.
		if large.held > 100 {
			t.Errorf("the call held %.1f B per row of 1,000,000 beyond its input", large.held)
		}
	})
}

// liveHeap is the heap the last GC found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestCopyPrepareStmt: GORM's prepared statement pool sits above the
// plugin's, and COPY still reaches pgx.
func TestCopyPrepareStmt(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter, PrepareStmt: true}))
		for _, c := range []struct {
			name string
			run  func(rows *[]CopyRow) error
		}{
			{"default transaction", func(rows *[]CopyRow) error { return db.Clauses(bulk.Options{}).Create(rows).Error }},
			{"user transaction", func(rows *[]CopyRow) error {
				return db.Transaction(func(tx *gorm.DB) error { return tx.Clauses(bulk.Options{}).Create(rows).Error })
			}},
			{"SkipDefaultTransaction", func(rows *[]CopyRow) error {
				return db.Session(&gorm.Session{SkipDefaultTransaction: true}).Clauses(bulk.Options{}).Create(rows).Error
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &CopyRow{})
				rows := copyRowsOf(2_000, "prep")
				copyStatements(counter, "")
				if err := c.run(&rows); err != nil {
					t.Fatal(err)
				}
				if n := len(copyStatements(counter, `COPY "copy_rows" (`)); n != 1 {
					t.Errorf("%d COPY statements logged, want 1", n)
				}
				for i, r := range rows {
					if r.ID != uint(i+1) {
						t.Fatalf("row %d has ID %d, want %d", i, r.ID, i+1)
					}
				}
				checkCopyKeys(t, db, "copy_rows", rows)
			})
		}
	})
}

// UpsertCopyRow is a table GORM's has-many children are like: a serial
// key the upsert targets.
type UpsertCopyRow struct {
	ID    uint
	Email string
	Name  string
}

// TestUpsertCopy upserts on the key (GORM's has-many and has-one upserts:
// ON CONFLICT (id) DO UPDATE) rows that all leave their key to its
// sequence, through plain GORM and the plugin, as the owner and as a role
// with only the grants it needs: COPY writes them where nothing can
// conflict, and otherwise the chunk goes as GORM's upsert does, with the
// keys drawn for it; where COPY cannot do what the upsert does, the rows
// go through the staging table, or as statements without TEMP. Tables,
// errors and structs are GORM's.
func TestUpsertCopy(t *testing.T) {
	t.Cleanup(bulk.SetUpsertCopyMinRows(1))
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		su := open(t)
		const role = "gormbulk_upsert"
		dropRole := func() {
			su.Exec("DROP TABLE IF EXISTS upsert_copy_rows, upsert_copy_fired")
			su.Exec("DROP ROLE IF EXISTS " + role)
		}
		dropRole()
		t.Cleanup(dropRole)
		if err := su.Exec("CREATE ROLE " + role + " NOLOGIN NOSUPERUSER").Error; err != nil {
			t.Fatal(err)
		}
		onKey := clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoUpdates: clause.AssignmentColumns([]string{"name"})}
		fired := []string{
			"CREATE TABLE upsert_copy_fired (n int)",
			"CREATE FUNCTION upsert_copy_fire() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO upsert_copy_fired VALUES (1); RETURN NULL; END $$",
			"CREATE TRIGGER upsert_copy_update AFTER UPDATE ON upsert_copy_rows FOR EACH STATEMENT EXECUTE FUNCTION upsert_copy_fire()",
		}
		t.Cleanup(func() { su.Exec("DROP FUNCTION IF EXISTS upsert_copy_fire CASCADE") })
		for _, c := range []struct {
			name    string
			setup   []string
			grants  string // the role's grants; "" runs as the owner
			clause  clause.OnConflict
			shared  bool // one struct twice among the rows
			fires   bool // count the UPDATE statement trigger's firings
			noTemp  bool // TEMP revoked from PUBLIC
			given   bool // rows give keys, half of them taken
			copies  bool // the plugin writes by COPY
			stages  bool // the plugin writes through the staging table
			creates bool // GORM's create succeeds
		}{
			{name: "new keys", clause: onKey, copies: true, creates: true},
			{name: "do nothing on the key", clause: clause.OnConflict{Columns: onKey.Columns, DoNothing: true}, copies: true, creates: true},
			{name: "update all", clause: clause.OnConflict{UpdateAll: true}, copies: true, creates: true},
			{name: "a key taken by hand", setup: []string{"INSERT INTO upsert_copy_rows (id, email, name) VALUES (250, 'hand', 'old')"}, clause: onKey, copies: true, creates: true},
			{name: "role with the grants", grants: "INSERT, SELECT, UPDATE", clause: onKey, copies: true, creates: true},
			{name: "role without UPDATE", grants: "INSERT, SELECT", clause: onKey},
			{name: "role without TEMP", setup: fired, fires: true, grants: "INSERT, SELECT, UPDATE", noTemp: true, clause: onKey, creates: true},
			{name: "rows give keys", given: true, clause: onKey, stages: true, creates: true},
			{name: "role without SELECT", setup: fired, fires: true, grants: "INSERT, UPDATE", clause: onKey},
			{name: "role without UPDATE, do nothing", grants: "INSERT, SELECT", clause: clause.OnConflict{Columns: onKey.Columns, DoNothing: true}, copies: true, creates: true},
			{name: "an UPDATE statement trigger", setup: fired, fires: true, clause: onKey, stages: true, creates: true},
			{name: "no unique index on the key", setup: []string{"ALTER TABLE upsert_copy_rows DROP CONSTRAINT upsert_copy_rows_pkey"}, clause: onKey, stages: true},
			{name: "one struct twice", clause: onKey, shared: true, creates: true},
		} {
			t.Run(c.name, func(t *testing.T) {
				run := func(plugin bool) (upsertResult, []string, bool) {
					t.Helper()
					su.Exec("DROP FUNCTION IF EXISTS upsert_copy_fire CASCADE")
					su.Exec("DROP TABLE IF EXISTS upsert_copy_fired")
					recreate(t, su, &UpsertCopyRow{})
					for _, q := range c.setup {
						if err := su.Exec(q).Error; err != nil {
							t.Fatal(err)
						}
					}
					counter := &statementCounter{Interface: logger.Discard}
					db := open(t, &gorm.Config{Logger: counter})
					if c.grants != "" {
						for _, q := range []string{
							"GRANT " + c.grants + " ON upsert_copy_rows TO " + role,
							"GRANT USAGE ON SEQUENCE upsert_copy_rows_id_seq TO " + role,
						} {
							if c.fires {
								q += "; GRANT INSERT ON upsert_copy_fired TO " + role
							}
							if err := su.Exec(q).Error; err != nil {
								t.Fatal(err)
							}
						}
						sqlDB, _ := db.DB()
						sqlDB.SetMaxOpenConns(1) // so that SET ROLE holds
						if err := db.Exec("SET ROLE " + role).Error; err != nil {
							t.Fatal(err)
						}
					}
					if plugin {
						db = withPlugin(t, db, bulk.Config{Auto: true})
					}
					rows := make([]*UpsertCopyRow, 500)
					for i := range rows {
						rows[i] = &UpsertCopyRow{Email: fmt.Sprint("user", i), Name: fmt.Sprint("new ", i)}
					}
					if c.shared {
						rows[400] = rows[100]
					}
					if c.given {
						if err := su.Exec("INSERT INTO upsert_copy_rows (id, email, name) SELECT g, 'old' || g, 'old' FROM generate_series(1, 250) AS g").Error; err != nil {
							t.Fatal(err)
						}
						for i := range rows {
							rows[i].ID = uint(i + 1)
						}
					}
					if c.noTemp {
						if err := su.Exec("REVOKE TEMP ON DATABASE " + su.Migrator().CurrentDatabase() + " FROM PUBLIC").Error; err != nil {
							t.Fatal(err)
						}
						t.Cleanup(func() { su.Exec("GRANT TEMP ON DATABASE " + su.Migrator().CurrentDatabase() + " TO PUBLIC") })
					}
					copyStatements(counter, "")
					err := db.Clauses(c.clause).Create(&rows).Error
					table := tableRows(t, su, "upsert_copy_rows")
					if c.fires {
						table = append(table, map[string]any{"fired": count(t, su, "upsert_copy_fired")})
					}
					if c.noTemp {
						su.Exec("GRANT TEMP ON DATABASE " + su.Migrator().CurrentDatabase() + " TO PUBLIC")
					}
					copies, staged := copyStatements(counter, "COPY"), false
					for _, q := range copies {
						staged = staged || strings.HasPrefix(q, "COPY gormbulk_stage")
					}
					return upsertResult{&rows, table, err}, copies, staged
				}
				want, _, _ := run(false)
				got, copies, staged := run(true)
				sameAsGORM(t, c.creates, want, got)
				if (len(copies) > 0) != (c.copies || c.stages) || staged != c.stages {
					t.Errorf("COPY statements %q, want COPY: %v, staged: %v", copies, c.copies, c.stages)
				}
			})
		}
	})
}

// copyTracer records the COPYs pgx's CopyFromTracer is told of.
type copyTracer struct {
	mu     sync.Mutex
	starts []string
	ends   []pgx.TraceCopyFromEndData
}

func (c *copyTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (c *copyTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *copyTracer) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts = append(c.starts, fmt.Sprintf("%s %v", data.TableName.Sanitize(), data.ColumnNames))
	return ctx
}

func (c *copyTracer) TraceCopyFromEnd(_ context.Context, _ *pgx.Conn, data pgx.TraceCopyFromEndData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ends = append(c.ends, data)
}

// TestCopyFromTracer: the plugin's COPY (copyfrom_postgres.go, pgx's
// CopyFrom rebuilt) tells a tracer registered on pgx's connection config
// what pgx's own CopyFrom tells it: the table and columns at the start,
// and at the end the rows copied, or the error.
func TestCopyFromTracer(t *testing.T) {
	onPostgres(t, func(t *testing.T, _ func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		cfg, err := pgx.ParseConfig(liveDSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		tracer := &copyTracer{}
		cfg.Tracer = tracer
		sqlDB := stdlib.OpenDB(*cfg)
		t.Cleanup(func() { sqlDB.Close() })
		db := withPlugin(t, openDB(t, postgres.New(postgres.Config{Conn: sqlDB})))
		recreate(t, db, &CopyRow{})

		rows := copyRowsOf(300, "traced")
		if err := db.Clauses(bulk.Options{Method: bulk.Copy}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		rows = copyRowsOf(300, "traced") // the same emails: the COPY fails
		if err := db.Clauses(bulk.Options{Method: bulk.Copy}).Create(&rows).Error; err == nil {
			t.Fatal("a COPY of taken emails passed")
		}
		want := `"copy_rows" [email name age score active status created_at updated_at]`
		if len(tracer.starts) != 2 || tracer.starts[0] != want || tracer.starts[1] != want {
			t.Errorf("COPYs traced %q, want %q twice", tracer.starts, want)
		}
		var pgErr *pgconn.PgError
		switch {
		case len(tracer.ends) != 2:
			t.Fatalf("%d COPY ends traced, want 2", len(tracer.ends))
		case tracer.ends[0].Err != nil || tracer.ends[0].CommandTag.RowsAffected() != 300:
			t.Errorf("first COPY traced %d rows, error %v; want 300, none", tracer.ends[0].CommandTag.RowsAffected(), tracer.ends[0].Err)
		case !errors.As(tracer.ends[1].Err, &pgErr) || pgErr.Code != "23505":
			t.Errorf("second COPY traced error %v, want a unique violation", tracer.ends[1].Err)
		}
	})
}

// TestPostgresServerUnreadAtUse opens the DB while its server cannot be
// reached (a proxy refusing every connection, GORM's ping off), so db.Use
// cannot ask it its version(), and then lets the connections through: the
// first bulk statement asks, and the DB gets COPY.
func TestPostgresServerUnreadAtUse(t *testing.T) {
	onPostgres(t, func(t *testing.T, _ func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		cfg, err := pgx.ParseConfig(liveDSN("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		proxy := newGateProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
		host, port, _ := net.SplitHostPort(proxy.addr)
		dsn := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", host, port, cfg.User, cfg.Database)
		counter := &statementCounter{Interface: logger.Discard}
		db := openDB(t, postgres.Open(dsn), &gorm.Config{DisableAutomaticPing: true, Logger: counter})
		if err := db.Use(bulk.New()); err != nil {
			t.Fatal(err)
		}
		proxy.open.Store(true)
		recreate(t, db, &ParityBasic{})
		rows := parityBasicRows(2000)
		counter.sql = nil
		if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(counter.sql, func(s string) bool { return strings.HasPrefix(s, "COPY") }) {
			t.Errorf("no COPY once the server was reached: %.200s", strings.Join(counter.sql, "; "))
		}
		for i, r := range rows {
			if r.ID != uint(i+1) {
				t.Fatalf("row %d holds key %d", i, r.ID)
			}
		}
	})
}
