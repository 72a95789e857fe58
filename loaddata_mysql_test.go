package bulk_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// onMySQL runs fn on MySQL/MariaDB, with and without RETURNING.
func onMySQL(t *testing.T, fn func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB)) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if !strings.HasPrefix(dialect, "mysql") {
			t.Skip("MySQL/MariaDB only")
		}
		fn(t, dialect, open)
	})
}

// sameModuloKeys compares what a load left with what GORM left, allowing
// the auto-increment gaps InnoDB leaves where chunks are reserved apart
// (the guide's exception): the tables but for their keys, the structs but
// for theirs, and every struct's key its own row's.
func sameModuloKeys(t *testing.T, plain *gorm.DB, got, want []ParityBasic, wantTable []map[string]any) {
	t.Helper()
	gotTable := tableRows(t, plain, "parity_basics")
	if len(gotTable) != len(wantTable) {
		t.Fatalf("%d rows, GORM %d", len(gotTable), len(wantTable))
	}
	keys := map[string]any{}
	for i := range gotTable {
		keys[gotTable[i]["name"].(string)] = gotTable[i]["id"]
		g, w := maps(gotTable[i]), maps(wantTable[i])
		delete(g, "id")
		delete(w, "id")
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("row %d differs:\n got %v\nwant %v", i, g, w)
		}
	}
	for i := range got {
		if fmt.Sprint(got[i].ID) != fmt.Sprint(keys[got[i].Name]) {
			t.Fatalf("struct %d holds key %d, its row's is %v", i, got[i].ID, keys[got[i].Name])
		}
		g, w := got[i], want[i]
		g.ID, w.ID = 0, 0
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("struct %d differs:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func maps(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// loads counts the LOAD DATA statements a logger saw.
func loads(c *statementCounter) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.sql {
		if strings.HasPrefix(s, "LOAD DATA") {
			n++
		}
	}
	return n
}

// TestLoadData loads rows with LOAD DATA, forced and chosen by Auto, from
// values and pointers, and compares with GORM's INSERT: the same rows, the
// structs GORM leaves, every key its own row's.
func TestLoadData(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		plain := open(t)
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		auto := withPlugin(t, open(t, &gorm.Config{Logger: counter}), bulk.Config{Auto: true})
		const n = 2500
		recreate(t, plain, &ParityBasic{})
		want := parityBasicRows(n)
		if err := plain.Create(&want).Error; err != nil {
			t.Fatal(err)
		}
		wantTable := tableRows(t, plain, "parity_basics")
		for _, c := range []struct {
			name    string
			db      *gorm.DB
			loads   int
			pointer bool
		}{
			{"forced", db.Clauses(bulk.Options{Method: bulk.LoadData, BatchSize: 1000}), 3, false},
			{"forced pointers", db.Clauses(bulk.Options{Method: bulk.LoadData, BatchSize: 1000}), 3, true},
			{"auto", auto, 1, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, plain, &ParityBasic{})
				before := loads(counter)
				got := parityBasicRows(n)
				var res *gorm.DB
				if c.pointer {
					ptrs := pointers(got)
					res = c.db.Create(&ptrs)
				} else {
					res = c.db.Create(&got)
				}
				if res.Error != nil || res.RowsAffected != n {
					t.Fatalf("%v, %d rows", res.Error, res.RowsAffected)
				}
				if used := loads(counter) - before; used != c.loads {
					t.Errorf("%d LOAD DATA statements, want %d", used, c.loads)
				}
				sameModuloKeys(t, plain, got, want, wantTable)
			})
		}
	})
}

