package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gormbulk/bulk"
)

// seqOf yields the rows of a slice, each a fresh value.
func seqOf[T any](rows []T) iter.Seq[T] { return slices.Values(rows) }

// pointers returns pointers to each row of rows.
func pointers[T any](rows []T) []*T {
	out := make([]*T, len(rows))
	for i := range rows {
		out[i] = &rows[i]
	}
	return out
}

// TestStream streams rows of values and of pointers through each method a
// dialect has, in chunks, and compares the table with GORM's Create of the
// same rows; streamed pointers hold their own rows' keys.
func TestStream(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain, db := open(t), withPlugin(t, open(t))
		const n = 1700
		recreate(t, plain, &ParityBasic{})
		want := parityBasicRows(n)
		if err := plain.CreateInBatches(&want, 500).Error; err != nil {
			t.Fatal(err)
		}
		wantTable := tableRows(t, plain, "parity_basics")
		methods := []bulk.Method{bulk.AnyMethod, bulk.Values}
		if dialect == "postgres" {
			methods = append(methods, bulk.Copy)
		}
		for _, method := range methods {
			for _, pointer := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/pointers=%v", method, pointer), func(t *testing.T) {
					recreate(t, plain, &ParityBasic{})
					rows := parityBasicRows(n)
					sdb := db.Clauses(bulk.Options{BatchSize: 600, Method: method})
					var res bulk.Result
					var err error
					if pointer {
						res, err = bulk.Stream(sdb, seqOf(pointers(rows)))
					} else {
						res, err = bulk.Stream(sdb, seqOf(rows))
					}
					if err != nil {
						t.Fatal(err)
					}
					if res.Rows != n || res.Chunks < 3 {
						t.Errorf("result %+v, want %d rows in 3 chunks or more", res, n)
					}
					if got := tableRows(t, plain, "parity_basics"); !reflect.DeepEqual(got, wantTable) {
						t.Errorf("table differs from GORM's: %d rows, first %v, GORM's %v", len(got), got[0], wantTable[0])
					}
					for i := range rows {
						wantID := uint(0)
						if pointer {
							wantID = want[i].ID
						}
						if rows[i].ID != wantID {
							t.Fatalf("row %d holds key %d, want %d", i, rows[i].ID, wantID)
						}
					}
				})
			}
		}
	})
}

// TestStreamProgress checks what OnProgress reports, for a stream and for
// Create: Rows never goes backwards and ends at the rows written, Total is
// -1 for a stream and the slice's length for Create, the calls never
// overlap.
func TestStreamProgress(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		db := withPlugin(t, open(t))
		for _, stream := range []bool{true, false} {
			recreate(t, db, &ParityBasic{})
			var (
				mu      sync.Mutex
				calls   []bulk.Progress
				running bool
			)
			f := func(p bulk.Progress) {
				mu.Lock()
				if running {
					t.Error("OnProgress called concurrently")
				}
				running = true
				calls = append(calls, p)
				running = false
				mu.Unlock()
			}
			rows := parityBasicRows(1300)
			sdb := db.Clauses(bulk.Options{BatchSize: 400}, bulk.OnProgress(f))
			wantTotal := int64(-1)
			if stream {
				if _, err := bulk.Stream(sdb, seqOf(rows)); err != nil {
					t.Fatal(err)
				}
			} else {
				wantTotal = 1300
				if err := sdb.Create(&rows).Error; err != nil {
					t.Fatal(err)
				}
			}
			if len(calls) < 4 {
				t.Fatalf("stream=%v: %d calls, want one per chunk at least: %v", stream, len(calls), calls)
			}
			for i, p := range calls {
				if p.Total != wantTotal || (i > 0 && (p.Rows < calls[i-1].Rows || p.Elapsed < calls[i-1].Elapsed)) {
					t.Errorf("stream=%v: call %d: %+v after %+v, total want %d", stream, i, p, calls[max(0, i-1)], wantTotal)
				}
			}
			if last := calls[len(calls)-1]; last.Rows != 1300 {
				t.Errorf("stream=%v: last call %+v, want 1300 rows", stream, last)
			}
		}
	})
}

// failingAt yields rows, and at row k the source's error.
func failingAt(rows []ParityBasic, k int, err error) iter.Seq2[ParityBasic, error] {
	return func(yield func(ParityBasic, error) bool) {
		for i, row := range rows {
			if i == k {
				yield(ParityBasic{}, err)
				return
			}
			if !yield(row, nil) {
				return
			}
		}
	}
}

