package bulk_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gormbulk/bulk"
)

// BenchRow is the benchmark's table: 9 columns with a unique index, a
// default and timestamps.
type BenchRow struct {
	ID        uint   `gorm:"primaryKey"`
	Email     string `gorm:"uniqueIndex;size:191"`
	Name      string `gorm:"size:64"`
	Age       int
	Score     float64
	Active    bool
	Status    string `gorm:"size:16;default:active"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

func benchRows(n int) []BenchRow {
	rows := make([]BenchRow, n)
	for i := range rows {
		rows[i] = BenchRow{Email: fmt.Sprintf("user%07d@example.com", i), Name: fmt.Sprintf("User %d", i), Age: i % 90, Score: float64(i) / 3, Active: i%2 == 0}
	}
	return rows
}

// benchSize is the rows each iteration writes (GORMBULK_BENCH_ROWS).
func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("GORMBULK_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// BenchmarkCreate writes the same rows per dialect with GORM's
// CreateInBatches(1000), with the driver's fastest raw path (pgx CopyFrom
// on PostgreSQL; elsewhere a prepared multi-row INSERT of maximal size,
// reused across chunks) and with the plugin: its automatic choice with IDs
// read back (COPY on PostgreSQL), its statement path, and without read-back.
// Each plugin result carries its ratio to CreateInBatches as x-cib. The
// automatic choice also carries its ratio to the raw ceiling as x-raw,
// paired: each timed run sits next to an untimed run of the ceiling on the
// same rows, so the drift of a shared machine falls on both alike.
func BenchmarkCreate(b *testing.B) {
	n := benchSize()
	eachDialectB(b, func(b *testing.B, dialect string, db *gorm.DB) {
		const cib = "gorm-CreateInBatches-1000"
		ceiling := rawInsert
		switch dialect {
		case "postgres":
			ceiling = rawCopy
		case "mysql":
			ceiling = rawLoadData
		}
		var cibRate float64
		methods := []struct {
			name   string
			create func(db *gorm.DB, rows []BenchRow) error
		}{
			{cib, func(db *gorm.DB, rows []BenchRow) error { return db.CreateInBatches(&rows, 1000).Error }},
			{"raw-prepared-insert", rawInsert},
			{"raw-pgx-CopyFrom", rawCopy},
			{"raw-LOAD-DATA", rawLoadData},
			{"plugin-SkipReturning", func(db *gorm.DB, rows []BenchRow) error {
				return db.Clauses(bulk.Options{SkipReturning: true}).Create(&rows).Error
			}},
			{"plugin-Values", func(db *gorm.DB, rows []BenchRow) error {
				return db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error
			}},
			{"plugin", func(db *gorm.DB, rows []BenchRow) error { return db.Clauses(bulk.Options{}).Create(&rows).Error }},
		}
		for _, m := range methods {
			if (m.name == "raw-pgx-CopyFrom" && dialect != "postgres") || (m.name == "raw-LOAD-DATA" && dialect != "mysql") {
				continue
			}
			b.Run(m.name, func(b *testing.B) {
				b.ReportAllocs()
				b.StopTimer()
				var ceilingTime time.Duration
				runCeiling := func() {
					if err := emptyTable(db); err != nil {
						b.Fatal(err)
					}
					rows := benchRows(n)
					begin := time.Now()
					if err := ceiling(db, rows); err != nil {
						b.Fatal(err)
					}
					ceilingTime += time.Since(begin)
				}
				for i := 0; i < b.N; i++ {
					// The pair alternates its order, so neither run
					// always follows the other's TRUNCATE.
					paired := m.name == "plugin"
					if paired && i%2 == 0 {
						runCeiling()
					}
					if err := emptyTable(db); err != nil {
						b.Fatal(err)
					}
					rows := benchRows(n)
					b.StartTimer()
					if err := m.create(db, rows); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if paired && i%2 == 1 {
						runCeiling()
					}
				}
				rate := float64(n*b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rate, "rows/s")
				switch {
				case m.name == cib:
					cibRate = rate
				case strings.HasPrefix(m.name, "plugin"):
					b.ReportMetric(rate/cibRate, "x-cib")
				}
				if m.name == "plugin" {
					b.ReportMetric(ceilingTime.Seconds()/b.Elapsed().Seconds(), "x-raw")
				}
			})
		}
	})
}

// rawCopy is pgx's CopyFrom fed straight from the structs, on the pgx
// connection under database/sql: the ceiling the COPY path is held to.
func rawCopy(db *gorm.DB, rows []BenchRow) error {
	i := -1
	return rawCopyRows(db, func() (*BenchRow, bool) {
		i++
		if i == len(rows) {
			return nil, false
		}
		return &rows[i], true
	})
}

// rawCopyRows copies the rows next gives, with pgx's CopyFrom fed by
// CopyFromFunc, on the pgx connection under database/sql.
func rawCopyRows(db *gorm.DB, next func() (*BenchRow, bool)) error {
	now := db.NowFunc()
	columns := []string{"email", "name", "age", "score", "active", "status", "created_at", "updated_at"}
	return onPgx(db, func(ctx context.Context, c *pgx.Conn) error {
		values := make([]any, len(columns))
		_, err := c.CopyFrom(ctx, pgx.Identifier{"bench_rows"}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			r, ok := next()
			if !ok {
				return nil, nil
			}
			values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7] = r.Email, r.Name, r.Age, r.Score, r.Active, "active", now, now
			return values, nil
		}))
		return err
	})
}

// onPgx runs f on a pgx connection of db's pool, as a hand-written
// loader reaches pgx under database/sql.
func onPgx(db *gorm.DB, f func(ctx context.Context, c *pgx.Conn) error) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return f(ctx, dc.(*stdlib.Conn).Conn()) })
}

// rawLoadData is a hand-written LOAD DATA LOCAL of the rows, streamed as
// tab-separated text from a reader in one transaction: MySQL's ceiling.
func rawLoadData(db *gorm.DB, rows []BenchRow) error {
	now := db.NowFunc().Format("2006-01-02 15:04:05.999999")
	return db.Transaction(func(tx *gorm.DB) error {
		_, err := rawLoad(tx, "bench_rows", "email,name,age,score,active,status,created_at,updated_at", len(rows), func(i int, line []byte) []byte {
			r := &rows[i]
			line = append(line, r.Email...)
			line = append(line, '\t')
			line = append(line, r.Name...)
			line = append(line, '\t')
			line = strconv.AppendInt(line, int64(r.Age), 10)
			line = append(line, '\t')
			line = strconv.AppendFloat(line, r.Score, 'g', -1, 64)
			line = append(line, '\t')
			if r.Active {
				line = append(line, '1')
			} else {
				line = append(line, '0')
			}
			line = append(line, "\tactive\t"...)
			line = append(line, now...)
			line = append(line, '\t')
			line = append(line, now...)
			return line
		})
		return err
	})
}

// rawLoad streams n rows, each a tab-separated line, into the table's
// columns by LOAD DATA LOCAL, and returns LAST_INSERT_ID(): the first
// generated key.
func rawLoad(tx *gorm.DB, table, columns string, n int, line func(i int, line []byte) []byte) (int64, error) {
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		var b []byte
		for i := range n {
			b = append(line(i, b[:0]), '\n')
			w.Write(b)
		}
		pw.CloseWithError(w.Flush())
	}()
	mysql.RegisterReaderHandler(table, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(table)
	if err := tx.Exec("LOAD DATA LOCAL INFILE 'Reader::" + table + "' INTO TABLE " + table + " CHARACTER SET utf8mb4 " +
		"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + columns + ")").Error; err != nil {
		return 0, err
	}
	var first int64
	err := tx.Raw("SELECT LAST_INSERT_ID()").Scan(&first).Error
	return first, err
}

// rawAssociationsLoad is MySQL's hand-written create of users with their
// orders, keeping what GORM writes where no order meets a duplicate key:
// each table by LOAD DATA LOCAL, its keys from LAST_INSERT_ID() on.
func rawAssociationsLoad(db *gorm.DB, users []BenchUser) error {
	return db.Transaction(func(tx *gorm.DB) error {
		first, err := rawLoad(tx, "bench_users", "email,name", len(users), func(i int, line []byte) []byte {
			line = append(line, users[i].Email...)
			line = append(line, '\t')
			return append(line, users[i].Name...)
		})
		if err != nil {
			return err
		}
		var orders []*BenchOrder
		for i := range users {
			users[i].ID = uint(first) + uint(i)
			for j := range users[i].Orders {
				users[i].Orders[j].UserID = users[i].ID
				orders = append(orders, &users[i].Orders[j])
			}
		}
		first, err = rawLoad(tx, "bench_orders", "user_id,amount,note", len(orders), func(i int, line []byte) []byte {
			line = strconv.AppendUint(line, uint64(orders[i].UserID), 10)
			line = append(line, '\t')
			line = strconv.AppendFloat(line, orders[i].Amount, 'g', -1, 64)
			line = append(line, '\t')
			return append(line, orders[i].Note...)
		})
		for i := range orders {
			orders[i].ID = uint(first) + uint(i)
		}
		return err
	})
}

// emptyTable empties bench_rows between runs. TRUNCATE leaves no dead rows
// behind to slow the next method's unique checks, as DELETE would on
// PostgreSQL; SQLite truncates on an unqualified DELETE.
func emptyTable(db *gorm.DB) error {
	if db.Dialector.Name() == "sqlite" {
		return db.Exec("DELETE FROM bench_rows").Error
	}
	return db.Exec("TRUNCATE TABLE bench_rows").Error
}

// rawInsert is what a hand-written loader does: one prepared INSERT of as
// many rows as the parameter limit allows, reused for every full chunk, its
// arguments taken from the structs without reflection, all in one
// transaction.
func rawInsert(db *gorm.DB, rows []BenchRow) error {
	maxParams := 65535
	if db.Dialector.Name() == "sqlite" {
		maxParams = 32766
	}
	now := db.NowFunc()
	return db.Transaction(func(tx *gorm.DB) error {
		return rawChunks(tx, "INSERT INTO bench_rows (email,name,age,score,active,status,created_at,updated_at) VALUES ", "", 8, maxParams, len(rows),
			func(i int, args []any) []any {
				r := &rows[i]
				return append(args, r.Email, r.Name, r.Age, r.Score, r.Active, "active", now, now)
			}, nil)
	})
}

// createSize is one size of the sweep: n rows per call, under a
// CreateBatchSize of batch (0: none), of the columns selected (nil: all).
type createSize struct {
	name     string
	n, batch int
	columns  []string
}

// narrow selects four of BenchRow's columns: a call's values, which decide
// PostgreSQL's arrays, are then half as many per row.
var narrow = []string{"email", "name", "score", "created_at"}

// createSizes are the sweep's sizes, from a handful to 1,000,000
// (GORMBULK_BENCH_ROWS caps them, 100,000 by default), 100 and 200 rows
// of four columns, and 1,000 rows under a CreateBatchSize of 50, where
// GORM cuts the call before the plugin sees it.
func createSizes() []createSize {
	var sizes []createSize
	for _, size := range []createSize{{"10", 10, 0, nil}, {"100", 100, 0, nil}, {"100-4-columns", 100, 0, narrow},
		{"200-4-columns", 200, 0, narrow}, {"300", 300, 0, nil}, {"1000", 1000, 0, nil}, {"10000", 10000, 0, nil},
		{"100000", 100000, 0, nil}, {"1000000", 1000000, 0, nil}, {"1000-CreateBatchSize-50", 1000, 50, nil}} {
		if size.n <= benchSize() {
			sizes = append(sizes, size)
		}
	}
	return sizes
}

// sizeCreates returns plain GORM's create of a size (Create where one
// statement holds the rows, CreateInBatches(1000) beyond) and the
// plugin's automatic choice.
func sizeCreates(all *gorm.DB, size createSize) (plain, auto func(rows []BenchRow) error) {
	session := all.Session(&gorm.Session{CreateBatchSize: size.batch})
	// Each call a statement of its own: a Select kept would carry the
	// plugin's clause into GORM's calls.
	db := func() *gorm.DB {
		if size.columns != nil {
			return session.Select(size.columns)
		}
		return session
	}
	plain = func(rows []BenchRow) error {
		if size.n*8 > 32766 {
			return db().CreateInBatches(&rows, 1000).Error
		}
		return db().Create(&rows).Error
	}
	auto = func(rows []BenchRow) error { return db().Clauses(bulk.Options{}).Create(&rows).Error }
	return plain, auto
}

// BenchmarkCreateSizes sweeps the rows per call and pairs each call of
// the plugin's automatic choice with plain GORM's on the same rows, the
// table emptied before each, alternating which goes first. ns/op is the
// plugin's; x-gorm is GORM's time over the plugin's (above 1: the plugin
// is faster).
func BenchmarkCreateSizes(b *testing.B) {
	eachDialectB(b, func(b *testing.B, dialect string, all *gorm.DB) {
		for _, size := range createSizes() {
			plain, auto := sizeCreates(all, size)
			b.Run(size.name, func(b *testing.B) {
				b.StopTimer()
				var gormTime time.Duration
				for i := 0; i < b.N; i++ {
					for k := range 2 {
						if err := emptyTable(all); err != nil {
							b.Fatal(err)
						}
						rows := benchRows(size.n)
						if (i+k)%2 == 0 {
							begin := time.Now()
							if err := plain(rows); err != nil {
								b.Fatal(err)
							}
							gormTime += time.Since(begin)
							continue
						}
						b.StartTimer()
						if err := auto(rows); err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
					}
				}
				b.ReportMetric(gormTime.Seconds()/b.Elapsed().Seconds(), "x-gorm")
			})
		}
	})
}

// BenchmarkCreateSizesAB is the sweep as two sub-benchmarks per size,
// impl=gorm and impl=bulk, for benchstat's test of significance. Run it
// several times (-count would run each sub-benchmark's repetitions back
// to back, where the machine's drift falls on one side):
//
//	for i in $(seq 10); do go test -run '^$' -bench CreateSizesAB .; done > sizes.txt
//	benchstat -col /impl sizes.txt
func BenchmarkCreateSizesAB(b *testing.B) {
	eachDialectB(b, func(b *testing.B, dialect string, all *gorm.DB) {
		for _, size := range createSizes() {
			plain, auto := sizeCreates(all, size)
			for _, impl := range []struct {
				name   string
				create func(rows []BenchRow) error
			}{{"gorm", plain}, {"bulk", auto}} {
				b.Run("rows="+size.name+"/impl="+impl.name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						if err := emptyTable(all); err != nil {
							b.Fatal(err)
						}
						rows := benchRows(size.n)
						b.StartTimer()
						if err := impl.create(rows); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	})
}

// streamSize is the rows BenchmarkStream loads (GORMBULK_STREAM_ROWS).
func streamSize() int {
	if n, err := strconv.Atoi(os.Getenv("GORMBULK_STREAM_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// benchRow returns row i of a generated load, as benchRows does.
func benchRow(i int) BenchRow {
	return BenchRow{Email: fmt.Sprintf("user%08d@example.com", i), Name: fmt.Sprintf("User %d", i), Age: i % 90, Score: float64(i) / 3, Active: i%2 == 0}
}

// BenchmarkStream streams GORMBULK_STREAM_ROWS generated rows (1,000,000
// unless set) into PostgreSQL through bulk.Stream, keys read back, and
// pairs each load with a raw pgx CopyFrom fed by CopyFromFunc over the
// same rows into the emptied table. It reports rows/s, x-raw (the raw
// load's time over the stream's) and the process's peak RSS during the
// stream (peak-MB, reset before each sub-benchmark): run it at two sizes
// to see the memory stay flat.
func BenchmarkStream(b *testing.B) {
	n := streamSize()
	eachDialectB(b, func(b *testing.B, dialect string, db *gorm.DB) {
		if dialect != "postgres" {
			b.Skip("paired with pgx CopyFrom")
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.StopTimer()
			var rawTime time.Duration
			runRaw := func() {
				if err := emptyTable(db); err != nil {
					b.Fatal(err)
				}
				begin := time.Now()
				if err := rawCopyFunc(db, n); err != nil {
					b.Fatal(err)
				}
				rawTime += time.Since(begin)
			}
			for i := 0; i < b.N; i++ {
				// The pair alternates its order, as in BenchmarkCreate.
				if i%2 == 0 {
					runRaw()
				}
				if err := emptyTable(db); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				resetPeakRSS(b)
				b.StartTimer()
				res, err := bulk.Stream(db, func(yield func(BenchRow) bool) {
					for i := range n {
						if !yield(benchRow(i)) {
							return
						}
					}
				})
				b.StopTimer()
				if err != nil || res.Rows != int64(n) {
					b.Fatal(res, err)
				}
				if i%2 == 1 {
					runRaw()
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(rawTime.Seconds()/b.Elapsed().Seconds(), "x-raw")
			b.ReportMetric(peakRSS(b)/(1<<20), "peak-MB")
		})
	})
}

// rawCopyFunc is a raw pgx CopyFrom of n generated rows, fed by
// CopyFromFunc: the ceiling a stream is held to.
func rawCopyFunc(db *gorm.DB, n int) error {
	i := -1
	var row BenchRow
	return rawCopyRows(db, func() (*BenchRow, bool) {
		i++
		if i == n {
			return nil, false
		}
		row = benchRow(i)
		return &row, true
	})
}

// resetPeakRSS resets the process's peak resident set (Linux).
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skip("cannot reset the peak RSS:", err)
	}
}

// peakRSS returns the process's peak resident set in bytes (Linux).
func peakRSS(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) * 1024
		}
	}
	b.Fatal("no VmHWM")
	return 0
}

// BenchmarkUpsert upserts 40,000 rows of which half exist (ON CONFLICT on
// the unique email, updating four columns), each run paired with GORM's
// CreateInBatches(1000) of the same rows and clause into the same
// starting table: x-cib is GORM's time over the plugin's. On PostgreSQL
// each run is also paired with a hand-written staged upsert
// (rawStagedUpsert): x-raw is its time over the plugin's.
func BenchmarkUpsert(b *testing.B) {
	const n = 40_000
	eachDialectB(b, func(b *testing.B, dialect string, db *gorm.DB) {
		upsert := clause.OnConflict{Columns: []clause.Column{{Name: "email"}}, DoUpdates: clause.AssignmentColumns([]string{"name", "age", "score", "updated_at"})}
		prepare := func() []BenchRow {
			if err := emptyTable(db); err != nil {
				b.Fatal(err)
			}
			existing := benchRows(n / 2)
			if err := db.Clauses(bulk.Options{SkipReturning: true}).Create(&existing).Error; err != nil {
				b.Fatal(err)
			}
			rows := benchRows(n)
			for i := range rows {
				rows[i].Name += " updated"
			}
			return rows
		}
		const runs = 3
		b.StopTimer()
		var gormTime, rawTime time.Duration
		for i := 0; i < b.N; i++ {
			for k := range runs {
				rows := prepare()
				begin := time.Now()
				switch (i + k) % runs {
				case 0:
					if err := db.Clauses(upsert).CreateInBatches(&rows, 1000).Error; err != nil {
						b.Fatal(err)
					}
					gormTime += time.Since(begin)
				case 2:
					if dialect == "mysql-lastinsertid" {
						continue // the raw ceiling reads keys with RETURNING
					}
					raw := rawStagedUpsert
					if dialect != "postgres" {
						raw = rawUpsertInserts
					}
					if err := raw(db, rows); err != nil {
						b.Fatal(err)
					}
					rawTime += time.Since(begin)
				default:
					b.StartTimer()
					if err := db.Clauses(upsert, bulk.Options{}).Create(&rows).Error; err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(gormTime.Seconds()/b.Elapsed().Seconds(), "x-cib")
		if rawTime > 0 {
			b.ReportMetric(rawTime.Seconds()/b.Elapsed().Seconds(), "x-raw")
		}
	})
}

// rawStagedUpsert is PostgreSQL's hand-written upsert: the rows COPYed
// into a staging table local to the transaction, then moved by one INSERT
// … SELECT … ON CONFLICT … RETURNING in staging order, the keys read back
// into the rows; BenchmarkUpsert's clause, its timestamps as GORM sets
// them.
func rawStagedUpsert(db *gorm.DB, rows []BenchRow) error {
	now := db.NowFunc()
	return onPgx(db, func(ctx context.Context, c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE bench_stage ON COMMIT DROP AS SELECT 0::int8 AS n, email, name, age, score, active, status, created_at, updated_at FROM bench_rows WITH NO DATA"); err != nil {
			return err
		}
		columns := []string{"n", "email", "name", "age", "score", "active", "status", "created_at", "updated_at"}
		i := -1
		values := make([]any, len(columns))
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_stage"}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			i++
			if i == len(rows) {
				return nil, nil
			}
			r := &rows[i]
			values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7], values[8] = i, r.Email, r.Name, r.Age, r.Score, r.Active, "active", now, now
			return values, nil
		})); err != nil {
			return err
		}
		keys, err := tx.Query(ctx, `INSERT INTO bench_rows (email, name, age, score, active, status, created_at, updated_at)
SELECT email, name, age, score, active, status, created_at, updated_at FROM bench_stage ORDER BY n
ON CONFLICT (email) DO UPDATE SET name = excluded.name, age = excluded.age, score = excluded.score, updated_at = excluded.updated_at
RETURNING id`)
		if err != nil {
			return err
		}
		for i := 0; keys.Next(); i++ {
			if err := keys.Scan(&rows[i].ID); err != nil {
				return err
			}
		}
		if err := keys.Err(); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// BenchUser and BenchOrder are a has-many pair: GORM writes the orders as
// an upsert on their key after the users.
type BenchUser struct {
	ID     uint
	Email  string `gorm:"uniqueIndex;size:191"`
	Name   string
	Orders []BenchOrder `gorm:"foreignKey:UserID"`
}

type BenchOrder struct {
	ID     uint
	UserID uint
	Amount float64
	Note   string
}

// BenchmarkAssociations creates 40,000 users with two orders each through
// Auto, paired with GORM's CreateInBatches(1000) of the same rows: x-cib
// is GORM's time over the plugin's.
func BenchmarkAssociations(b *testing.B) {
	const n = 40_000
	eachDialectB(b, func(b *testing.B, dialect string, db *gorm.DB) {
		users := func() []BenchUser {
			if err := db.Migrator().DropTable(&BenchOrder{}, &BenchUser{}); err != nil {
				b.Fatal(err)
			}
			if err := db.AutoMigrate(&BenchUser{}, &BenchOrder{}); err != nil {
				b.Fatal(err)
			}
			out := make([]BenchUser, n)
			for i := range out {
				out[i] = BenchUser{Email: fmt.Sprintf("u%d@example.com", i), Name: fmt.Sprint("user ", i),
					Orders: []BenchOrder{{Amount: float64(i), Note: "first"}, {Amount: float64(i) / 2, Note: "second"}}}
			}
			return out
		}
		const runs = 3
		b.StopTimer()
		var gormTime, rawTime time.Duration
		for i := 0; i < b.N; i++ {
			for k := range runs {
				rows := users()
				begin := time.Now()
				switch (i + k) % runs {
				case 0:
					if err := db.CreateInBatches(&rows, 1000).Error; err != nil {
						b.Fatal(err)
					}
					gormTime += time.Since(begin)
				case 2:
					raw := map[string]func(*gorm.DB, []BenchUser) error{
						"postgres": rawAssociations, "mysql": rawAssociationsLoad, "mysql-lastinsertid": rawAssociationsLoad, "sqlite": rawAssociationsInserts,
					}[dialect]
					if err := raw(db, rows); err != nil {
						b.Fatal(err)
					}
					rawTime += time.Since(begin)
				default:
					b.StartTimer()
					if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
				}
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "users/s")
		b.ReportMetric(gormTime.Seconds()/b.Elapsed().Seconds(), "x-cib")
		if rawTime > 0 {
			b.ReportMetric(rawTime.Seconds()/b.Elapsed().Seconds(), "x-raw")
		}
	})
}

// rawAssociations is PostgreSQL's hand-written create of users with their
// orders, keeping what GORM writes where no order's key is taken by hand
// (GORM's has-many upsert, ON CONFLICT (id) DO UPDATE SET user_id, then
// updates nothing): each table's keys drawn in one round trip and COPYed
// with its rows, the orders with their users' keys.
func rawAssociations(db *gorm.DB, users []BenchUser) error {
	return onPgx(db, func(ctx context.Context, c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		draw := func(seq string, n int) ([]int64, error) {
			var keys []int64
			err := tx.QueryRow(ctx, "SELECT array_agg(nextval($1::regclass) ORDER BY g) FROM generate_series(1, $2) AS g", seq, n).Scan(&keys)
			return keys, err
		}
		keys, err := draw("bench_users_id_seq", len(users))
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_users"}, []string{"id", "email", "name"}, pgx.CopyFromSlice(len(users), func(i int) ([]any, error) {
			users[i].ID = uint(keys[i])
			return []any{keys[i], users[i].Email, users[i].Name}, nil
		})); err != nil {
			return err
		}
		var orders []*BenchOrder
		for i := range users {
			for j := range users[i].Orders {
				o := &users[i].Orders[j]
				o.UserID = users[i].ID
				orders = append(orders, o)
			}
		}
		if keys, err = draw("bench_orders_id_seq", len(orders)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_orders"}, []string{"id", "user_id", "amount", "note"}, pgx.CopyFromSlice(len(orders), func(i int) ([]any, error) {
			orders[i].ID = uint(keys[i])
			return []any{keys[i], orders[i].UserID, orders[i].Amount, orders[i].Note}, nil
		})); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// rawAssociationsInserts is SQLite's hand-written create of users with
// their orders, keeping what GORM writes: prepared multi-row INSERTs of
// maximal size reused across chunks, each chunk's keys from its
// LastInsertId, the orders as GORM's has-many upsert on their key.
func rawAssociationsInserts(db *gorm.DB, users []BenchUser) error {
	const maxParams, upsert = 32766, " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id"
	var orders []*BenchOrder
	return db.Transaction(func(tx *gorm.DB) error {
		err := rawChunks(tx, "INSERT INTO bench_users (email, name) VALUES ", "", 2, maxParams, len(users),
			func(i int, args []any) []any { return append(args, users[i].Email, users[i].Name) },
			func(i int, key int64) {
				users[i].ID = uint(key)
				for j := range users[i].Orders {
					users[i].Orders[j].UserID = uint(key)
					orders = append(orders, &users[i].Orders[j])
				}
			})
		if err != nil {
			return err
		}
		return rawChunks(tx, "INSERT INTO bench_orders (user_id, amount, note) VALUES ", upsert, 3, maxParams, len(orders),
			func(i int, args []any) []any { return append(args, orders[i].UserID, orders[i].Amount, orders[i].Note) },
			func(i int, key int64) { orders[i].ID = uint(key) })
	})
}

// rawChunks writes n rows of cols columns by prepared multi-row INSERTs
// of as many rows as maxParams allows, giving row i its key, where key is
// given, from what the statement's RETURNING hands back, in order, or else
// from the chunk's LastInsertId.
func rawChunks(tx *gorm.DB, head, tail string, cols, maxParams, n int, args func(i int, args []any) []any, key func(i int, key int64)) error {
	per := maxParams / cols
	var (
		prepared *sql.Stmt
		size     int
		values   = make([]any, 0, per*cols)
	)
	defer func() {
		if prepared != nil {
			prepared.Close()
		}
	}()
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		if end-start != size {
			if prepared != nil {
				prepared.Close()
			}
			query := head + rawPlaceholders(tx, cols, end-start) + tail
			var err error
			if prepared, err = tx.Statement.ConnPool.PrepareContext(tx.Statement.Context, query); err != nil {
				return err
			}
			size = end - start
		}
		values = values[:0]
		for i := start; i < end; i++ {
			values = args(i, values)
		}
		if strings.Contains(tail, "RETURNING") {
			if err := rawReturned(prepared, values, start, key); err != nil {
				return err
			}
			continue
		}
		result, err := prepared.Exec(values...)
		if err != nil {
			return err
		}
		if key == nil {
			continue
		}
		last, err := result.LastInsertId()
		if err != nil {
			return err
		}
		first := last // MySQL's first key of the INSERT; SQLite's last rowid
		if tx.Dialector.Name() == "sqlite" {
			first = last - int64(end-start) + 1
		}
		for i := start; i < end; i++ {
			key(i, first+int64(i-start))
		}
	}
	return nil
}

// rawPlaceholders is the VALUES list of n rows of cols parameters, in the
// dialect's placeholders.
func rawPlaceholders(tx *gorm.DB, cols, n int) string {
	var sb strings.Builder
	for i := range n * cols {
		switch {
		case i == 0:
			sb.WriteByte('(')
		case i%cols == 0:
			sb.WriteString("),(")
		default:
			sb.WriteByte(',')
		}
		if tx.Dialector.Name() == "postgres" {
			sb.WriteString("$" + strconv.Itoa(i+1))
		} else {
			sb.WriteByte('?')
		}
	}
	sb.WriteByte(')')
	return sb.String()
}

// rawReturned runs a chunk's INSERT … RETURNING key and gives the chunk's
// rows, from start, the keys it hands back, in order.
func rawReturned(prepared *sql.Stmt, values []any, start int, key func(i int, key int64)) error {
	rows, err := prepared.Query(values...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for i := start; rows.Next(); i++ {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return err
		}
		key(i, k)
	}
	return rows.Err()
}

// rawUpsertInserts is SQLite's and MariaDB's hand-written upsert:
// BenchmarkUpsert's clause in prepared multi-row INSERTs of maximal size
// reused across chunks, the keys read back with RETURNING, its timestamps
// as GORM sets them.
func rawUpsertInserts(db *gorm.DB, rows []BenchRow) error {
	maxParams, upsert := 65535, " ON DUPLICATE KEY UPDATE name = VALUES(name), age = VALUES(age), score = VALUES(score), updated_at = VALUES(updated_at) RETURNING id"
	if db.Dialector.Name() == "sqlite" {
		maxParams, upsert = 32766, " ON CONFLICT (email) DO UPDATE SET name = excluded.name, age = excluded.age, score = excluded.score, updated_at = excluded.updated_at RETURNING id"
	}
	now := db.NowFunc()
	return db.Transaction(func(tx *gorm.DB) error {
		return rawChunks(tx, "INSERT INTO bench_rows (email, name, age, score, active, status, created_at, updated_at) VALUES ", upsert, 8, maxParams, len(rows),
			func(i int, args []any) []any {
				r := &rows[i]
				return append(args, r.Email, r.Name, r.Age, r.Score, r.Active, "active", now, now)
			},
			func(i int, key int64) { rows[i].ID = uint(key) })
	})
}
