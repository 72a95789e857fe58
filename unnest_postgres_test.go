package bulk_test

import (
	"strings"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// TestPostgresUnnest checks which chunks PostgreSQL writes as column arrays:
// plain values do; a chunk that needs DEFAULT for some row's key keeps
// VALUES. The parity suite checks both store what GORM stores.
func TestPostgresUnnest(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if dialect != "postgres" {
			t.Skip("PostgreSQL only")
		}
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		for _, c := range []struct {
			name   string
			keys   func(rows []ParityBasic)
			unnest bool
		}{
			{"generated keys", func([]ParityBasic) {}, true},
			{"given keys", func(rows []ParityBasic) {
				for i := range rows {
					rows[i].ID = uint(i + 1)
				}
			}, true},
			{"some given keys", func(rows []ParityBasic) { rows[1].ID = 900 }, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				recreate(t, db, &ParityBasic{})
				rows := parityBasicRows(10)
				c.keys(rows)
				counter.sql = nil
				if err := db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error; err != nil {
					t.Fatal(err)
				}
				var insert string
				for _, s := range counter.sql {
					if strings.HasPrefix(s, "INSERT") {
						insert = s
					}
				}
				if got := strings.Contains(insert, "unnest("); got != c.unnest {
					t.Errorf("unnest used: %v, want %v\n%.300s", got, c.unnest, insert)
				}
			})
		}
	})
}