// TestLoadDataFallsBack loads chunks the server would store otherwise than
// GORM's INSERT (LOCAL skips a duplicate; a non-strict sql_mode stores a
// too-long string cut, with a warning): each such chunk is rolled back to
// its savepoint and written by statements, so the result is GORM's: its
// error naming the rows, or its rows.
func TestLoadDataFallsBack(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain, db := open(t), withPlugin(t, open(t))
		forced := db.Clauses(bulk.Options{Method: bulk.LoadData, BatchSize: 500})

		recreate(t, plain, &ParityBasic{})
		rows := parityBasicRows(1500)
		rows[730].Email = rows[100].Email
		err := forced.Create(&rows).Error
		var ce *bulk.ChunkError
		var myErr *mysql.MySQLError
		if !errors.As(err, &ce) || ce.First > 730 || ce.Last < 730 || !errors.As(err, &myErr) || myErr.Number != 1062 {
			t.Errorf("duplicate: %v, want GORM's 1062 naming row 730", err)
		}
		if n := count(t, plain, "parity_basics"); n != 0 {
			t.Errorf("duplicate: %d rows written", n)
		}

		// A time with more digits than its column raises a note per row,
		// before which max_error_count's 64 would hide the warning.
		for _, mode := range []string{"strict", "non-strict", "strict, a note per row", "non-strict, a note per row"} {
			t.Run(mode, func(t *testing.T) {
				session := func(db *gorm.DB) *gorm.DB {
					tx := db.Session(&gorm.Session{})
					if strings.HasPrefix(mode, "non-strict") {
						// One connection, so that the session's sql_mode holds.
						sqlDB, _ := db.DB()
						sqlDB.SetMaxOpenConns(1)
						tx.Exec("SET SESSION sql_mode = ''")
					}
					return tx
				}
				p, d := session(open(t)), session(withPlugin(t, open(t)))
				recreate(t, p, &ParityBasic{})
				notes := func(rows []ParityBasic) []ParityBasic {
					for i := range rows {
						if strings.HasSuffix(mode, "per row") {
							rows[i].UpdatedAt = fixedNow.Add(time.Duration(i)*time.Second + 123456789)
						}
					}
					return rows
				}
				want := notes(parityBasicRows(1500))
				want[1200].Email = strings.Repeat("x", 300) // over size:191
				wantErr := p.Create(&want).Error
				wantTable := tableRows(t, p, "parity_basics")
				recreate(t, p, &ParityBasic{})
				got := notes(parityBasicRows(1500))
				got[1200].Email = want[1200].Email
				gotErr := d.Clauses(bulk.Options{Method: bulk.LoadData, BatchSize: 500}).Create(&got).Error
				if (gotErr == nil) != (wantErr == nil) {
					t.Fatalf("error %v, GORM's %v", gotErr, wantErr)
				}
				if wantErr == nil {
					sameModuloKeys(t, p, got, want, wantTable)
				} else if n := count(t, p, "parity_basics"); n != 0 {
					t.Errorf("%d rows written after %v", n, gotErr)
				}
			})
		}
	})
}

// TestLoadDataRefused turns local_infile off on the server, as MySQL 8
// ships: a DB registered before it loads by statements once refused, and
// says so; one registered after steps aside from the start, and a forced
// LOAD DATA is ErrMethodUnavailable.
func TestLoadDataRefused(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		before := withPlugin(t, open(t))
		var was int
		if err := plain.Raw("SELECT @@GLOBAL.local_infile").Scan(&was).Error; err != nil {
			t.Fatal(err)
		}
		if err := plain.Exec("SET GLOBAL local_infile = 0").Error; err != nil {
			t.Skip("cannot set local_infile:", err)
		}
		t.Cleanup(func() { plain.Exec(fmt.Sprintf("SET GLOBAL local_infile = %d", was)) })
		// The server decides on LOCAL when a connection opens: new ones.
		if sqlDB, err := before.DB(); err == nil {
			sqlDB.SetMaxIdleConns(0)
		}
		after := withPlugin(t, open(t))
		forced := bulk.Options{Method: bulk.LoadData}

		recreate(t, plain, &ParityBasic{})
		rows := parityBasicRows(1200)
		if err := before.Clauses(forced).Create(&rows).Error; err != nil || count(t, plain, "parity_basics") != 1200 {
			t.Errorf("registered before: %v, %d rows", err, count(t, plain, "parity_basics"))
		}
		rows = parityBasicRows(1200)
		for i := range rows {
			rows[i].Email = "again-" + rows[i].Email
		}
		if err := before.Clauses(forced).Create(&rows).Error; !errors.Is(err, bulk.ErrMethodUnavailable) {
			t.Errorf("registered before, refused since: %v, want ErrMethodUnavailable", err)
		}
		rows = parityBasicRows(1200)
		if err := after.Clauses(forced).Create(&rows).Error; !errors.Is(err, bulk.ErrMethodUnavailable) {
			t.Errorf("registered after: %v, want ErrMethodUnavailable", err)
		}
		recreate(t, plain, &ParityBasic{})
		if err := after.Clauses(bulk.Options{}).Create(&rows).Error; err != nil || count(t, plain, "parity_basics") != 1200 {
			t.Errorf("registered after, automatic: %v", err)
		}
	})
}

