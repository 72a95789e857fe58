package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is one method's line of the report; times and rates are medians.
type result struct {
	Method           string   `json:"method"`
	Skipped          string   `json:"skipped,omitempty"`
	MeasuredRows     int      `json:"measured_rows,omitempty"`
	Extrapolated     bool     `json:"extrapolated,omitempty"` // Seconds is for all rows, from a sample
	RowsPerSec       float64  `json:"rows_per_sec,omitempty"`
	Seconds          float64  `json:"seconds,omitempty"`
	VsBatches        float64  `json:"x_vs_create_in_batches,omitempty"`
	VsCeiling        float64  `json:"x_vs_raw_ceiling,omitempty"`
	IDsReturned      bool     `json:"ids_returned"`
	PeakLiveHeap     *float64 `json:"peak_live_heap_bytes"` // nil: no GC ran to measure it
	AllocBytesPerRow float64  `json:"alloc_bytes_per_row,omitempty"`
	AllocsPerRow     float64  `json:"allocs_per_row,omitempty"`

	baseline, raw bool
}

// summarize turns the runs of m, asked to insert n rows, into its result.
func summarize[T any](m method[T], n int, runs []measurement) result {
	rows := m.rowsFor(n)
	secs := median(runs, func(r measurement) float64 { return r.elapsed.Seconds() })
	r := result{
		Method:           m.name,
		MeasuredRows:     rows,
		Extrapolated:     rows < n,
		RowsPerSec:       float64(rows) / secs,
		IDsReturned:      m.ids,
		AllocBytesPerRow: median(runs, func(r measurement) float64 { return float64(r.allocBytes) }) / float64(rows),
		AllocsPerRow:     median(runs, func(r measurement) float64 { return float64(r.mallocs) }) / float64(rows),
		baseline:         m.baseline,
		raw:              m.raw,
	}
	r.Seconds = float64(n) / r.RowsPerSec
	if collected := slices.DeleteFunc(slices.Clone(runs), func(r measurement) bool { return r.gcs == 0 }); len(collected) > 0 {
		v := median(collected, func(r measurement) float64 { return float64(r.peakLive) })
		r.PeakLiveHeap = &v
	}
	if r.Extrapolated {
		r.Method += fmt.Sprintf(" (%s rows measured)", thousands(float64(rows)))
	}
	return r
}

// report is everything printed and charted.
type report struct {
	Dialect  string   `json:"dialect"`
	Version  string   `json:"version"`
	Scenario string   `json:"scenario"`
	Rows     int      `json:"rows"`
	RowsAre  string   `json:"rows_are"` // what one row is
	Reps     int      `json:"reps"`
	Go       string   `json:"go"`
	Ceiling  string   `json:"raw_ceiling"` // the fastest raw method
	Results  []result `json:"results"`
}

// newReport fills in the ratios to CreateInBatches and to the fastest raw
// method.
func newReport(b *bench, o options, rowsAre string, results []result) *report {
	rep := &report{Dialect: b.dialect, Version: b.version, Scenario: o.scenario, Rows: o.rows, RowsAre: rowsAre, Reps: o.reps,
		Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, Results: results}
	var base, ceiling float64
	for _, r := range results {
		if r.baseline {
			base = r.RowsPerSec
		}
		if r.raw && r.RowsPerSec > ceiling {
			ceiling, rep.Ceiling = r.RowsPerSec, r.Method
		}
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Skipped == "" && base > 0 {
			r.VsBatches = r.RowsPerSec / base
		}
		if r.Skipped == "" && ceiling > 0 {
			r.VsCeiling = r.RowsPerSec / ceiling
		}
	}
	return rep
}

// header is the table's header; table returns its cells.
var header = []string{"method", "rows/s", "time", "× CreateInBatches", "× raw ceiling", "IDs returned", "peak live heap", "alloc B/row", "allocs/row"}

func (rep *report) table() [][]string {
	var out [][]string
	for _, r := range rep.Results {
		if r.Skipped != "" {
			out = append(out, []string{r.Method, r.Skipped, "", "", "", "", "", "", ""})
			continue
		}
		t := roundDuration(time.Duration(r.Seconds * float64(time.Second))).String()
		if r.Extrapolated {
			t = "≈" + t
		}
		peak := "no GC ran"
		if r.PeakLiveHeap != nil {
			peak = fmt.Sprintf("%.1f MiB", *r.PeakLiveHeap/(1<<20))
		}
		ids := "no"
		if r.IDsReturned {
			ids = "yes"
		}
		out = append(out, []string{r.Method, thousands(r.RowsPerSec), t,
			ratio(r.VsBatches), ratio(r.VsCeiling), ids,
			peak, thousands(r.AllocBytesPerRow), fmt.Sprintf("%.1f", r.AllocsPerRow)})
	}
	return out
}

// notes say what the columns measure.
func (rep *report) notes() []string {
	return []string{
		fmt.Sprintf("%s: %s %s into %s (%s), median of %s, each run from the same tables; %s.", rep.Scenario, thousands(float64(rep.Rows)), rep.RowsAre, rep.Version, rep.Dialect, rep.runs(), rep.Go),
		fmt.Sprintf("× raw ceiling: relative to %q, the fastest raw driver path here. Time ≈: extrapolated from the rows measured.", rep.Ceiling),
		fmt.Sprintf("peak live heap: the most heap a GC found live during the insert (sampled every %v), above the live heap before it; garbage awaiting collection is not counted. alloc B/row, allocs/row: TotalAlloc and Mallocs deltas per row. All client side.", heapSampleEvery),
	}
}

// writeText prints an aligned plain-text table: method names to the left,
// figures to the right.
func (rep *report) writeText(w io.Writer) error {
	rows := append([][]string{header}, rep.table()...)
	width := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var sb strings.Builder
	for _, row := range rows {
		for i, c := range row {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			switch {
			case i == 0:
				sb.WriteString(c + pad)
			case row[2] == "" && i == 1: // a skip reason
				sb.WriteString("  " + c)
			case row[2] != "":
				sb.WriteString("  " + pad + c)
			}
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n" + strings.Join(rep.notes(), "\n") + "\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// writeMarkdown prints a Markdown table and its notes, for the README.
func (rep *report) writeMarkdown(w io.Writer) error {
	var sb strings.Builder
	sb.WriteString("| " + strings.Join(header, " | ") + " |\n|:--" + strings.Repeat("|--:", len(header)-1) + "|\n")
	for _, row := range rep.table() {
		sb.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	sb.WriteString("\n- " + strings.Join(rep.notes(), "\n- ") + "\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

// writeJSON prints the report as indented JSON.
func (rep *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

// roundDuration keeps three or four significant digits.
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// runs is "1 run" or "n runs".
func (rep *report) runs() string {
	if rep.Reps == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", rep.Reps)
}

// ratio formats a speed ratio with two significant digits at least.
func ratio(v float64) string {
	if v < 0.1 {
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// thousands formats v rounded to an integer, with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
