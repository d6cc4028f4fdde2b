package main

// The terminal QR code: what a phone camera reads back from the printed
// characters is the URL.

import (
	"image"
	"strings"
	"testing"

	qr "github.com/piglig/go-qr"
)

// readQR turns half-block text back into the picture a camera sees, each
// module scale×scale pixels, dark black on white, and decodes it.
func readQR(t *testing.T, text string) (string, [][]bool) {
	t.Helper()
	text = strings.NewReplacer(ansiBlackOnWhite, "", ansiReset, "").Replace(text)
	var modules [][]bool
	for line := range strings.Lines(text) {
		var upper, lower []bool
		for _, r := range strings.TrimSuffix(line, "\n") {
			switch r {
			case blockBoth:
				upper, lower = append(upper, true), append(lower, true)
			case blockUpper:
				upper, lower = append(upper, true), append(lower, false)
			case blockLower:
				upper, lower = append(upper, false), append(lower, true)
			case ' ':
				upper, lower = append(upper, false), append(lower, false)
			default:
				t.Fatalf("character %q in the QR code", r)
			}
		}
		modules = append(modules, upper, lower)
	}
	const scale = 4
	h, w := len(modules), len(modules[0])
	img := image.NewGray(image.Rect(0, 0, w*scale, h*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range modules {
		if len(row) != w {
			t.Fatalf("row %d has %d modules, row 0 has %d", y, len(row), w)
		}
		for x, dark := range row {
			if dark {
				for dy := range scale {
					for dx := range scale {
						img.Pix[(y*scale+dy)*img.Stride+x*scale+dx] = 0
					}
				}
			}
		}
	}
	got, err := qr.Decode(img)
	if err != nil {
		t.Fatalf("decode the QR code: %v\n%s", err, text)
	}
	return got, modules
}

func TestWriteQRReadsBack(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url string
		style     qrStyle
	}{
		{"plain", "http://127.0.0.1:8080/device?user_code=BCDFGHJK", qrPlain},
		{"ANSI colours", "https://auth.example.com/device?user_code=WXZT-QRPL", qrANSI},
		{"long issuer path", "https://login.example.com/tenants/acme-corporation/oauth2/device?user_code=BCDFGHJK", qrPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeQR(&b, tc.url, tc.style); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			got, modules := readQR(t, out)
			if got != tc.url {
				t.Errorf("the QR code reads %q, want %q", got, tc.url)
			}
			// The quiet zone: 4 light modules on every side.
			n := len(modules[0])
			for y, row := range modules {
				for x, dark := range row {
					inside := x >= qrQuietZone && y >= qrQuietZone && x < n-qrQuietZone && y < n-qrQuietZone
					if dark && !inside {
						t.Fatalf("module (%d,%d) of the quiet zone is dark", x, y)
					}
				}
			}
			// Two module rows per line: a version-3 code (29 modules) and its
			// quiet zone take 19 lines of 37 characters.
			if lines := strings.Count(out, "\n"); lines != (n+1)/2 {
				t.Errorf("%d lines for %d module rows, want %d", lines, n, (n+1)/2)
			}
			if hasANSI := strings.Contains(out, "\x1b["); hasANSI != (tc.style == qrANSI) {
				t.Errorf("ANSI escapes present: %v, want %v", hasANSI, tc.style == qrANSI)
			}
			if tc.style == qrANSI {
				for line := range strings.Lines(out) {
					if !strings.HasPrefix(line, ansiBlackOnWhite) || !strings.HasSuffix(line, ansiReset+"\n") {
						t.Fatalf("line %q is not black on white and reset at its end", line)
					}
				}
			}
		})
	}
}

func TestWriteQRTooLong(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	err := writeQR(&b, "https://example.com/?"+strings.Repeat("x", 3000), qrPlain)
	if err == nil || b.Len() != 0 {
		t.Fatalf("a text longer than a QR code holds: err %v, wrote %d bytes; want an error and nothing written", err, b.Len())
	}
}