// TestLoadDataLockMode takes innodb_autoinc_lock_mode 2 (MySQL 8's
// default), under which one LOAD DATA's keys need not run in one
// sequence: reading keys back, LOAD DATA steps aside; without, it loads.
func TestLoadDataLockMode(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain, db := open(t), withPlugin(t, open(t))
		bulk.SetAutoincLockMode(db, 2)
		recreate(t, plain, &ParityBasic{})
		rows := parityBasicRows(1200)
		err := db.Clauses(bulk.Options{Method: bulk.LoadData}).Create(&rows).Error
		if !errors.Is(err, bulk.ErrMethodUnavailable) || !strings.Contains(err.Error(), "innodb_autoinc_lock_mode") {
			t.Errorf("keys read back: %v, want ErrMethodUnavailable naming the lock mode", err)
		}
		if err := db.Clauses(bulk.Options{Method: bulk.LoadData, SkipReturning: true}).Create(&rows).Error; err != nil || count(t, plain, "parity_basics") != 1200 {
			t.Errorf("SkipReturning: %v", err)
		}
	})
}

// TestLoadDataStopsMidChunk has a value that cannot go as text (NaN) at row
// 700 of a chunk of 1,000: the data ends there, the server keeps the rows
// it got, and the chunk goes back to its savepoint and to statements: the
// result is GORM's, error and all, and nothing stays written.
func TestLoadDataStopsMidChunk(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain, db := open(t), withPlugin(t, open(t))
		recreate(t, plain, &ParityBasic{})
		want := parityBasicRows(1000)
		want[700].Score = math.NaN()
		wantErr := plain.Create(&want).Error
		got := parityBasicRows(1000)
		got[700].Score = math.NaN()
		gotErr := db.Clauses(bulk.Options{Method: bulk.LoadData}).Create(&got).Error
		var wantMy, gotMy *mysql.MySQLError
		var ce *bulk.ChunkError
		if !errors.As(wantErr, &wantMy) || !errors.As(gotErr, &gotMy) || gotMy.Number != wantMy.Number ||
			!errors.As(gotErr, &ce) || ce.First > 700 || ce.Last < 700 {
			t.Errorf("error %v, want GORM's %v naming row 700", gotErr, wantErr)
		}
		if n := count(t, plain, "parity_basics"); n != 0 {
			t.Errorf("%d rows written", n)
		}
	})
}

// LoadText holds the strings whose bytes LOAD DATA's format must carry.
type LoadText struct {
	ID   uint
	S    string
	B    []byte
	Note *string
}

// TestLoadDataText loads strings and bytes LOAD DATA's format could take
// for its own (quotes, commas, backslashes, tabs, newlines, NUL, the word
// NULL, empty against NULL) and Unicode, with and without
// NO_BACKSLASH_ESCAPES: the table and structs are GORM's.
func TestLoadDataText(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		texts := []string{"", `"`, `""`, `a"b`, `",`, "a,b", `\`, `\N`, `a\"b`, "\t", "\n", "\r\n", "x\x00y", "NULL", `"NULL"`, "ünï😀", "end\"\n"}
		rows := func() []LoadText {
			var out []LoadText
			for i := 0; i < 1200; i++ {
				s := texts[i%len(texts)]
				r := LoadText{S: s, B: []byte(s)}
				if i%3 == 0 {
					r.Note = &texts[(i/3)%len(texts)]
				}
				if i%5 == 0 {
					r.B = nil
				}
				out = append(out, r)
			}
			return out
		}
		for _, mode := range []string{"", "NO_BACKSLASH_ESCAPES"} {
			t.Run(fmt.Sprintf("sql_mode=%q", mode), func(t *testing.T) {
				session := func(db *gorm.DB) *gorm.DB {
					sqlDB, _ := db.DB()
					sqlDB.SetMaxOpenConns(1)
					tx := db.Session(&gorm.Session{})
					tx.Exec("SET SESSION sql_mode = CONCAT(@@sql_mode, ?)", map[bool]string{true: "," + mode, false: ""}[mode != ""])
					return tx
				}
				counter := &statementCounter{Interface: logger.Discard}
				plain, db := session(open(t)), session(withPlugin(t, open(t, &gorm.Config{Logger: counter})))
				loadsAsGORM(t, plain, db, counter, rows)
			})
		}
	})
}

