package bulk_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// HookRow records every hook call, so the plugin's order can be compared
// with GORM's.
type HookRow struct {
	ID   uint   `gorm:"primaryKey"`
	Name string `gorm:"uniqueIndex;size:64"`
	Seen string // written by BeforeCreate, so the table shows it ran first
}

var hookLog struct {
	sync.Mutex
	calls                     []string
	failBeforeAt, failAfterAt string
}

func logHook(name string, r *HookRow) error {
	hookLog.Lock()
	defer hookLog.Unlock()
	hookLog.calls = append(hookLog.calls, fmt.Sprintf("%s:%s:%d", name, r.Name, r.ID))
	if (strings.HasPrefix(name, "Before") && r.Name == hookLog.failBeforeAt) || (strings.HasPrefix(name, "After") && r.Name == hookLog.failAfterAt) {
		return fmt.Errorf("%s refused %s", name, r.Name)
	}
	return nil
}

func (r *HookRow) BeforeSave(*gorm.DB) error { return logHook("BeforeSave", r) }
func (r *HookRow) BeforeCreate(*gorm.DB) error {
	r.Seen = "before-create"
	return logHook("BeforeCreate", r)
}
func (r *HookRow) AfterCreate(*gorm.DB) error { return logHook("AfterCreate", r) }
func (r *HookRow) AfterSave(*gorm.DB) error   { return logHook("AfterSave", r) }

func resetHooks(failBefore, failAfter string) {
	hookLog.Lock()
	defer hookLog.Unlock()
	hookLog.calls, hookLog.failBeforeAt, hookLog.failAfterAt = nil, failBefore, failAfter
}

func hookCalls() []string {
	hookLog.Lock()
	defer hookLog.Unlock()
	return append([]string(nil), hookLog.calls...)
}

func hookRows(n int) []HookRow {
	rows := make([]HookRow, n)
	for i := range rows {
		rows[i].Name = fmt.Sprintf("h%02d", i)
	}
	return rows
}

func TestHooks(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		db := withPlugin(t, open(t))
		noTx := withPlugin(t, open(t, &gorm.Config{SkipDefaultTransaction: true}))

		t.Run("order as GORM", func(t *testing.T) {
			recreate(t, plain, &HookRow{})
			resetHooks("", "")
			want := hookRows(12)
			if err := plain.Create(&want).Error; err != nil {
				t.Fatal(err)
			}
			wantCalls := hookCalls()

			recreate(t, plain, &HookRow{})
			resetHooks("", "")
			got := hookRows(12)
			if err := db.Clauses(bulk.Options{BatchSize: 5}).Create(&got).Error; err != nil {
				t.Fatal(err)
			}
			if gotCalls := hookCalls(); !reflect.DeepEqual(gotCalls, wantCalls) {
				t.Errorf("hook calls\n got: %v\nwant: %v", gotCalls, wantCalls)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("structs %v, GORM %v", got, want)
			}
		})

		t.Run("SkipHooks", func(t *testing.T) {
			recreate(t, plain, &HookRow{})
			resetHooks("", "")
			rows := hookRows(8)
			err := db.Session(&gorm.Session{SkipHooks: true}).Clauses(bulk.Options{BatchSize: 3}).Create(&rows).Error
			if err != nil {
				t.Fatal(err)
			}
			if calls := hookCalls(); len(calls) != 0 {
				t.Errorf("hooks ran under SkipHooks: %v", calls)
			}
			if n := count(t, plain, "hook_rows"); n != 8 {
				t.Errorf("%d rows written, want 8", n)
			}
		})

		// A failing hook leaves the table as GORM's statement leaves it: as
		// it was inside GORM's default transaction; without it, a failing
		// AfterCreate keeps the rows (they were written before it ran).
		plainNoTx := open(t, &gorm.Config{SkipDefaultTransaction: true})
		for _, c := range []struct {
			name              string
			plain, db         *gorm.DB
			failBefore, after string
		}{
			{"BeforeCreate error", plain, db, "h07", ""},
			{"AfterCreate error", plain, db, "", "h09"},
			{"BeforeCreate error, SkipDefaultTransaction", plainNoTx, noTx, "h07", ""},
			{"AfterCreate error, SkipDefaultTransaction", plainNoTx, noTx, "", "h09"},
		} {
			t.Run(c.name, func(t *testing.T) {
				defer resetHooks("", "")
				recreate(t, plain, &HookRow{})
				resetHooks(c.failBefore, c.after)
				wantRows := hookRows(12)
				wantErr := c.plain.Create(&wantRows).Error
				want := count(t, plain, "hook_rows")

				recreate(t, plain, &HookRow{})
				resetHooks(c.failBefore, c.after)
				rows := hookRows(12)
				err := c.db.Clauses(bulk.Options{BatchSize: 4}).Create(&rows).Error
				if err == nil || wantErr == nil || err.Error() != wantErr.Error() {
					t.Fatalf("error = %v, GORM's %v", err, wantErr)
				}
				if n := count(t, plain, "hook_rows"); n != want {
					t.Errorf("%d rows left after a hook error, GORM %d", n, want)
				}
			})
		}
	})
}

