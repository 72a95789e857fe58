package bulk

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
)

// mysqlServer is what a MySQL or MariaDB server says of itself that the
// paths rest on, read at db.Use. Where the server could not be reached then
// (gorm.Open pings it first unless DisableAutomaticPing), statements are
// sized for the smallest packet, keys keep GORM's arithmetic and LOAD DATA
// stays off, until the first bulk statement that reaches it reads it: a DB
// that was down at db.Use is not kept from its fast paths.
type mysqlServer struct {
	facts atomic.Pointer[mysqlFacts]
}

// mysqlFacts is one read of the server.
type mysqlFacts struct {
	maxBytes int   // statement text plus arguments, in bytes
	step     int64 // auto_increment_increment; 0 where the server did not say
	load     *mysqlLoad
}

// mysqlDefaultPacket is assumed where max_allowed_packet cannot be read:
// MySQL 5.6's default, lower than every later default, so it is never too
// large.
const mysqlDefaultPacket = 4 << 20

var (
	// unread is what is assumed of a server not read yet.
	unread = &mysqlFacts{maxBytes: mysqlPacketBytes(mysqlDefaultPacket)}
	// notMySQL is what a dialect other than MySQL's has: no limit on
	// bytes, no LOAD DATA.
	notMySQL = &mysqlFacts{}
)

// mysqlPacketBytes leaves room in max_allowed_packet for the protocol's own
// framing of each argument.
func mysqlPacketBytes(packet int64) int { return int(packet - packet/16) }

// get returns what the server said, or what is assumed until it says.
func (s *mysqlServer) get() *mysqlFacts {
	if s == nil {
		return notMySQL
	}
	if f := s.facts.Load(); f != nil {
		return f
	}
	return unread
}

// read reads the server through pool unless it has been read. A server
// that answers with an error for what it does not know (TiDB, a proxy) has
// been read: it keeps the assumptions. One that cannot be reached is read
// again by the next statement, which cannot reach it either.
func (s *mysqlServer) read(ctx context.Context, db *gorm.DB, pool gorm.ConnPool) {
	if s == nil || s.facts.Load() != nil {
		return
	}
	f := *unread
	var packet, step int64
	err := pool.QueryRowContext(ctx, "SELECT @@max_allowed_packet, @@auto_increment_increment").Scan(&packet, &step)
	if err == nil && packet > 0 && step > 0 {
		f.maxBytes, f.step = mysqlPacketBytes(packet), step
	}
	if err == nil {
		f.load, err = discoverLoad(ctx, db, pool)
	}
	var answered *mysqldriver.MySQLError
	if err == nil || errors.As(err, &answered) {
		s.facts.Store(&f)
	}
}

// discoverLoad reads what the server says of LOAD DATA LOCAL. It returns
// nil where the read failed, with its error, and where the server is not
// MySQL or MariaDB itself (TiDB and Vitess take the statement but are not
// proven here).
func discoverLoad(ctx context.Context, db *gorm.DB, pool gorm.ConnPool) (*mysqlLoad, error) {
	var (
		version, charset string
		local            int64
		lockMode         sql.NullInt64
	)
	err := pool.QueryRowContext(ctx, "SELECT version(), @@local_infile, @@innodb_autoinc_lock_mode, @@character_set_client").
		Scan(&version, &local, &lockMode, &charset)
	if err != nil || strings.Contains(version, "TiDB") || strings.Contains(version, "Vitess") {
		return nil, err
	}
	l := &mysqlLoad{lockMode: -1, charset: charset, loc: time.UTC}
	if strings.Contains(version, "MariaDB") {
		l.conditions = "SET STATEMENT max_error_count=65535 FOR "
	}
	if lockMode.Valid {
		l.lockMode = lockMode.Int64
	}
	if d, ok := db.Dialector.(*mysql.Dialector); ok && d.Config != nil && d.DSNConfig != nil {
		if d.DSNConfig.Loc != nil {
			l.loc = d.DSNConfig.Loc
		}
		l.truncates = strings.Contains(d.DSNConfig.FormatDSN(), "timeTruncate=")
	}
	l.refused.Store(local == 0)
	return l, nil
}
