package bulk_test

import (
	"errors"
	"fmt"
	"log"
	"strings"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// Register the plugin once, then ask for the bulk path per call with
// bulk.Options. The generated IDs are read back into the structs, as with
// GORM's own Create.
func ExampleNew() {
	type Product struct {
		ID    uint
		Code  string `gorm:"uniqueIndex"`
		Price int
	}

	db, err := gorm.Open(sqlite.Open("file:example_new?mode=memory&cache=shared"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()

	if err := db.Use(bulk.New()); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Product{}); err != nil {
		log.Fatal(err)
	}

	products := make([]Product, 10000)
	for i := range products {
		products[i] = Product{Code: fmt.Sprintf("P%05d", i), Price: 100 + i}
	}
	result := db.Clauses(bulk.Options{}).Create(&products)
	if result.Error != nil {
		log.Fatal(result.Error)
	}

	fmt.Println("rows written:", result.RowsAffected)
	fmt.Println("IDs:", products[0].ID, "to", products[len(products)-1].ID)
	// Output:
	// rows written: 10000
	// IDs: 1 to 10000
}

// With Config.Auto, every multi-row Create and CreateInBatches takes the
// bulk path, with no change to the calling code. Options{Disable: true}
// sends one statement to GORM's own create instead.
func ExampleConfig() {
	type Event struct {
		ID     uint
		Kind   string
		Status string `gorm:"default:new"`
	}

	db, err := gorm.Open(sqlite.Open("file:example_config?mode=memory&cache=shared"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()

	if err := db.Use(bulk.New(bulk.Config{Auto: true})); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Event{}); err != nil {
		log.Fatal(err)
	}

	events := make([]Event, 5000)
	for i := range events {
		events[i].Kind = []string{"click", "view", "buy"}[i%3]
	}
	if err := db.Create(&events).Error; err != nil { // bulk path
		log.Fatal(err)
	}

	more := []Event{{Kind: "view"}, {Kind: "buy"}}
	if err := db.Clauses(bulk.Options{Disable: true}).Create(&more).Error; err != nil { // GORM's path
		log.Fatal(err)
	}

	var n int64
	db.Model(&Event{}).Count(&n)
	fmt.Println("events:", n)
	fmt.Println("last:", events[len(events)-1].ID, events[len(events)-1].Status)
	fmt.Println("more:", more[0].ID, more[1].ID)
	// Output:
	// events: 5002
	// last: 5000 new
	// more: 5001 5002
}

// BatchSize caps the rows per statement; by default each statement is as
// large as the database allows. Here GORM's logger, writing to a buffer,
// shows the statements sent: five rows, at most two per statement, take
// three INSERTs.
func ExampleOptions() {
	type Reading struct {
		ID     uint
		Sensor string
		Value  float64
	}

	var sqlLog strings.Builder
	db, err := gorm.Open(sqlite.Open("file:example_options?mode=memory&cache=shared"),
		&gorm.Config{Logger: logger.New(log.New(&sqlLog, "", 0), logger.Config{LogLevel: logger.Info})})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()

	if err := db.Use(bulk.New()); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Reading{}); err != nil {
		log.Fatal(err)
	}

	readings := []Reading{
		{Sensor: "a", Value: 1.5}, {Sensor: "b", Value: 2.5}, {Sensor: "c", Value: 3.5},
		{Sensor: "d", Value: 4.5}, {Sensor: "e", Value: 5.5},
	}
	sqlLog.Reset()
	if err := db.Clauses(bulk.Options{BatchSize: 2}).Create(&readings).Error; err != nil {
		log.Fatal(err)
	}

	fmt.Println("INSERT statements:", strings.Count(sqlLog.String(), "INSERT INTO"))
	fmt.Println("IDs:", readings[0].ID, "to", readings[len(readings)-1].ID)
	// Output:
	// INSERT statements: 3
	// IDs: 1 to 5
}

// SkipReturning writes the rows without reading generated values back: the
// structs keep a zero ID, which saves the read-back when the caller does
// not need it.
func ExampleOptions_skipReturning() {
	type LogLine struct {
		ID      uint
		Message string
	}

	db, err := gorm.Open(sqlite.Open("file:example_skip_returning?mode=memory&cache=shared"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()

	if err := db.Use(bulk.New()); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&LogLine{}); err != nil {
		log.Fatal(err)
	}

	lines := make([]LogLine, 20000)
	for i := range lines {
		lines[i].Message = fmt.Sprintf("line %d", i)
	}
	result := db.Clauses(bulk.Options{SkipReturning: true}).Create(&lines)
	if result.Error != nil {
		log.Fatal(result.Error)
	}

	var last LogLine
	db.Last(&last)
	fmt.Println("rows written:", result.RowsAffected)
	fmt.Println("ID in the struct:", lines[len(lines)-1].ID)
	fmt.Println("ID in the table:", last.ID, last.Message)
	// Output:
	// rows written: 20000
	// ID in the struct: 0
	// ID in the table: 20000 line 19999
}

// A failed statement is reported as a *bulk.ChunkError naming the rows it
// carried; the driver's error stays reachable with errors.Is and errors.As.
// The whole Create runs in one transaction, so the rows of the statement
// that succeeded are rolled back too.
func ExampleChunkError() {
	type Account struct {
		ID    uint
		Email string `gorm:"uniqueIndex"`
	}

	// TranslateError maps the driver's unique violation to gorm.ErrDuplicatedKey.
	db, err := gorm.Open(sqlite.Open("file:example_chunk_error?mode=memory&cache=shared"),
		&gorm.Config{Logger: logger.Discard, TranslateError: true})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()

	if err := db.Use(bulk.New()); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Account{}); err != nil {
		log.Fatal(err)
	}

	accounts := []Account{
		{Email: "ann@example.com"}, {Email: "bob@example.com"}, // first statement
		{Email: "cy@example.com"}, {Email: "ann@example.com"}, // second statement: duplicate
	}
	err = db.Clauses(bulk.Options{BatchSize: 2}).Create(&accounts).Error

	var chunkErr *bulk.ChunkError
	if errors.As(err, &chunkErr) {
		fmt.Printf("rows %d to %d failed\n", chunkErr.First, chunkErr.Last)
	}
	fmt.Println("duplicate key:", errors.Is(err, gorm.ErrDuplicatedKey))
	fmt.Println(err)

	var n int64
	db.Model(&Account{}).Count(&n)
	fmt.Println("accounts written:", n)
	// Output:
	// rows 2 to 3 failed
	// duplicate key: true
	// gormbulk: rows 2-3: duplicated key not allowed
	// accounts written: 0
}

// Code that unwraps GORM's transaction to an *sql.Tx reaches it with
// SQLTx, whichever pool began it (on PostgreSQL the plugin's pool keeps the
// transaction's connection, so the pool is not an *sql.Tx itself).
func ExampleSQLTx() {
	type Note struct {
		ID   uint
		Text string
	}

	db, err := gorm.Open(sqlite.Open("file:example_sqltx?mode=memory&cache=shared"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if err := db.Use(bulk.New(bulk.Config{Auto: true})); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Note{}); err != nil {
		log.Fatal(err)
	}

	err = db.Transaction(func(tx *gorm.DB) error {
		notes := []Note{{Text: "a"}, {Text: "b"}, {Text: "c"}}
		if err := tx.Create(&notes).Error; err != nil {
			return err
		}
		sqlTx, ok := bulk.SQLTx(tx.Statement.ConnPool)
		if !ok {
			return errors.New("not in a transaction")
		}
		var n int
		if err := sqlTx.QueryRow("SELECT count(*) FROM notes").Scan(&n); err != nil {
			return err
		}
		fmt.Println("notes in the transaction:", n)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// notes in the transaction: 3
}

// Stream writes rows from an iterator in chunks, holding only the chunks in
// flight; OnProgress reports each chunk. With CommitChunks each chunk
// commits on its own, and Result.Rows is where a load that failed can
// resume.
func ExampleStream() {
	type Event struct {
		ID   uint
		Kind string
		N    int
	}

	db, err := gorm.Open(sqlite.Open("file:example_stream?mode=memory&cache=shared"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if err := db.Use(bulk.New()); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Event{}); err != nil {
		log.Fatal(err)
	}

	events := func(yield func(Event) bool) {
		for i := range 50000 {
			if !yield(Event{Kind: "click", N: i}) {
				return
			}
		}
	}
	progress := bulk.OnProgress(func(p bulk.Progress) {
		if p.Rows%20000 == 0 {
			fmt.Println("written:", p.Rows)
		}
	})
	res, err := bulk.Stream(db.Clauses(bulk.Options{BatchSize: 10000, CommitChunks: true}, progress), events)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rows:", res.Rows)
	// Output:
	// written: 20000
	// written: 40000
	// rows: 50000
}

// Stream2 takes a source that can fail, such as a CSV reader: its first
// error stops the load and comes back wrapped, naming the row. Without
// CommitChunks the load is one transaction, and nothing stays written.
func ExampleStream2() {
	type Reading struct {
		ID    uint
		Value float64
	}

	db, err := gorm.Open(sqlite.Open("file:example_stream2?mode=memory&cache=shared"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	if err := db.Use(bulk.New()); err != nil {
		log.Fatal(err)
	}
	if err := db.AutoMigrate(&Reading{}); err != nil {
		log.Fatal(err)
	}

	badLine := errors.New("line 1201: not a number")
	readings := func(yield func(Reading, error) bool) {
		for i := range 2000 {
			if i == 1200 {
				yield(Reading{}, badLine)
				return
			}
			if !yield(Reading{Value: float64(i) / 10}, nil) {
				return
			}
		}
	}
	_, err = bulk.Stream2(db.Clauses(bulk.Options{BatchSize: 500}), readings)
	var n int64
	db.Model(&Reading{}).Count(&n)
	fmt.Println(err)
	fmt.Println("is the source's error:", errors.Is(err, badLine), "rows written:", n)
	// Output:
	// gormbulk: the stream's row 1200: line 1201: not a number
	// is the source's error: true rows written: 0
}