func TestTransactions(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		db := withPlugin(t, open(t))
		noTx := withPlugin(t, open(t, &gorm.Config{SkipDefaultTransaction: true}))

		t.Run("outer rollback undoes the bulk create", func(t *testing.T) {
			recreate(t, db, &HookRow{})
			resetHooks("", "")
			errAbort := errors.New("abort")
			err := db.Transaction(func(tx *gorm.DB) error {
				rows := hookRows(20)
				if err := tx.Clauses(bulk.Options{BatchSize: 6}).Create(&rows).Error; err != nil {
					return err
				}
				if n := count(t, tx, "hook_rows"); n != 20 {
					t.Errorf("inside the transaction: %d rows, want 20", n)
				}
				return errAbort
			})
			if !errors.Is(err, errAbort) {
				t.Fatalf("Transaction = %v", err)
			}
			if n := count(t, db, "hook_rows"); n != 0 {
				t.Errorf("%d rows after rollback, want 0", n)
			}
		})

		modes := []struct {
			name string
			db   *gorm.DB
		}{{"default transaction", db}, {"SkipDefaultTransaction", noTx}}

		// A unique violation in a late chunk: the error names the chunk's
		// rows and keeps the driver's error; earlier chunks are undone.
		for _, c := range modes {
			t.Run("failing chunk, "+c.name, func(t *testing.T) {
				recreate(t, db, &HookRow{})
				resetHooks("", "")
				rows := hookRows(100)
				rows[73].Name = rows[2].Name
				err := c.db.Clauses(bulk.Options{BatchSize: 10}).Create(&rows).Error
				var chunkErr *bulk.ChunkError
				if !errors.As(err, &chunkErr) {
					t.Fatalf("error %v (%T), want a *bulk.ChunkError", err, err)
				}
				// The chunk of rows 70-79, or the row itself where the
				// database names it (COPY).
				if chunkErr.First > 73 || chunkErr.Last < 73 || chunkErr.Last-chunkErr.First > 9 {
					t.Errorf("ChunkError rows %d-%d, want 70-79 or 73", chunkErr.First, chunkErr.Last)
				}
				if !strings.Contains(strings.ToLower(err.Error()), "unique") && !strings.Contains(err.Error(), "Duplicate") {
					t.Errorf("error %q does not carry the driver's message", err)
				}
				if n := count(t, db, "hook_rows"); n != 0 {
					t.Errorf("%d rows left, want 0", n)
				}
			})
		}

		// A call of one statement goes to GORM's handler, in no
		// transaction of the plugin's: its error is a chunk's all the same,
		// and its rows get their keys.
		for _, c := range modes {
			t.Run("one statement, "+c.name, func(t *testing.T) {
				recreate(t, db, &HookRow{})
				resetHooks("", "")
				rows := hookRows(10)
				rows[7].Name = rows[2].Name
				err := c.db.Clauses(bulk.Options{}).Create(&rows).Error
				var chunkErr *bulk.ChunkError
				if !errors.As(err, &chunkErr) || chunkErr.First != 0 || chunkErr.Last != 9 {
					t.Errorf("error %v (%T), want a *bulk.ChunkError of rows 0-9", err, err)
				}
				if n := count(t, db, "hook_rows"); n != 0 {
					t.Errorf("%d rows left, want 0", n)
				}
				rows = hookRows(10)
				if err := c.db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
					t.Fatal(err)
				}
				for i, r := range rows {
					if r.ID == 0 {
						t.Errorf("row %d has no key", i)
					}
				}
			})
		}

		t.Run("TranslateError keeps gorm.ErrDuplicatedKey", func(t *testing.T) {
			tdb := withPlugin(t, open(t, &gorm.Config{TranslateError: true}))
			recreate(t, db, &HookRow{})
			rows := hookRows(10)
			rows[9].Name = rows[0].Name
			err := tdb.Clauses(bulk.Options{BatchSize: 3}).Create(&rows).Error
			if !errors.Is(err, gorm.ErrDuplicatedKey) {
				t.Errorf("error %v is not gorm.ErrDuplicatedKey", err)
			}
		})

		t.Run("cancelled context writes nothing", func(t *testing.T) {
			recreate(t, db, &HookRow{})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			rows := hookRows(10)
			err := db.WithContext(ctx).Clauses(bulk.Options{BatchSize: 3}).Create(&rows).Error
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v, want context.Canceled", err)
			}
			if n := count(t, db, "hook_rows"); n != 0 {
				t.Errorf("%d rows written under a cancelled context", n)
			}
		})
	})
}

