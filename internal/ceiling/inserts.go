package ceiling

import (
	"database/sql"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// Insert is what a hand-written loader does: one prepared INSERT of as
// many rows as the parameter limit allows, reused for every full chunk, its
// arguments taken from the structs without reflection, all in one
// transaction.
func Insert(db *gorm.DB, rows []Row) error {
	maxParams := 65535
	if db.Dialector.Name() == "sqlite" {
		maxParams = 32766
	}
	now := db.NowFunc()
	return db.Transaction(func(tx *gorm.DB) error {
		return chunks(tx, "INSERT INTO bench_rows (email,name,age,score,active,status,created_at,updated_at) VALUES ", "", 8, maxParams, len(rows),
			func(i int, args []any) []any {
				r := &rows[i]
				return append(args, r.Email, r.Name, r.Age, r.Score, r.Active, "active", now, now)
			}, nil)
	})
}

// upsertInserts is SQLite's and MariaDB's hand-written upsert:
// UpsertClause in prepared multi-row INSERTs of maximal size
// reused across chunks, the keys read back with RETURNING, its timestamps
// as GORM sets them.
func upsertInserts(db *gorm.DB, rows []Row) error {
	maxParams, upsert := 65535, " ON DUPLICATE KEY UPDATE name = VALUES(name), age = VALUES(age), score = VALUES(score), updated_at = VALUES(updated_at) RETURNING id"
	if db.Dialector.Name() == "sqlite" {
		maxParams, upsert = 32766, " ON CONFLICT (email) DO UPDATE SET name = excluded.name, age = excluded.age, score = excluded.score, updated_at = excluded.updated_at RETURNING id"
	}
	now := db.NowFunc()
	return db.Transaction(func(tx *gorm.DB) error {
		return chunks(tx, "INSERT INTO bench_rows (email, name, age, score, active, status, created_at, updated_at) VALUES ", upsert, 8, maxParams, len(rows),
			func(i int, args []any) []any {
				r := &rows[i]
				return append(args, r.Email, r.Name, r.Age, r.Score, r.Active, "active", now, now)
			},
			func(i int, key int64) { rows[i].ID = uint(key) })
	})
}

// associationsInserts is SQLite's hand-written create of users with
// their orders, keeping what GORM writes: prepared multi-row INSERTs of
// maximal size reused across chunks, each chunk's keys from its
// LastInsertId, the orders as GORM's has-many upsert on their key.
func associationsInserts(db *gorm.DB, users []User) error {
	const maxParams, upsert = 32766, " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id"
	var orders []*Order
	return db.Transaction(func(tx *gorm.DB) error {
		err := chunks(tx, "INSERT INTO bench_users (email, name) VALUES ", "", 2, maxParams, len(users),
			func(i int, args []any) []any { return append(args, users[i].Email, users[i].Name) },
			func(i int, key int64) {
				users[i].ID = uint(key)
				for j := range users[i].Orders {
					users[i].Orders[j].UserID = uint(key)
					orders = append(orders, &users[i].Orders[j])
				}
			})
		if err != nil {
			return err
		}
		return chunks(tx, "INSERT INTO bench_orders (user_id, amount, note) VALUES ", upsert, 3, maxParams, len(orders),
			func(i int, args []any) []any { return append(args, orders[i].UserID, orders[i].Amount, orders[i].Note) },
			func(i int, key int64) { orders[i].ID = uint(key) })
	})
}

// chunks writes n rows of cols columns by prepared multi-row INSERTs
// of as many rows as maxParams allows, giving row i its key, where key is
// given, from what the statement's RETURNING hands back, in order, or else
// from the chunk's LastInsertId.
func chunks(tx *gorm.DB, head, tail string, cols, maxParams, n int, args func(i int, args []any) []any, key func(i int, key int64)) error {
	per := maxParams / cols
	var (
		prepared *sql.Stmt
		size     int
		values   = make([]any, 0, per*cols)
	)
	defer func() {
		if prepared != nil {
			prepared.Close()
		}
	}()
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		if end-start != size {
			if prepared != nil {
				prepared.Close()
			}
			query := head + placeholders(tx, cols, end-start) + tail
			var err error
			if prepared, err = tx.Statement.ConnPool.PrepareContext(tx.Statement.Context, query); err != nil {
				return err
			}
			size = end - start
		}
		values = values[:0]
		for i := start; i < end; i++ {
			values = args(i, values)
		}
		if strings.Contains(tail, "RETURNING") {
			if err := returned(prepared, values, start, key); err != nil {
				return err
			}
			continue
		}
		result, err := prepared.Exec(values...)
		if err != nil {
			return err
		}
		if key == nil {
			continue
		}
		last, err := result.LastInsertId()
		if err != nil {
			return err
		}
		first := last // MySQL's first key of the INSERT; SQLite's last rowid
		if tx.Dialector.Name() == "sqlite" {
			first = last - int64(end-start) + 1
		}
		for i := start; i < end; i++ {
			key(i, first+int64(i-start))
		}
	}
	return nil
}

// placeholders is the VALUES list of n rows of cols parameters, in the
// dialect's placeholders.
func placeholders(tx *gorm.DB, cols, n int) string {
	var sb strings.Builder
	for i := range n * cols {
		switch {
		case i == 0:
			sb.WriteByte('(')
		case i%cols == 0:
			sb.WriteString("),(")
		default:
			sb.WriteByte(',')
		}
		if tx.Dialector.Name() == "postgres" {
			sb.WriteString("$" + strconv.Itoa(i+1))
		} else {
			sb.WriteByte('?')
		}
	}
	sb.WriteByte(')')
	return sb.String()
}

// returned runs a chunk's INSERT … RETURNING key and gives the chunk's
// rows, from start, the keys it hands back, in order.
func returned(prepared *sql.Stmt, values []any, start int, key func(i int, key int64)) error {
	rows, err := prepared.Query(values...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for i := start; rows.Next(); i++ {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return err
		}
		key(i, k)
	}
	return rows.Err()
}
