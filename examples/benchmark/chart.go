package main

import (
	"fmt"
	"image/color"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// writeChart draws rows/s per method as labelled horizontal bars, first
// method on top, and saves it to path in the format its extension names
// (.svg, .png, .pdf ...). Skipped methods are left out.
func writeChart(path string, rep *report) error {
	var (
		names  []string
		values plotter.Values
		labels plotter.XYLabels
	)
	for _, r := range slices.Backward(rep.Results) {
		if r.Skipped != "" {
			continue
		}
		y := float64(len(names))
		names = append(names, r.Method)
		values = append(values, r.RowsPerSec)
		labels.XYs = append(labels.XYs, plotter.XY{X: r.RowsPerSec, Y: y})
		labels.Labels = append(labels.Labels, " "+thousands(r.RowsPerSec))
	}
	if len(values) == 0 {
		return fmt.Errorf("no results to chart")
	}

	p := plot.New()
	p.Title.Text = fmt.Sprintf("gormbulk %s: %s %s into %s, median of %s", rep.Scenario, thousands(float64(rep.Rows)), rep.RowsAre, rep.Version, rep.runs())
	p.Title.Padding = vg.Points(10)
	p.X.Label.Text = "rows/s (higher is better)"
	p.X.Min = 0
	p.X.Max = slices.Max(values) * 1.2 // room for the value labels
	p.X.Tick.Marker = plot.TickerFunc(siTicks)

	bars, err := plotter.NewBarChart(values, vg.Points(14))
	if err != nil {
		return err
	}
	bars.Horizontal = true
	bars.Color = color.RGBA{R: 0x3b, G: 0x75, B: 0xaf, A: 0xff}
	bars.LineStyle.Width = 0

	valueLabels, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range valueLabels.TextStyle {
		valueLabels.TextStyle[i].YAlign = text.YCenter
	}
	p.Add(bars, valueLabels)
	p.NominalY(names...)
	return p.Save(9*vg.Inch, vg.Length(len(names))*0.4*vg.Inch+1.2*vg.Inch, path)
}

// siTicks are plot's default ticks labelled 250k, 1.5M and so on.
func siTicks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		switch {
		case t.Label == "":
		case t.Value >= 1e6:
			ticks[i].Label = fmt.Sprintf("%gM", t.Value/1e6)
		case t.Value >= 1e3:
			ticks[i].Label = fmt.Sprintf("%gk", t.Value/1e3)
		}
	}
	return ticks
}