// TestStreamFailures fails a stream by its source, by a unique violation
// and by a cancelled context, with and without CommitChunks: the table is
// as it was, or holds exactly the committed chunks, Result.Rows of them,
// and the pool has every connection back.
func TestStreamFailures(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain, db := open(t), withPlugin(t, open(t))
		sourceErr := errors.New("bad line")
		type outcome struct {
			res bulk.Result
			err error
		}
		cases := []struct {
			name string
			load func(db *gorm.DB) outcome
			// check the error; first is the stream index of the failing
			// row, or -1 where no row is at fault.
			check func(t *testing.T, err error)
		}{
			{"source", func(db *gorm.DB) outcome {
				res, err := bulk.Stream2(db, failingAt(parityBasicRows(1000), 730, sourceErr))
				return outcome{res, err}
			}, func(t *testing.T, err error) {
				if !errors.Is(err, sourceErr) {
					t.Errorf("error %v, want the source's", err)
				}
			}},
			{"duplicate", func(db *gorm.DB) outcome {
				rows := parityBasicRows(1000)
				rows[730].Email = rows[100].Email
				res, err := bulk.Stream(db, seqOf(rows))
				return outcome{res, err}
			}, func(t *testing.T, err error) {
				var ce *bulk.ChunkError
				if !errors.As(err, &ce) || ce.First > 730 || ce.Last < 730 || ce.Last-ce.First >= 300 {
					t.Errorf("error %v, want a ChunkError naming stream row 730 among at most 300", err)
				}
			}},
			{"cancelled", func(db *gorm.DB) outcome {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				stop := bulk.OnProgress(func(p bulk.Progress) {
					if p.Rows >= 600 {
						cancel()
					}
				})
				res, err := bulk.Stream(db.WithContext(ctx).Clauses(stop), seqOf(parityBasicRows(1000)))
				return outcome{res, err}
			}, func(t *testing.T, err error) {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("error %v, want context.Canceled", err)
				}
			}},
		}
		for _, c := range cases {
			for _, commit := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/commit=%v", c.name, commit), func(t *testing.T) {
					recreate(t, plain, &ParityBasic{})
					out := c.load(db.Clauses(bulk.Options{BatchSize: 300, CommitChunks: commit}))
					c.check(t, out.err)
					stored := count(t, plain, "parity_basics")
					switch {
					case !commit && (stored != 0 || out.res.Rows != 0):
						t.Errorf("%d rows stored, result %+v, want none", stored, out.res)
					case commit && (stored != out.res.Rows || stored%300 != 0 || stored == 0):
						t.Errorf("%d rows stored, result %+v: want the committed chunks", stored, out.res)
					}
					sqlDB, _ := db.DB()
					for i := 0; sqlDB.Stats().InUse != 0 && i < 100; i++ {
						time.Sleep(10 * time.Millisecond) // database/sql rolls back a cancelled transaction apart
					}
					if inUse := sqlDB.Stats().InUse; inUse != 0 {
						t.Errorf("%d connections in use after the load", inUse)
					}
				})
			}
		}
		// The pool still works.
		recreate(t, plain, &ParityBasic{})
		if res, err := bulk.Stream(db, seqOf(parityBasicRows(500))); err != nil || res.Rows != 500 {
			t.Errorf("next load: %+v, %v", res, err)
		}
	})
}

// TestStreamMisuse checks the errors a stream refuses with.
func TestStreamMisuse(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain, db := open(t), withPlugin(t, open(t))
		recreate(t, plain, &ParityBasic{})
		rows := parityBasicRows(3)
		if _, err := bulk.Stream(plain, seqOf(rows)); !errors.Is(err, bulk.ErrNotRegistered) {
			t.Errorf("without the plugin: %v, want ErrNotRegistered", err)
		}
		if _, err := bulk.Stream(db, seqOf([]map[string]any{{"name": "x"}})); !errors.Is(err, gorm.ErrInvalidData) {
			t.Errorf("maps: %v, want gorm.ErrInvalidData", err)
		}
		commit := db.Clauses(bulk.Options{CommitChunks: true})
		if err := commit.Create(&rows).Error; err == nil {
			t.Error("CommitChunks on Create: no error")
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			_, err := bulk.Stream(tx.Clauses(bulk.Options{CommitChunks: true}), seqOf(rows))
			return err
		})
		if err == nil {
			t.Error("CommitChunks inside a transaction: no error")
		}
		if n := count(t, plain, "parity_basics"); n != 0 {
			t.Errorf("%d rows written by refused loads", n)
		}
		// Inside the caller's transaction, a stream is part of it.
		err = db.Transaction(func(tx *gorm.DB) error {
			if _, err := bulk.Stream(tx, seqOf(parityBasicRows(10))); err != nil {
				return err
			}
			return errors.New("roll back")
		})
		if err == nil || count(t, plain, "parity_basics") != 0 {
			t.Errorf("a stream in a rolled-back transaction: %v, %d rows", err, count(t, plain, "parity_basics"))
		}
	})
}

