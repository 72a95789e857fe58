package ceiling

import (
	"bufio"
	"io"
	"strconv"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
)

// LoadData is a hand-written LOAD DATA LOCAL of the rows, streamed as
// tab-separated text from a reader in one transaction: MySQL's ceiling.
func LoadData(db *gorm.DB, rows []Row) error {
	now := db.NowFunc().Format("2006-01-02 15:04:05.999999")
	return db.Transaction(func(tx *gorm.DB) error {
		_, err := load(tx, "bench_rows", "email,name,age,score,active,status,created_at,updated_at", len(rows), func(i int, line []byte) []byte {
			r := &rows[i]
			line = append(line, r.Email...)
			line = append(line, '\t')
			line = append(line, r.Name...)
			line = append(line, '\t')
			line = strconv.AppendInt(line, int64(r.Age), 10)
			line = append(line, '\t')
			line = strconv.AppendFloat(line, r.Score, 'g', -1, 64)
			line = append(line, '\t')
			if r.Active {
				line = append(line, '1')
			} else {
				line = append(line, '0')
			}
			line = append(line, "\tactive\t"...)
			line = append(line, now...)
			line = append(line, '\t')
			line = append(line, now...)
			return line
		})
		return err
	})
}

// load streams n rows, each a tab-separated line, into the table's
// columns by LOAD DATA LOCAL, and returns LAST_INSERT_ID(): the first
// generated key.
func load(tx *gorm.DB, table, columns string, n int, line func(i int, line []byte) []byte) (int64, error) {
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		w := bufio.NewWriterSize(pw, 64<<10)
		var b []byte
		for i := range n {
			b = append(line(i, b[:0]), '\n')
			w.Write(b)
		}
		pw.CloseWithError(w.Flush())
	}()
	mysql.RegisterReaderHandler(table, func() io.Reader { return pr })
	defer mysql.DeregisterReaderHandler(table)
	if err := tx.Exec("LOAD DATA LOCAL INFILE 'Reader::" + table + "' INTO TABLE " + table + " CHARACTER SET utf8mb4 " +
		"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" + columns + ")").Error; err != nil {
		return 0, err
	}
	var first int64
	err := tx.Raw("SELECT LAST_INSERT_ID()").Scan(&first).Error
	return first, err
}

// associationsLoad is MySQL's hand-written create of users with their
// orders, keeping what GORM writes where no order meets a duplicate key:
// each table by LOAD DATA LOCAL, its keys from LAST_INSERT_ID() on.
func associationsLoad(db *gorm.DB, users []User) error {
	return db.Transaction(func(tx *gorm.DB) error {
		first, err := load(tx, "bench_users", "email,name", len(users), func(i int, line []byte) []byte {
			line = append(line, users[i].Email...)
			line = append(line, '\t')
			return append(line, users[i].Name...)
		})
		if err != nil {
			return err
		}
		var orders []*Order
		for i := range users {
			users[i].ID = uint(first) + uint(i)
			for j := range users[i].Orders {
				users[i].Orders[j].UserID = users[i].ID
				orders = append(orders, &users[i].Orders[j])
			}
		}
		first, err = load(tx, "bench_orders", "user_id,amount,note", len(orders), func(i int, line []byte) []byte {
			line = strconv.AppendUint(line, uint64(orders[i].UserID), 10)
			line = append(line, '\t')
			line = strconv.AppendFloat(line, orders[i].Amount, 'g', -1, 64)
			line = append(line, '\t')
			return append(line, orders[i].Note...)
		})
		for i := range orders {
			orders[i].ID = uint(first) + uint(i)
		}
		return err
	})
}