// LoadHooked sets a field in its BeforeCreate hook and counts AfterCreate.
type LoadHooked struct {
	ID    uint
	Name  string
	Stamp string
}

var loadAfter int

func (h *LoadHooked) BeforeCreate(*gorm.DB) error { h.Stamp = "hooked " + h.Name; return nil }
func (h *LoadHooked) AfterCreate(*gorm.DB) error  { loadAfter++; return nil }

// TestLoadDataContexts loads inside a caller's transaction that rolls back,
// into a table named with its database, and rows with hooks: each as GORM
// does it.
func TestLoadDataContexts(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		plain, db := open(t), withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		forced := db.Clauses(bulk.Options{Method: bulk.LoadData}).Session(&gorm.Session{})

		recreate(t, plain, &ParityBasic{})
		err := forced.Transaction(func(tx *gorm.DB) error {
			rows := parityBasicRows(1200)
			if err := tx.Create(&rows).Error; err != nil {
				return err
			}
			return errors.New("roll back")
		})
		if err == nil || count(t, plain, "parity_basics") != 0 {
			t.Errorf("rolled back: %v, %d rows", err, count(t, plain, "parity_basics"))
		}

		var database string
		plain.Raw("SELECT DATABASE()").Scan(&database)
		rows := parityBasicRows(1200)
		if err := forced.Table(database + ".parity_basics").Create(&rows).Error; err != nil || count(t, plain, "parity_basics") != 1200 {
			t.Errorf("qualified table: %v, %d rows", err, count(t, plain, "parity_basics"))
		}

		recreate(t, plain, &LoadHooked{})
		hooked := make([]LoadHooked, 1200)
		for i := range hooked {
			hooked[i].Name = fmt.Sprint("n", i)
		}
		loadAfter = 0
		before := loads(counter)
		if err := forced.Create(&hooked).Error; err != nil {
			t.Fatal(err)
		}
		var stamps []string
		plain.Model(&LoadHooked{}).Order("id").Pluck("stamp", &stamps)
		if len(stamps) != 1200 || stamps[7] != "hooked n7" || loadAfter != 1200 || hooked[1199].ID == 0 || loads(counter) != before+1 {
			t.Errorf("hooks: %d rows, stamp %q, %d AfterCreate, last key %d", len(stamps), stamps[7], loadAfter, hooked[1199].ID)
		}
	})
}

// TestLoadDataCharset loads text over a connection whose character set is
// not utf8mb4 (charset=latin1 in the DSN: the server reads the bytes of
// GORM's parameters as latin1, and so must LOAD DATA's CHARACTER SET read
// the data): the table is GORM's, loaded with no step-aside. Text latin1
// cannot hold arrives as GORM's statement leaves it.
func TestLoadDataCharset(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, _ func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if dialect != "mysql" {
			t.Skip("one MySQL entry is enough")
		}
		open := func(config *gorm.Config) *gorm.DB {
			db := openDB(t, gormmysql.Open(liveDSN("mysql")+"&charset=latin1"), config)
			sqlDB, _ := db.DB()
			sqlDB.SetMaxOpenConns(1)
			return db
		}
		texts := []string{"café", "Grüße", "naïve façade", "x\"y", "日本語", "😀"}
		rows := func() []LoadText {
			out := make([]LoadText, 1200)
			for i := range out {
				s := texts[i%len(texts)]
				out[i] = LoadText{S: s, B: []byte(s), Note: &texts[(i+1)%len(texts)]}
			}
			return out
		}
		counter := &statementCounter{Interface: logger.Discard}
		plain, db := open(&gorm.Config{}), withPlugin(t, open(&gorm.Config{Logger: counter}))
		var charset string
		if err := plain.Raw("SELECT @@character_set_client").Scan(&charset).Error; err != nil || charset != "latin1" {
			t.Fatalf("character_set_client %q (%v), want latin1", charset, err)
		}
		loadsAsGORM(t, plain, db, counter, rows)
	})
}

