package bulk_test

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormbulk/bulk"
)

// TestPostgresDownAtUse registers the plugin while the server cannot be
// reached, then brings it up behind a proxy: the first bulk create must
// still find pgx and write arrays, not stay on VALUES for good.
func TestPostgresDownAtUse(t *testing.T) {
	onPostgres(t, func(t *testing.T, _ func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		dsn := liveDSN("postgres")
		cfg, err := pgconn.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		ln.Close() // down
		counter := &statementCounter{Interface: logger.Discard}
		down := strings.Join([]string{dsn, "host=127.0.0.1", "port=" + strconv.Itoa(addr.Port)}, " ")
		db := withPlugin(t, openDB(t, postgres.Open(down), &gorm.Config{DisableAutomaticPing: true, Logger: counter}))

		if ln, err = net.Listen("tcp", addr.String()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		target := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go proxy(c, target)
			}
		}()

		recreate(t, db, &ParityBasic{})
		rows := parityBasicRows(200)
		counter.sql = nil
		if err := db.Clauses(bulk.Options{Method: bulk.Values}).Create(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if insert := counter.sql[len(counter.sql)-1]; !strings.Contains(insert, "unnest(") {
			t.Errorf("want arrays once the server is up, ran %.200s", insert)
		}
	})
}

func proxy(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(s, c)
	io.Copy(c, s)
}

// TestSQLTx reaches the *sql.Tx of a transaction on every dialect, where
// the plugin's pool (PostgreSQL) begins it and where GORM's does, and uses
// it in the same transaction.
func TestSQLTx(t *testing.T) {
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		db := withPlugin(t, open(t))
		recreate(t, db, &ParityBasic{})
		err := db.Transaction(func(tx *gorm.DB) error {
			sqlTx, ok := bulk.SQLTx(tx.Statement.ConnPool)
			if !ok {
				t.Fatalf("no *sql.Tx in %T", tx.Statement.ConnPool)
			}
			rows := parityBasicRows(3)
			if err := tx.Clauses(bulk.Options{}).Create(&rows).Error; err != nil {
				return err
			}
			var n int
			if err := sqlTx.QueryRow("SELECT count(*) FROM parity_basics").Scan(&n); err != nil {
				return err
			}
			if n != 3 {
				t.Errorf("the *sql.Tx sees %d rows, want the transaction's 3", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := bulk.SQLTx(db.Statement.ConnPool); ok {
			t.Error("a pool outside a transaction reported an *sql.Tx")
		}
	})
}
