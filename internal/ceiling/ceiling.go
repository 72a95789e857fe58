// Package ceiling holds the hand-written loaders the plugin is measured
// against, and the tables they write: what an engineer writes with the
// driver alone (COPY, LOAD DATA LOCAL, prepared multi-row INSERTs reused
// across chunks) to leave the rows and keys GORM leaves. The benchmarks of
// package bulk and the benchmark program both measure against these.
package ceiling

import (
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Row is the benchmarks' table: 9 columns with a unique index, a default
// and timestamps.
type Row struct {
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

// TableName implements GORM's schema.Tabler.
func (Row) TableName() string { return "bench_rows" }

// Rows returns n distinct rows.
func Rows(n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{Email: fmt.Sprintf("user%07d@example.com", i), Name: fmt.Sprintf("User %d", i), Age: i % 90, Score: float64(i) / 3, Active: i%2 == 0}
	}
	return rows
}

// UpsertClause is the upsert measured: on the unique email, updating four
// columns.
var UpsertClause = clause.OnConflict{Columns: []clause.Column{{Name: "email"}}, DoUpdates: clause.AssignmentColumns([]string{"name", "age", "score", "updated_at"})}

// UpsertRows returns the rows an upsert of n rows starts from, which half
// of them meet (existing), and the n rows it writes, each with a new name.
func UpsertRows(n int) (existing, rows []Row) {
	rows = Rows(n)
	for i := range rows {
		rows[i].Name += " updated"
	}
	return Rows(n / 2), rows
}

// Upsert is the hand-written UpsertClause of the rows, their keys read
// back: on PostgreSQL the rows COPYed into a staging table and moved by
// one INSERT … SELECT … ON CONFLICT … RETURNING, elsewhere prepared
// multi-row INSERTs with RETURNING.
func Upsert(db *gorm.DB, rows []Row) error {
	if db.Dialector.Name() == "postgres" {
		return stagedUpsert(db, rows)
	}
	return upsertInserts(db, rows)
}

// User and Order are a has-many pair: GORM writes the orders as an upsert
// on their key after the users.
type User struct {
	ID     uint
	Email  string `gorm:"uniqueIndex;size:191"`
	Name   string
	Orders []Order `gorm:"foreignKey:UserID"`
}

// TableName implements GORM's schema.Tabler.
func (User) TableName() string { return "bench_users" }

// Order is one of a User's orders.
type Order struct {
	ID     uint
	UserID uint
	Amount float64
	Note   string
}

// TableName implements GORM's schema.Tabler.
func (Order) TableName() string { return "bench_orders" }

// Users returns n users with two orders each.
func Users(n int) []User {
	users := make([]User, n)
	for i := range users {
		users[i] = User{Email: fmt.Sprintf("u%d@example.com", i), Name: fmt.Sprint("user ", i),
			Orders: []Order{{Amount: float64(i), Note: "first"}, {Amount: float64(i) / 2, Note: "second"}}}
	}
	return users
}

// Associations is the hand-written create of the users with their orders,
// every key read back and every order's foreign key set: on PostgreSQL each
// table's keys drawn in one round trip and COPYed with its rows, on MySQL
// each table by LOAD DATA LOCAL, on SQLite prepared multi-row INSERTs.
func Associations(db *gorm.DB, users []User) error {
	switch db.Dialector.Name() {
	case "postgres":
		return associationsCopy(db, users)
	case "mysql":
		return associationsLoad(db, users)
	}
	return associationsInserts(db, users)
}