// OneStatementRow's table records, per row, whether its INSERT ran in a
// transaction (a trigger reads MariaDB's in_transaction).
type OneStatementRow struct {
	ID   uint
	Name string
}

// TestOneStatementNoTransaction: under SkipDefaultTransaction a call the
// plugin writes as one statement that undoes nothing runs in no
// transaction of the plugin's, as GORM's statement does, whether GORM's
// handler writes it (a few rows, where RETURNING reads the keys) or the
// plugin (VALUES forced; without RETURNING, every call); a call of several
// chunks runs in one.
func TestOneStatementNoTransaction(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if !strings.HasPrefix(dialect, "mysql") {
			t.Skip("MariaDB's in_transaction tells")
		}
		plain := open(t)
		noTx := withPlugin(t, open(t, &gorm.Config{SkipDefaultTransaction: true}))
		for _, c := range []struct {
			name  string
			rows  int
			opts  bulk.Options
			inTxn bool
		}{
			{"few rows", 10, bulk.Options{}, false},
			{"VALUES", 120, bulk.Options{Method: bulk.Values}, false},
			{"chunks", 120, bulk.Options{BatchSize: 40}, true},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, plain, &OneStatementRow{})
				for _, sql := range []string{
					"ALTER TABLE one_statement_rows ADD in_txn int",
					"CREATE TRIGGER one_statement_rows_txn BEFORE INSERT ON one_statement_rows FOR EACH ROW SET NEW.in_txn = @@in_transaction",
				} {
					if err := plain.Exec(sql).Error; err != nil {
						t.Fatal(err)
					}
				}
				rows := make([]OneStatementRow, c.rows)
				for i := range rows {
					rows[i].Name = fmt.Sprint("n", i)
				}
				if err := noTx.Clauses(c.opts).Create(&rows).Error; err != nil {
					t.Fatal(err)
				}
				var inTxn []bool
				plain.Raw("SELECT in_txn FROM one_statement_rows").Scan(&inTxn)
				if len(inTxn) != c.rows {
					t.Fatalf("%d rows, want %d", len(inTxn), c.rows)
				}
				for i, in := range inTxn {
					if in != c.inTxn {
						t.Fatalf("row %d written in a transaction: %v, want %v", i, in, c.inTxn)
					}
				}
			})
		}
	})
}

// TestInput checks what the plugin does with input it cannot bulk-create.
func TestInput(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		db := withPlugin(t, open(t), bulk.Config{Auto: true})
		recreate(t, db, &HookRow{})
		resetHooks("", "")

		var nilSlice []HookRow
		cases := []struct {
			name  string
			value any
			want  error
		}{
			{"empty slice", &[]HookRow{}, gorm.ErrEmptySlice},
			{"nil slice", &nilSlice, gorm.ErrEmptySlice},
			{"nil", nil, gorm.ErrInvalidValue},
			{"slice of ints", &[]int{1, 2}, gorm.ErrInvalidData},
			{"nil row, hooks first", &[]*HookRow{{Name: "a"}, nil, {Name: "c"}}, gorm.ErrInvalidValue},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				err := db.Clauses(bulk.Options{}).Create(c.value).Error
				if err == nil {
					t.Fatalf("no error for %s", c.name)
				}
				if c.want != nil && !errors.Is(err, c.want) && !strings.Contains(err.Error(), "unsupported data") {
					t.Errorf("error %v, want %v", err, c.want)
				}
			})
		}
		if n := count(t, db, "hook_rows"); n != 0 {
			t.Errorf("%d rows written by bad input", n)
		}

		t.Run("nil row is named", func(t *testing.T) {
			// A model without hooks: GORM's BeforeCreate would stop at the
			// nil row first, with its own error.
			err := db.Create(&[]*ParityKeys{{Code: "a"}, {Code: "b"}, nil}).Error
			if err == nil || !strings.Contains(err.Error(), "row 2") {
				t.Errorf("error %v does not name row 2", err)
			}
		})
	})
}

// statementCounter counts the statements GORM logs.
type statementCounter struct {
	logger.Interface
	mu   sync.Mutex
	sql  []string
	info []string
}

func (c *statementCounter) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sql, _ := fc()
	c.sql = append(c.sql, sql)
}

// Info records what the plugin says at the logger's Info level.
func (c *statementCounter) Info(_ context.Context, msg string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.info = append(c.info, fmt.Sprintf(msg, args...))
}

