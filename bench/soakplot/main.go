// Command soakplot turns the samples bench/soak takes into one PNG per
// measure and says whether each stayed flat after the warm-up.
//
//	soakplot --csv docs/soak/soak.csv --out docs/soak --warmup 7m
//
// A measure is flat when the mean of the last third of the samples after
// the warm-up is within the tolerance of the mean of the first third: a
// leak grows steadily, so the two thirds part, while noise and the saw of
// gc and the Go heap average out. It exits 1 when a measure is not flat.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// measure is one column of the CSV and how it is judged.
type measure struct {
	column string
	title  string
	unit   string
	scale  float64 // divides the raw value for the plot and the report
	// tolerance is the relative growth allowed; slack is an absolute one,
	// for small counts where one more is a large fraction.
	tolerance, slack float64
	unjudged         bool
}

var measures = []measure{
	{column: "rss_kib", title: "Resident memory", unit: "MiB", scale: 1024, tolerance: 0.10},
	// Each in-flight request holds a goroutine or two: the load's 10
	// workers move the count by up to 20 from one sample to the next.
	{column: "goroutines", title: "Goroutines", unit: "goroutines", scale: 1, tolerance: 0.10, slack: 20},
	{column: "open_files", title: "Open files", unit: "file descriptors", scale: 1, tolerance: 0.10, slack: 5},
	{column: "data_bytes", title: "Database size without the audit trail", unit: "MiB", scale: 1 << 20, tolerance: 0.10},
	// The audit trail is kept at least 24 h, so in a shorter run it grows
	// with every event; it is plotted beside, not judged.
	{column: "audit_bytes", title: "Audit trail size", unit: "MiB", scale: 1 << 20, unjudged: true},
	{column: "db_bytes", title: "Database file size (with the audit trail)", unit: "MiB", scale: 1 << 20, unjudged: true},
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soakplot:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("soakplot", flag.ContinueOnError)
	csvPath := fs.String("csv", "docs/soak/soak.csv", "the `file` of samples bench/soak wrote")
	dir := fs.String("out", "docs/soak", "the `directory` for the PNG files")
	warmup := fs.Duration("warmup", 7*time.Minute, "samples before this are plotted but not judged")
	machine := fs.String("machine", "", "named in each plot's caption")
	if err := fs.Parse(args); err != nil {
		return err
	}
	samples, err := readSamples(*csvPath)
	if err != nil {
		return err
	}
	flat := true
	for _, m := range measures {
		xs, ok := samples[m.column]
		if !ok {
			return fmt.Errorf("%s has no column %s", *csvPath, m.column)
		}
		first, last, err := thirds(samples["seconds"], xs, warmup.Seconds())
		if err != nil {
			return err
		}
		first, last = first/m.scale, last/m.scale
		growth := last - first
		ok = growth <= first*m.tolerance+m.slack
		verdict := "flat"
		switch {
		case m.unjudged:
			verdict = "not judged"
		case !ok:
			verdict = "GROWING"
			flat = false
		}
		fmt.Fprintf(out, "%-42s first third %10.1f %s, last third %10.1f %s (%+.1f %%): %s\n",
			m.title, first, m.unit, last, m.unit, 100*growth/max(first, 1e-9), verdict)
		file := filepath.Join(*dir, m.column+".png")
		if err := save(file, m, samples["seconds"], xs, warmup.Seconds(), *machine); err != nil {
			return fmt.Errorf("plot %s: %w", m.column, err)
		}
	}
	if !flat {
		return errors.New("a measure grew after the warm-up")
	}
	return nil
}

// readSamples reads the CSV into columns by header name.
func readSamples(path string) (map[string][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s has no samples", path)
	}
	cols := make(map[string][]float64, len(rows[0]))
	for i, row := range rows[1:] {
		for j, name := range rows[0] {
			v, err := strconv.ParseFloat(row[j], 64)
			if err != nil {
				return nil, fmt.Errorf("%s line %d, %s: %w", path, i+2, name, err)
			}
			cols[name] = append(cols[name], v)
		}
	}
	if _, ok := cols["seconds"]; !ok {
		return nil, fmt.Errorf("%s has no seconds column", path)
	}
	return cols, nil
}

// thirds returns the means of the first and last thirds of the values
// sampled at or after warmup seconds.
func thirds(seconds, values []float64, warmup float64) (first, last float64, err error) {
	var judged []float64
	for i, s := range seconds {
		if s >= warmup {
			judged = append(judged, values[i])
		}
	}
	n := len(judged) / 3
	if n == 0 {
		return 0, 0, fmt.Errorf("only %d samples after the warm-up of %.0f s: run longer", len(judged), warmup)
	}
	return mean(judged[:n]), mean(judged[len(judged)-n:]), nil
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// save draws one measure against minutes, with the end of the warm-up
// marked.
func save(file string, m measure, seconds, values []float64, warmup float64, machine string) error {
	p := plot.New()
	p.Title.Text = m.title
	p.X.Label.Text = "minutes"
	if machine != "" {
		p.X.Label.Text = "minutes (" + machine + ")"
	}
	p.Y.Label.Text = m.unit
	p.Y.Min = 0
	pts := make(plotter.XYs, len(values))
	top := 0.0
	for i := range values {
		pts[i].X = seconds[i] / 60
		pts[i].Y = values[i] / m.scale
		top = max(top, pts[i].Y)
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color = color.RGBA{B: 200, A: 255}
	p.Y.Max = top * 1.15
	mark, err := plotter.NewLine(plotter.XYs{{X: warmup / 60, Y: 0}, {X: warmup / 60, Y: p.Y.Max}})
	if err != nil {
		return err
	}
	mark.Color = color.Gray{Y: 150}
	mark.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(plotter.NewGrid(), mark, line)
	p.Legend.Add("end of warm-up", mark)
	p.Legend.Top = false
	return p.Save(16*vg.Centimeter, 9*vg.Centimeter, file)
}
