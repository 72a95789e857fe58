package bulk_test

import (
	"fmt"
	"reflect"
	"testing"

	"gorm.io/gorm"

	"github.com/gormbulk/bulk"
)

// WideRow has 60 columns: with 50,000 rows a single statement would need
// three million parameters, far past every dialect's limit.
type WideRow struct {
	ID  uint `gorm:"primaryKey"`
	C01 int64
	C02 float64
	C03 string `gorm:"size:32"`
	C04 int64
	C05 float64
	C06 string `gorm:"size:32"`
	C07 int64
	C08 float64
	C09 string `gorm:"size:32"`
	C10 int64
	C11 float64
	C12 string `gorm:"size:32"`
	C13 int64
	C14 float64
	C15 string `gorm:"size:32"`
	C16 int64
	C17 float64
	C18 string `gorm:"size:32"`
	C19 int64
	C20 float64
	C21 string `gorm:"size:32"`
	C22 int64
	C23 float64
	C24 string `gorm:"size:32"`
	C25 int64
	C26 float64
	C27 string `gorm:"size:32"`
	C28 int64
	C29 float64
	C30 string `gorm:"size:32"`
	C31 int64
	C32 float64
	C33 string `gorm:"size:32"`
	C34 int64
	C35 float64
	C36 string `gorm:"size:32"`
	C37 int64
	C38 float64
	C39 string `gorm:"size:32"`
	C40 int64
	C41 float64
	C42 string `gorm:"size:32"`
	C43 int64
	C44 float64
	C45 string `gorm:"size:32"`
	C46 int64
	C47 float64
	C48 string `gorm:"size:32"`
	C49 int64
	C50 float64
	C51 string `gorm:"size:32"`
	C52 int64
	C53 float64
	C54 string `gorm:"size:32"`
	C55 int64
	C56 float64
	C57 string `gorm:"size:32"`
	C58 int64
	C59 float64
}

func wideRows(n int) []WideRow {
	rows := make([]WideRow, n)
	for i := range rows {
		v := reflect.ValueOf(&rows[i]).Elem()
		for f := 1; f < v.NumField(); f++ {
			switch field := v.Field(f); field.Kind() {
			case reflect.String:
				field.SetString(fmt.Sprintf("r%d-c%d", i, f))
			case reflect.Int64:
				field.SetInt(int64(i * f))
			case reflect.Float64:
				field.SetFloat(float64(i) / float64(f))
			}
		}
	}
	return rows
}

// TestWideRows loads rows far over the parameter limits and checks every row
// arrived with its generated key read back.
func TestWideRows(t *testing.T) {
	if testing.Short() {
		t.Skip("loads 50,000 wide rows")
	}
	eachDialect(t, func(t *testing.T, dialect string, open func(t *testing.T, opts ...gorm.Option) *gorm.DB) {
		db := withPlugin(t, open(t))
		recreate(t, db, &WideRow{})
		const n = 50000
		rows := wideRows(n)
		res := db.Clauses(bulk.Options{}).Create(&rows)
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if res.RowsAffected != n {
			t.Fatalf("RowsAffected = %d, want %d", res.RowsAffected, n)
		}
		var stored []WideRow
		if err := db.Order("id").Find(&stored).Error; err != nil {
			t.Fatal(err)
		}
		if len(stored) != n {
			t.Fatalf("table has %d rows, want %d", len(stored), n)
		}
		byID := make(map[uint]WideRow, n)
		for _, r := range stored {
			byID[r.ID] = r
		}
		for i, r := range rows {
			if r.ID == 0 {
				t.Fatalf("row %d: ID not read back", i)
			}
			if !reflect.DeepEqual(byID[r.ID], r) {
				t.Fatalf("row %d: struct %+v differs from stored %+v", i, r, byID[r.ID])
			}
		}
	})
}
