package bulk

import (
	"sync"

	"gorm.io/gorm"
)

// A user who switched on Auto sees a load run slower than the plugin's
// best only in the clock. So where a statement that asked for the bulk
// path goes to GORM's own create, or a faster method steps aside for a
// slower one, the plugin says why at the logger's Info level: once per
// table and reason for the life of the plugin, since a load repeats the
// same reason per call. The statements themselves name their method in
// their SQL (INSERT … VALUES, INSERT … SELECT FROM unnest, COPY … FROM
// STDIN), traced as GORM traces statements.

// reasons remembers the table and reason pairs already said.
type reasons struct {
	said sync.Map // table + "\x00" + reason → struct{}
}

// stepAside says once, at Info, that the statement's method steps aside on
// its table for a slower one, and why.
func (r *reasons) stepAside(db *gorm.DB, method, instead, why string) {
	table := db.Statement.Table
	if _, said := r.said.LoadOrStore(table+"\x00"+method+why, struct{}{}); said {
		return
	}
	db.Logger.Info(db.Statement.Context, "gormbulk: %s on %q steps aside for %s: %s", method, table, instead, why)
}
