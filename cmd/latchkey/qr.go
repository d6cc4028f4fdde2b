package main

import (
	"fmt"
	"io"
	"strings"

	qr "github.com/piglig/go-qr"
)

// qrQuietZone is the light border around a QR code, in modules: the 4 of
// ISO/IEC 18004 §9.1, which phone cameras need to find the code.
const qrQuietZone = 4

// The half-block characters: two modules, one above the other, in one
// character cell, so that a code of n modules takes n/2 lines.
const (
	blockBoth  = '█'
	blockUpper = '▀'
	blockLower = '▄'
)

// qrStyle says how dark modules reach the screen.
type qrStyle int

const (
	// qrPlain draws dark modules as ink: right on paper, in a file, on a
	// light terminal.
	qrPlain qrStyle = iota
	// qrANSI draws in black on white with ANSI colours, so that the code
	// reads the same on a dark terminal, where plain would be inverted.
	qrANSI
)

// Set Graphic Rendition: black on bright white, and back to the defaults.
const (
	ansiBlackOnWhite = "\x1b[30;107m"
	ansiReset        = "\x1b[0m"
)

// writeQR writes text as a QR code in half-block characters, with its
// quiet zone. Error correction is Low, raised when that costs no size: a
// screen is not a scratched label, and a smaller code fits more terminals.
func writeQR(w io.Writer, text string, style qrStyle) error {
	code, err := qr.EncodeText(text, qr.Low)
	if err != nil {
		return fmt.Errorf("QR code of %q: %w", text, err)
	}
	_, err = io.WriteString(w, renderQR(code.Size(), code.Module, style))
	return err
}

// renderQR draws the size×size modules that dark reports, each text line
// holding two rows of modules. Outside the code (the quiet zone) every
// module is light.
func renderQR(size int, dark func(x, y int) bool, style qrStyle) string {
	at := func(x, y int) bool {
		x, y = x-qrQuietZone, y-qrQuietZone
		return x >= 0 && y >= 0 && x < size && y < size && dark(x, y)
	}
	total := size + 2*qrQuietZone
	var b strings.Builder
	for y := 0; y < total; y += 2 {
		if style == qrANSI {
			b.WriteString(ansiBlackOnWhite)
		}
		for x := range total {
			b.WriteRune(halfBlock(at(x, y), at(x, y+1)))
		}
		if style == qrANSI {
			b.WriteString(ansiReset)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// halfBlock is the character for a cell whose upper and lower modules
// are dark or not.
func halfBlock(upper, lower bool) rune {
	switch {
	case upper && lower:
		return blockBoth
	case upper:
		return blockUpper
	case lower:
		return blockLower
	}
	return ' '
}