// loadsAsGORM creates rows() by plain GORM, then by a forced LOAD DATA
// through db, and checks the load left GORM's table and structs, in one
// LOAD DATA with no step-aside.
func loadsAsGORM(t *testing.T, plain, db *gorm.DB, counter *statementCounter, rows func() []LoadText) {
	t.Helper()
	recreate(t, plain, &LoadText{})
	want := rows()
	if err := plain.Create(&want).Error; err != nil {
		t.Fatal(err)
	}
	wantTable := tableRows(t, plain, "load_texts")
	recreate(t, plain, &LoadText{})
	got := rows()
	if err := db.Clauses(bulk.Options{Method: bulk.LoadData}).Create(&got).Error; err != nil {
		t.Fatal(err)
	}
	if gotTable := tableRows(t, plain, "load_texts"); !reflect.DeepEqual(gotTable, wantTable) {
		for i := range gotTable {
			if !reflect.DeepEqual(gotTable[i], wantTable[i]) {
				t.Fatalf("row %d: %q\nwant %q", i, gotTable[i], wantTable[i])
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Error("structs differ from GORM's")
	}
	for _, info := range counter.info {
		if strings.Contains(info, "gormbulk") {
			t.Errorf("stepped aside: %s", info)
		}
	}
	if loads(counter) != 1 {
		t.Errorf("%d loads, want 1", loads(counter))
	}
}

// UpsertLoadRow is a table GORM's has-many children are like: an
// AUTO_INCREMENT key the upsert updates on, and no other unique key.
type UpsertLoadRow struct {
	ID    uint
	Email string `gorm:"size:64"`
	Name  string `gorm:"size:64"`
}

// TestUpsertLoadData upserts rows that all leave their key to
// AUTO_INCREMENT (GORM's has-many upsert: ON DUPLICATE KEY UPDATE) through
// plain GORM and the plugin, as root and as a user with only the grants
// it needs: LOAD DATA writes them where no row can meet a duplicate key
// (no other unique key), after the first row goes by statement to prove
// the user may update; otherwise the statements go as GORM's (without
// RETURNING, GORM's own statement, see TestMySQLUpsertKeysWithoutReturning).
// Tables, errors and structs are GORM's, keys by rank (the guide's gaps).
func TestUpsertLoadData(t *testing.T) {
	t.Cleanup(bulk.SetUpsertCopyMinRows(1))
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		root := open(t)
		const user = "gormbulk_upsert"
		dropUser := func() { root.Exec("DROP USER IF EXISTS '" + user + "'@'%'") }
		dropUser()
		t.Cleanup(dropUser)
		if err := root.Exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY 'upsert'").Error; err != nil {
			t.Fatal(err)
		}
		cfg, err := mysql.ParseDSN(liveDSN("mysql"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.Passwd = user, "upsert"
		asUser := func(t *testing.T, opts ...gorm.Option) *gorm.DB {
			return openDB(t, gormmysql.New(gormmysql.Config{DSN: cfg.FormatDSN(), DisableWithReturning: dialect == "mysql-lastinsertid"}), opts...)
		}
		onID := clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoUpdates: clause.AssignmentColumns([]string{"name"})}
		for _, c := range []struct {
			name    string
			setup   []string
			grants  string // the user's grants; "" runs as root
			clause  clause.OnConflict
			given   bool // the rows give keys, one of them taken
			loads   bool // the plugin writes by LOAD DATA
			stages  bool // through the staging table
			creates bool // GORM's create succeeds
		}{
			{name: "new keys", clause: onID, loads: true, creates: true},
			{name: "do nothing", clause: clause.OnConflict{DoNothing: true}, loads: true, creates: true},
			{name: "update all", clause: clause.OnConflict{UpdateAll: true}, loads: true, creates: true},
			{name: "user with the grants", grants: "INSERT, SELECT, UPDATE", clause: onID, loads: true, creates: true},
			// MariaDB asks for UPDATE only when a row meets a duplicate.
			{name: "user without UPDATE", grants: "INSERT, SELECT", clause: onID, loads: true, creates: true},
			{name: "another unique key", setup: []string{"CREATE UNIQUE INDEX upsert_load_email ON upsert_load_rows (email)", "INSERT INTO upsert_load_rows (email, name) VALUES ('user700', 'old')"}, clause: onID, loads: true, stages: true, creates: true},
			{name: "rows give keys", setup: []string{"INSERT INTO upsert_load_rows (id, email, name) VALUES (3, 'hand', 'old')"}, given: true, clause: onID, loads: true, stages: true, creates: true},
			{name: "staged, do nothing", setup: []string{"CREATE UNIQUE INDEX upsert_load_email ON upsert_load_rows (email)", "INSERT INTO upsert_load_rows (email, name) VALUES ('user700', 'old')"}, clause: clause.OnConflict{DoNothing: true}, loads: true, stages: true, creates: true},
			{name: "staged, user without TEMPORARY", grants: "INSERT, SELECT, UPDATE", setup: []string{"CREATE UNIQUE INDEX upsert_load_email ON upsert_load_rows (email)"}, clause: onID, creates: true},
		} {
			t.Run(c.name, func(t *testing.T) {
				run := func(plugin bool) (upsertResult, int, bool) {
					t.Helper()
					recreate(t, root, &UpsertLoadRow{})
					for _, q := range c.setup {
						if err := root.Exec(q).Error; err != nil {
							t.Fatal(err)
						}
					}
					counter := &statementCounter{Interface: logger.Discard}
					var db *gorm.DB
					if c.grants != "" {
						if err := root.Exec("GRANT " + c.grants + " ON upsert_load_rows TO '" + user + "'@'%'").Error; err != nil {
							t.Fatal(err)
						}
						db = asUser(t, &gorm.Config{Logger: counter})
					} else {
						db = open(t, &gorm.Config{Logger: counter})
					}
					if plugin {
						db = withPlugin(t, db, bulk.Config{Auto: true})
					}
					rows := make([]UpsertLoadRow, 2500)
					for i := range rows {
						rows[i] = UpsertLoadRow{Email: fmt.Sprint("user", i), Name: fmt.Sprint("new ", i)}
						if c.given {
							rows[i].ID = uint(i + 1)
						}
					}
					err := db.Clauses(c.clause).Create(&rows).Error
					table := tableRows(t, root, "upsert_load_rows")
					rankKeys(table, rows, func(r *UpsertLoadRow) *uint { return &r.ID })
					staged := false
					for _, q := range counter.sql {
						staged = staged || strings.Contains(q, "INTO TABLE gormbulk_stage")
					}
					return upsertResult{&rows, table, err}, loads(counter), staged
				}
				want, _, _ := run(false)
				got, loaded, staged := run(true)
				sameAsGORM(t, c.creates, want, got)
				// Without RETURNING an upsert whose rows may meet a
				// duplicate, in one statement's reach, is GORM's statement.
				loads, stages := c.loads, c.stages
				if dialect == "mysql-lastinsertid" {
					loads, stages = c.loads && !c.stages, false
				}
				if (loaded > 0) != loads || staged != stages {
					t.Errorf("%d LOAD DATA statements (staged: %v), want LOAD DATA: %v, staged: %v", loaded, staged, loads, stages)
				}
			})
		}
	})
}

