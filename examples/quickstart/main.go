// Command quickstart bulk-loads rows into a throwaway SQLite file with the
// gormbulk plugin, then loads the same rows with GORM's own
// CreateInBatches(…, 1000) for comparison, and prints what each did.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -rows 500000
//
// Everything lives in a temporary directory that is removed on exit.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// User is a typical table: an auto-increment key, a unique column, a
// database default and GORM's timestamps.
type User struct {
	ID        uint   `gorm:"primaryKey"`
	Email     string `gorm:"size:255;uniqueIndex"`
	Name      string `gorm:"size:100"`
	Age       int
	Score     float64
	Active    bool
	Status    string `gorm:"size:20;default:active"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// batchSize is the CreateInBatches batch size the plugin is compared with.
const batchSize = 1000

func main() {
	rows := flag.Int("rows", 100_000, "number of rows to insert")
	flag.Parse()
	if err := run(*rows); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	if n < 1 {
		return fmt.Errorf("-rows must be at least 1, got %d", n)
	}
	dir, err := os.MkdirTemp("", "gormbulk-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The plugin: register once, then ask for the bulk path per call.
	bulkRun, users, err := load(filepath.Join(dir, "bulk.db"), n, func(db *gorm.DB, users []User) error {
		if err := db.Use(bulk.New()); err != nil {
			return err
		}
		return db.Clauses(bulk.Options{}).Create(&users).Error
	})
	if err != nil {
		return fmt.Errorf("bulk create: %w", err)
	}

	// GORM's own batching, into a separate fresh file so neither run
	// benefits from the other's warm-up.
	gormRun, _, err := load(filepath.Join(dir, "gorm.db"), n, func(db *gorm.DB, users []User) error {
		return db.CreateInBatches(&users, batchSize).Error
	})
	if err != nil {
		return fmt.Errorf("CreateInBatches: %w", err)
	}

	first, last := users[0].ID, users[len(users)-1].ID
	if first == 0 || last == 0 {
		return fmt.Errorf("IDs were not read back: first %d, last %d", first, last)
	}
	fmt.Printf("Inserted %d users each way, into fresh temporary SQLite files (no server):\n", n)
	fmt.Printf("  gormbulk                %6d INSERT statements  %v\n", bulkRun.statements, bulkRun.elapsed.Round(time.Millisecond))
	fmt.Printf("  CreateInBatches(%d)   %6d INSERT statements  %v\n", batchSize, gormRun.statements, gormRun.elapsed.Round(time.Millisecond))
	fmt.Printf("Rows in table: %d. IDs read back into the structs: first %d, last %d.\n", bulkRun.stored, first, last)
	return nil
}

// result is what one load did.
type result struct {
	statements int64         // SQL statements executed by the create
	elapsed    time.Duration // wall time of the create call
	stored     int64         // rows in the table afterwards
}

// load opens a fresh SQLite file, creates the table, builds n users and
// times create on them, counting the statements it executes.
func load(path string, n int, create func(*gorm.DB, []User) error) (result, []User, error) {
	var res result
	counter := &countingLogger{Interface: logger.Default.LogMode(logger.Silent)}
	db, err := gorm.Open(sqlite.Open(path), &gorm.Config{Logger: counter})
	if err != nil {
		return res, nil, err
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	if err := db.AutoMigrate(&User{}); err != nil {
		return res, nil, err
	}

	users := makeUsers(n)
	counter.count = 0
	start := time.Now()
	if err := create(db, users); err != nil {
		return res, nil, err
	}
	res.elapsed = time.Since(start)
	res.statements = counter.count

	if err := db.Model(&User{}).Count(&res.stored).Error; err != nil {
		return res, nil, err
	}
	if res.stored != int64(n) {
		return res, nil, fmt.Errorf("table holds %d rows, want %d", res.stored, n)
	}
	return res, users, nil
}

func makeUsers(n int) []User {
	users := make([]User, n)
	for i := range users {
		users[i] = User{
			Email:  fmt.Sprintf("user%d@example.com", i),
			Name:   fmt.Sprintf("User %d", i),
			Age:    18 + i%60,
			Score:  float64(i%1000) / 10,
			Active: i%3 != 0,
		}
		if i%10 == 0 {
			users[i].Status = "suspended" // the rest take the default
		}
	}
	return users
}

// countingLogger is a silent GORM logger that counts the statements traced.
// GORM traces every statement it executes once, and the plugin traces each
// chunk's statement the same way, so the count is the number of statements.
type countingLogger struct {
	logger.Interface
	count int64
}

func (l *countingLogger) LogMode(logger.LogLevel) logger.Interface { return l }

func (l *countingLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	l.count++
}
