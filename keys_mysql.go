package bulk

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// uniqueMatchKey holds, on a statement, the uniqueMatch its chunks' keys
// come back by.
const uniqueMatchKey = "gormbulk:unique_match"

// matchOf returns the uniqueMatch the statement's keys come back by, or
// nil.
func matchOf(stmt *gorm.Statement) *uniqueMatch {
	m, _ := stmt.DB.InstanceGet(uniqueMatchKey)
	match, _ := m.(*uniqueMatch)
	return match
}

// uniqueMatch gives the rows of a MySQL upsert without RETURNING their
// keys after each chunk: where a row met a duplicate, LastInsertId says
// nothing of it, and GORM's arithmetic gives it and every row after it
// other rows' keys. The table has one unique key besides its primary key,
// and every row is written with a value in each of its columns; after the
// chunk the rows' values go back to the server as one JSON array (or,
// loaded into a staging table of the table's column types, stay there),
// and each row's key is read from the table's row holding its values,
// compared as the unique key compares them (each value in its column's
// type, character set and collation, as the INSERT stored it), by a locking read
// that sees the rows the upsert met however old the transaction's
// snapshot. Every row was inserted or met one (DO NOTHING is an update of
// the key on MySQL), and its values are still the row's: the key's
// columns store what was sent as it was sent (integers, and UTF-8 strings
// into VARCHAR, in a strict session), the upsert updates them only to the
// row's own values, no trigger runs (the user may see them all: the
// TRIGGER privilege, see readLookup), and the upsert's locks hold until
// the end of the transaction the chunks run in (oneStatement).
type uniqueMatch struct {
	key     *schema.Field
	table   string // quoted
	columns []string
	types   []string // the columns' DATA_TYPEs
	// query is the lookup: SELECT j.n - 1, t.`id` FROM JSON_TABLE(?,
	// '$[*]' COLUMNS (n FOR ORDINALITY, c1 VARCHAR(64) CHARACTER SET cs
	// PATH '$[0]', …)) j JOIN `t` t ON t.`a` = j.c1 COLLATE coll AND …
	// LOCK IN SHARE MODE.
	query string
}

// newUniqueMatch returns the match on the unique key's columns, or nil
// where it cannot give every row its key: a column the statement does not
// write for every row, or of a type that may store another value than
// the one sent (times, decimals, floats, CHAR's padding), a row without a
// value of the column's kind in one (NULL is distinct from every value,
// so that row met no duplicate but has no key to look up by), or ON
// CONFLICT updating a column of the key, or the primary key, to another
// value.
func newUniqueMatch(stmt *gorm.Statement, table []string, key keyColumns) *uniqueMatch {
	if len(key.names) == 0 {
		return nil
	}
	cols := newInsertColumns(stmt, time.Time{})
	rows := stmt.ReflectValue
	c, _ := stmt.Clauses["ON CONFLICT"].Expression.(clause.OnConflict)
	pk := stmt.Schema.PrioritizedPrimaryField
	for _, a := range c.DoUpdates {
		v, ok := a.Value.(clause.Column)
		switch {
		case a.Column.Name == pk.DBName && !(ok && v.Table == "" && v.Name == pk.DBName),
			slices.Contains(key.names, a.Column.Name) && !(ok && v.Table == "excluded" && v.Name == a.Column.Name):
			return nil
		}
	}
	columns := make([]string, len(key.names))
	join := make([]string, len(key.names))
	for i, name := range key.names {
		// A serializer's value is what GORM binds only once serialized.
		f := stmt.Schema.LookUpField(name)
		if f == nil || f.DBName != name || f.Serializer != nil {
			return nil
		}
		written, _, zero := cols.defaulted(stmt, f, rows)
		if !written && !slices.Contains(cols.fields, f) || written && zero > 0 {
			return nil
		}
		for j := range rows.Len() {
			if v, _ := f.ValueOf(stmt.Context, reflect.Indirect(rows.Index(j))); lookupValue(v, key.types[i]) == nil {
				return nil
			}
		}
		c := "c" + strconv.Itoa(i+1)
		join[i] = "t." + stmt.Quote(name) + " = j." + c
		typ := "BIGINT"
		if key.types[i] == "varchar" {
			if !catalogName.MatchString(key.lengths[i]) || !catalogName.MatchString(key.charsets[i]) || !catalogName.MatchString(key.collations[i]) {
				return nil
			}
			typ = "VARCHAR(" + key.lengths[i] + ") CHARACTER SET " + key.charsets[i]
			join[i] += " COLLATE " + key.collations[i]
		}
		columns[i] = c + " " + typ + " PATH '$[" + strconv.Itoa(i) + "]'"
	}
	m := &uniqueMatch{key: pk, table: stmt.Quote(strings.Join(table, ".")), columns: key.names, types: key.types}
	m.query = fmt.Sprintf("SELECT j.n - 1, t.%s FROM JSON_TABLE(?, '$[*]' COLUMNS (n FOR ORDINALITY, %s)) j JOIN %s t ON %s LOCK IN SHARE MODE",
		stmt.Quote(pk.DBName), strings.Join(columns, ", "), m.table, strings.Join(join, " AND "))
	return m
}

