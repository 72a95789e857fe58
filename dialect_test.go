package bulk_test

import (
	"database/sql"
	"strings"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// PacketRow carries wide text, so that MySQL's max_allowed_packet, not its
// placeholder limit, bounds the rows per statement.
type PacketRow struct {
	ID   uint   `gorm:"primaryKey"`
	Body string `gorm:"type:text"`
}

// TestPacketLimit writes far more bytes than one packet takes: every row
// arrives, in statements each under the server's max_allowed_packet.
func TestPacketLimit(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		if !strings.HasPrefix(dialect, "mysql") {
			t.Skip("MySQL's packet limit")
		}
		counter := &statementCounter{Interface: logger.Discard}
		db := withPlugin(t, open(t, &gorm.Config{Logger: counter}))
		recreate(t, db, &PacketRow{})
		var packet int
		if err := db.Raw("SELECT @@max_allowed_packet").Scan(&packet).Error; err != nil {
			t.Fatal(err)
		}
		body := strings.Repeat("x", 8000)
		n := 3 * packet / len(body) // three packets' worth
		rows := make([]PacketRow, n)
		for i := range rows {
			rows[i].Body = body
		}
		counter.sql = nil
		if err := db.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if got := count(t, db, "packet_rows"); got != int64(n) {
			t.Fatalf("%d rows, want %d", got, n)
		}
		if rows[n-1].ID == 0 {
			t.Error("keys not read back")
		}
		inserts := 0
		for _, s := range counter.sql {
			if strings.HasPrefix(s, "INSERT") {
				inserts++
				if len(s) > packet {
					t.Errorf("a statement of %d bytes, the packet takes %d", len(s), packet)
				}
			}
		}
		if inserts < 4 {
			t.Errorf("%d INSERT statements for three packets' worth of rows", inserts)
		}
	})
}

// TestDBUnderPool: on PostgreSQL the plugin wraps GORM's pool; db.DB() still
// gives the *sql.DB, outside and inside transactions.
func TestDBUnderPool(t *testing.T) {
	onPostgres(t, func(t *testing.T, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		plain := open(t)
		db := withPlugin(t, open(t))
		want, err := plain.DB()
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.DB()
		if err != nil || got == nil {
			t.Fatalf("db.DB() = %v, %v", got, err)
		}
		if err := got.Ping(); err != nil {
			t.Fatal(err)
		}
		var inTx *sql.DB
		if err := db.Transaction(func(tx *gorm.DB) error {
			inTx, err = tx.DB()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if inTx != got {
			t.Errorf("db.DB() inside a transaction is %p, outside %p", inTx, got)
		}
		if got == want {
			t.Error("two opens share a *sql.DB")
		}
	})
}