// TestStepAsideSaid checks that a faster method stepping aside is said at
// Info, with its reason, once per table and reason however often the
// calls repeat it.
func TestStepAsideSaid(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}), bulk.Config{Auto: true})
		recreate(t, db, &UnnestWays{})
		for range 2 {
			rows := make([]UnnestWays, 600)
			for i := range rows {
				rows[i] = UnnestWays{UUID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i), Doc: "{}", Tags: CopyTags{"a"}}
			}
			if err := db.Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
		}
		want := []string{
			`gormbulk: COPY on "unnest_ways" steps aside for the statement path: column uuid is uuid and field UUID is string`,
			`gormbulk: arrays on "unnest_ways" steps aside for VALUES: column tags is text[] and pgx encodes its values (bulk_test.CopyTags) in binary`,
		}
		var said []string
		for _, s := range counter.info {
			if strings.HasPrefix(s, "gormbulk:") {
				said = append(said, s)
			}
		}
		if len(said) != len(want) {
			t.Fatalf("said %d times, want %d: %q", len(said), len(want), said)
		}
		for i, w := range want {
			if !strings.HasPrefix(said[i], w) {
				t.Errorf("said %q, want it to begin %q", said[i], w)
			}
		}
	})
}

func TestAutoAndOptions(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		auto := withPlugin(t, open(t, &gorm.Config{Logger: counter}), bulk.Config{Auto: true, BatchSize: 40})
		recreate(t, auto, &HookRow{})
		resetHooks("", "")

		inserts := func() int {
			counter.mu.Lock()
			defer counter.mu.Unlock()
			n := 0
			for _, s := range counter.sql {
				if strings.HasPrefix(s, "INSERT") || strings.HasPrefix(s, "COPY") {
					n++
				}
			}
			counter.sql = nil
			return n
		}

		steps := []struct {
			name      string
			create    func(rows *[]HookRow) *gorm.DB
			rows      int
			statments int
			ids       bool
		}{
			{"Auto Create uses Config.BatchSize", func(r *[]HookRow) *gorm.DB { return auto.Create(r) }, 100, 3, true},
			{"Auto CreateInBatches keeps the caller's batches", func(r *[]HookRow) *gorm.DB { return auto.CreateInBatches(r, 25) }, 100, 4, true},
			{"Options.BatchSize overrides Config", func(r *[]HookRow) *gorm.DB { return auto.Clauses(bulk.Options{BatchSize: 50}).Create(r) }, 100, 2, true},
			{"Options.Disable", func(r *[]HookRow) *gorm.DB { return auto.Clauses(bulk.Options{Disable: true}).Create(r) }, 100, 1, true},
			{"SkipReturning", func(r *[]HookRow) *gorm.DB { return auto.Clauses(bulk.Options{SkipReturning: true}).Create(r) }, 100, 3, false},
		}
		for i, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				inserts()
				rows := hookRows(s.rows)
				for j := range rows {
					rows[j].Name = fmt.Sprintf("s%d-%03d", i, j)
				}
				res := s.create(&rows)
				if res.Error != nil {
					t.Fatal(res.Error)
				}
				if res.RowsAffected != int64(s.rows) {
					t.Errorf("RowsAffected = %d, want %d", res.RowsAffected, s.rows)
				}
				if got := inserts(); got != s.statments {
					t.Errorf("%d INSERT or COPY statements logged, want %d", got, s.statments)
				}
				if gotIDs := rows[0].ID != 0 && rows[len(rows)-1].ID != 0; gotIDs != s.ids {
					t.Errorf("IDs read back: %v, want %v", gotIDs, s.ids)
				}
			})
		}
	})
}

// TestOneClock: GORM reads the clock once per statement, so every row of
// one Create gets the same timestamps however many chunks write them, and
// CreateInBatches reads it once per batch. The clock is real here and
// counts its readings, which must be GORM's.
func TestOneClock(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		var readings atomic.Int64
		clock := func() time.Time { readings.Add(1); return time.Now().Round(0) }
		plain := open(t)
		plain.Config.NowFunc = clock
		db := withPlugin(t, open(t))
		db.Config.NowFunc = clock
		methods := []bulk.Method{bulk.Values}
		if dialect == "postgres" {
			methods = append(methods, bulk.Copy)
		}
		for _, batches := range []int{0, 14} {
			create := func(db *gorm.DB, rows *[]ParityTimes) error {
				if batches > 0 {
					return db.CreateInBatches(rows, batches).Error
				}
				return db.Create(rows).Error
			}
			recreate(t, plain, &ParityTimes{})
			readings.Store(0)
			want := make([]ParityTimes, 42)
			if err := create(plain, &want); err != nil {
				t.Fatal(err)
			}
			wantReadings := readings.Load()
			for _, m := range methods {
				recreate(t, plain, &ParityTimes{})
				readings.Store(0)
				got := make([]ParityTimes, 42)
				if err := create(db.Clauses(bulk.Options{Method: m, BatchSize: 14}), &got); err != nil {
					t.Fatal(err)
				}
				if n := readings.Load(); n != wantReadings {
					t.Errorf("%v, batches %d: the clock was read %d times, by GORM %d", m, batches, n, wantReadings)
				}
				var stamps []time.Time
				if err := plain.Model(&ParityTimes{}).Distinct().Pluck("created_time", &stamps).Error; err != nil {
					t.Fatal(err)
				}
				if batches > 0 {
					continue
				}
				if len(stamps) != 1 {
					t.Errorf("%v: %d distinct created_time values, GORM's statement gives 1", m, len(stamps))
				}
				for i := range got {
					if !got[i].CreatedTime.Equal(got[0].CreatedTime) {
						t.Fatalf("%v: row %d created at %v, row 0 at %v", m, i, got[i].CreatedTime, got[0].CreatedTime)
					}
				}
			}
		}
	})
}