// TestStreamRetries fails the first two statements on PostgreSQL with a
// serialization failure (a trigger counting by a sequence, which no
// rollback resets). With CommitChunks the chunk is written again and the
// load completes; without, the load fails and writes nothing.
func TestStreamRetries(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain, db := open(t), withPlugin(t, open(t))
		for _, commit := range []bool{true, false} {
			recreate(t, plain, &ParityBasic{})
			for _, sql := range []string{
				`DROP SEQUENCE IF EXISTS stream_fail_seq`,
				`CREATE SEQUENCE stream_fail_seq`,
				`CREATE OR REPLACE FUNCTION stream_fail() RETURNS trigger AS $$ BEGIN
					IF nextval('stream_fail_seq') <= 2 THEN RAISE EXCEPTION 'try again' USING ERRCODE = '40001'; END IF;
					RETURN NULL; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER stream_fail BEFORE INSERT ON parity_basics FOR EACH STATEMENT EXECUTE FUNCTION stream_fail()`,
			} {
				if err := plain.Exec(sql).Error; err != nil {
					t.Fatal(err)
				}
			}
			rows := parityBasicRows(900)
			res, err := bulk.Stream(db.Clauses(bulk.Options{BatchSize: 300, CommitChunks: commit}), seqOf(pointers(rows)))
			stored := count(t, plain, "parity_basics")
			if commit {
				if err != nil || res.Rows != 900 || stored != 900 {
					t.Errorf("CommitChunks: %v, result %+v, %d rows stored; want all written after retries", err, res, stored)
				}
				var ids []uint
				plain.Table("parity_basics").Order("email").Pluck("id", &ids)
				for i := range rows {
					if rows[i].ID != ids[i] {
						t.Fatalf("row %d holds key %d, its own is %d", i, rows[i].ID, ids[i])
					}
				}
			} else if err == nil || stored != 0 {
				t.Errorf("one transaction: %v, %d rows stored; want the failure and none", err, stored)
			}
		}
	})
}

// TestStreamBackendKilled kills the loading backend after its first chunk
// (pg_terminate_backend, MariaDB's KILL): the load fails, the table holds
// exactly the committed chunks, and the pool works afterwards.
func TestStreamBackendKilled(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		kill := map[string]string{
			"postgres": `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND backend_type = 'client backend'`,
			"mysql": `SELECT trx_mysql_thread_id FROM information_schema.innodb_trx`,
		}[dialect]
		if kill == "" {
			t.Skip("a server's backend to kill")
		}
		plain, db := open(t), withPlugin(t, open(t))
		for _, commit := range []bool{false, true} {
			recreate(t, plain, &ParityBasic{})
			killed := false
			killer := bulk.OnProgress(func(p bulk.Progress) {
				if killed || p.Rows < 600 {
					return
				}
				killed = true
				if dialect == "postgres" {
					plain.Exec(kill)
					return
				}
				var ids []int64
				time.Sleep(150 * time.Millisecond) // InnoDB's information_schema tables are a cache of 100ms
				plain.Raw(kill).Scan(&ids)
				for _, id := range ids {
					plain.Exec(fmt.Sprint("KILL ", id))
				}
			})
			res, err := bulk.Stream(db.Clauses(bulk.Options{BatchSize: 300, CommitChunks: commit}, killer), seqOf(parityBasicRows(1500)))
			stored := count(t, plain, "parity_basics")
			if err == nil || !killed || stored != res.Rows || stored%300 != 0 || (!commit && stored != 0) {
				t.Errorf("commit=%v: %v, result %+v, %d rows stored", commit, err, res, stored)
			}
			t.Logf("commit=%v: %v", commit, err)
			sqlDB, _ := db.DB()
			for i := 0; sqlDB.Stats().InUse != 0 && i < 100; i++ {
				time.Sleep(10 * time.Millisecond)
			}
			if inUse := sqlDB.Stats().InUse; inUse != 0 {
				t.Errorf("%d connections in use after the load", inUse)
			}
			recreate(t, plain, &ParityBasic{})
			if res, err := bulk.Stream(db, seqOf(parityBasicRows(500))); err != nil || res.Rows != 500 {
				t.Errorf("next load: %+v, %v", res, err)
			}
		}
	})
}

