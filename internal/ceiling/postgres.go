package ceiling

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// Copy is pgx's CopyFrom fed straight from the structs, on the pgx
// connection under database/sql: the ceiling the COPY path is held to.
func Copy(db *gorm.DB, rows []Row) error {
	i := -1
	return CopyRows(db, func() (*Row, bool) {
		i++
		if i == len(rows) {
			return nil, false
		}
		return &rows[i], true
	})
}

// CopyRows copies the rows next gives, with pgx's CopyFrom fed by
// CopyFromFunc, on the pgx connection under database/sql.
func CopyRows(db *gorm.DB, next func() (*Row, bool)) error {
	now := db.NowFunc()
	columns := []string{"email", "name", "age", "score", "active", "status", "created_at", "updated_at"}
	return onPgx(db, func(ctx context.Context, c *pgx.Conn) error {
		values := make([]any, len(columns))
		_, err := c.CopyFrom(ctx, pgx.Identifier{"bench_rows"}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			r, ok := next()
			if !ok {
				return nil, nil
			}
			values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7] = r.Email, r.Name, r.Age, r.Score, r.Active, "active", now, now
			return values, nil
		}))
		return err
	})
}

// onPgx runs f on a pgx connection of db's pool, as a hand-written
// loader reaches pgx under database/sql.
func onPgx(db *gorm.DB, f func(ctx context.Context, c *pgx.Conn) error) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	ctx := context.Background()
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return f(ctx, dc.(*stdlib.Conn).Conn()) })
}

// stagedUpsert is PostgreSQL's hand-written upsert: the rows COPYed
// into a staging table local to the transaction, then moved by one INSERT
// … SELECT … ON CONFLICT … RETURNING in staging order, the keys read back
// into the rows; UpsertClause, its timestamps as GORM sets
// them.
func stagedUpsert(db *gorm.DB, rows []Row) error {
	now := db.NowFunc()
	return onPgx(db, func(ctx context.Context, c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE bench_stage ON COMMIT DROP AS SELECT 0::int8 AS n, email, name, age, score, active, status, created_at, updated_at FROM bench_rows WITH NO DATA"); err != nil {
			return err
		}
		columns := []string{"n", "email", "name", "age", "score", "active", "status", "created_at", "updated_at"}
		i := -1
		values := make([]any, len(columns))
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_stage"}, columns, pgx.CopyFromFunc(func() ([]any, error) {
			i++
			if i == len(rows) {
				return nil, nil
			}
			r := &rows[i]
			values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7], values[8] = i, r.Email, r.Name, r.Age, r.Score, r.Active, "active", now, now
			return values, nil
		})); err != nil {
			return err
		}
		keys, err := tx.Query(ctx, `INSERT INTO bench_rows (email, name, age, score, active, status, created_at, updated_at)
SELECT email, name, age, score, active, status, created_at, updated_at FROM bench_stage ORDER BY n
ON CONFLICT (email) DO UPDATE SET name = excluded.name, age = excluded.age, score = excluded.score, updated_at = excluded.updated_at
RETURNING id`)
		if err != nil {
			return err
		}
		for i := 0; keys.Next(); i++ {
			if err := keys.Scan(&rows[i].ID); err != nil {
				return err
			}
		}
		if err := keys.Err(); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}

// associationsCopy is PostgreSQL's hand-written create of users with their
// orders, keeping what GORM writes where no order's key is taken by hand
// (GORM's has-many upsert, ON CONFLICT (id) DO UPDATE SET user_id, then
// updates nothing): each table's keys drawn in one round trip and COPYed
// with its rows, the orders with their users' keys.
func associationsCopy(db *gorm.DB, users []User) error {
	return onPgx(db, func(ctx context.Context, c *pgx.Conn) error {
		tx, err := c.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		draw := func(seq string, n int) ([]int64, error) {
			var keys []int64
			err := tx.QueryRow(ctx, "SELECT array_agg(nextval($1::regclass) ORDER BY g) FROM generate_series(1, $2) AS g", seq, n).Scan(&keys)
			return keys, err
		}
		keys, err := draw("bench_users_id_seq", len(users))
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_users"}, []string{"id", "email", "name"}, pgx.CopyFromSlice(len(users), func(i int) ([]any, error) {
			users[i].ID = uint(keys[i])
			return []any{keys[i], users[i].Email, users[i].Name}, nil
		})); err != nil {
			return err
		}
		var orders []*Order
		for i := range users {
			for j := range users[i].Orders {
				o := &users[i].Orders[j]
				o.UserID = users[i].ID
				orders = append(orders, o)
			}
		}
		if keys, err = draw("bench_orders_id_seq", len(orders)); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bench_orders"}, []string{"id", "user_id", "amount", "note"}, pgx.CopyFromSlice(len(orders), func(i int) ([]any, error) {
			orders[i].ID = uint(keys[i])
			return []any{keys[i], orders[i].UserID, orders[i].Amount, orders[i].Note}, nil
		})); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
}