// PanicRow's Valuer panics on one row, as a user's Valuer may.
type PanicRow struct {
	ID   uint
	Name panicName
}

type panicName string

func (n panicName) Value() (driver.Value, error) {
	if n == "boom" {
		panic("panicName: boom")
	}
	return string(n), nil
}

// panicLeavesNothing requires create to panic, and then every connection
// of db's pool back (the rollback runs apart from the panic, see
// inTransaction) and the table empty.
func panicLeavesNothing(t *testing.T, db *gorm.DB, table string, create func()) {
	t.Helper()
	panicLeaves(t, db, table, 0, create)
}

// panicLeaves requires create to panic, and then every connection of db's
// pool back and want rows in the table.
func panicLeaves(t *testing.T, db *gorm.DB, table string, want int64, create func()) {
	t.Helper()
	mustPanic(t, create)
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	for wait := 0; sqlDB.Stats().InUse != 0 && wait < 100; wait++ {
		time.Sleep(10 * time.Millisecond)
	}
	if inUse := sqlDB.Stats().InUse; inUse != 0 {
		t.Fatalf("%d connections still in use after the panic", inUse)
	}
	if n := count(t, db, table); n != want {
		t.Errorf("%d rows left after the panic, want %d", n, want)
	}
}

// mustPanic requires f to panic.
func mustPanic(t *testing.T, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	f()
}

// TestConnectionsGoBack panics inside the bulk path (a Valuer the plugin
// values: PostgreSQL's arrays ask pgx how it encodes it, MySQL's limits
// weigh it) with and without GORM's default transaction, and requires
// every connection back in the pool, nothing written, and the pool working
// after.
func TestConnectionsGoBack(t *testing.T) {
	t.Cleanup(bulk.SetCatalogMinRows(1))
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if dialect == "sqlite" {
			t.Skip("SQLite's driver values the Valuer inside database/sql, which keeps the transaction's lock on a panic, as under GORM's own INSERT")
		}
		methods := []bulk.Method{bulk.AnyMethod}
		if strings.HasPrefix(dialect, "mysql") {
			// LOAD DATA values rows on a goroutine of its own.
			methods = append(methods, bulk.LoadData)
		}
		for _, method := range methods {
			for _, skip := range []bool{false, true} {
				t.Run(fmt.Sprint("SkipDefaultTransaction=", skip, "/", method), func(t *testing.T) {
					db := withPlugin(t, open(t, &gorm.Config{SkipDefaultTransaction: skip}))
					recreate(t, db, &PanicRow{})
					rows := make([]PanicRow, 150)
					for i := range rows {
						rows[i].Name = panicName(fmt.Sprint("row", i))
					}
					rows[120].Name = "boom"
					panicLeavesNothing(t, db, "panic_rows", func() {
						db.Clauses(bulk.Options{BatchSize: 50, Method: method}).Create(&rows)
					})
					rows[120].Name = "fine"
					if err := db.Clauses(bulk.Options{BatchSize: 50}).Create(&rows).Error; err != nil {
						t.Errorf("after the panic: %v", err)
					}
				})
			}
		}
	})
}

// HookPanicRow's hooks panic on the row named for them.
type HookPanicRow struct {
	ID   uint
	Name string
}

func (r *HookPanicRow) BeforeCreate(*gorm.DB) error {
	if r.Name == "before" {
		panic("BeforeCreate")
	}
	return nil
}

func (r *HookPanicRow) AfterCreate(*gorm.DB) error {
	if r.Name == "after" {
		panic("AfterCreate")
	}
	return nil
}