// TestCatalogSessionDatabase: the catalog is read in the DSN's database,
// by name, and a session that switched databases (USE) is told apart: the
// read fails, LOAD DATA and the keys' lookup step aside and say why, and
// the rows go to the session's table as GORM's statements send them.
func TestCatalogSessionDatabase(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}), bulk.Config{Auto: true})
		sqlDB, err := db.DB()
		if err != nil {
			t.Fatal(err)
		}
		sqlDB.SetMaxOpenConns(1) // USE holds for the session that writes
		recreate(t, db, &UpsertLoadRow{})
		for _, q := range []string{"DROP DATABASE IF EXISTS gormbulk_use", "CREATE DATABASE gormbulk_use",
			"CREATE TABLE gormbulk_use.upsert_load_rows (id bigint unsigned AUTO_INCREMENT PRIMARY KEY, email varchar(64) UNIQUE, name varchar(64))",
			"USE gormbulk_use"} {
			if err := db.Exec(q).Error; err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		cfg, err := mysql.ParseDSN(liveDSN("mysql"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Exec("USE " + cfg.DBName); db.Exec("DROP DATABASE IF EXISTS gormbulk_use") })
		rows := make([]UpsertLoadRow, 2500)
		for i := range rows {
			rows[i] = UpsertLoadRow{Email: fmt.Sprint("user", i), Name: fmt.Sprint("new ", i)}
		}
		onID := clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoUpdates: clause.AssignmentColumns([]string{"name"})}
		if err := db.Clauses(onID, bulk.Options{BatchSize: 1000}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := db.Raw("SELECT count(*) FROM gormbulk_use.upsert_load_rows").Scan(&n).Error; err != nil || n != 2500 {
			t.Errorf("the session's table holds %d rows (%v), want 2500", n, err)
		}
		said := false
		for _, info := range counter.info {
			said = said || strings.Contains(info, `the session's database is "gormbulk_use"`)
		}
		if !said || loads(counter) != 0 {
			t.Errorf("said %q, %d LOAD DATA statements; want the session's database named and none", counter.info, loads(counter))
		}
	})
}

