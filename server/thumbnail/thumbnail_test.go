package thumbnail

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"runtime"
	"strings"
	"testing"
)

// halves is a w x h image, red on the left half and blue on the right.
func halves(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{255, 0, 0, 255}
			if x >= w/2 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngChunk is one PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// bombPNG is a valid PNG header declaring w x h RGBA pixels, followed by
// a few bytes of compressed zeros: a decoder that believed the header
// would allocate w*h*4 bytes before finding the data short.
func bombPNG(w, h uint32) []byte {
	var ihdr bytes.Buffer
	binary.Write(&ihdr, binary.BigEndian, w)
	binary.Write(&ihdr, binary.BigEndian, h)
	ihdr.Write([]byte{8, 6, 0, 0, 0}) // 8-bit RGBA, deflate, no filter, no interlace
	var idat bytes.Buffer
	zw := zlib.NewWriter(&idat)
	zw.Write(make([]byte, 4096))
	zw.Close()
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, pngChunk("IHDR", ihdr.Bytes())...)
	out = append(out, pngChunk("IDAT", idat.Bytes())...)
	return append(out, pngChunk("IEND", nil)...)
}

// at is the colour of the thumbnail at (x, y), as 8-bit RGB.
func at(img image.Image, x, y int) [3]uint8 {
	r, g, b, _ := img.At(x, y).RGBA()
	return [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
}

// near reports whether two colours differ by little (JPEG is lossy).
func near(a, b [3]uint8) bool {
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < -40 || d > 40 {
			return false
		}
	}
	return true
}

var (
	red   = [3]uint8{255, 0, 0}
	blue  = [3]uint8{0, 0, 255}
	white = [3]uint8{255, 255, 255}
)

func TestMake(t *testing.T) {
	webp, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	type probe struct {
		x, y int
		want [3]uint8
	}
	tests := []struct {
		name   string
		data   []byte
		blank  string // a word the reason must hold; "" for a real thumbnail
		probes []probe
	}{
		// 360x240 is exactly twice the box: scaled down, nothing cropped.
		{name: "png twice the box", data: encodePNG(t, halves(360, 240)),
			probes: []probe{{10, 60, red}, {170, 60, blue}, {85, 5, red}, {95, 115, blue}}},
		// 900x120 is wider: the centre is kept, so both halves show
		// and the canvas is covered edge to edge.
		{name: "jpeg wide, cropped", data: encodeJPEG(t, halves(900, 240)),
			probes: []probe{{5, 60, red}, {174, 60, blue}, {85, 2, red}, {95, 117, blue}}},
		// Smaller than the box: not enlarged, centred on white.
		{name: "gif small, centred", data: encodeGIF(t, halves(40, 20)),
			probes: []probe{{5, 5, white}, {75, 60, red}, {105, 60, blue}, {175, 115, white}}},
		// Taller than the box but narrower: scaled to fit its height.
		{name: "png tall", data: encodePNG(t, halves(60, 480)),
			probes: []probe{{5, 60, white}, {86, 60, red}, {94, 60, blue}, {175, 60, white}}},
		{name: "webp", data: webp},
		{name: "bomb, header only", data: bombPNG(100000, 100000)[:33], blank: "too large"},
		{name: "bomb with data", data: bombPNG(8000, 8000), blank: "too large"},
		{name: "corrupt png", data: encodePNG(t, halves(360, 240))[:200], blank: "corrupt png"},
		{name: "corrupt jpeg", data: func() []byte { j := encodeJPEG(t, halves(360, 240)); return j[:len(j)/2] }(), blank: "corrupt jpeg"},
		{name: "not an image", data: []byte("%PDF-1.4\n"), blank: "not a decodable image"},
		{name: "empty", data: nil, blank: "not a decodable image"},
	}
	mk := New(2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res, err := mk.Make(context.Background(), tt.data)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			img, format, err := image.Decode(bytes.NewReader(res.JPEG))
			if err != nil || format != "jpeg" {
				t.Fatalf("thumbnail is not a JPEG: %s, %v", format, err)
			}
			if b := img.Bounds(); b.Dx() != Width || b.Dy() != Height {
				t.Fatalf("thumbnail is %dx%d, want %dx%d", b.Dx(), b.Dy(), Width, Height)
			}
			if tt.blank != "" {
				if !res.Blank || !strings.Contains(res.Reason, tt.blank) {
					t.Errorf("Blank %v, Reason %q; want blank because %q", res.Blank, res.Reason, tt.blank)
				}
				if c := at(img, 90, 60); !near(c, white) {
					t.Errorf("blank thumbnail is %v in the middle", c)
				}
				// Refused before decoding: no raster was allocated.
				if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
					t.Errorf("allocated %d bytes for a refused image", n)
				}
				return
			}
			if res.Blank {
				t.Fatalf("blank thumbnail: %s", res.Reason)
			}
			for _, p := range tt.probes {
				if c := at(img, p.x, p.y); !near(c, p.want) {
					t.Errorf("at (%d,%d): %v, want about %v", p.x, p.y, c, p.want)
				}
			}
		})
	}
}

// A caller whose context ends while every slot is busy gets its error
// instead of waiting.
func TestMakeWaitsForASlot(t *testing.T) {
	mk := New(1)
	mk.slots <- struct{}{} // the one slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := mk.Make(ctx, encodePNG(t, halves(10, 10))); err != context.Canceled {
		t.Fatalf("Make with every slot busy and a done context: %v", err)
	}
	<-mk.slots
	if res, err := mk.Make(context.Background(), encodePNG(t, halves(10, 10))); err != nil || res.Blank {
		t.Fatalf("after the slot is free: %+v, %v", res.Reason, err)
	}
}

func BenchmarkMake(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, halves(4000, 3000), nil); err != nil {
		b.Fatal(err)
	}
	mk := New(1)
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := mk.Make(context.Background(), buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