// TestHookPanicsReturnConnections panics in a row's BeforeCreate and
// AfterCreate under SkipDefaultTransaction, where the chunks share a
// transaction of the plugin's: it begins after the Before hooks and ends
// before the After hooks, so every connection goes back to the pool, and
// the table holds what GORM's one statement leaves (nothing, or all rows).
func TestHookPanicsReturnConnections(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t, &gorm.Config{SkipDefaultTransaction: true})
		db := withPlugin(t, open(t, &gorm.Config{SkipDefaultTransaction: true}))
		for _, hook := range []string{"before", "after"} {
			t.Run(hook, func(t *testing.T) {
				rows := func() []HookPanicRow {
					rows := make([]HookPanicRow, 150)
					for i := range rows {
						rows[i].Name = fmt.Sprint("row", i)
					}
					rows[120].Name = hook
					return rows
				}
				recreate(t, plain, &HookPanicRow{})
				want := rows()
				mustPanic(t, func() { plain.Create(&want) })
				left := count(t, plain, "hook_panic_rows")

				recreate(t, plain, &HookPanicRow{})
				got := rows()
				panicLeaves(t, db, "hook_panic_rows", left, func() { db.Clauses(bulk.Options{BatchSize: 50}).Create(&got) })
				more := []HookPanicRow{{Name: "a"}, {Name: "b"}}
				if err := db.Clauses(bulk.Options{}).Create(&more).Error; err != nil {
					t.Errorf("after the panic: %v", err)
				}
			})
		}
	})
}

// SlowRow's BeforeCreate outlasts the statement's deadline.
type SlowRow struct {
	ID   uint
	Name string
}

func (r *SlowRow) BeforeCreate(*gorm.DB) error {
	if r.Name == "slow" {
		time.Sleep(150 * time.Millisecond)
	}
	return nil
}

// TestErrorChain lets the context's deadline pass inside a bulk create in
// GORM's default transaction: the driver ends the transaction, GORM's
// rollback then fails, and GORM joins that error to the bulk path's with
// %v. The error must still be a context.DeadlineExceeded.
func TestErrorChain(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		db := withPlugin(t, open(t))
		recreate(t, db, &SlowRow{})
		rows := []SlowRow{{Name: "slow"}, {Name: "b"}, {Name: "c"}}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err := db.WithContext(ctx).Clauses(bulk.Options{}).Create(&rows).Error
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v (%T) is not context.DeadlineExceeded", err, err)
		}
		var chunkErr *bulk.ChunkError
		if !errors.As(err, &chunkErr) || chunkErr.First != 0 || chunkErr.Last != len(rows)-1 {
			t.Errorf("error %v (%T) is not a *bulk.ChunkError naming rows 0-%d", err, err, len(rows)-1)
		}
	})
}

// TestOptionsWithoutPlugin: Options on a DB without the plugin fail the
// statement instead of running as a plain Create.
func TestOptionsWithoutPlugin(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		db := open(t)
		recreate(t, db, &SlowRow{})
		rows := []SlowRow{{Name: "a"}, {Name: "b"}}
		if err := db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error; !errors.Is(err, bulk.ErrNotRegistered) {
			t.Errorf("error %v, want ErrNotRegistered", err)
		}
		if n := count(t, db, "slow_rows"); n != 0 {
			t.Errorf("%d rows written", n)
		}
	})
}

// TestOnePluginTwoDBs registers one Plugin value on a SQLite DB and on a
// DB of each dialect: each keeps its own handler, dialect and caches, so
// both write their rows with their own keys, by their own paths.
func TestOnePluginTwoDBs(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plugin := bulk.New(bulk.Config{Auto: true})
		liteLog := &statementCounter{Interface: logger.Discard}
		lite := openDB(t, sqlite.Open(filepath.Join(t.TempDir(), "two.db")), &gorm.Config{Logger: liteLog})
		other := open(t)
		for _, db := range []*gorm.DB{lite, other} {
			if err := db.Use(plugin); err != nil {
				t.Fatal(err)
			}
		}
		for name, db := range map[string]*gorm.DB{"sqlite": lite, dialect: other} {
			recreate(t, db, &ParityBasic{})
			rows := parityBasicRows(400)
			liteLog.sql = nil
			if err := db.Create(&rows).Error; err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if n := count(t, db, "parity_basics"); n != 400 {
				t.Errorf("%s: %d rows, want 400", name, n)
			}
			for i, r := range rows {
				if r.ID != uint(i+1) {
					t.Fatalf("%s: row %d has key %d", name, i, r.ID)
				}
			}
		}
		for _, s := range liteLog.sql {
			if strings.HasPrefix(s, "COPY") || strings.Contains(s, "unnest(") || strings.Contains(s, "RETURNING") {
				t.Errorf("SQLite wrote by another dialect's path: %.100s", s)
			}
		}
	})
}

