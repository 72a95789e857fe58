package bulk_test

import (
	"os"
	"testing"

	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/gormbulk/bulk"
)

// TestMySQLAutoIncrementIncrement runs MySQL's LastInsertId path on a
// session whose auto_increment_increment is 2, as Galera and
// multi-primary setups set it. GORM steps its keys by the field's
// autoIncrementIncrement tag (1) and gives rows keys that are not theirs;
// the plugin steps by the server's value, and every struct holds its own
// row's key.
func TestMySQLAutoIncrementIncrement(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, _ func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if dialect != "mysql-lastinsertid" {
			t.Skip("MySQL without RETURNING only")
		}
		dsn := os.Getenv("GORMBULK_MYSQL_DSN")
		if dsn == "" {
			dsn = "root:@tcp(127.0.0.1:3306)/test?parseTime=true&loc=UTC"
		}
		open := func() *gorm.DB {
			return openDB(t, mysql.New(mysql.Config{DSN: dsn + "&auto_increment_increment=2", DisableWithReturning: true}))
		}
		plain, db := open(), withPlugin(t, open())
		for _, c := range []struct {
			name string
			db   *gorm.DB
			own  bool // every struct holds its own row's key
		}{{"GORM", plain, false}, {"plugin", db.Clauses(bulk.Options{BatchSize: 40}), true}} {
			recreate(t, plain, &ParityBasic{})
			rows := parityBasicRows(100)
			if err := c.db.Create(&rows).Error; err != nil {
				t.Fatal(err)
			}
			var stored []ParityBasic
			if err := plain.Order("email").Find(&stored).Error; err != nil {
				t.Fatal(err)
			}
			own := len(stored) == len(rows)
			for i := range rows {
				own = own && rows[i].ID == stored[i].ID
			}
			if own != c.own {
				t.Errorf("%s: structs hold their rows' keys: %v, want %v (first keys %d, %d; table %d, %d)",
					c.name, own, c.own, rows[0].ID, rows[1].ID, stored[0].ID, stored[1].ID)
			}
		}
	})
}
