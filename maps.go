package bulk

import (
	"reflect"

	"gorm.io/gorm"
)

// GORM gives a slice of maps one column list, the union of every map's
// keys, and writes NULL where a map lacks a column. Cut into chunks, each
// chunk would take the union of its own maps instead, and a column missing
// from a whole chunk would get the database default. mapPadding keeps the
// single statement's columns for every chunk.
type mapPadding struct {
	columns []string // the statement's columns, as GORM names them
	stmt    *gorm.Statement
}

// newMapPadding returns nil unless the rows are maps whose keys differ.
func newMapPadding(stmt *gorm.Statement, rows reflect.Value) *mapPadding {
	if _, ok := rows.Index(0).Interface().(map[string]any); !ok {
		return nil
	}
	p := &mapPadding{stmt: stmt}
	seen := map[string]int{}
	for i := 0; i < rows.Len(); i++ {
		for k := range rows.Index(i).Interface().(map[string]any) {
			name := mapColumn(stmt, k)
			if _, ok := seen[name]; !ok {
				p.columns = append(p.columns, name)
			}
			seen[name]++
		}
	}
	for _, n := range seen {
		if n != rows.Len() {
			return p
		}
	}
	return nil
}

// mapColumn returns the column a map's key names, as GORM reads it: a
// field's name or column, or else the key itself.
func mapColumn(stmt *gorm.Statement, k string) string {
	if stmt.Schema != nil {
		if f := stmt.Schema.LookUpField(k); f != nil {
			return f.DBName
		}
	}
	return k
}

// mapsWriteColumn reports whether some map has a key GORM writes: one
// that Select and Omit leave (ConvertSliceOfMapToValuesForCreate's test).
// Without one, GORM writes one row of defaults for all the maps.
func mapsWriteColumn(stmt *gorm.Statement, maps []map[string]any) bool {
	selected, restricted := stmt.SelectAndOmitColumns(true, false)
	for _, m := range maps {
		for k := range m {
			if v, ok := selected[mapColumn(stmt, k)]; (ok && v) || (!ok && !restricted) {
				return true
			}
		}
	}
	return false
}

// pad returns the chunk with each map that lacks a column replaced by a copy
// holding nil for it, and a function that copies back into the caller's maps
// what the create handler set on the copies (LastInsertId keys).
func (p *mapPadding) pad(chunk reflect.Value) (reflect.Value, func()) {
	if p == nil {
		return chunk, func() {}
	}
	padded := reflect.MakeSlice(chunk.Type(), chunk.Len(), chunk.Len())
	type copied struct{ orig, copy map[string]any }
	var copies []copied
	for i := 0; i < chunk.Len(); i++ {
		orig := chunk.Index(i).Interface().(map[string]any)
		have := make(map[string]bool, len(orig))
		for k := range orig {
			have[mapColumn(p.stmt, k)] = true
		}
		m, copiedOrig := orig, false
		for _, c := range p.columns {
			if !have[c] {
				if !copiedOrig {
					copiedOrig = true
					m = make(map[string]any, len(p.columns))
					for k, v := range orig {
						m[k] = v
					}
					copies = append(copies, copied{orig, m})
				}
				m[c] = nil
			}
		}
		padded.Index(i).Set(reflect.ValueOf(m))
	}
	return padded, func() {
		for _, c := range copies {
			// All but the padding: the handler may have set a key the
			// map gave as zero (LastInsertId), as it sets it on the map.
			for k, v := range c.copy {
				if _, given := c.orig[k]; given || v != nil {
					c.orig[k] = v
				}
			}
		}
	}
}