// TestConcurrentCreates creates from several goroutines at once on two DBs
// that share one Plugin value, SQLite's and the dialect's (CI runs it under
// -race): every call's rows get their own rows' keys.
func TestConcurrentCreates(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plugin := bulk.New(bulk.Config{Auto: true})
		dbs := []*gorm.DB{openDB(t, sqlite.Open(filepath.Join(t.TempDir(), "concurrent.db"))), open(t)}
		for _, db := range dbs {
			if err := db.Use(plugin); err != nil {
				t.Fatal(err)
			}
			recreate(t, db, &ParityBasic{})
			if db.Dialector.Name() == "sqlite" {
				sqlDB, err := db.DB()
				if err != nil {
					t.Fatal(err)
				}
				sqlDB.SetMaxOpenConns(1) // SQLite writes one transaction at a time
			}
		}
		const goroutines, calls = 4, 3
		written := make([][]ParityBasic, len(dbs)*goroutines)
		var wg sync.WaitGroup
		for d, db := range dbs {
			for g := range goroutines {
				wg.Go(func() {
					for k := range calls {
						rows := parityBasicRows(300 + 100*k)
						for i := range rows {
							rows[i].Email = fmt.Sprintf("g%d-%d-%s", g, k, rows[i].Email)
						}
						if err := db.Create(&rows).Error; err != nil {
							t.Error(err)
							return
						}
						written[d*goroutines+g] = append(written[d*goroutines+g], rows...)
					}
				})
			}
		}
		wg.Wait()
		for d, db := range dbs {
			var stored []ParityBasic
			if err := db.Select("id", "email").Find(&stored).Error; err != nil {
				t.Fatal(err)
			}
			keys := make(map[string]uint, len(stored))
			for _, r := range stored {
				keys[r.Email] = r.ID
			}
			for g := range goroutines {
				for _, r := range written[d*goroutines+g] {
					if keys[r.Email] != r.ID {
						t.Fatalf("%s: row %s holds key %d, its row's is %d", db.Dialector.Name(), r.Email, r.ID, keys[r.Email])
					}
				}
			}
			if want := goroutines * (300 + 400 + 500); len(stored) != want {
				t.Errorf("%s: %d rows, want %d", db.Dialector.Name(), len(stored), want)
			}
		}
	})
}

// TestFieldPlansPerModel opens many DBs, each parsing the same model
// afresh, and requires the field-plan cache to hold the model's fields
// once, not once per DB.
func TestFieldPlansPerModel(t *testing.T) {
	write := func() {
		db := withPlugin(t, openDB(t, sqlite.Open(filepath.Join(t.TempDir(), "plans.db"))))
		recreate(t, db, &ParityBasic{})
		rows := parityBasicRows(3)
		if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
	}
	write()
	before := bulk.FieldPlans()
	for range 20 {
		write()
	}
	if after := bulk.FieldPlans(); after != before {
		t.Errorf("%d field plans after 20 more DBs, %d after the first", after, before)
	}
}

// AssocOwner has many AssocItems, one AssocProfile and many AssocLabels
// through a join table: GORM writes each in a session of its own, which
// drops the statement's clauses.
type AssocOwner struct {
	ID      uint
	Name    string
	Items   []AssocItem
	Profile AssocProfile
	Labels  []AssocLabel `gorm:"many2many:assoc_owner_labels"`
}

type AssocItem struct {
	ID           uint
	AssocOwnerID uint
	Name         string
}

type AssocProfile struct {
	ID           uint
	AssocOwnerID uint
	Bio          string
}

type AssocLabel struct {
	ID   uint
	Name string
}

// TestOptionsReachAssociations creates owners with Options and no Auto:
// what GORM writes for them (has-many items, has-one profiles,
// many-to-many labels and their join rows) must take the bulk path too.
// 17,000 owners × 2 items are 68,000 parameters in GORM's one items
// statement, and × 2 join rows as many, over every dialect's limit: GORM
// fails there; the plugin writes every row, each holding its own key and
// its own owner's.
func TestOptionsReachAssociations(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain, db := open(t), withPlugin(t, open(t))
		owners := func() []AssocOwner {
			rows := make([]AssocOwner, 17000)
			for i := range rows {
				rows[i] = AssocOwner{Name: fmt.Sprint("owner", i), Items: []AssocItem{{Name: "a"}, {Name: "b"}},
					Profile: AssocProfile{Bio: fmt.Sprint("bio", i)}, Labels: []AssocLabel{{Name: fmt.Sprint("x", i)}, {Name: fmt.Sprint("y", i)}}}
			}
			return rows
		}
		reset := func() {
			if err := plain.Migrator().DropTable("assoc_owner_labels"); err != nil {
				t.Fatal(err)
			}
			recreate(t, plain, &AssocOwner{}, &AssocItem{}, &AssocProfile{}, &AssocLabel{})
		}
		reset()
		want := owners()
		if err := plain.Create(&want).Error; err == nil {
			t.Error("GORM wrote 68,000 parameters in one statement")
		}

		reset()
		got := owners()
		if err := db.Clauses(bulk.Options{}).Create(&got).Error; err != nil {
			t.Fatal(err)
		}
		items, profiles, labels := byKey[AssocItem](t, plain, 34000), byKey[AssocProfile](t, plain, 17000), byKey[AssocLabel](t, plain, 34000)
		var joins []struct{ AssocOwnerID, AssocLabelID uint }
		if err := plain.Table("assoc_owner_labels").Find(&joins).Error; err != nil {
			t.Fatal(err)
		}
		joined := map[[2]uint]bool{}
		for _, j := range joins {
			joined[[2]uint{j.AssocOwnerID, j.AssocLabelID}] = true
		}
		if len(joins) != 34000 || len(joined) != 34000 {
			t.Errorf("%d join rows (%d distinct), want 34000", len(joins), len(joined))
		}
		for _, o := range got {
			for _, it := range o.Items {
				if it.ID == 0 || it.AssocOwnerID != o.ID || items[it.ID] != it {
					t.Fatalf("owner %d (%s) holds item %+v, whose key's row is %+v", o.ID, o.Name, it, items[it.ID])
				}
			}
			if p := o.Profile; p.ID == 0 || p.AssocOwnerID != o.ID || profiles[p.ID] != p {
				t.Fatalf("owner %d (%s) holds profile %+v, whose key's row is %+v", o.ID, o.Name, p, profiles[p.ID])
			}
			for _, l := range o.Labels {
				if l.ID == 0 || labels[l.ID] != l || !joined[[2]uint{o.ID, l.ID}] {
					t.Fatalf("owner %d (%s) holds label %+v, whose key's row is %+v (joined: %v)", o.ID, o.Name, l, labels[l.ID], joined[[2]uint{o.ID, l.ID}])
				}
			}
		}
	})
}