// TestStreamConcurrent runs 8 streams of 100,000 rows (4,000 with -short)
// into one table at once with keys read back: every row written once,
// every struct holding its own key.
func TestStreamConcurrent(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if dialect == "sqlite" {
			t.Skip("SQLite has one writer at a time")
		}
		plain, db := open(t), withPlugin(t, open(t))
		recreate(t, plain, &ParityBasic{})
		streams, n := 8, 100_000
		if testing.Short() {
			n = 4000
		}
		all := make([][]ParityBasic, streams)
		var wg sync.WaitGroup
		for s := range all {
			all[s] = parityBasicRows(n)
			for i := range all[s] {
				all[s][i].Email = fmt.Sprintf("s%d-%s", s, all[s][i].Email)
			}
			wg.Go(func() {
				if _, err := bulk.Stream(db, seqOf(pointers(all[s]))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var stored []ParityBasic
		if err := plain.Find(&stored).Error; err != nil {
			t.Fatal(err)
		}
		keys := map[string]uint{}
		for _, r := range stored {
			keys[r.Email] = r.ID
		}
		if len(stored) != streams*n || len(keys) != streams*n {
			t.Fatalf("%d rows stored, %d distinct, want %d", len(stored), len(keys), streams*n)
		}
		for s := range all {
			for i, r := range all[s] {
				if r.ID != keys[r.Email] {
					t.Fatalf("stream %d row %d holds key %d, its own is %d", s, i, r.ID, keys[r.Email])
				}
			}
		}
	})
}

// TestProgressWithinCopy reports a COPY's progress as it sends rows, not
// only once it is done: every time, here, in place of every second.
func TestProgressWithinCopy(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		defer bulk.SetProgressEvery(0)()
		db := withPlugin(t, open(t))
		recreate(t, db, &ParityBasic{})
		var calls []bulk.Progress
		rows := parityBasicRows(20000)
		err := db.Clauses(bulk.Options{Method: bulk.Copy}, bulk.OnProgress(func(p bulk.Progress) { calls = append(calls, p) })).Create(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) < 4 || calls[0].Rows >= 20000 || calls[len(calls)-1].Rows != 20000 {
			t.Errorf("%d calls for one COPY of 20,000 rows: %v", len(calls), calls)
		}
		for i := 1; i < len(calls); i++ {
			if calls[i].Rows < calls[i-1].Rows || calls[i].Total != 20000 {
				t.Errorf("call %d: %+v after %+v", i, calls[i], calls[i-1])
			}
		}
	})
}