// TestLoadWarningsPastTheList reads the conditions of a statement that
// raised notes and a warning: listed, the warning sends the chunk to
// statements; where the server lists fewer conditions than it raised
// (max_error_count), one not listed may be a warning, and so does that;
// notes alone do not.
func TestLoadWarningsPastTheList(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		sqlDB, err := open(t).DB()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE gormbulk_conditions (d DATE, s VARCHAR(2))"); err != nil {
			t.Fatal(err)
		}
		notes := strings.Repeat("('2020-01-01 10:00:00', 'a'),", 5) // a time into a DATE: a note
		for _, c := range []struct {
			name, values string
			listed       int
			want         string // in why, "" for none
		}{
			{"notes", strings.TrimSuffix(notes, ","), 64, ""},
			{"notes and a warning", notes + "('2020-01-01', 'abc')", 64, "Warning 1265"},
			{"more than listed", notes + "('2020-01-01', 'abc')", 3, "max_error_count"},
		} {
			t.Run(c.name, func(t *testing.T) {
				if _, err := conn.ExecContext(ctx, fmt.Sprint("SET SESSION max_error_count = ", c.listed)); err != nil {
					t.Fatal(err)
				}
				result, err := conn.ExecContext(ctx, "INSERT IGNORE INTO gormbulk_conditions VALUES "+c.values)
				if err != nil {
					t.Fatal(err)
				}
				n, _ := result.RowsAffected()
				why, err := bulk.LoadWarnings(ctx, conn, n, int(n))
				if err != nil || (c.want == "") != (why == "") || !strings.Contains(why, c.want) {
					t.Errorf("why %q, %v; want %q", why, err, c.want)
				}
			})
		}
	})
}