// byKey reads a model's table, which must hold n rows, by key.
func byKey[T any](t *testing.T, db *gorm.DB, n int) map[uint]T {
	t.Helper()
	var table []T
	if err := db.Find(&table).Error; err != nil {
		t.Fatal(err)
	}
	if len(table) != n {
		t.Errorf("%d rows of %T, want %d", len(table), table, n)
	}
	out := make(map[uint]T, len(table))
	for _, r := range table {
		out[reflect.ValueOf(r).FieldByName("ID").Interface().(uint)] = r
	}
	return out
}

// HookParent's AfterCreate writes children of its own through the hook's
// DB, outside GORM's association callbacks.
type HookParent struct {
	ID   uint
	Name string
}

type HookChild struct {
	ID   uint
	Name string
}

func (p *HookParent) AfterCreate(tx *gorm.DB) error {
	return createChildren(tx, p.Name == "first", 150)
}

// HookOwner's pets are written by GORM's association callback; the first
// pet's AfterCreate writes children of its own through the hook's DB.
type HookOwner struct {
	ID   uint
	Name string
	Pets []HookPet
}

type HookPet struct {
	ID          uint
	HookOwnerID uint
	Name        string
}

func (p *HookPet) AfterCreate(tx *gorm.DB) error { return createChildren(tx, p.Name == "pet0", 1000) }

// createChildren is a hook's plain Create of n rows, where the hook's row
// is the one that writes them.
func createChildren(tx *gorm.DB, writes bool, n int) error {
	if !writes {
		return nil
	}
	children := make([]HookChild, n)
	for i := range children {
		children[i].Name = fmt.Sprint("child", i)
	}
	return tx.Create(&children).Error
}

// TestHookCreatesKeepTheirOptions: the Options of a statement reach the
// creates GORM makes for its associations, not those hooks make, neither
// the statement's rows' hooks nor its associations' rows': a hook's plain
// Create stays GORM's own one statement.
func TestHookCreatesKeepTheirOptions(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		recreate(t, db, &HookParent{}, &HookOwner{}, &HookPet{})
		cases := []struct {
			name   string
			rows   int
			create func(db *gorm.DB) error
		}{
			{"the rows' hooks", 150, func(db *gorm.DB) error {
				parents := []HookParent{{Name: "first"}, {Name: "second"}}
				return db.Clauses(bulk.Options{BatchSize: 10}).Create(&parents).Error
			}},
			{"the associations' hooks", 1000, func(db *gorm.DB) error {
				owners := make([]HookOwner, 30)
				for i := range owners {
					owners[i] = HookOwner{Name: fmt.Sprint("owner", i), Pets: []HookPet{{Name: fmt.Sprint("pet", i)}, {Name: "other"}}}
				}
				return db.Clauses(bulk.Options{BatchSize: 10}).Create(&owners).Error
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &HookChild{})
				counter.sql = nil
				if err := c.create(db); err != nil {
					t.Fatal(err)
				}
				var writes []string
				for _, s := range counter.sql {
					if strings.Contains(s, "hook_children") {
						writes = append(writes, s)
					}
				}
				if len(writes) != 1 || !strings.HasPrefix(writes[0], "INSERT INTO") {
					t.Errorf("the hook's create took the bulk path: %d statements, the first %.120s", len(writes), strings.Join(writes, ""))
				}
				if n := count(t, db, "hook_children"); n != int64(c.rows) {
					t.Errorf("%d children, want %d", n, c.rows)
				}
			})
		}
	})
}