// TestCancelMidStatement cancels the context while the database is inside
// the second chunk's statement or COPY (a trigger that sleeps; the COPY's
// own progress), in a Stream with and without CommitChunks and in a
// Create: the load stops with the context's error, the table holds what
// was committed before, and the pool is healthy.
func TestCancelMidStatement(t *testing.T) {
	defer bulk.SetProgressEvery(0)()
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		slow := map[string][]string{
			"postgres": {
				`DROP SEQUENCE IF EXISTS stream_slow_seq`,
				`CREATE SEQUENCE stream_slow_seq`,
				`CREATE OR REPLACE FUNCTION stream_slow() RETURNS trigger AS $$ BEGIN
					IF nextval('stream_slow_seq') = 2 THEN PERFORM pg_sleep(2); END IF; RETURN NULL; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER stream_slow BEFORE INSERT ON parity_basics FOR EACH STATEMENT EXECUTE FUNCTION stream_slow()`,
			},
			"mysql": {
				`CREATE TRIGGER stream_slow BEFORE INSERT ON parity_basics FOR EACH ROW SET @stream_slept = IF(NEW.email = 'user300@example.com', SLEEP(2), 0)`,
			},
		}[dialect]
		if slow == nil {
			t.Skip("a server statement to cancel")
		}
		plain, db := open(t), withPlugin(t, open(t))
		type load struct {
			name string
			opts bulk.Options
			slow bool // the trigger makes the statement slow
		}
		loads := []load{{"statement", bulk.Options{BatchSize: 300, Method: bulk.Values}, true}}
		if dialect == "postgres" {
			loads = append(loads, load{"copy", bulk.Options{BatchSize: 30000, Method: bulk.Copy}, false})
		}
		for _, l := range loads {
			for _, mode := range []struct {
				name           string
				commit, create bool
			}{{"commit=false", false, false}, {"commit=true", true, false}, {"create", false, true}} {
				commit := mode.commit
				t.Run(l.name+"/"+mode.name, func(t *testing.T) {
					recreate(t, plain, &ParityBasic{})
					if l.slow {
						for _, sql := range slow {
							if err := plain.Exec(sql).Error; err != nil {
								t.Fatal(err)
							}
						}
					}
					ctx, cancel := context.WithCancel(context.Background())
					defer cancel()
					var clauses []clause.Expression
					l.opts.CommitChunks = commit
					clauses = append(clauses, l.opts)
					if l.slow {
						time.AfterFunc(500*time.Millisecond, cancel)
					} else {
						// Within the second chunk's COPY, which reports every 4,096 rows.
						clauses = append(clauses, bulk.OnProgress(func(p bulk.Progress) {
							if p.Rows > 40000 {
								cancel()
							}
						}))
					}
					begin := time.Now()
					rows := parityBasicRows(900)
					if !l.slow {
						rows = parityBasicRows(90000)
					}
					var (
						res bulk.Result
						err error
					)
					if mode.create {
						err = db.WithContext(ctx).Clauses(clauses...).Create(&rows).Error
					} else {
						res, err = bulk.Stream(db.WithContext(ctx).Clauses(clauses...), seqOf(rows))
					}
					if !errors.Is(err, context.Canceled) {
						t.Errorf("error %v, want context.Canceled", err)
					}
					if l.slow && time.Since(begin) > 1500*time.Millisecond {
						t.Errorf("the load took %v: the statement was not cancelled", time.Since(begin))
					}
					stored := count(t, plain, "parity_basics")
					// The second chunk is cancelled: with CommitChunks the
					// first stays.
					want := int64(0)
					if commit {
						want = int64(l.opts.BatchSize)
					}
					if stored != want || !mode.create && res.Rows != want {
						t.Errorf("%d rows stored, result %+v, want %d", stored, res, want)
					}
					sqlDB, _ := db.DB()
					for i := 0; sqlDB.Stats().InUse != 0 && i < 300; i++ {
						time.Sleep(10 * time.Millisecond)
					}
					if inUse := sqlDB.Stats().InUse; inUse != 0 {
						t.Errorf("%d connections in use after the load", inUse)
					}
					plain.Exec("DROP TRIGGER IF EXISTS stream_slow" + map[bool]string{true: " ON parity_basics", false: ""}[dialect == "postgres"])
					recreate(t, plain, &ParityBasic{})
					if res, err := bulk.Stream(db, seqOf(parityBasicRows(500))); err != nil || res.Rows != 500 {
						t.Errorf("next load: %+v, %v", res, err)
					}
				})
			}
		}
	})
}

// TestProgressPanics panics in OnProgress within a COPY, where copyFrom.s
// encoding goroutine calls it: the panic reaches the caller, the
// transaction rolls back, and the pool works.
func TestProgressPanics(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		defer bulk.SetProgressEvery(0)()
		db := withPlugin(t, open(t))
		recreate(t, db, &ParityBasic{})
		rows := parityBasicRows(20000)
		func() {
			defer func() {
				if r := recover(); r != "progress" {
					t.Errorf("recovered %v, want the callback's panic", r)
				}
			}()
			db.Clauses(bulk.Options{Method: bulk.Copy}, bulk.OnProgress(func(p bulk.Progress) {
				if p.Rows > 5000 {
					panic("progress")
				}
			})).Create(&rows)
		}()
		sqlDB, _ := db.DB()
		for i := 0; sqlDB.Stats().InUse != 0 && i < 100; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if n := count(t, db, "parity_basics"); n != 0 || sqlDB.Stats().InUse != 0 {
			t.Errorf("%d rows, %d connections in use", n, sqlDB.Stats().InUse)
		}
		rows = parityBasicRows(500)
		if err := db.Create(&rows).Error; err != nil {
			t.Error(err)
		}
	})
}
