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
		// Statements: LOAD DATA streams its data in packets of the driver's.
		if err := db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error; err != nil {
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

// TestPostgresCompatible names the servers that speak PostgreSQL's protocol
// from their version() strings, and leaves PostgreSQL's own (managed or
// not) alone. The live PostgreSQL servers check the empty answer end to
// end: every COPY and array test runs on them.
func TestPostgresCompatible(t *testing.T) {
	for _, c := range []struct{ version, want string }{
		{"PostgreSQL 15.10 (Debian 15.10-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc (Debian 12.2.0-14) 12.2.0, 64-bit", ""},
		{"PostgreSQL 15.4 on aarch64-unknown-linux-gnu, compiled by aarch64-unknown-linux-gnu-gcc (GCC) 9.5.0, 64-bit", ""},
		{"PostgreSQL 16.1 (EnterpriseDB Advanced Server 16.1.0) on x86_64-pc-linux-gnu", ""},
		{"CockroachDB CCL v23.1.11 (x86_64-pc-linux-gnu, built 2023/09/27 01:53:43, go1.19.10)", "CockroachDB"},
		{"PostgreSQL 11.2-YB-2.18.0.0-b0 on x86_64-pc-linux-gnu, compiled by clang version 15.0.3", "YugabyteDB"},
		{"PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), Redshift 1.0.77467", "Redshift"},
		{"Materialize v0.80.0", "Materialize"},
	} {
		if got := bulk.PostgresCompatible(c.version); got != c.want {
			t.Errorf("%q: %q, want %q", c.version, got, c.want)
		}
	}
}