// TestPreparedStatementsHeld creates many chunks under PrepareStmt in a
// transaction, where database/sql prepares a cached statement again on
// each use and holds it until the transaction ends: the plugin's own
// statements (savepoints, LOAD DATA, warnings, staging) are not prepared,
// so the server holds no more statements than for GORM's
// CreateInBatches of the same batches, far from max_prepared_stmt_count.
func TestPreparedStatementsHeld(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t, &gorm.Config{PrepareStmt: true})
		db := withPlugin(t, open(t, &gorm.Config{PrepareStmt: true}), bulk.Config{Auto: true})
		held := func(db *gorm.DB, create func(tx *gorm.DB, rows *[]ParityBasic) error) int {
			recreate(t, plain, &ParityBasic{})
			existing := parityBasicRows(500)
			if err := plain.Create(&existing).Error; err != nil {
				t.Fatal(err)
			}
			var before, during int
			read := func(n *int) {
				var name string
				if err := plain.Raw("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").Row().Scan(&name, n); err != nil {
					t.Fatal(err)
				}
			}
			read(&before)
			if err := db.Transaction(func(tx *gorm.DB) error {
				rows := parityBasicRows(2000)
				for i := range rows[:500] {
					rows[i].ID = existing[i].ID
				}
				if err := create(tx, &rows); err != nil {
					return err
				}
				read(&during)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return during - before
		}
		for _, c := range []struct {
			name   string
			create func(tx *gorm.DB, rows *[]ParityBasic) error
		}{
			{"create", func(tx *gorm.DB, rows *[]ParityBasic) error {
				for i := range *rows {
					(*rows)[i].ID, (*rows)[i].Email = 0, "new "+(*rows)[i].Email
				}
				return tx.Create(rows).Error
			}},
			{"save", func(tx *gorm.DB, rows *[]ParityBasic) error { return tx.Save(rows).Error }},
		} {
			t.Run(c.name, func(t *testing.T) {
				gormHeld := held(plain, func(tx *gorm.DB, rows *[]ParityBasic) error {
					return c.create(tx.Session(&gorm.Session{CreateBatchSize: 5}), rows)
				})
				plugin := held(db, func(tx *gorm.DB, rows *[]ParityBasic) error {
					return c.create(tx.Clauses(bulk.Options{BatchSize: 5}), rows)
				})
				t.Logf("held: plugin %d, GORM %d", plugin, gormHeld)
				if plugin > gormHeld+5 {
					t.Errorf("the plugin's chunks held %d prepared statements, GORM's batches %d", plugin, gormHeld)
				}
			})
		}
	})
}

// TestLoadDataNotesStay loads rows whose times each raise a note (more
// digits than the column keeps): MariaDB's loads keep every condition, so
// the chunks stay LOAD DATA, with no step aside said.
func TestLoadDataNotesStay(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		recreate(t, db, &ParityBasic{})
		rows := parityBasicRows(1500)
		for i := range rows {
			rows[i].UpdatedAt = fixedNow.Add(time.Duration(i)*time.Second + 123456789)
		}
		if err := db.Clauses(bulk.Options{Method: bulk.LoadData}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, s := range counter.info {
			if strings.Contains(s, "steps aside") {
				t.Errorf("said %q", s)
			}
		}
	})
}

// LoadShared has a float64 in a decimal column, which LOAD DATA cannot
// load as GORM's parameter stores it: its chunks go by statements.
type LoadShared struct {
	ID     uint
	Name   string
	Amount float64 `gorm:"type:decimal(20,4)"`
}

// TestLoadDataUpsertSharedStruct saves, by the load path, rows among which
// one struct appears three times. An upsert's first row goes by statement
// before the load, and reads its key back; the struct's later appearances
// must still be written as rows of their own, not as updates of the first
// (a lost row), whether the chunk loads or goes by statements.
func TestLoadDataUpsertSharedStruct(t *testing.T) {
	onMySQL(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if dialect != "mysql" {
			t.Skip("without RETURNING, a struct twice among the rows keeps GORM's LastInsertId arithmetic (README)")
		}
		plain, db := open(t), withPlugin(t, open(t), bulk.Config{Auto: true})
		for _, decimal := range []bool{false, true} {
			run := func(db *gorm.DB) ([]*LoadShared, []LoadShared) {
				t.Helper()
				recreate(t, plain, &LoadShared{})
				if !decimal {
					plain.Exec("ALTER TABLE load_shareds MODIFY amount double")
				}
				rows := make([]*LoadShared, 1200)
				for i := range rows {
					rows[i] = &LoadShared{Name: fmt.Sprint("n", i), Amount: float64(i) / 4}
				}
				rows[5], rows[700] = rows[0], rows[0]
				if err := db.Save(&rows).Error; err != nil {
					t.Fatal(err)
				}
				var stored []LoadShared
				plain.Order("id").Find(&stored)
				return rows, stored
			}
			_, want := run(plain)
			got, stored := run(db)
			if len(stored) != len(want) {
				t.Errorf("decimal %v: %d rows written, GORM %d", decimal, len(stored), len(want))
			}
			names := map[uint]string{}
			for _, s := range stored {
				names[s.ID] = s.Name
			}
			for i, r := range got {
				if names[r.ID] != r.Name {
					t.Errorf("decimal %v: row %d (%s) holds key %d, the row of %q", decimal, i, r.Name, r.ID, names[r.ID])
				}
			}
		}
	})
}