// catalogName matches the lengths, character sets and collations the
// lookup writes into its SQL.
var catalogName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// lookupValue returns a value GORM binds for a column of the given
// DATA_TYPE as the lookup's JSON carries it, or nil where the column may
// store another value than the one sent or the value cannot be looked up
// by: an integer goes into an integer column, a UTF-8 string (or bytes)
// into a VARCHAR one; not NULL, nor SQL GORM writes in place.
func lookupValue(v any, dataType string) any {
	if _, ok := v.(clause.Expression); ok {
		return nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return nil
	}
	dv, err := driver.DefaultParameterConverter.ConvertValue(v)
	if err != nil {
		return nil
	}
	switch x := dv.(type) {
	case int64:
		if slices.Contains([]string{"tinyint", "smallint", "mediumint", "int", "bigint"}, dataType) {
			return x
		}
	case string:
		if dataType == "varchar" && utf8.ValidString(x) {
			return x
		}
	case []byte:
		if dataType == "varchar" && utf8.Valid(x) {
			return string(x)
		}
	}
	return nil
}

// setKeys gives the rows of a written chunk (its values as built) their
// keys, looked up by the unique key's values.
func (m *uniqueMatch) setKeys(stmt *gorm.Statement, values clause.Values, chunk reflect.Value) error {
	at := make([]int, len(m.columns))
	for i, name := range m.columns {
		at[i] = slices.IndexFunc(values.Columns, func(c clause.Column) bool { return c.Name == name })
		if at[i] < 0 {
			return fmt.Errorf("gormbulk: cannot tell the upsert's keys: the chunk does not write column %s", name)
		}
	}
	doc := make([][]any, len(values.Values))
	for i, row := range values.Values {
		doc[i] = make([]any, len(at))
		for c, k := range at {
			if doc[i][c] = lookupValue(row[k], m.types[c]); doc[i][c] == nil {
				return fmt.Errorf("gormbulk: cannot tell the upsert's key of row %d: column %s holds no value to find it by", i, m.columns[c])
			}
		}
	}
	arg, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return m.read(stmt, chunk, m.query, string(arg))
}

// setStagedKeys gives the rows of a chunk moved from the staging table
// their keys, the staged rows joined with the table on the unique key's
// columns: written are the columns the chunk writes, staged their staging
// table columns, of the same types.
func (m *uniqueMatch) setStagedKeys(stmt *gorm.Statement, chunk reflect.Value, written, staged []string) error {
	join := make([]string, len(m.columns))
	for i, name := range m.columns {
		k := slices.Index(written, name)
		if k < 0 {
			return fmt.Errorf("gormbulk: cannot tell the upsert's keys: the chunk does not write column %s", name)
		}
		join[i] = "t." + stmt.Quote(name) + " = s." + stmt.Quote(staged[k])
	}
	return m.read(stmt, chunk, fmt.Sprintf("SELECT s.%s, t.%s FROM %s s JOIN %s t ON %s LOCK IN SHARE MODE",
		stagingOrder, stmt.Quote(m.key.DBName), stagingTable, m.table, strings.Join(join, " AND ")))
}

// read runs a lookup, which hands back each row's place in the chunk and
// its key, and gives the rows their keys.
func (m *uniqueMatch) read(stmt *gorm.Statement, chunk reflect.Value, query string, args ...any) error {
	rows, err := unprepared(stmt.ConnPool).QueryContext(stmt.Context, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := chunk.Len()
	keys, found := make([]int64, n), make([]bool, n)
	for rows.Next() {
		var i int
		var key int64
		if err := rows.Scan(&i, &key); err != nil {
			return err
		}
		if i < 0 || i >= n || found[i] {
			return fmt.Errorf("gormbulk: cannot tell the upsert's key of row %d: the lookup by %s found more than one row", i, strings.Join(m.columns, ", "))
		}
		keys[i], found[i] = key, true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if i := slices.Index(found, false); i >= 0 {
		return fmt.Errorf("gormbulk: cannot tell the upsert's key of row %d: no row of the table holds its %s", i, strings.Join(m.columns, ", "))
	}
	return setKeys(stmt, m.key, chunk, func(i int) int64 { return keys[i] })
}
