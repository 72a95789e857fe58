package bulk_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gormbulk/bulk"
	"github.com/gormbulk/bulk/internal/ceiling"
)

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
		raw := ceiling.Insert
		switch dialect {
		case "postgres":
			raw = ceiling.Copy
		case "mysql":
			raw = ceiling.LoadData
		}
		var cibRate float64
		methods := []struct {
			name   string
			create func(db *gorm.DB, rows []ceiling.Row) error
		}{
			{cib, func(db *gorm.DB, rows []ceiling.Row) error { return db.CreateInBatches(&rows, 1000).Error }},
			{"raw-prepared-insert", ceiling.Insert},
			{"raw-pgx-CopyFrom", ceiling.Copy},
			{"raw-LOAD-DATA", ceiling.LoadData},
			{"plugin-SkipReturning", func(db *gorm.DB, rows []ceiling.Row) error {
				return db.Clauses(bulk.Options{SkipReturning: true}).Create(&rows).Error
			}},
			{"plugin-Values", func(db *gorm.DB, rows []ceiling.Row) error {
				return db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error
			}},
			{"plugin", func(db *gorm.DB, rows []ceiling.Row) error { return db.Clauses(bulk.Options{}).Create(&rows).Error }},
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
					rows := ceiling.Rows(n)
					begin := time.Now()
					if err := raw(db, rows); err != nil {
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
					rows := ceiling.Rows(n)
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

// emptyTable empties bench_rows between runs. TRUNCATE leaves no dead rows
// behind to slow the next method's unique checks, as DELETE would on
// PostgreSQL; SQLite truncates on an unqualified DELETE.
func emptyTable(db *gorm.DB) error {
	if db.Dialector.Name() == "sqlite" {
		return db.Exec("DELETE FROM bench_rows").Error
	}
	return db.Exec("TRUNCATE TABLE bench_rows").Error
}

// createSize is one size of the sweep: n rows per call, under a
// CreateBatchSize of batch (0: none), of the columns selected (nil: all).
type createSize struct {
	name     string
	n, batch int
	columns  []string
}

// narrow selects four of ceiling.Row's columns: a call's values, which decide
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
func sizeCreates(all *gorm.DB, size createSize) (plain, auto func(rows []ceiling.Row) error) {
	session := all.Session(&gorm.Session{CreateBatchSize: size.batch})
	// Each call a statement of its own: a Select kept would carry the
	// plugin's clause into GORM's calls.
	db := func() *gorm.DB {
		if size.columns != nil {
			return session.Select(size.columns)
		}
		return session
	}
	plain = func(rows []ceiling.Row) error {
		if size.n*8 > 32766 {
			return db().CreateInBatches(&rows, 1000).Error
		}
		return db().Create(&rows).Error
	}
	auto = func(rows []ceiling.Row) error { return db().Clauses(bulk.Options{}).Create(&rows).Error }
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
						rows := ceiling.Rows(size.n)
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
				create func(rows []ceiling.Row) error
			}{{"gorm", plain}, {"bulk", auto}} {
				b.Run("rows="+size.name+"/impl="+impl.name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						if err := emptyTable(all); err != nil {
							b.Fatal(err)
						}
						rows := ceiling.Rows(size.n)
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

// benchRow returns row i of a generated load, as ceiling.Rows does.
func benchRow(i int) ceiling.Row {
	return ceiling.Row{Email: fmt.Sprintf("user%08d@example.com", i), Name: fmt.Sprintf("User %d", i), Age: i % 90, Score: float64(i) / 3, Active: i%2 == 0}
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
				res, err := bulk.Stream(db, func(yield func(ceiling.Row) bool) {
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
	var row ceiling.Row
	return ceiling.CopyRows(db, func() (*ceiling.Row, bool) {
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
// each run is also paired with the hand-written upsert
// (ceiling.Upsert): x-raw is its time over the plugin's.
func BenchmarkUpsert(b *testing.B) {
	const n = 40_000
	eachDialectB(b, func(b *testing.B, dialect string, db *gorm.DB) {
		upsert := ceiling.UpsertClause
		prepare := func() []ceiling.Row {
			if err := emptyTable(db); err != nil {
				b.Fatal(err)
			}
			existing, rows := ceiling.UpsertRows(n)
			if err := db.Clauses(bulk.Options{SkipReturning: true}).Create(&existing).Error; err != nil {
				b.Fatal(err)
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
					if err := ceiling.Upsert(db, rows); err != nil {
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

// BenchmarkAssociations creates 40,000 users with two orders each through
// Auto, paired with GORM's CreateInBatches(1000) of the same rows: x-cib
// is GORM's time over the plugin's.
func BenchmarkAssociations(b *testing.B) {
	const n = 40_000
	eachDialectB(b, func(b *testing.B, dialect string, db *gorm.DB) {
		users := func() []ceiling.User {
			if err := db.Migrator().DropTable(&ceiling.Order{}, &ceiling.User{}); err != nil {
				b.Fatal(err)
			}
			if err := db.AutoMigrate(&ceiling.User{}, &ceiling.Order{}); err != nil {
				b.Fatal(err)
			}
			return ceiling.Users(n)
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
					if err := ceiling.Associations(db, rows); err != nil {
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
