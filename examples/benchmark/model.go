package main

import (
	"fmt"
	"time"
)

// table is the benchmark's own table, apart from the test suite's.
const table = "benchmark_users"

// User is a typical table, the shape of BenchRow in bench_test.go: an
// auto-increment key, a unique index, a database default and GORM's
// timestamps.
type User struct {
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
func (User) TableName() string { return table }

// columns are the columns every method writes, GORM's included: all but
// the key, which the database generates.
var columns = []string{"email", "name", "age", "score", "active", "status", "created_at", "updated_at"}

// values appends u's values in the order of columns, as GORM writes them:
// the default status where u has none, now for both timestamps.
func (u *User) values(dst []any, now time.Time) []any {
	return append(dst, u.Email, u.Name, u.Age, u.Score, u.Active, u.status(), now, now)
}

func (u *User) status() string {
	if u.Status == "" {
		return "active"
	}
	return u.Status
}

// makeUsers returns n distinct users; one in ten has a status of its own,
// the rest take the column's default.
func makeUsers(n int) []User {
	users := make([]User, n)
	for i := range users {
		users[i] = User{
			Email:  fmt.Sprintf("user%07d@example.com", i),
			Name:   fmt.Sprintf("User %d", i),
			Age:    18 + i%60,
			Score:  float64(i%1000) / 10,
			Active: i%3 != 0,
		}
		if i%10 == 0 {
			users[i].Status = "suspended"
		}
	}
	return users
}
